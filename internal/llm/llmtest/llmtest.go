// Package llmtest is a fake OpenAI-compatible model server for tests: chat
// completions (SSE streaming and plain JSON), embeddings, and Cohere- and
// DashScope-style rerank, speaking the real wire protocols over httptest. It
// records every request it gets and can be scripted to be slow, fail, hang or
// cut a stream short.
//
//	srv := llmtest.NewServer(t, llmtest.Options{Reply: "Check the filter [1]."})
//	chat, _ := model.NewChat(model.ChatConfig{Provider: "compatible", BaseURL: srv.BaseURL(), Model: "fake"})
package llmtest

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Options configure a fake server. The zero value answers every chat with
// "OK." and embeds into 1024 dimensions.
type Options struct {
	// Reply is the chat answer; ReplyFunc, when set, computes it from the request.
	Reply     string
	ReplyFunc func(ChatRequest) string
	// Reasoning, when set, is streamed as reasoning_content before the answer,
	// as thinking models do.
	Reasoning string
	Chunk     int           // runes per streamed delta; default 3
	Latency   time.Duration // before the response headers
	// ChunkDelay is slept between streamed chunks.
	ChunkDelay time.Duration
	Finish     string // finish_reason of the last chunk; default "stop"
	// Usage is the reported token usage; nil: counted from the text.
	Usage *Usage
	// NoUsage omits usage even when the client asks for it.
	NoUsage bool

	// Dim is the embedding width when the request does not name "dimensions";
	// default 1024.
	Dim int
	// MaxBatch > 0 rejects embedding requests with more inputs, as DashScope
	// does for more than 10.
	MaxBatch int
	// Embed computes one embedding; default a deterministic bag-of-words hash,
	// so texts sharing words get similar vectors.
	Embed func(text string, dim int) []float32

	// APIKey, when set, is required as "Authorization: Bearer <key>".
	APIKey string
	// Script answers the first len(Script) requests (of any kind), in order.
	Script []Step
	// Fail, when set, is asked about each request after the script; a non-nil
	// Step overrides the normal answer. n counts requests from 0.
	Fail func(n int, r Request) *Step
}

// Step is one scripted answer.
type Step struct {
	Status     int    // non-zero: answer with this HTTP status and an OpenAI-style error body
	RetryAfter string // Retry-After header value
	Message    string // error message; default from the status
	// Hang accepts the request and never answers until the client gives up.
	Hang bool
	// CutAfter > 0 streams that many content deltas, then drops the connection.
	CutAfter int
	// HangAfter > 0 streams that many content deltas, then goes silent.
	HangAfter int
	// Delay is slept before this answer (after Options.Latency).
	Delay time.Duration
}

