package llm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

const longAnswer = "Check the suction filter, then the relief valve, then the pump coupling, then the oil level [1]."

// A model that trickles (one chunk a second here) is cut off once it has been
// silent for IdleTimeout.
func TestChatTrickleCutAtIdleDeadline(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: longAnswer, Chunk: 4, ChunkDelay: time.Second})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), Timeout: time.Minute, FirstByteTimeout: 10 * time.Second,
		IdleTimeout: 100 * time.Millisecond, MaxRetries: -1})
	var d deltas
	_, err := c.Complete(context.Background(), question, d.add)
	if !errors.Is(err, errIdle) || !errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("err = %v, want the idle deadline (an availability failure)", err)
	}
	if got := strings.Join(d.list(), ""); got == longAnswer {
		t.Fatalf("the whole trickled answer was delivered: %q", got)
	}
}

// A model that stalls mid-answer is cut off at the idle deadline after the
// chunks it did send, and not retried (they were shown already).
func TestChatStallCutAtIdleDeadline(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: longAnswer, Chunk: 4, Script: []llmtest.Step{{HangAfter: 3}}})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), Timeout: time.Minute, FirstByteTimeout: 10 * time.Second,
		IdleTimeout: 100 * time.Millisecond})
	var d deltas
	_, err := c.Complete(context.Background(), question, d.add)
	if !errors.Is(err, errIdle) {
		t.Fatalf("err = %v, want the idle deadline", err)
	}
	if got := strings.Join(d.list(), ""); got != longAnswer[:12] {
		t.Fatalf("delivered %q, want the three chunks sent", got)
	}
	if srv.Count("") != 1 {
		t.Fatalf("%d requests: a stream already shown must not be retried", srv.Count(""))
	}
}

// A model that keeps streaming, each chunk within the idle deadline, is still
// cut off at the whole answer's deadline.
func TestChatTrickleCutAtAnswerDeadline(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{Reply: longAnswer, Chunk: 2, ChunkDelay: 50 * time.Millisecond})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), Timeout: 400 * time.Millisecond, FirstByteTimeout: 10 * time.Second,
		IdleTimeout: 10 * time.Second})
	var d deltas
	_, err := c.Complete(context.Background(), question, d.add)
	if !errors.Is(err, shifu.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the answer deadline", err)
	}
	if got := strings.Join(d.list(), ""); got == "" || got == longAnswer {
		t.Fatalf("delivered %q: want part of the answer", got)
	}
}

// An empty answer is a failed one: an availability error the breaker counts.
func TestChatEmptyAnswerFails(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.Options{ReplyFunc: func(llmtest.ChatRequest) string { return "" }})
	c := newTestChat(t, ChatConfig{BaseURL: srv.BaseURL(), MaxRetries: -1, Breaker: BreakerConfig{Failures: 1}})
	_, err := c.Complete(context.Background(), question, nil)
	if !errors.Is(err, errEmpty) || !errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("err = %v, want an empty-answer availability failure", err)
	}
	if st := c.(*Breaker).State(); st != Open {
		t.Fatalf("breaker %s after an empty answer, want open", st)
	}
}
