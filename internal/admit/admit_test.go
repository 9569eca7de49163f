package admit

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// queued waits until n callers wait in l.
func queued(t *testing.T, l *Limiter, n int) {
	t.Helper()
	for l.Stats().Waiting != n {
		runtime.Gosched()
	}
}

func TestFullQueueRefusesAtOnce(t *testing.T) {
	l := New(1, 1, time.Hour)
	r, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(context.Background(), 1)
		if err == nil {
			rel()
		}
		got <- err
	}()
	queued(t, l, 1)
	if _, err := l.Acquire(context.Background(), 2); !errors.Is(err, ErrBusy) {
		t.Fatalf("queue full: %v, want ErrBusy", err)
	}
	r()
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v, want the freed slot", err)
	}
	if s := l.Stats(); s.InFlight != 0 || s.Waiting != 0 {
		t.Fatalf("after all released: %+v", s)
	}
}

func TestWaitRunsOut(t *testing.T) {
	l := New(1, 4, 10*time.Millisecond)
	r, _ := l.Acquire(context.Background(), 1)
	defer r()
	if _, err := l.Acquire(context.Background(), 1); !errors.Is(err, ErrBusy) {
		t.Fatalf("wait ran out: %v, want ErrBusy", err)
	}
	if s := l.Stats(); s.Waiting != 0 {
		t.Fatalf("a waiter that gave up is still queued: %+v", s)
	}
}

// Tenants are served in turn: a second tenant's question does not wait
// behind the whole of the first tenant's crowd.
func TestTenantsTakeTurns(t *testing.T) {
	l := New(1, 8, time.Hour)
	r, _ := l.Acquire(context.Background(), 1)
	order := make(chan int64, 4)
	wait := func(tenant int64, n int) {
		go func() {
			rel, err := l.Acquire(context.Background(), tenant)
			if err != nil {
				t.Error(err)
				return
			}
			order <- tenant
			rel()
		}()
		queued(t, l, n)
	}
	wait(1, 1)
	wait(1, 2)
	wait(1, 3)
	wait(2, 4)
	r()
	var got []int64
	for range 4 {
		got = append(got, <-order)
	}
	if got[0] != 1 || got[1] != 2 {
		t.Fatalf("served %v: tenant 2 should come second, not after all of tenant 1", got)
	}
}

func TestCallerLeavingFreesItsPlace(t *testing.T) {
	l := New(1, 1, time.Hour)
	r, _ := l.Acquire(context.Background(), 1)
	defer r()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() { _, err := l.Acquire(ctx, 1); got <- err }()
	queued(t, l, 1)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("caller left: %v", err)
	}
	if s := l.Stats(); s.Waiting != 0 || s.InFlight != 1 {
		t.Fatalf("after the caller left: %+v", s)
	}
}

// Once answers have been timed, a question that would not get a slot within
// the wait is refused on arrival instead of after waiting for nothing; one
// that would, queues.
func TestHopelessWaitRefusedAtOnce(t *testing.T) {
	l := New(1, 8, 20*time.Second)
	var clock time.Time
	l.now = func() time.Time { return clock }
	r, _ := l.Acquire(context.Background(), 1)
	clock = clock.Add(6 * time.Second) // answers take 6 s
	r()
	if l.Full() {
		t.Fatal("idle limiter reports full")
	}
	r, _ = l.Acquire(context.Background(), 1)
	defer r()
	got := make(chan error, 1)
	go func() {
		rel, err := l.Acquire(context.Background(), 1) // first in line: served in ~6 s, within half the wait
		if err == nil {
			rel()
		}
		got <- err
	}()
	queued(t, l, 1)
	if !l.Full() {
		t.Fatal("a second waiter (~12 s away, wait 20 s: more than half) has room")
	}
	if _, err := l.Acquire(context.Background(), 2); !errors.Is(err, ErrBusy) {
		t.Fatalf("second waiter: %v, want ErrBusy at once", err)
	}
	if s := l.Stats(); s.Waiting != 1 {
		t.Fatalf("refused question left in the queue: %+v", s)
	}
	r()
	if err := <-got; err != nil {
		t.Fatalf("first waiter: %v, want the freed slot", err)
	}
}