// Usage is the usage object of the OpenAI protocol.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Message is a chat message as sent.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is a decoded /chat/completions body. Pointer fields are nil
// when the client left them out.
type ChatRequest struct {
	Model         string    `json:"model"`
	Messages      []Message `json:"messages"`
	Stream        bool      `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           *int     `json:"max_tokens"`
	MaxCompletionTokens *int     `json:"max_completion_tokens"`
	Temperature         *float64 `json:"temperature"`
}

// EmbedRequest is a decoded /embeddings body; Input is always a list.
type EmbedRequest struct {
	Model      string
	Input      []string
	Dimensions int
}

// RerankRequest is a decoded rerank body in either shape.
type RerankRequest struct {
	Model     string
	Query     string
	Documents []string
	TopN      int
	DashScope bool // the input/parameters shape
}

// Request is one request the server got.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Chat   *ChatRequest   // for …/chat/completions
	Embed  *EmbedRequest  // for …/embeddings
	Rerank *RerankRequest // for …/rerank and DashScope's text-rerank
	At     time.Time
}

// Server is a running fake. It is closed when the test ends.
type Server struct {
	*httptest.Server
	opts Options
	t    testing.TB
	stop chan struct{}

	mu   sync.Mutex
	reqs []Request
}

// NewServer starts a fake server for the duration of the test.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Reply == "" && o.ReplyFunc == nil {
		o.Reply = "OK."
	}
	if o.Chunk <= 0 {
		o.Chunk = 3
	}
	if o.Finish == "" {
		o.Finish = "stop"
	}
	if o.Dim <= 0 {
		o.Dim = 1024
	}
	if o.Embed == nil {
		o.Embed = HashVector
	}
	s := &Server{opts: o, t: t, stop: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.stop) // releases hanging handlers, so Close does not wait for them
		s.Server.CloseClientConnections()
		s.Server.Close()
	})
	return s
}

// BaseURL is the OpenAI-style base URL clients are configured with.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// RerankURL is the Cohere/Jina-style rerank endpoint.
func (s *Server) RerankURL() string { return s.URL + "/v1/rerank" }

// DashScopeRerankURL is the DashScope-style rerank endpoint.
func (s *Server) DashScopeRerankURL() string {
	return s.URL + "/api/v1/services/rerank/text-rerank/text-rerank"
}

// Requests returns a copy of the requests received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Count returns how many requests had a path ending in suffix ("" counts all).
func (s *Server) Count(suffix string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, 0, 1024)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()}
	var bad error
	switch {
	case strings.HasSuffix(r.URL.Path, "/chat/completions"):
		var c ChatRequest
		bad = json.Unmarshal(body, &c)
		req.Chat = &c
	case strings.HasSuffix(r.URL.Path, "/embeddings"):
		req.Embed, bad = decodeEmbed(body)
	case strings.HasSuffix(r.URL.Path, "/rerank") || strings.HasSuffix(r.URL.Path, "/text-rerank"):
		req.Rerank, bad = decodeRerank(body)
	default:
		s.record(req)
		writeError(w, http.StatusNotFound, "", "no such endpoint: "+r.URL.Path)
		return
	}
	n := s.record(req)

	if !s.wait(r, s.opts.Latency) {
		return
	}
	step := s.step(n, req)
	if step != nil && !s.wait(r, step.Delay) {
		return
	}
	if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		writeError(w, http.StatusUnauthorized, "", "Incorrect API key provided.")
		return
	}
	if step != nil && step.Hang {
		s.hang(r)
		return
	}
	if step != nil && step.Status != 0 {
		if step.RetryAfter != "" {
			w.Header().Set("Retry-After", step.RetryAfter)
		}
		writeError(w, step.Status, "", step.Message)
		return
	}
	if bad != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "cannot parse request body: "+bad.Error())
		return
	}
	switch {
	case req.Chat != nil:
		s.chat(w, r, req.Chat, step)
	case req.Embed != nil:
		s.embed(w, req.Embed)
	case req.Rerank != nil:
		s.rerank(w, req.Rerank)
	}
}

func (s *Server) record(r Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	return len(s.reqs) - 1
}

func (s *Server) step(n int, r Request) *Step {
	if n < len(s.opts.Script) {
		st := s.opts.Script[n]
		return &st
	}
	if s.opts.Fail != nil {
		return s.opts.Fail(n, r)
	}
	return nil
}

// wait sleeps d unless the client or the test gives up first.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.stop:
	}
	return false
}

func (s *Server) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.stop:
	}
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	if typ == "" {
		switch {
		case status == http.StatusTooManyRequests:
			typ = "rate_limit_exceeded"
		case status >= 500:
			typ = "server_error"
		default:
			typ = "invalid_request_error"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": typ},
	})
}

// reply computes the chat answer for c.
func (s *Server) reply(c *ChatRequest) string {
	if s.opts.ReplyFunc != nil {
		return s.opts.ReplyFunc(*c)
	}
	return s.opts.Reply
}

func (s *Server) usage(c *ChatRequest, text string) Usage {
	if s.opts.Usage != nil {
		return *s.opts.Usage
	}
	p := 0
	for _, m := range c.Messages {
		p += len(m.Content)/4 + 4
	}
	u := Usage{PromptTokens: p, CompletionTokens: len(split(text, s.opts.Chunk))}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// split cuts text into pieces of n runes.
func split(text string, n int) []string {
	var out []string
	for len(text) > 0 {
		i, k := 0, 0
		for i < len(text) && k < n {
			_, sz := utf8.DecodeRuneInString(text[i:])
			i += sz
			k++
		}
		out = append(out, text[:i])
		text = text[i:]
	}
	return out
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, c *ChatRequest, step *Step) {
	text := s.reply(c)
	model := c.Model
	if model == "" {
		model = "fake-model"
	}
	created := time.Now().Unix()
	if !c.Stream {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
			"choices": []any{map[string]any{
				"index":         0,
				"message":       map[string]any{"role": "assistant", "content": text},
				"finish_reason": s.opts.Finish,
			}},
			"usage": s.usage(c, text),
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if fl != nil {
			fl.Flush()
		}
		return true
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
	}
	if !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for _, p := range split(s.opts.Reasoning, s.opts.Chunk) {
		if !s.wait(r, s.opts.ChunkDelay) || !send(chunk(map[string]any{"reasoning_content": p}, nil)) {
			return
		}
	}
	for i, p := range split(text, s.opts.Chunk) {
		if step != nil && step.CutAfter > 0 && i == step.CutAfter {
			cut(w)
			return
		}
		if step != nil && step.HangAfter > 0 && i == step.HangAfter {
			s.hang(r)
			return
		}
		if !s.wait(r, s.opts.ChunkDelay) || !send(chunk(map[string]any{"content": p}, nil)) {
			return
		}
	}
	if !send(chunk(map[string]any{}, s.opts.Finish)) {
		return
	}
	if c.StreamOptions != nil && c.StreamOptions.IncludeUsage && !s.opts.NoUsage {
		u := s.usage(c, text)
		send(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{}, "usage": u,
		})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if fl != nil {
		fl.Flush()
	}
}

// cut drops the connection mid-response, as a crashing proxy would.
func cut(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func decodeEmbed(body []byte) (*EmbedRequest, error) {
	var raw struct {
		Model      string          `json:"model"`
		Input      json.RawMessage `json:"input"`
		Dimensions int             `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return &EmbedRequest{}, err
	}
	e := &EmbedRequest{Model: raw.Model, Dimensions: raw.Dimensions}
	var one string
	if err := json.Unmarshal(raw.Input, &one); err == nil {
		e.Input = []string{one}
		return e, nil
	}
	if err := json.Unmarshal(raw.Input, &e.Input); err != nil {
		return e, fmt.Errorf("input must be a string or a list of strings: %w", err)
	}
	return e, nil
}

