package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/internal/auth"
)

// The OpenAI-compatible API lets existing chat clients and scripts use Shifu:
// the last user message is the question, earlier user and assistant messages
// help with follow-ups, the answer comes from Shifu's retrieval, and citations are appended as a Markdown list and also given in
// an extra "citations" field. The message text is untrusted (model output,
// manual text) and a client renders it as Markdown, so it goes out through
// bot.Markdown: no images, no links but relative ones to our documents. The
// "citations" field is data, as stored.

type oaiMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type oaiRequest struct {
	Model         string       `json:"model"`
	Messages      []oaiMessage `json:"messages"`
	Stream        bool         `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	User string `json:"user"`
}

// text reads content given as a string or as a list of parts.
func (m oaiMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(m.Content, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}

type oaiUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type oaiChoice struct {
	Index        int             `json:"index"`
	Message      *oaiOutMessage  `json:"message,omitempty"`
	Delta        *oaiOutMessage  `json:"delta,omitempty"`
	FinishReason *string         `json:"finish_reason"`
	Logprobs     json.RawMessage `json:"logprobs"`
}

type oaiOutMessage struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content"`
}

type oaiResponse struct {
	ID        string           `json:"id"`
	Object    string           `json:"object"`
	Created   int64            `json:"created"`
	Model     string           `json:"model"`
	Choices   []oaiChoice      `json:"choices"`
	Usage     *oaiUsage        `json:"usage,omitempty"`
	Citations []shifu.Citation `json:"citations,omitempty"`
	Shifu     *oaiShifu        `json:"shifu,omitempty"`
}

// oaiShifu carries what only Shifu knows about an answer.
type oaiShifu struct {
	Abstained      bool  `json:"abstained"`
	Degraded       bool  `json:"degraded"`
	ConversationID int64 `json:"conversation_id,omitempty"`
	MessageID      int64 `json:"message_id,omitempty"`
}

func (s *Server) models(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"object": "list", "data": []gin.H{{
		"id": s.o.ModelName, "object": "model", "created": 1700000000, "owned_by": "shifu"}}})
}

// oaiFail answers in the OpenAI error shape (fail does that under /v1/).
func (s *Server) oaiFail(c *gin.Context, err error) { s.fail(c, err) }

func (s *Server) completions(c *gin.Context) {
	if s.o.Asker == nil {
		s.oaiFail(c, shifu.Errorf(shifu.ErrUnavailable, "answering is not available on this server"))
		return
	}
	var req oaiRequest
	if err := decodeJSON(c, &req); err != nil {
		s.oaiFail(c, err)
		return
	}
	var question string
	last := -1
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == "user" {
			question, last = req.Messages[i].text(), i
			break
		}
	}
	cr := chatRequest{Question: question}
	q, err := cr.question(who(c), "api")
	if err != nil {
		s.oaiFail(c, err)
		return
	}
	if last > 0 {
		q.History = clientTurns(req.Messages[:last])
	}
	id := "chatcmpl-" + auth.Secret()[:24]
	created := time.Now().Unix()
	model := s.o.ModelName
	start := time.Now()
	if !req.Stream {
		ans, err := s.o.Asker.Ask(c, q, nil)
		s.observeAnswer("api", ans, err, time.Since(start))
		if err != nil {
			s.oaiFail(c, err)
			return
		}
		stop := "stop"
		c.JSON(http.StatusOK, oaiResponse{ID: id, Object: "chat.completion", Created: created, Model: model,
			Choices: []oaiChoice{{Message: &oaiOutMessage{Role: "assistant", Content: bot.Markdown(ans.Text+sourcesMarkdown(ans.Citations, !ans.Degraded), "")},
				FinishReason: &stop, Logprobs: json.RawMessage("null")}},
			Usage:     &oaiUsage{ans.Usage.PromptTokens, ans.Usage.CompletionTokens, ans.Usage.TotalTokens},
			Citations: ans.Citations, Shifu: shifuOf(ans)})
		return
	}

	// As on the web chat, the status goes out with the answer's first text
	// (a model token, or the extractive answer once it is ready): until
	// then the opening chunk is held, so a failure before it (the database
	// down, the server busy) is a plain HTTP status with Retry-After that
	// clients and proxies understand, not an error event inside a 200.
	w := &sseWriter{w: c.Writer, begin: func() {
		h := c.Writer.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		c.Status(http.StatusOK)
	}}
	chunk := func(delta *oaiOutMessage, finish *string, extra func(*oaiResponse)) {
		r := oaiResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []oaiChoice{{Delta: delta, FinishReason: finish, Logprobs: json.RawMessage("null")}}}
		if extra != nil {
			extra(&r)
		}
		w.data(r)
	}
	chunk(&oaiOutMessage{Role: "assistant"}, nil, nil)
	out := safeStream{emit: func(d string) { chunk(&oaiOutMessage{Content: d}, nil, nil) }}
	ans, err := s.o.Asker.Ask(c, q, out.write)
	s.observeAnswer("api", ans, err, time.Since(start))
	out.flush()
	if err != nil {
		if !w.started() {
			s.oaiFail(c, err)
			return
		}
		// Headers are gone; OpenAI streams report errors as a data event.
		w.data(gin.H{"error": gin.H{"message": shifu.Message(err), "type": "server_error"}})
		w.raw("data: [DONE]\n\n")
		return
	}
	if src := sourcesMarkdown(ans.Citations, !ans.Degraded); src != "" {
		chunk(&oaiOutMessage{Content: bot.Markdown(src, "")}, nil, nil)
	}
	stop := "stop"
	chunk(&oaiOutMessage{}, &stop, func(r *oaiResponse) { r.Citations, r.Shifu = ans.Citations, shifuOf(ans) })
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		w.data(oaiResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Choices: []oaiChoice{},
			Usage: &oaiUsage{ans.Usage.PromptTokens, ans.Usage.CompletionTokens, ans.Usage.TotalTokens}})
	}
	w.raw("data: [DONE]\n\n")
}

