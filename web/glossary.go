package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/shifu-factory/shifu"
)

// The plant's own words (老李说的"对刀" = tool touch-off): supervisors list,
// add and remove them on the desk; search applies them to questions at
// query time, so no manual is segmented again.

func (s *Server) glossary(c *gin.Context) {
	g, err := s.o.DB.Glossary(c, who(c).tenant())
	if err != nil {
		s.fail(c, err)
		return
	}
	if g == nil {
		g = []shifu.GlossaryEntry{}
	}
	c.JSON(http.StatusOK, gin.H{"glossary": g})
}

func (s *Server) addGlossary(c *gin.Context) {
	var e shifu.GlossaryEntry
	if err := decodeJSON(c, &e); err != nil {
		s.fail(c, err)
		return
	}
	if err := e.Check(); err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	e, err := s.o.DB.AddGlossary(c, p.tenant(), shifu.GlossaryEntry{Term: e.Term, Means: e.Means}, p.actor())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, e)
}

func (s *Server) removeGlossary(c *gin.Context) {
	id, err := idParam(c, "id")
	if err != nil {
		s.fail(c, err)
		return
	}
	p := who(c)
	if err := s.o.DB.RemoveGlossary(c, p.tenant(), id, p.actor()); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true})
}
