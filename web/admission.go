package web

import (
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu/internal/admit"
)

// admitted runs an answering handler only once it holds an answer slot
// (Options.Admission): a full server refuses at once with 503, Retry-After
// and code "busy", before any stream has begun. The slot is marked on the
// request's context, so the Asker (wrapped with admit.Wrap for the bots)
// does not take a second one.
func (s *Server) admitted(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.o.Admission == nil {
			h(c)
			return
		}
		release, err := s.o.Admission.Acquire(c.Request.Context(), who(c).tenant())
		if err != nil {
			if errors.Is(err, admit.ErrBusy) {
				s.metrics.refused.Inc()
			}
			s.fail(c, err)
			return
		}
		defer release()
		c.Request = c.Request.WithContext(admit.Admitted(c.Request.Context()))
		h(c)
	}
}

// shed refuses a question at once, before it is authenticated (a database
// lookup), while the server is full: refusals must stay fast exactly when
// the database is busiest. A question that passes still takes its slot in
// admitted.
func (s *Server) shed(c *gin.Context) {
	if s.o.Admission != nil && c.Request.Method == "POST" && s.o.Admission.Full() {
		if p := c.Request.URL.Path; p == "/api/chat" || p == "/v1/chat/completions" {
			s.metrics.refused.Inc()
			s.fail(c, admit.ErrBusy)
			return
		}
	}
	c.Next()
}

// busyCode is the error code of a refusal for being full.
func busyCode(err error) (string, bool) {
	if errors.Is(err, admit.ErrBusy) {
		return "busy", true
	}
	return "", false
}
