package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
)

type chatRequest struct {
	Question       string `json:"question"`
	ConversationID int64  `json:"conversation_id"`
	Lang           string `json:"lang"`
}

// finalEvent is the last SSE event of an answer: everything the page needs,
// with the answer already rendered to sanitised HTML.
type finalEvent struct {
	shifu.Answer
	HTML string `json:"html"`
}

// decodeJSON reads a small JSON body, rejecting unknown shapes plainly.
func decodeJSON(c *gin.Context, v any) error {
	if !strings.HasPrefix(c.ContentType(), "application/json") {
		return shifu.Errorf(shifu.ErrInvalid, "send the body as application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "the JSON body could not be read: %s", jsonProblem(err))
	}
	return nil
}

func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if ok := asErr(err, &te); ok {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	if strings.Contains(err.Error(), "too large") {
		return "it is larger than 1 MB"
	}
	return "it is not valid JSON"
}

func (r *chatRequest) question(p *principal, channel string) (shifu.Question, error) {
	q, err := answer.CheckQuestion(r.Question)
	if err != nil {
		return shifu.Question{}, err
	}
	return shifu.Question{Tenant: p.tenant(), UserID: p.User.ID, Text: q, ConversationID: r.ConversationID,
		Channel: channel, Lang: r.Lang}, nil
}

// chat answers as Server-Sent Events with JSON payloads: "delta" events with
// text as it streams, then one "final" event (or "error").
func (s *Server) chat(c *gin.Context) {
	if s.o.Asker == nil {
		s.fail(c, shifu.Errorf(shifu.ErrUnavailable, "answering is not available on this server"))
		return
	}
	var req chatRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	if req.Lang == "" {
		req.Lang = langOf(c)
	}
	q, err := req.question(who(c), "web")
	if err != nil {
		s.fail(c, err)
		return
	}
	// The stream starts with the answer's first text, so a failure before it
	// (the database down, the server busy) is still a plain HTTP status with
	// Retry-After.
	sse := &sseWriter{w: c.Writer, begin: func() {
		h := c.Writer.Header()
		h.Set("Content-Type", "text/event-stream; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // nginx would buffer the stream otherwise
		c.Status(http.StatusOK)
	}}
	sse.send("start", gin.H{"conversation_id": q.ConversationID})

	start := time.Now()
	ans, err := s.o.Asker.Ask(c, q, func(d string) { sse.send("delta", gin.H{"text": d}) })
	s.observeAnswer("web", ans, err, time.Since(start))
	if err != nil {
		if !sse.started() {
			s.fail(c, err)
			return
		}
		if status(err) >= 500 {
			s.log.Error("chat", "err", err)
		}
		sse.send("error", errBody{Error: shifu.Message(err), Code: errCode(err)})
		return
	}
	sse.send("final", finalEvent{Answer: clean(ans), HTML: renderAnswer(ans.Text, ans.Degraded)})
}

// clean keeps the answer's JSON free of nil slices, so clients always get
// "citations": [].
func clean(a shifu.Answer) shifu.Answer {
	if a.Citations == nil {
		a.Citations = []shifu.Citation{}
	}
	return a
}

func (s *Server) observeAnswer(channel string, a shifu.Answer, err error, d time.Duration) {
	outcome := "answered"
	switch {
	case err != nil:
		outcome = "error"
	case a.Abstained:
		outcome = "abstained"
	case a.Degraded:
		outcome = "degraded"
	}
	s.metrics.answers.WithLabelValues(channel, outcome).Observe(d.Seconds())
	if err == nil {
		s.metrics.tokens.WithLabelValues("prompt").Add(float64(a.Usage.PromptTokens))
		s.metrics.tokens.WithLabelValues("completion").Add(float64(a.Usage.CompletionTokens))
	}
}

// sseWriter writes events; the answer service may call back from its own
// goroutine, so writes are serialised.
// The first event is held back until a second one comes: begin then writes
// the headers and both go out.
type sseWriter struct {
	mu      sync.Mutex
	w       gin.ResponseWriter
	begin   func()
	held    []byte
	flowing bool
}

func (w *sseWriter) started() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flowing
}

func (w *sseWriter) send(event string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.put(fmt.Appendf(nil, "event: %s\ndata: %s\n\n", event, b))
}

// put writes b, or holds it back when it is the stream's first.
func (w *sseWriter) put(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.begin != nil && !w.flowing {
		if w.held == nil {
			w.held = b
			return
		}
		w.begin()
		w.flowing = true
		w.w.Write(w.held) //nolint:errcheck // a client gone is seen by the next write's context
	}
	w.w.Write(b) //nolint:errcheck // as above
	w.w.Flush()
}

type feedbackRequest struct {
	MessageID int64  `json:"message_id"`
	Rating    int    `json:"rating"`
	Comment   string `json:"comment"`
}

func (s *Server) feedback(c *gin.Context) {
	var req feedbackRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	err := s.o.DB.AddFeedback(c, p.tenant(), shifu.Feedback{MessageID: req.MessageID, UserID: p.User.ID,
		Rating: req.Rating, Comment: strings.TrimSpace(req.Comment)})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

// conversations lists the caller's own conversations, most recent first.
func (s *Server) conversations(c *gin.Context) {
	limit := 50
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			s.fail(c, shifu.Errorf(shifu.ErrInvalid, "limit %q: want a whole number from 1 to 200", v))
			return
		}
		limit = n
	}
	p := who(c)
	cs, err := s.o.DB.Conversations(c, p.tenant(), p.User.ID, limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversations": cs})
}

// conversation returns one of the caller's conversations with its messages;
// anyone else's, even a colleague's in the same factory, is not found.
func (s *Server) conversation(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if p.User.ID <= 0 { // never the CLI's user-less conversations
		s.fail(c, shifu.Errorf(shifu.ErrNotFound, "conversation %d not found", id))
		return
	}
	conv, msgs, err := s.o.DB.Messages(c, p.tenant(), p.User.ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	for i, m := range msgs {
		if m.Citations == nil {
			msgs[i].Citations = []shifu.Citation{}
		}
		// Answers come rendered and sanitised, as the final event of
		// /api/chat gives them, so the chat page redraws them alike.
		if m.Role == "assistant" {
			msgs[i].HTML = renderAnswer(m.Content, m.Degraded)
		}
	}
	c.JSON(http.StatusOK, gin.H{"conversation": conv, "messages": msgs})
}
