package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu/answer"
)

func (s *Server) chatPage(c *gin.Context) {
	s.render(c, "chat", map[string]any{"MaxQuestion": answer.MaxQuestion})
}
func (s *Server) deskPage(c *gin.Context)  { s.render(c, "desk", nil) }
func (s *Server) adminPage(c *gin.Context) { s.render(c, "admin", nil) }

// me tells a client who it is logged in as (and the session's CSRF token, so
// a page script can read it without it ever being in a cookie).
func (s *Server) me(c *gin.Context) {
	p := who(c)
	c.JSON(http.StatusOK, gin.H{"id": p.User.ID, "login": p.User.Login, "name": p.User.Name, "role": p.User.Role,
		"tenant_id": p.tenant(), "csrf": p.CSRF})
}
