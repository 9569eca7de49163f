// Package model talks to the language models Shifu uses: an embedder that turns
// chunks and questions into vectors, a chat model that writes answers, and an
// optional reranker. Hosted models are reached through their OpenAI-compatible
// HTTP APIs (OpenAI, Alibaba DashScope, or any compatible server); the offline
// embedder needs no network at all.
//
// Every error returned by a remote call, other than the caller's own context
// ending, wraps shifu.ErrUnavailable: the edges treat a failed model as "answer
// in degraded mode", whatever the reason. An *HTTPError in the chain carries the
// status code when the server answered.
package llm

import (
	"context"
	"fmt"
	"time"

	"github.com/shifu-factory/shifu"
)

// MaxDim is the widest vector Shifu stores (the chunk column is halfvec(1024)).
const MaxDim = 1024

// Embedder turns texts into vectors. Dim() ≤ MaxDim; callers zero-pad shorter
// vectors to the column width.
type Embedder interface {
	// Embed returns one vector per text, in order.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Model names the vector space. It is recorded with every chunk, and search
	// compares only vectors of the same model.
	Model() string
	Dim() int
}

// Message is one turn of a conversation. Role is "system", "user" or "assistant".
type Message struct{ Role, Content string }

// Request is what a chat model is asked.
type Request struct {
	Messages  []Message
	MaxTokens int // 0: the client's default
	// Temperature 0 means the client's default; a negative value asks for 0
	// (greedy decoding), so that a zero Request gets the configured default.
	Temperature float64
}

// Reply is a finished completion.
type Reply struct {
	Text  string
	Usage shifu.Usage
	// UsageEstimated is true when the server reported no token counts and Usage
	// was estimated from the text lengths.
	UsageEstimated bool
	Model          string
	// FirstByte is the time from sending the request to the first content
	// fragment: what a person waiting for the answer experiences.
	FirstByte time.Duration
	// Finish is the server's finish_reason ("stop", "length", …); "" when the
	// stream ended without one, which usually means it was cut short.
	Finish string
}

// Chat streams a completion. onDelta gets each content fragment as it arrives
// (it may be nil). A fragment once delivered is never repeated: retries happen
// only before the first one.
type Chat interface {
	Complete(ctx context.Context, req Request, onDelta func(string)) (Reply, error)
	Model() string
}

// Reranker reorders documents for a query.
type Reranker interface {
	// Rerank returns the topN most relevant documents (all when topN ≤ 0), best
	// first, as indexes into docs with the server's relevance scores.
	Rerank(ctx context.Context, query string, docs []string, topN int) ([]Ranked, error)
}

// Ranked is one reranked document: its index in the input and its score.
type Ranked struct {
	Index int
	Score float64
}

// HTTPError is a non-2xx answer from a model API.
type HTTPError struct {
	Status     int
	RetryAfter time.Duration // from the Retry-After header; 0 when absent
	Body       string        // the start of the response body, for logs
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("model API returned HTTP %d", e.Status)
	}
	return fmt.Sprintf("model API returned HTTP %d: %s", e.Status, e.Body)
}

// Unwrap makes every HTTP failure an availability failure for the edges.
func (e *HTTPError) Unwrap() error { return shifu.ErrUnavailable }

// unavailable wraps err so errors.Is(err, shifu.ErrUnavailable) holds, unless it
// already does.
func unavailable(what string, err error) error {
	return fmt.Errorf("%s: %w: %w", what, shifu.ErrUnavailable, err)
}
