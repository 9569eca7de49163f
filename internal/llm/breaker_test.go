package llm

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
)

// stubChat is an in-process Chat whose outcome the test sets; the breaker is
// what is under test, not the network.
type stubChat struct {
	mu    sync.Mutex
	err   error
	calls int
}

func (s *stubChat) Model() string { return "stub" }
func (s *stubChat) Complete(context.Context, Request, func(string)) (Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return Reply{Text: "ok"}, s.err
}

func (s *stubChat) set(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func TestBreaker(t *testing.T) {
	down := unavailable("chat", errors.New("HTTP 503"))
	stub := &stubChat{err: down}
	clk := &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	b := NewBreaker(stub, BreakerConfig{Failures: 3, Cooldown: 30 * time.Second, Now: clk.now})
	ctx := context.Background()

	for i := range 3 {
		if b.State() != Closed {
			t.Fatalf("state %s after %d failures", b.State(), i)
		}
		if _, err := b.Complete(ctx, question, nil); !errors.Is(err, down) {
			t.Fatalf("err %v", err)
		}
	}
	if b.State() != Open {
		t.Fatalf("state %s after 3 failures", b.State())
	}
	_, err := b.Complete(ctx, question, nil)
	if !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, shifu.ErrUnavailable) || stub.calls != 3 {
		t.Fatalf("err %v, %d calls: want fail-fast", err, stub.calls)
	}

	// After the cooldown one probe goes through; it fails, so it opens again.
	clk.add(31 * time.Second)
	if b.State() != HalfOpen {
		t.Fatalf("state %s after cooldown", b.State())
	}
	if _, err := b.Complete(ctx, question, nil); !errors.Is(err, down) || stub.calls != 4 {
		t.Fatalf("probe: err %v calls %d", err, stub.calls)
	}
	if b.State() != Open {
		t.Fatalf("state %s after failed probe", b.State())
	}
	clk.add(10 * time.Second)
	if _, err := b.Complete(ctx, question, nil); !errors.Is(err, ErrCircuitOpen) || stub.calls != 4 {
		t.Fatalf("reopened breaker let a call through: %v", err)
	}

	// The model recovers: the next probe closes it.
	clk.add(21 * time.Second)
	stub.set(nil)
	if r, err := b.Complete(ctx, question, nil); err != nil || r.Text != "ok" {
		t.Fatalf("probe after recovery: %v", err)
	}
	if b.State() != Closed {
		t.Fatalf("state %s after good probe", b.State())
	}
	// Failures are counted afresh: two more do not open it.
	stub.set(down)
	b.Complete(ctx, question, nil)
	b.Complete(ctx, question, nil)
	if b.State() != Closed {
		t.Fatalf("state %s: old failures were not forgotten", b.State())
	}
}

func TestBreakerIgnoresCallerErrors(t *testing.T) {
	stub := &stubChat{err: context.Canceled}
	b := NewBreaker(stub, BreakerConfig{Failures: 1})
	for range 3 {
		b.Complete(context.Background(), question, nil)
	}
	stub.set(shifu.Errorf(shifu.ErrInvalid, "bad request"))
	b.Complete(context.Background(), question, nil)
	if b.State() != Closed || stub.calls != 4 {
		t.Fatalf("state %s calls %d: cancellations and bad requests must not open it", b.State(), stub.calls)
	}
}

func TestBreakerSingleProbe(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	clk := &clock{t: time.Now()}
	var slow blockingChat = blockingChat{entered: entered, release: release}
	b := NewBreaker(&slow, BreakerConfig{Failures: 1, Cooldown: time.Second, Now: clk.now})
	b.done(false, unavailable("x", errors.New("down"))) // open it
	clk.add(2 * time.Second)
	done := make(chan error)
	go func() { _, err := b.Complete(context.Background(), question, nil); done <- err }()
	<-entered
	// While the probe is out, everyone else fails fast.
	if _, err := b.Complete(context.Background(), question, nil); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("second call during probe: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.State() != Closed {
		t.Fatalf("state %s", b.State())
	}
}

type blockingChat struct{ entered, release chan struct{} }

func (c *blockingChat) Model() string { return "slow" }
func (c *blockingChat) Complete(context.Context, Request, func(string)) (Reply, error) {
	close(c.entered)
	<-c.release
	return Reply{}, nil
}
