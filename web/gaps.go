package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
)

// The knowledge gaps: the supervisor answers, dismisses (and undoes),
// merges; the worker who asked is told when a note answers.

func (s *Server) gapsPage(c *gin.Context) { s.render(c, "gaps", nil) }

func (s *Server) gaps(c *gin.Context) {
	g, err := s.o.DB.GapGroups(c, who(c).tenant(), c.DefaultQuery("state", shifu.GapsOpen), 200)
	if err != nil {
		s.fail(c, err)
		return
	}
	if g == nil {
		g = []shifu.GapGroup{}
	}
	c.JSON(http.StatusOK, gin.H{"gaps": g})
}

// answerGap turns a technician's answer to a knowledge gap into a note and
// closes the gap (and every open gap of its group).
func (s *Server) answerGap(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	var req noteRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	q, err := s.o.DB.Gap(c, p.tenant(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	if strings.TrimSpace(req.Title) == "" {
		req.Title = q
	}
	if strings.TrimSpace(req.Symptom) == "" {
		req.Symptom = q
	}
	d, ok := s.storeNote(c, req)
	if !ok {
		return
	}
	if err := s.o.DB.CloseGap(c, p.tenant(), id, d.VersionID, s.o.Notices); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, d)
}

func (s *Server) dismissGap(c *gin.Context) {
	s.gapAction(c, func(tenant, id int64, by shifu.Actor) (int, error) { return s.o.DB.DismissGap(c, tenant, id, by) })
}

func (s *Server) reopenGap(c *gin.Context) {
	s.gapAction(c, func(tenant, id int64, by shifu.Actor) (int, error) { return s.o.DB.ReopenGap(c, tenant, id, by) })
}

// mergeGaps makes the gaps ids one gap with id: similar questions.
func (s *Server) mergeGaps(c *gin.Context) {
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	s.gapAction(c, func(tenant, id int64, by shifu.Actor) (int, error) {
		return s.o.DB.MergeGaps(c, tenant, id, req.IDs, by)
	})
}

// gapAction runs f on the gap of the path's id; the store audits it.
func (s *Server) gapAction(c *gin.Context, f func(tenant, id int64, by shifu.Actor) (int, error)) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	n, err := f(p.tenant(), id, p.actor())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "gaps": n})
}

// answered lists the caller's questions that notes now answer, not yet seen.
func (s *Server) answered(c *gin.Context) {
	p := who(c)
	a, err := s.o.DB.AnsweredFor(c, p.tenant(), p.User.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"answered": a})
}

// seeAnswered marks the caller's answered questions as seen.
func (s *Server) seeAnswered(c *gin.Context) {
	var req struct {
		IDs []int64 `json:"ids"`
	}
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	n, err := s.o.DB.SeeAnswered(c, p.tenant(), p.User.ID, req.IDs)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "seen": n})
}
