package bot

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolBoundsAndDrains(t *testing.T) {
	p := NewPool(2, 1)
	release := make(chan struct{})
	var running, done atomic.Int32
	for i := range 3 {
		s, ok := p.Reserve()
		if !ok {
			t.Fatalf("slot %d refused", i)
		}
		s.Go(func(ctx context.Context) {
			running.Add(1)
			<-release
			done.Add(1)
		})
	}
	if _, ok := p.Reserve(); ok {
		t.Fatal("a fourth slot was given with 2 workers and a backlog of 1")
	}
	time.Sleep(50 * time.Millisecond)
	if n := running.Load(); n != 2 {
		t.Fatalf("%d running, want 2 workers", n)
	}
	// A cancelled reservation frees its slot.
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for done.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
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
	start := time.Now()
	if err := p.Close(ctx); err == nil {
		t.Fatal("Close returned nil though work outlived the grace period")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	// The running one saw its context end; the waiting one never started.
	if n := cancelled.Load(); n != 1 {
		t.Fatalf("%d cancelled, want 1", n)
	}
}
