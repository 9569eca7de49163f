package llm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

var question = Request{Messages: []Message{
	{Role: "system", Content: "Answer from the manuals only."},
	{Role: "user", Content: "液压泵压力低怎么办? The pump pressure is low."},
}}

// deltas collects streamed fragments.
type deltas struct {
	mu  sync.Mutex
	got []string
}

func (d *deltas) add(s string) { d.mu.Lock(); d.got = append(d.got, s); d.mu.Unlock() }
func (d *deltas) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

func newTestChat(t *testing.T, cfg ChatConfig) Chat {
	t.Helper()
	if cfg.Provider == "" {
		cfg.Provider = "compatible"
		cfg.Model = "fake-qwen"
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Millisecond
	}
	c, err := NewChat(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChatStream(t *testing.T) {
	const answer = "Check the suction filter [1]. 检查吸油滤网。"
	srv := llmtest.NewServer(t, llmtest.Options{
		Reply: answer, Chunk: 4, Reasoning: "thinking about pumps",
		Usage: &llmtest.Usage{PromptTokens: 57, CompletionTokens: 13, TotalTokens: 70},
	})
	c := newTestChat(t, ChatConfig{Provider: "compatible", BaseURL: srv.BaseURL(), Model: "qwen-plus"})
	var d deltas
	r, err := c.Complete(context.Background(), question, d.add)
	if err != nil {
		t.Fatal(err)
	}
	got := d.list()
	if strings.Join(got, "") != answer || r.Text != answer {
		t.Fatalf("deltas %q, text %q", got, r.Text)
	}
	// Fragments arrive in order, as the server cut them (4 runes each), and
	// reasoning_content never reaches the caller.
	rs := []rune(answer)
	for i, g := range got {
		want := string(rs[i*4 : min(i*4+4, len(rs))])
		if g != want {
			t.Fatalf("delta %d = %q, want %q", i, g, want)
		}
	}
	if r.Usage != (shifu.Usage{PromptTokens: 57, CompletionTokens: 13, TotalTokens: 70}) || r.UsageEstimated {
		t.Fatalf("usage %+v estimated %v", r.Usage, r.UsageEstimated)
	}
	if r.Finish != "stop" || r.Model != "qwen-plus" || r.FirstByte <= 0 {
		t.Fatalf("reply %+v", r)
	}

	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/chat/completions" {
		t.Fatalf("requests %+v", reqs)
	}
	cr := reqs[0].Chat
	if !cr.Stream || cr.StreamOptions == nil || !cr.StreamOptions.IncludeUsage {
		t.Fatalf("not a streaming request with usage: %s", reqs[0].Body)
	}
	if cr.Temperature == nil || *cr.Temperature != 0.2 || cr.MaxCompletionTokens == nil || *cr.MaxCompletionTokens != 800 || cr.MaxTokens != nil {
		t.Fatalf("sampling fields wrong: %s", reqs[0].Body)
	}
	if len(cr.Messages) != 2 || cr.Messages[0].Role != "system" || cr.Messages[1].Role != "user" || cr.Messages[1].Content != question.Messages[1].Content {
		t.Fatalf("messages %+v", cr.Messages)
	}
}

func TestChatDashScopeFields(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: "好的"})
	c := newTestChat(t, ChatConfig{Provider: "dashscope", BaseURL: srv.BaseURL(), APIKey: "sk-ds"})
	if c.Model() != "qwen-plus" {
		t.Fatalf("model %q", c.Model())
	}
	req := question
	req.MaxTokens, req.Temperature = 300, -1 // -1 asks for greedy decoding
	if _, err := c.Complete(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	r := srv.Requests()[0]
	var body map[string]any
	json.Unmarshal(r.Body, &body)
	if body["max_tokens"] != float64(300) || body["max_completion_tokens"] != nil || body["temperature"] != float64(0) || body["model"] != "qwen-plus" {
		t.Fatalf("body %s", r.Body)
	}
	if r.Header.Get("Authorization") != "Bearer sk-ds" {
		t.Fatalf("auth %q", r.Header.Get("Authorization"))
	}
}

func TestChatUsageEstimated(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: "Replace the seal. 更换密封圈。", NoUsage: true})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL()})
	r, err := c.Complete(context.Background(), question, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.UsageEstimated || r.Usage.CompletionTokens < 5 || r.Usage.PromptTokens < 10 ||
		r.Usage.TotalTokens != r.Usage.PromptTokens+r.Usage.CompletionTokens {
		t.Fatalf("usage %+v estimated %v", r.Usage, r.UsageEstimated)
	}
}

func TestChatRetry5xxAnd429(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: "fine", Script: []llmtest.Step{{Status: 503}, {Status: 429, RetryAfter: "1"}}})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL()})
	var d deltas
	start := time.Now()
	r, err := c.Complete(context.Background(), question, d.add)
	if err != nil || r.Text != "fine" {
		t.Fatalf("%q %v", r.Text, err)
	}
	if el := time.Since(start); el < time.Second {
		t.Fatalf("took %v: Retry-After 1 not honoured", el)
	}
	if srv.Count("/chat/completions") != 3 || strings.Join(d.list(), "") != "fine" {
		t.Fatalf("%d requests, deltas %q", srv.Count(""), d.list())
	}
}

