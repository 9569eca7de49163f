// Package admit is admission control for answers: a bounded number in flight,
// a short queue with a deadline, tenants served in turn from it, and a quick
// refusal (ErrBusy) when it is full. A crowd at shift change then gets most
// answers at normal speed and some a "busy, try again" at once, instead of
// every answer slowing down until all time out. The web routes that answer,
// the OpenAI-compatible API and the bots share one Limiter.
package admit

import (
	"context"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
)

// ErrBusy is the refusal: every answer slot is taken and the queue is full,
// or the wait in it ran out. It is a shifu.ErrUnavailable (503 with
// Retry-After at the web edge; bots say it in the thread).
var ErrBusy = shifu.Errorf(shifu.ErrUnavailable, "Shifu is busy answering other questions; please try again in a few seconds")

// Limiter admits answers. The zero value is not usable; use New.
type Limiter struct {
	slots int           // answers in flight at most
	queue int           // waiting at most
	wait  time.Duration // longest wait in the queue

	now func() time.Time

	mu       sync.Mutex
	inflight int
	waiting  int
	byTenant map[int64][]*waiter // each tenant's waiters, oldest first
	turn     []int64             // tenants with waiters, in serving order
	// hold is the recent mean time an answer holds its slot (0 until one
	// is done): with it a question that could not be served within wait is
	// refused on arrival, not after waiting for nothing.
	hold time.Duration
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

// New returns a Limiter of slots answers in flight (at least 1), queue
// waiting (0: none wait) for at most wait.
func New(slots, queue int, wait time.Duration) *Limiter {
	return &Limiter{slots: max(slots, 1), queue: max(queue, 0), wait: wait, now: time.Now, byTenant: map[int64][]*waiter{}}
}

// Stats is what the limiter holds now.
type Stats struct{ InFlight, Waiting int }

// Stats reports the answers in flight and waiting, for metrics.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{l.inflight, l.waiting}
}

// Full reports whether Acquire would refuse at once now: every slot taken
// and no room in the queue. The edge checks it before authenticating, so a
// crowd costs the server nothing more than the check.
func (l *Limiter) Full() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight >= l.slots && !l.room()
}

// room reports whether one more waiter fits in the queue: below its length,
// and, once answers have been timed, likely to get a slot within wait: the
// waiters ahead of it leave at slots per hold, and half the wait is kept as
// margin, for answer times vary. A refusal that comes after the whole wait
// is a slow refusal; this one comes in microseconds, and those who do queue
// are almost always served. Called with mu held.
func (l *Limiter) room() bool {
	if l.waiting >= l.queue {
		return false
	}
	return l.hold == 0 || 2*time.Duration(l.waiting+1)*l.hold/time.Duration(l.slots) <= l.wait
}

// Acquire takes an answer slot for tenant, waiting in the queue if all are
// taken. It returns ErrBusy at once when the queue is full, or when the wait
// runs out; ctx's error when the caller leaves. Call release exactly once
// when the answer is done.
func (l *Limiter) Acquire(ctx context.Context, tenant int64) (release func(), err error) {
	l.mu.Lock()
	if l.inflight < l.slots && l.waiting == 0 {
		l.inflight++
		l.mu.Unlock()
		return l.releaser(), nil
	}
	if !l.room() {
		l.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{ready: make(chan struct{})}
	if len(l.byTenant[tenant]) == 0 {
		l.turn = append(l.turn, tenant)
	}
	l.byTenant[tenant] = append(l.byTenant[tenant], w)
	l.waiting++
	l.mu.Unlock()

	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case <-w.ready:
		return l.releaser(), nil
	case <-t.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted { // the slot came as we gave up: it is ours, so use it
		return l.releaser(), nil
	}
	l.remove(tenant, w)
	return nil, err
}

// releaser returns a release that works once.
func (l *Limiter) releaser() func() {
	var once sync.Once
	start := l.now()
	return func() { once.Do(func() { l.release(l.now().Sub(start)) }) }
}

// release hands the slot to the next waiter, taking tenants in turn, so one
// factory's crowd cannot keep another's questions waiting behind it. held is
// how long the slot was held.
func (l *Limiter) release(held time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A moving mean of the last ten or so answers follows a load change
	// within seconds.
	if l.hold == 0 {
		l.hold = held
	} else {
		l.hold += (held - l.hold) / 8
	}
	if len(l.turn) == 0 {
		l.inflight--
		return
	}
	tenant := l.turn[0]
	ws := l.byTenant[tenant]
	w := ws[0]
	l.byTenant[tenant] = ws[1:]
	l.turn = l.turn[1:]
	if len(ws) > 1 {
		l.turn = append(l.turn, tenant) // back of the line
	} else {
		delete(l.byTenant, tenant)
	}
	l.waiting--
	w.granted = true
	close(w.ready)
}

// remove takes a waiter that gave up out of the queue. Called with mu held.
func (l *Limiter) remove(tenant int64, w *waiter) {
	ws := l.byTenant[tenant]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	l.waiting--
	if len(ws) > 0 {
		l.byTenant[tenant] = ws
		return
	}
	delete(l.byTenant, tenant)
	for i, t := range l.turn {
		if t == tenant {
			l.turn = append(l.turn[:i:i], l.turn[i+1:]...)
			break
		}
	}
}

// admitted marks a context whose answer already holds a slot.
type admitted struct{}

// Admitted returns ctx marked as holding a slot, so a later Acquire through
// Asker does not take a second one.
func Admitted(ctx context.Context) context.Context { return context.WithValue(ctx, admitted{}, true) }

// Asker answers questions; Wrap bounds one.
type Asker interface {
	Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error)
}

// Wrap makes every answer of a go through l, unless its context was
// admitted already (the web routes take their slot before streaming begins).
func Wrap(a Asker, l *Limiter) Asker { return gated{a, l} }

type gated struct {
	a Asker
	l *Limiter
}

func (g gated) Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error) {
	if ok, _ := ctx.Value(admitted{}).(bool); ok {
		return g.a.Ask(ctx, q, onDelta)
	}
	release, err := g.l.Acquire(ctx, q.Tenant)
	if err != nil {
		return shifu.Answer{}, err
	}
	defer release()
	return g.a.Ask(ctx, q, onDelta)
}
