package llm

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// retryPolicy is exponential backoff with full jitter: before attempt n+1 it
// waits a random time in [0, min(Max, Base·2ⁿ)), or what the server asked for in
// Retry-After.
type retryPolicy struct {
	Retries int           // attempts after the first
	Base    time.Duration // first backoff ceiling
	Max     time.Duration // backoff ceiling
	// MaxRetryAfter bounds how long a Retry-After may make us wait; a server
	// asking for more is treated as down for now.
	MaxRetryAfter time.Duration
}

func newPolicy(retries int, base time.Duration) retryPolicy {
	if retries < 0 {
		retries = 0
	}
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	return retryPolicy{Retries: retries, Base: base, Max: 32 * base, MaxRetryAfter: 30 * time.Second}
}

// delay is how long to wait before retry number n (0-based).
func (p retryPolicy) delay(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	ceil := p.Base << min(n, 20)
	if ceil > p.Max || ceil <= 0 {
		ceil = p.Max
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryable reports whether an HTTP status is worth another attempt: rate
// limits, timeouts and server errors. Other 4xx mean the request itself is
// wrong and will stay wrong.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// probe collects what the transport saw for one logical call. langchaingo
// flattens HTTP failures into strings ("API returned unexpected status code:
// 429") and replaces transport errors with generic ones, so the status code and
// Retry-After can only be had here, below it.
type probe struct {
	mu   sync.Mutex
	last *HTTPError // the last non-2xx answer
	err  error      // the last transport error, unflattened
}

func (p *probe) set(h *HTTPError, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.err = h, err
}

func (p *probe) get() (*HTTPError, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.err
}

type probeKey struct{}

func withProbe(ctx context.Context, p *probe) context.Context {
	return context.WithValue(ctx, probeKey{}, p)
}

// transport is the RoundTripper under every model client. It turns non-2xx
// answers into *HTTPError records (reported through the request's probe) and,
// when policy allows retries, repeats the request on 429/408/5xx and transport
// errors. Retrying here is only right for idempotent calls (embeddings,
// rerank) and for chat before the status line (nothing has been streamed yet).
type transport struct {
	base    http.RoundTripper
	policy  retryPolicy
	timeout time.Duration // per attempt, headers and body; 0: none
	now     func() time.Time
}

func newTransport(policy retryPolicy, timeout time.Duration) *transport {
	return &transport{base: http.DefaultTransport, policy: policy, timeout: timeout, now: time.Now}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	p, _ := ctx.Value(probeKey{}).(*probe)
	for n := 0; ; n++ {
		resp, herr, err := t.once(req, n)
		if p != nil {
			p.set(herr, err)
		}
		if err == nil && herr == nil {
			return resp, nil
		}
		last := n >= t.policy.Retries || req.GetBody == nil && req.Body != nil && req.Body != http.NoBody
		wait := time.Duration(0)
		switch {
		case ctx.Err() != nil:
			last = true
		case herr != nil && !retryable(herr.Status):
			last = true
		case herr != nil && herr.RetryAfter > t.policy.MaxRetryAfter:
			last = true
		case herr != nil:
			wait = t.policy.delay(n, herr.RetryAfter)
		default:
			wait = t.policy.delay(n, 0)
		}
		if last {
			if err != nil {
				return nil, err
			}
			return resp, nil // the caller reads the error body itself
		}
		if resp != nil {
			resp.Body.Close()
		}
		if sleep(ctx, wait) != nil {
			if err != nil {
				return nil, err
			}
			return nil, ctx.Err()
		}
	}
}

// once sends one attempt. A non-2xx answer comes back as both resp (with the
// body rewound so the caller can still read the error message) and herr.
func (t *transport) once(req *http.Request, n int) (*http.Response, *HTTPError, error) {
	r := req
	if n > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, nil, err
		}
		r = req.Clone(req.Context())
		r.Body = body
	}
	var cancel context.CancelFunc
	if t.timeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeout(req.Context(), t.timeout)
		r = r.WithContext(ctx)
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, nil, err
	}
	if cancel != nil {
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil, nil
	}
	const keep = 2048
	b, _ := io.ReadAll(io.LimitReader(resp.Body, keep))
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	herr := &HTTPError{
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), t.now()),
		Body:       strings.TrimSpace(string(b)),
	}
	return resp, herr, nil
}

// cancelBody releases an attempt's timeout when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// callError builds the error for a failed call from what langchaingo returned
// and what the probe saw.
func callError(what string, p *probe, err error) error {
	herr, terr := p.get()
	switch {
	case herr != nil:
		return unavailable(what, herr)
	case terr != nil && !errors.Is(err, terr):
		return unavailable(what, errors.Join(err, terr))
	}
	return unavailable(what, err)
}
