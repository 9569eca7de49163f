package web

import (
	"github.com/gin-gonic/gin"
)

// admit applies the answer limits (Options.Limits: per user and per tenant,
// requests a minute and tokens a day) before h starts streaming, so a caller
// over a limit gets 429 with Retry-After, not a stream that ends in an error.
// What the answer cost is counted by Limits.Count around the Asker.
func (s *Server) admit(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := who(c)
		if err := s.o.Limits.Admit(p.tenant(), p.User.ID); err != nil {
			s.metrics.limited.WithLabelValues(c.FullPath()).Inc()
			s.fail(c, err)
			return
		}
		h(c)
	}
}
