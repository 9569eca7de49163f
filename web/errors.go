package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/i18n"
)

// status maps an error to its HTTP status: the one place errors are
// classified, by kind.
func status(err error) int {
	switch {
	case errors.Is(err, shifu.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, shifu.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, shifu.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, shifu.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, shifu.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, shifu.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, shifu.ErrTooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, shifu.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errBody is every API error: one sentence the client may see, and for the
// errors a client should retry after a while, a code saying which.
type errBody struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"` // unavailable: try again shortly
}

// retryAfter is the Retry-After of a 503: about how long the pool takes to
// reconnect once the database is back (each request tries a fresh
// connection), and a short wait for a busy server.
const retryAfter = "2"

// errCode names the retryable failures for clients (the web chat words them
// in the worker's language).
func errCode(err error) string {
	if code, ok := busyCode(err); ok {
		return code
	}
	if status(err) == http.StatusServiceUnavailable {
		return "unavailable"
	}
	return ""
}

// fail answers with the client-safe message of err; internal errors are
// logged with their full text and shown as "internal error".
func (s *Server) fail(c *gin.Context, err error) {
	code := status(err)
	// A refusal for being full is counted (shifu_answers_refused_total), not
	// logged: under a crowd it comes thousands of times a second, and a log
	// line each was the costliest part of refusing.
	if _, busy := busyCode(err); code >= 500 && !busy {
		s.log.Error("request failed", slog.String("path", c.FullPath()), slog.Any("err", err))
	}
	// People read errors in their language (pages, the web app's calls);
	// OpenAI clients get the English text.
	lang := "en"
	if !strings.HasPrefix(c.Request.URL.Path, "/v1/") {
		lang = langOf(c)
	}
	msg := i18n.Error(lang, err)
	if d := shifu.RetryAfter(err); d > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	} else if code == http.StatusServiceUnavailable {
		c.Header("Retry-After", retryAfter)
	}
	if code == http.StatusServiceUnavailable && shifu.Message(err) == shifu.ErrUnavailable.Error() {
		msg = i18n.Text(lang, "error.unavailable")
	}
	if strings.HasPrefix(c.Request.URL.Path, "/v1/") {
		// OpenAI clients parse this shape for every error, auth included.
		typ := "invalid_request_error"
		switch {
		case code == http.StatusUnauthorized:
			typ = "authentication_error"
		case code == http.StatusTooManyRequests:
			typ = "rate_limit_error"
		case code >= 500:
			typ = "server_error"
		}
		c.AbortWithStatusJSON(code, gin.H{"error": gin.H{"message": msg, "type": typ, "code": nil, "param": nil}})
		return
	}
	if wantsHTML(c) {
		c.Status(code)
		s.render(c, "error", map[string]any{"Code": code, "Message": msg})
		c.Abort()
		return
	}
	c.AbortWithStatusJSON(code, errBody{Error: msg, Code: errCode(err)})
}

// wantsHTML is true for browser navigations to pages (not API calls).
func wantsHTML(c *gin.Context) bool {
	p := c.Request.URL.Path
	if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/bots/") {
		return false
	}
	return strings.Contains(c.GetHeader("Accept"), "text/html")
}

// recoverer turns a panic into a 500 without leaking its text.
func (s *Server) recoverer(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.fail(c, fmt.Errorf("panic: %v", r))
		}
	}()
	c.Next()
}

// secureHeaders sets a strict Content-Security-Policy: scripts and styles
// only from our own /static files, no inline script at all, so even HTML that
// slipped past sanitising could not run.
func (s *Server) secureHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "+
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.Next()
}
