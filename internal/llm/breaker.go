package llm

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
	circuit
}

// circuit is a breaker's state, shared by the chat and embedding breakers.
type circuit struct {
	cfg BreakerConfig

	mu       sync.Mutex
	fails    int
	openedAt time.Time // zero while closed
	probing  bool
}

func newCircuit(cfg BreakerConfig) circuit {
	if cfg.Failures <= 0 {
		cfg.Failures = 5
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return circuit{cfg: cfg}
}

// NewBreaker wraps c.
func NewBreaker(c Chat, cfg BreakerConfig) *Breaker {
	return &Breaker{chat: c, circuit: newCircuit(cfg)}
}

// Breaker states, as State reports them.
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half-open"
)

// State reports closed, open or half-open, for health checks and metrics.
func (b *circuit) State() string {
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
func (b *circuit) allow() (probe bool, err error) {
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

func (b *circuit) done(probe bool, err error) {
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

// EmbedBreaker guards the embedding of questions: each call gets at most
// Budget, a call cut by it counts as a failure, and after Failures of them
// calls fail at once with ErrCircuitOpen. A dead or hung embedding service
// then costs a question nothing, and search goes on with keywords alone.
// (Ingest embeds with the bare embedder: it has time, and retries its jobs.)
type EmbedBreaker struct {
	Embedder
	budget time.Duration
	circuit
}

// NewEmbedBreaker wraps e; budget ≤ 0 means 1 s.
func NewEmbedBreaker(e Embedder, budget time.Duration, cfg BreakerConfig) *EmbedBreaker {
	if budget <= 0 {
		budget = time.Second
	}
	return &EmbedBreaker{Embedder: e, budget: budget, circuit: newCircuit(cfg)}
}

func (b *EmbedBreaker) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	probe, err := b.allow()
	if err != nil {
		return nil, fmt.Errorf("embed with %s: %w", b.Model(), err)
	}
	bctx, cancel := context.WithTimeout(ctx, b.budget)
	defer cancel()
	v, err := b.Embedder.Embed(bctx, texts)
	if err != nil && ctx.Err() == nil && bctx.Err() != nil {
		// Our budget, not the caller's, ran out: the service is too slow.
		err = unavailable("embed with "+b.Model(), fmt.Errorf("no answer within %v: %w", b.budget, err))
	}
	b.done(probe, err)
	return v, err
}