func (s *Server) embed(w http.ResponseWriter, e *EmbedRequest) {
	if len(e.Input) == 0 {
		writeError(w, http.StatusBadRequest, "InvalidParameter", "input must not be empty")
		return
	}
	if s.opts.MaxBatch > 0 && len(e.Input) > s.opts.MaxBatch {
		// DashScope's words, with its code in the OpenAI error envelope.
		writeError(w, http.StatusBadRequest, "InvalidParameter",
			fmt.Sprintf("<400> InternalError.Algo.InvalidParameter: batch size is invalid, it should not be larger than %d.", s.opts.MaxBatch))
		return
	}
	dim := s.opts.Dim
	if e.Dimensions > 0 {
		dim = e.Dimensions
	}
	data := make([]any, len(e.Input))
	tokens := 0
	for i, t := range e.Input {
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": s.opts.Embed(t, dim)}
		tokens += len(t)/4 + 1
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": e.Model,
		"usage": map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

func decodeRerank(body []byte) (*RerankRequest, error) {
	var raw struct {
		Model     string   `json:"model"`
		Query     string   `json:"query"`
		Documents []string `json:"documents"`
		TopN      int      `json:"top_n"`
		Input     *struct {
			Query     string   `json:"query"`
			Documents []string `json:"documents"`
		} `json:"input"`
		Parameters struct {
			TopN int `json:"top_n"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return &RerankRequest{}, err
	}
	if raw.Input != nil {
		return &RerankRequest{Model: raw.Model, Query: raw.Input.Query, Documents: raw.Input.Documents, TopN: raw.Parameters.TopN, DashScope: true}, nil
	}
	return &RerankRequest{Model: raw.Model, Query: raw.Query, Documents: raw.Documents, TopN: raw.TopN}, nil
}

// rerank scores each document by the share of query words it contains.
func (s *Server) rerank(w http.ResponseWriter, q *RerankRequest) {
	qw := words(q.Query)
	type res struct {
		Index int     `json:"index"`
		Score float64 `json:"relevance_score"`
	}
	out := make([]res, 0, len(q.Documents))
	for i, d := range q.Documents {
		dw := map[string]bool{}
		for _, x := range words(d) {
			dw[x] = true
		}
		hit := 0
		for _, x := range qw {
			if dw[x] {
				hit++
			}
		}
		sc := 0.0
		if len(qw) > 0 {
			sc = float64(hit) / float64(len(qw))
		}
		out = append(out, res{Index: i, Score: sc})
	}
	// Best first, ties by index, as the real APIs do.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Score > out[j-1].Score; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if q.TopN > 0 && q.TopN < len(out) {
		out = out[:q.TopN]
	}
	w.Header().Set("Content-Type", "application/json")
	if q.DashScope {
		json.NewEncoder(w).Encode(map[string]any{
			"output": map[string]any{"results": out}, "usage": map[string]int{"total_tokens": 10}, "request_id": "fake",
		})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": "fake", "results": out, "meta": map[string]any{}})
}

// words lowercases text and cuts it into words; each Han character is a word.
func words(text string) []string {
	var out []string
	start := -1
	for i, r := range text {
		han := unicode.Is(unicode.Han, r)
		if unicode.IsLetter(r) && !han || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, strings.ToLower(text[start:i]))
			start = -1
		}
		if han {
			out = append(out, string(r))
		}
	}
	if start >= 0 {
		out = append(out, strings.ToLower(text[start:]))
	}
	return out
}

// HashVector is the default fake embedding: a normalised bag of words hashed
// into dim buckets, so texts that share words are close and others are not.
func HashVector(text string, dim int) []float32 {
	v := make([]float32, dim)
	for _, w := range words(text) {
		h := fnv.New64a()
		h.Write([]byte(w))
		x := h.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%uint64(dim)] += sign
	}
	var sum float64
	for _, x := range v {
		sum += float64(x * x)
	}
	if sum == 0 {
		v[0] = 1 // never the zero vector: cosine with it is undefined
		return v
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
	return v
}