// Bounds on the earlier messages a client sends: the answer service keeps
// fewer still, but the request should not make us copy megabytes first.
const (
	maxClientTurns     = 12
	maxClientTurnChars = 4000
)

// clientTurns keeps the client's earlier user and assistant messages, the
// last maxClientTurns of them, each cut to maxClientTurnChars, so a follow-up
// ("and the torque?") can be understood. System and developer messages are
// dropped on purpose: Shifu's own system prompt decides how answers are made,
// and a client's system text inside our prompt would be a prompt-injection
// channel (and could tell the model to ignore the passages). Tool messages
// mean nothing here.
func clientTurns(ms []oaiMessage) []shifu.Turn {
	var out []shifu.Turn
	for _, m := range ms {
		if m.Role != "user" && m.Role != "assistant" {
			continue
		}
		text := m.text()
		if m.Role == "assistant" {
			// Our own answers carry the sources list; it is for people, not context.
			text, _, _ = strings.Cut(text, sourcesHeading)
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if r := []rune(text); len(r) > maxClientTurnChars {
			text = string(r[:maxClientTurnChars])
		}
		out = append(out, shifu.Turn{Role: m.Role, Content: text})
	}
	if len(out) > maxClientTurns {
		out = out[len(out)-maxClientTurns:]
	}
	return out
}

func shifuOf(a shifu.Answer) *oaiShifu {
	return &oaiShifu{Abstained: a.Abstained, Degraded: a.Degraded, ConversationID: a.ConversationID, MessageID: a.MessageID}
}

const sourcesHeading = "\n\n**Sources**\n"

// sourcesMarkdown lists citations under the answer, as chat clients show
// only the message text; with quotes only when the answer text does not
// already quote them (an extractive answer is the quotes).
func sourcesMarkdown(cs []shifu.Citation, quotes bool) string {
	if len(cs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(sourcesHeading)
	for _, c := range cs {
		fmt.Fprintf(&b, "%d. %s", c.N, c.Label())
		if c.Author != "" {
			fmt.Fprintf(&b, " (note by %s)", c.Author)
		}
		if q := strings.TrimSpace(c.Quote); q != "" && quotes {
			fmt.Fprintf(&b, ": “%s”", strings.ReplaceAll(q, "\n", " "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// data writes one unnamed SSE event, as the OpenAI protocol uses.
func (w *sseWriter) data(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.raw("data: " + string(b) + "\n\n")
}

func (w *sseWriter) raw(s string) { w.put([]byte(s)) }

// safeStream passes streamed answer text through bot.Markdown in pieces. A
// link can arrive over several deltas, so text is held back to a cut where
// cleaning the pieces apart gives nothing that cleaning them together would
// not: after a space (no link, autolink or tag spans one unbroken by the
// cleaning, which splits "](", "]:" and "<x" wherever they are), or between
// two Han characters when cleaning kept the first (nothing that starts a link
// was dropped before it). Text without such a cut waits for the next one or
// the end; a cut inside an open "[" or "<" is put off while the held text is
// short, so a link in the answer is cleaned whole.
type safeStream struct {
	emit    func(string)
	pending string
}

// holdOpen is how much text may wait for an open "[" or "<" to close.
const holdOpen = 1024

func (s *safeStream) write(d string) {
	s.pending += d
	for _, cut := range cuts(s.pending) {
		piece := s.pending[:cut]
		out := bot.Markdown(piece, "")
		if r, _ := utf8.DecodeLastRuneInString(piece); !strings.HasSuffix(out, string(r)) {
			continue // the cleaning changed the end: not a safe cut
		}
		if open := strings.LastIndexAny(piece, "[<"); open >= 0 && !strings.ContainsAny(piece[open:], ")>") && len(s.pending) < holdOpen {
			continue
		}
		s.pending = s.pending[cut:]
		if out != "" {
			s.emit(out)
		}
		return
	}
}

func (s *safeStream) flush() {
	if s.pending != "" {
		s.emit(bot.Markdown(s.pending, ""))
		s.pending = ""
	}
}

// cuts lists where s may be cut, last first: after an ASCII space, tab or
// line end (what ends an autolink; not every Unicode space does), or between
// two Han characters; at most a few, as each is cleaned to be checked.
func cuts(s string) []int {
	var out []int
	next := rune(-1)
	for i := len(s); i > 0 && len(out) < 4; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if r == ' ' || r == '\t' || r == '\n' || unicode.Is(unicode.Han, r) && unicode.Is(unicode.Han, next) {
			out = append(out, i)
		}
		next = r
		i -= size
	}
	return out
}
