package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/auth"
)

func (s *Server) listUsers(c *gin.Context) {
	u, err := s.o.DB.Users(c, who(c).tenant())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"users": u})
}

type userRequest struct {
	Login    string     `json:"login"`
	Name     string     `json:"name"`
	Role     shifu.Role `json:"role"`
	Password string     `json:"password"`
}

// createUser adds a user to the admin's own tenant. An empty password is
// generated and returned once.
func (s *Server) createUser(c *gin.Context) {
	var req userRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	pw, hash, generated, err := auth.Password(req.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	login := strings.TrimSpace(req.Login)
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = login
	}
	u, err := s.o.DB.CreateUser(c, p.tenant(), shifu.User{Login: login, Name: name, Role: req.Role}, hash, p.actor())
	if err != nil {
		s.fail(c, err)
		return
	}
	out := gin.H{"user": u}
	if generated {
		out["password"] = pw
	}
	c.JSON(http.StatusCreated, out)
}

func (s *Server) disableUser(c *gin.Context) { s.setDisabled(c, true) }
func (s *Server) enableUser(c *gin.Context)  { s.setDisabled(c, false) }

func (s *Server) setDisabled(c *gin.Context, disabled bool) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if id == p.User.ID && disabled {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "you cannot disable yourself"))
		return
	}
	if err := s.o.DB.SetUserDisabled(c, p.tenant(), id, disabled, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	s.creds.reset()
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

type passwordRequest struct {
	Current  string `json:"current"`
	Password string `json:"password"`
}

// resetPassword sets a user's password (generated and returned once when
// none is given) and ends their sessions: the admin's way back in for a user
// who forgot theirs.
func (s *Server) resetPassword(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	pw, hash, generated, err := auth.Password(req.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.o.DB.SetPassword(c, p.tenant(), id, hash, 0, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	s.creds.reset()
	out := gin.H{"ok": true}
	if generated {
		out["password"] = pw
	}
	c.JSON(http.StatusOK, out)
}

type roleRequest struct {
	Role shifu.Role `json:"role"`
}

// setRole changes a user's role; the tenant keeps at least one admin.
func (s *Server) setRole(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	var req roleRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	u, err := s.o.DB.SetRole(c, p.tenant(), id, req.Role, p.actor())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.creds.reset()
	c.JSON(http.StatusOK, gin.H{"user": u})
}

// changeOwnPassword lets any user change their password, given the current
// one; their other sessions end, the one asking stays.
func (s *Server) changeOwnPassword(c *gin.Context) {
	var req passwordRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	old, err := s.o.DB.PasswordHash(c, p.tenant(), p.User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !auth.CheckPassword(old, req.Current) {
		s.fail(c, shifu.Errorf(shifu.ErrInvalid, "the current password is not right"))
		return
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.o.DB.SetPassword(c, p.tenant(), p.User.ID, hash, p.SessionID, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	s.creds.reset()
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

func (s *Server) listTokens(c *gin.Context) {
	t, err := s.o.DB.Tokens(c, who(c).tenant())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"tokens": t})
}

type tokenRequest struct {
	UserID int64  `json:"user_id"`
	Name   string `json:"name"`
}

// createToken makes a bearer token for a user of the admin's tenant; the
// token is in this answer only.
func (s *Server) createToken(c *gin.Context) {
	var req tokenRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	tok, hash := auth.NewToken()
	row, err := s.o.DB.CreateToken(c, p.tenant(), req.UserID, strings.TrimSpace(req.Name), hash, p.actor())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"token": tok, "info": row})
}

func (s *Server) revokeToken(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := s.o.DB.RevokeToken(c, p.tenant(), id, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	s.creds.reset()
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

func (s *Server) auditLog(c *gin.Context) {
	a, err := s.o.DB.AuditLog(c, who(c).tenant(), 100)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"audit": a})
}
