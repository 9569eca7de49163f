package model

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
)

// ErrCircuitOpen is returned, wrapped, while a breaker refuses calls. It wraps
// shifu.ErrUnavailable.
var ErrCircuitOpen = fmt.Errorf("model circuit open: %w", shifu.ErrUnavailable)

// BreakerConfig tunes a circuit breaker.
type BreakerConfig struct {
	Failures int           // consecutive failures that open it; default 5
	Cooldown time.Duration // how long it stays open before one probe call; default 30 s
	Now      func() time.Time
}

// Breaker is a circuit breaker around a Chat. After Failures consecutive
// availability failures (errors wrapping shifu.ErrUnavailable) it opens: calls
// fail at once with ErrCircuitOpen instead of each waiting out timeouts and
// retries against a model that is down. After Cooldown one call is let through
// as a probe (half-open); its success closes the breaker, its failure opens it
// for another Cooldown. The caller cancelling or sending a bad request counts
// neither way.
type Breaker struct {
	chat Chat
	cfg  BreakerConfig

	mu       sync.Mutex
	fails    int
	openedAt time.Time // zero while closed
	probing  bool
}

// NewBreaker wraps c.
func NewBreaker(c Chat, cfg BreakerConfig) *Breaker {
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Breaker{chat: c, cfg: cfg}
}

// Breaker states, as State reports them.
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half-open"
)

// State reports closed, open or half-open, for health checks and metrics.
func (b *Breaker) State() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openedAt.IsZero():
		return Closed
	case b.probing || !b.cfg.Now().Before(b.openedAt.Add(b.cfg.Cooldown)):
		return HalfOpen
	}
	return Open
}

func (b *Breaker) Model() string { return b.chat.Model() }

func (b *Breaker) Complete(ctx context.Context, req Request, onDelta func(string)) (Reply, error) {
	probe, err := b.allow()
	if err != nil {
		return Reply{}, err
	}
	r, err := b.chat.Complete(ctx, req, onDelta)
	b.done(probe, err)
	return r, err
}

// allow decides whether a call may go ahead; probe is true when it is the
// half-open trial call.
func (b *Breaker) allow() (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return false, nil
	}
	left := b.openedAt.Add(b.cfg.Cooldown).Sub(b.cfg.Now())
	if left > 0 || b.probing {
		return false, fmt.Errorf("%w (retry in %v)", ErrCircuitOpen, max(left, 0).Round(time.Second))
	}
	b.probing = true
	return true, nil
}

func (b *Breaker) done(probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch {
	case err == nil:
		b.fails = 0
		b.openedAt = time.Time{}
	case errors.Is(err, shifu.ErrUnavailable):
		b.fails++
		if probe || b.fails >= b.cfg.Failures {
			b.openedAt = b.cfg.Now()
		}
	}
}
