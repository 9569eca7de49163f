package bot

import (
	"context"
	"sync"
)

// Pool runs answers after the platform has been acknowledged: at most workers
// at once, and at most workers+backlog taken on, so a flood of messages is
// refused (and retried by the platform) instead of piling up goroutines.
type Pool struct {
	run    chan struct{} // a token per running answer
	slots  chan struct{} // a token per answer taken on (running or waiting)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// NewPool returns a pool; Close stops it.
func NewPool(workers, backlog int) *Pool {
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{run: make(chan struct{}, workers), slots: make(chan struct{}, workers+backlog), ctx: ctx, cancel: cancel}
}

// Slot is a place in the pool, reserved before the work is known to be wanted.
type Slot struct {
	p    *Pool
	done bool
}

// Reserve takes a slot without waiting; false when the pool is full or closed.
func (p *Pool) Reserve() (*Slot, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false
	}
	select {
	case p.slots <- struct{}{}:
		p.wg.Add(1)
		return &Slot{p: p}, true
	default:
		return nil, false
	}
}

// Cancel gives the slot back unused.
func (s *Slot) Cancel() {
	if s.done {
		return
	}
	s.done = true
	<-s.p.slots
	s.p.wg.Done()
}

// Go runs fn in the slot once a worker is free. fn's context ends when the
// pool is closed and its grace period is over.
func (s *Slot) Go(fn func(ctx context.Context)) {
	if s.done {
		return
	}
	s.done = true
	p := s.p
	go func() {
		defer func() {
			<-p.slots
			p.wg.Done()
		}()
		select {
		case p.run <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		defer func() { <-p.run }()
		fn(p.ctx)
	}()
}

// Close takes no more work and waits for what was taken on; when ctx ends
// first, it cancels the rest and waits for it to return.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.cancel()
		<-done
		return ctx.Err()
	}
}
