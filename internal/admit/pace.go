package admit

import (
	"context"
	"sync"
	"time"
)

// Background work (ingest: parsing, chunking, term analysis, embedding)
// shares the cores with answers. Go cannot lower one goroutine's priority,
// so work in this process gives way by pacing itself: between its units
// (a page, a batch of chunks) it calls a Pace, which returns at once while
// no answer is in flight and otherwise sleeps long enough that the work
// runs for at most backgroundShare of the time. Child processes (pdftotext,
// tesseract) are niced instead (ingest/parse). An upload then slows the
// questions asked meanwhile by a bounded amount instead of doubling their
// wait, and runs at full speed the moment the answers stop.
const (
	backgroundShare = 0.25
	// maxPause bounds one pause, so a unit that ran long (a slow page) is
	// not followed by a pause as long; answers finishing end it sooner.
	maxPause = 500 * time.Millisecond
	// idlePoll is how often a pause looks whether the answers are done.
	idlePoll = 20 * time.Millisecond
)

// Pace paces one piece of background work (one ingest job); see Pacer.
// Safe for concurrent use by the work's goroutines: each call measures the
// time since the previous call by any of them.
type Pace struct {
	l      *Limiter
	budget time.Duration // pausing left; once spent, the work runs unpaced

	mu   sync.Mutex
	last time.Time
}

// Pacer returns a Pace for one piece of background work that will pause at
// most budget in all, so work under a deadline (ingest's parse deadline)
// cannot be paced past it. A nil Limiter gives a Pace that never pauses.
func (l *Limiter) Pacer(budget time.Duration) *Pace {
	if l == nil {
		return &Pace{}
	}
	return &Pace{l: l, budget: budget, last: l.now()}
}

// busy reports whether answers are in flight or waiting.
func (l *Limiter) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight > 0 || l.waiting > 0
}

// Wait is called between units of background work: it returns at once when
// no answer is in flight, else after a pause of up to (1-share)/share times
// the work done since the last call (at most maxPause), cut short when the
// answers are done or ctx ends (its error is returned).
func (p *Pace) Wait(ctx context.Context) error {
	if p == nil || p.l == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := p.l.now()
	ran := now.Sub(p.last)
	p.last = now
	if p.budget <= 0 || !p.l.busy() {
		p.mu.Unlock()
		return ctx.Err()
	}
	pause := min(time.Duration(float64(ran)*(1-backgroundShare)/backgroundShare), maxPause, p.budget)
	p.budget -= pause
	p.mu.Unlock()

	end := time.NewTimer(pause)
	defer end.Stop()
	poll := time.NewTicker(idlePoll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-end.C:
		case <-poll.C:
			if p.l.busy() {
				continue
			}
		}
		p.mu.Lock()
		p.last = p.l.now() // the pause is not work
		p.mu.Unlock()
		return nil
	}
}
