package bot

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolBoundsAndDrains(t *testing.T) {
	p := NewPool(2, 1)
	release := make(chan struct{})
	started := make(chan struct{}, 3)
	var done atomic.Int32
	var finished sync.WaitGroup
	finished.Add(3)
	for i := range 3 {
		s, ok := p.Reserve()
		if !ok {
			t.Fatalf("slot %d refused", i)
		}
		s.Go(func(ctx context.Context) {
			defer finished.Done()
			started <- struct{}{}
			<-release
			done.Add(1)
		})
	}
	if _, ok := p.Reserve(); ok {
		t.Fatal("a fourth slot was given with 2 workers and a backlog of 1")
	}
	// Two workers start; the third job waits in the backlog while they block.
	<-started
	<-started
	select {
	case <-started:
		t.Fatal("a third job ran while both workers were busy")
	default:
	}
	close(release)
	finished.Wait()
	// A cancelled reservation frees its slot.
	s, ok := p.Reserve()
	if !ok {
		t.Fatal("no slot after work finished")
	}
	s.Cancel()
	s.Cancel() // twice is harmless
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if done.Load() != 3 {
		t.Fatalf("%d done after Close", done.Load())
	}
	if _, ok := p.Reserve(); ok {
		t.Fatal("closed pool gave a slot")
	}
}

func TestPoolCloseCancelsAfterGrace(t *testing.T) {
	p := NewPool(1, 1)
	var cancelled atomic.Int32
	for range 2 { // one running, one waiting for the worker
		s, _ := p.Reserve()
		s.Go(func(ctx context.Context) {
			<-ctx.Done()
			cancelled.Add(1)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the grace period's deadline: work outlived it", err)
	}
	// The running one saw its context end; the waiting one never started.
	if n := cancelled.Load(); n != 1 {
		t.Fatalf("%d cancelled, want 1", n)
	}
}