func TestChat400NotRetried(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Script: []llmtest.Step{{Status: 400, Message: "Range of input length should be [1, 30720]"}}})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL()})
	_, err := c.Complete(context.Background(), question, nil)
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.Status != 400 || !strings.Contains(err.Error(), "input length") {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, shifu.ErrUnavailable) || srv.Count("") != 1 {
		t.Fatalf("err %v after %d requests", err, srv.Count(""))
	}
}

func TestChatFirstByteTimeoutRetries(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: "second time lucky", Script: []llmtest.Step{{Hang: true}}})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), FirstByteTimeout: 200 * time.Millisecond})
	start := time.Now()
	r, err := c.Complete(context.Background(), question, nil)
	if err != nil || r.Text != "second time lucky" {
		t.Fatalf("%q %v", r.Text, err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("retried after %v, before the first-byte timeout", el)
	}
	if srv.Count("") != 2 {
		t.Fatalf("%d requests, want 2", srv.Count(""))
	}
}

func TestChatFirstByteTimeoutGivesUp(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Fail: func(int, llmtest.Request) *llmtest.Step { return &llmtest.Step{Hang: true} }})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), FirstByteTimeout: 100 * time.Millisecond, MaxRetries: 1})
	_, err := c.Complete(context.Background(), question, nil)
	if !errors.Is(err, errFirstByte) || !errors.Is(err, shifu.ErrUnavailable) || srv.Count("") != 2 {
		t.Fatalf("err %v after %d requests", err, srv.Count(""))
	}
}

func TestChatHangMidStreamNotRetried(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: "one two three four five", Chunk: 4, Script: []llmtest.Step{{HangAfter: 2}}})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), Timeout: 300 * time.Millisecond, FirstByteTimeout: 100 * time.Millisecond})
	var d deltas
	_, err := c.Complete(context.Background(), question, d.add)
	// Cut by the call's Timeout (its deadline), not left hanging.
	if !errors.Is(err, shifu.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline's error", err)
	}
	// The two fragments delivered are never repeated by a retry.
	if got := d.list(); strings.Join(got, "") != "one two " || srv.Count("") != 1 {
		t.Fatalf("deltas %q after %d requests", got, srv.Count(""))
	}
}

func TestChatCutMidStream(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: "alpha beta gamma", Chunk: 6, Script: []llmtest.Step{{CutAfter: 1}}})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL()})
	var d deltas
	r, err := c.Complete(context.Background(), question, d.add)
	// Either langchaingo reports the broken stream, or it returns the partial
	// text with no finish reason; it must not retry and repeat text.
	if err == nil && r.Finish != "" {
		t.Fatalf("cut stream looked complete: %+v", r)
	}
	if got := d.list(); strings.Join(got, "") != "alpha " || srv.Count("") != 1 {
		t.Fatalf("deltas %q after %d requests", got, srv.Count(""))
	}
}

func TestChatCallerCancel(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Latency: 2 * time.Second})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL()})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := c.Complete(ctx, question, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("err = %v, want the caller's cancellation only", err)
	}
}

func TestChatInvalid(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL()})
	for _, req := range []Request{{}, {Messages: []Message{{Role: "tool", Content: "x"}}}} {
		if _, err := c.Complete(context.Background(), req, nil); !errors.Is(err, shifu.ErrInvalid) {
			t.Errorf("%+v: err = %v", req, err)
		}
	}
	if srv.Count("") != 0 {
		t.Fatal("invalid requests reached the server")
	}
	for _, cfg := range []ChatConfig{{Provider: "gemini"}, {Provider: "openai"}, {Provider: "compatible", BaseURL: "http://x"}} {
		if _, err := NewChat(cfg); !errors.Is(err, shifu.ErrInvalid) {
			t.Errorf("%+v: err = %v", cfg, err)
		}
	}
}

func TestChatBreakerOverHTTP(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Fail: func(int, llmtest.Request) *llmtest.Step { return &llmtest.Step{Status: 500} }})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), MaxRetries: -1, Breaker: BreakerConfig{Failures: 2, Cooldown: time.Hour}})
	for range 2 {
		if _, err := c.Complete(context.Background(), question, nil); err == nil {
			t.Fatal("want an error")
		}
	}
	_, err := c.Complete(context.Background(), question, nil)
	if !errors.Is(err, ErrCircuitOpen) || !errors.Is(err, shifu.ErrUnavailable) || srv.Count("") != 2 {
		t.Fatalf("err %v after %d requests; want fail-fast", err, srv.Count(""))
	}
}

func TestEstimateTokens(t *testing.T) {
	if n := estimateTokens("abcdefgh"); n != 2 {
		t.Errorf("latin: %d", n)
	}
	if n := estimateTokens("液压泵"); n != 3 {
		t.Errorf("han: %d", n)
	}
}
