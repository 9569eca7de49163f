package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("chunk %d: check the hydraulic filter\nthen restart", i)
	}
	return out
}

func TestEmbedOpenAIRequest(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{APIKey: "sk-test"})
	e, err := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv.BaseURL(), APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	if e.Model() != OpenAIEmbedModel || e.Dim() != 1024 {
		t.Fatalf("model %q dim %d", e.Model(), e.Dim())
	}
	in := texts(3)
	orig := append([]string(nil), in...)
	vecs, err := e.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 3 || len(vecs[0]) != 1024 {
		t.Fatalf("got %d vectors of %d", len(vecs), len(vecs[0]))
	}
	for i := range in {
		if in[i] != orig[i] {
			t.Fatalf("input %d was modified: %q", i, in[i])
		}
		want := llmtest.HashVector(in[i], 1024)
		if vecs[i][5] != want[5] || vecs[i][1000] != want[1000] {
			t.Fatalf("vector %d is not the server's vector for that text", i)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Path != "/v1/embeddings" || r.Header.Get("Authorization") != "Bearer sk-test" {
		t.Fatalf("path %q auth %q", r.Path, r.Header.Get("Authorization"))
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body["model"] != OpenAIEmbedModel || body["dimensions"] != float64(1024) {
		t.Fatalf("body %v", body)
	}
	if got := r.Embed.Input; len(got) != 3 || got[1] != in[1] {
		t.Fatalf("input %q, want the texts unchanged (newlines kept)", got)
	}
}

func TestEmbedDashScopeBatchLimit(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{MaxBatch: 10})
	e, err := NewEmbedder(EmbedConfig{Provider: "dashscope", BaseURL: srv.BaseURL(), APIKey: "k", BatchSize: 25})
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := e.Embed(context.Background(), texts(25))
	if err != nil {
		t.Fatal(err)
	}
	if len(vecs) != 25 || e.Model() != "text-embedding-v3" {
		t.Fatalf("%d vectors, model %q", len(vecs), e.Model())
	}
	var sizes []int
	for _, r := range srv.Requests() {
		sizes = append(sizes, len(r.Embed.Input))
		if r.Embed.Dimensions != 1024 || r.Embed.Model != "text-embedding-v3" {
			t.Fatalf("request %+v", r.Embed)
		}
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Fatalf("batches %v, want [10 10 5]", sizes)
	}

	// A client that ignores the limit gets DashScope's 400, and it is not retried.
	big, err := NewEmbedder(EmbedConfig{Provider: "compatible", BaseURL: srv.BaseURL(), Model: "text-embedding-v3", Dim: 1024, BatchSize: 25, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.Count("")
	_, err = big.Embed(context.Background(), texts(25))
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.Status != 400 || !strings.Contains(herr.Body, "batch size is invalid") {
		t.Fatalf("err = %v, want the 400", err)
	}
	if !errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("err = %v, want it to wrap ErrUnavailable", err)
	}
	if n := srv.Count("") - before; n != 1 {
		t.Fatalf("%d requests for a 400, want 1 (no retry)", n)
	}
}

func TestEmbedRetryAfter(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Status: 429, RetryAfter: "1"}}})
	e, err := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv.BaseURL(), APIKey: "k", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := e.Embed(context.Background(), texts(2)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("retried after %v, want at least the 1 s Retry-After", el)
	}
	if n := srv.Count("/embeddings"); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestEmbedRetry5xx(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Status: 503}, {Status: 502}}})
	e, err := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv.BaseURL(), APIKey: "k", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := e.Embed(context.Background(), texts(4))
	if err != nil || len(vecs) != 4 {
		t.Fatalf("%d vectors, err %v", len(vecs), err)
	}
	if n := srv.Count("/embeddings"); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestEmbedRetriesBounded(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Fail: func(int, llmtest.Request) *llmtest.Step {
		return &llmtest.Step{Status: 500}
	}})
	e, err := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv.BaseURL(), APIKey: "k", MaxRetries: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Embed(context.Background(), texts(1))
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.Status != 500 {
		t.Fatalf("err = %v, want HTTP 500", err)
	}
	if n := srv.Count("/embeddings"); n != 3 {
		t.Fatalf("%d requests, want 1 + 2 retries", n)
	}
}

func TestEmbedHungServer(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Hang: true}}})
	e, err := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv.BaseURL(), APIKey: "k", Timeout: 200 * time.Millisecond, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	vecs, err := e.Embed(context.Background(), texts(1))
	if err != nil || len(vecs) != 1 {
		t.Fatalf("err %v: the hung attempt should be cut and retried", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("retried after %v, before the timeout", el)
	}
	if n := srv.Count("/embeddings"); n != 2 {
		t.Fatalf("%d requests, want the hung one and its retry", n)
	}

	// Without retries the timeout is the answer.
	srv2 := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Hang: true}}})
	e2, _ := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv2.BaseURL(), APIKey: "k", Timeout: 200 * time.Millisecond, MaxRetries: -1})
	if _, err := e2.Embed(context.Background(), texts(1)); !errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

func TestEmbedCallerCancel(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Latency: time.Second})
	e, _ := NewEmbedder(EmbedConfig{Provider: "openai", BaseURL: srv.BaseURL(), APIKey: "k"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.Embed(ctx, texts(1))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
}

func TestEmbedWrongDim(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Embed: func(string, int) []float32 { return make([]float32, 768) }})
	e, _ := NewEmbedder(EmbedConfig{Provider: "compatible", BaseURL: srv.BaseURL(), Model: "bge-m3", Dim: 1024})
	_, err := e.Embed(context.Background(), texts(2))
	if err == nil || !strings.Contains(err.Error(), "768 dimensions, want 1024") {
		t.Fatalf("err = %v", err)
	}
	// compatible servers are not sent "dimensions".
	if r := srv.Requests()[0]; strings.Contains(string(r.Body), "dimensions") {
		t.Fatalf("body %s names dimensions", r.Body)
	}
}

func TestEmbedConfigErrors(t *testing.T) {
	for _, cfg := range []EmbedConfig{
		{Provider: "bert"},
		{Provider: "openai"}, // no key
		{Provider: "openai", APIKey: "k", Dim: 1536},
		{Provider: "compatible", BaseURL: "http://x"},
		{Provider: "offline", Dim: 4096},
		{Provider: "offline", Model: "text-embedding-v3"},
	} {
		if _, err := NewEmbedder(cfg); !errors.Is(err, shifu.ErrInvalid) || shifu.Message(err) == "invalid input" {
			t.Errorf("%+v: err = %v, want a specific ErrInvalid", cfg, err)
		}
	}
	e, err := NewEmbedder(EmbedConfig{})
	if err != nil || e.Model() != HashModel || e.Dim() != 1024 {
		t.Fatalf("default embedder: %v %v", e, err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":     0,
		"2":    2 * time.Second,
		"0":    0,
		"soon": 0,
		now.Add(5 * time.Second).Format(http.TimeFormat): 5 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):      0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestBackoffJitter(t *testing.T) {
	p := newPolicy(5, 100*time.Millisecond)
	for n := 0; n < 8; n++ {
		ceil := min(p.Base<<n, p.Max)
		for range 50 {
			if d := p.delay(n, 0); d < 0 || d > ceil {
				t.Fatalf("delay(%d) = %v, outside [0, %v]", n, d, ceil)
			}
		}
	}
	if d := p.delay(3, 7*time.Second); d != 7*time.Second {
		t.Fatalf("Retry-After not honoured: %v", d)
	}
}
