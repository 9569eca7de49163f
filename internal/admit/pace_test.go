package admit

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// Background work pauses only while answers are in flight, in proportion to
// the work done since its last call, within its budget; the pause ends when
// the answers are done.
func TestPace(t *testing.T) {
	l := New(2, 0, time.Second)
	clock := time.Unix(1_700_000_000, 0)
	l.now = func() time.Time { return clock }
	ctx := context.Background()

	p := l.Pacer(time.Minute)
	clock = clock.Add(100 * time.Millisecond)
	if err := p.Wait(ctx); err != nil || p.budget != time.Minute {
		t.Fatalf("no answers in flight: paused (budget left %v, err %v)", p.budget, err)
	}

	release, _ := l.Acquire(ctx, 1)
	clock = clock.Add(100 * time.Millisecond) // 100 ms of work while an answer runs
	t0 := time.Now()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	want := time.Duration(float64(100*time.Millisecond) * (1 - backgroundShare) / backgroundShare)
	if el := time.Since(t0); el < want || p.budget != time.Minute-want {
		t.Fatalf("answer in flight: paused %v (want %v), budget left %v", el, want, p.budget)
	}

	// A long unit's pause is cut to maxPause, and ends when the answer does.
	clock = clock.Add(time.Hour)
	done := make(chan error, 1)
	go func() { done <- p.Wait(ctx) }()
	// Released only once the pause has begun (its length is taken from the
	// budget), so the answer ending is what cuts it short.
	for begun := false; !begun; {
		p.mu.Lock()
		begun = p.budget < time.Minute-want
		p.mu.Unlock()
		runtime.Gosched()
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left := time.Minute - want - maxPause; p.budget != left {
		t.Fatalf("long unit: budget left %v, want %v (one maxPause spent)", p.budget, left)
	}

	// Once the budget is spent the work runs unpaced.
	release, _ = l.Acquire(ctx, 1)
	defer release()
	q := l.Pacer(0)
	clock = clock.Add(time.Second)
	if err := q.Wait(ctx); err != nil || q.budget != 0 {
		t.Fatalf("no budget: %v %v", q.budget, err)
	}
	var none *Limiter
	if err := none.Pacer(time.Minute).Wait(ctx); err != nil {
		t.Fatalf("nil limiter: %v", err)
	}
}
