package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
)

// loopbackURL checks --url names a server on this machine and returns it
// without a trailing slash: the benches measure, they do not load someone
// else's server.
func loopbackURL(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", shifu.Errorf(shifu.ErrInvalid, "--url %q: want the base URL of a local server, such as http://127.0.0.1:8080", target)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", shifu.Errorf(shifu.ErrInvalid, "--url %q: only loopback addresses (127.0.0.1, ::1, localhost) are accepted", target)
	}
	return strings.TrimRight(target, "/"), nil
}

// benchQuestions are asked in turn when no --question is given.
var benchQuestions = []string{
	"What does alarm E-101 mean?", "How do I reset the spindle overload?", "What oil does the way lube take?",
	"How often is the coolant filter changed?", "What torque for the clamp bolts?", "液压泵压力低怎么办？",
}

// cmdBenchLoad drives a running `shifu serve` on this machine with 1, 16, 64
// and 256 concurrent clients asking through /v1/chat/completions, each level
// for --duration, and prints throughput, latency of admitted answers and the
// share refused (503) with how fast refusals came. Only loopback addresses
// are accepted: this is a measurement, not a load test of someone's server.
func cmdBenchLoad(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "bench load")
	target := fs.String("url", "", "base URL of a local shifu serve, e.g. http://127.0.0.1:18180")
	token := fs.String("token", "", "API token of a worker (shifu token create)")
	dur := fs.Duration("duration", 5*time.Second, "time per concurrency level (at most 1m)")
	levels := fs.String("clients", "1,16,64,256", "concurrency levels, comma-separated (at most 1024)")
	var questions multi
	fs.Var(&questions, "question", "question to ask (repeatable); default a built-in set")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, err := loopbackURL(*target)
	if err != nil {
		return err
	}
	if *token == "" {
		return shifu.Errorf(shifu.ErrInvalid, "--token is required (create one with shifu token create)")
	}
	if *dur <= 0 || *dur > time.Minute {
		return shifu.Errorf(shifu.ErrInvalid, "--duration %v: want more than 0 and at most 1m", *dur)
	}
	var ns []int
	for _, f := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return shifu.Errorf(shifu.ErrInvalid, "--clients %q: want whole numbers from 1 to 1024, comma-separated", *levels)
		}
		ns = append(ns, n)
	}
	if len(questions) == 0 {
		questions = benchQuestions
	}
	b := &loadBench{url: base + "/v1/chat/completions", token: *token, questions: questions,
		hc: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 0}}}

	fmt.Fprintf(e.stdout, "%8s %10s %9s %9s %9s %9s %12s %7s\n", "clients", "answers/s", "p50", "p95", "p99", "refused", "refusal p99", "errors")
	results := map[int]loadResult{}
	for _, n := range ns {
		r := b.run(ctx, n, *dur)
		results[n] = r
		r.print(e, n)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	// Saturation: the fewest clients that reach 90% of the best throughput.
	best := 0.0
	for _, r := range results {
		best = max(best, r.rate)
	}
	sat := 0
	for _, n := range ns {
		if results[n].rate >= 0.9*best {
			sat = n
			break
		}
	}
	if sat == 0 || best == 0 {
		return shifu.Errorf(shifu.ErrUnavailable, "no answer was admitted at any level (first error: %s)", results[ns[0]].firstErr)
	}
	over := 4 * sat
	r, ok := results[over]
	if !ok && over <= 1024 {
		r = b.run(ctx, over, *dur)
		r.print(e, over)
	}
	refusals := "none refused"
	if len(r.refused) > 0 {
		refusals = fmt.Sprintf("refusals p99 %v (want <= 50ms), %.0f%% refused", r.refusalP99().Round(time.Millisecond), 100*r.refusedShare())
	}
	fmt.Fprintf(e.stdout, "saturation at %d clients (%.1f answers/s); at %d clients: admitted p99 %v (want <= 2s), %s\n",
		sat, results[sat].rate, over, r.p(0.99).Round(time.Millisecond), refusals)
	for _, n := range ns {
		if results[n].firstErr != "" {
			fmt.Fprintf(e.stdout, "errors: first at %d clients: %s%s\n", n, results[n].firstErr, errHint(results[n].firstErr))
			break
		}
	}
	return nil
}

// errHint explains the error a bench most often meets: the server's own
// per-user and per-tenant answer limits, which a load bench exceeds at once.
func errHint(first string) string {
	if strings.HasPrefix(first, "HTTP 429") {
		return " (the server's answer limits: start it with SHIFU_RATE_USER and SHIFU_RATE_TENANT above the bench's rate)"
	}
	return ""
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, "; ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

var _ flag.Value = (*multi)(nil)

type loadBench struct {
	url, token string
	questions  []string
	hc         *http.Client
}

type loadResult struct {
	admitted, refused []time.Duration
	errors            int
	firstErr          string
	rate              float64 // admitted answers per second
}

func (b *loadBench) run(ctx context.Context, clients int, d time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := i; ctx.Err() == nil; n += clients {
				q := b.questions[n%len(b.questions)]
				t0 := time.Now()
				code, err := b.ask(ctx, q)
				el := time.Since(t0)
				if ctx.Err() != nil {
					return // cut by the level's end: not a measurement
				}
				mu.Lock()
				switch {
				case err == nil && code == http.StatusOK:
					res.admitted = append(res.admitted, el)
				case err == nil && code == http.StatusServiceUnavailable:
					res.refused = append(res.refused, el)
				default:
					res.errors++
					if res.firstErr == "" {
						res.firstErr = fmt.Sprintf("HTTP %d %v", code, err)
					}
				}
				mu.Unlock()
				if code == http.StatusServiceUnavailable {
					// A client told to come back does not hammer: it waits a
					// little, as the chat page's user would.
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
		}()
	}
	wg.Wait()
	res.rate = float64(len(res.admitted)) / time.Since(start).Seconds()
	slices.Sort(res.admitted)
	slices.Sort(res.refused)
	return res
}

func (b *loadBench) ask(ctx context.Context, q string) (int, error) {
	body, _ := json.Marshal(map[string]any{"model": "shifu", "messages": []map[string]string{{"role": "user", "content": q}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func (r loadResult) p(q float64) time.Duration { return quantile(r.admitted, q) }
func (r loadResult) refusalP99() time.Duration { return quantile(r.refused, 0.99) }
func (r loadResult) refusedShare() float64 {
	n := len(r.admitted) + len(r.refused) + r.errors
	if n == 0 {
		return 0
	}
	return float64(len(r.refused)) / float64(n)
}

func (r loadResult) print(e *env, clients int) {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Fprintf(e.stdout, "%8d %10.1f %9s %9s %9s %8.1f%% %12s %7d\n", clients, r.rate, ms(r.p(0.5)), ms(r.p(0.95)), ms(r.p(0.99)),
		100*r.refusedShare(), ms(r.refusalP99()), r.errors)
}
