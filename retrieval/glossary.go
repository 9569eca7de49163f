package retrieval

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
	"golang.org/x/text/unicode/norm"
)

// Glossaries is the part of a store that holds tenants' own jargon
// (postgres.DB does); a Store without it searches without.
type Glossaries interface {
	Glossary(ctx context.Context, tenant int64) ([]shifu.GlossaryEntry, error)
}

// glossaryTTL is how long a tenant's entries are reused between searches: a
// supervisor's new word applies within seconds, and a busy tenant's searches
// do not each read the table.
const glossaryTTL = 5 * time.Second

// plantGlossary caches tenants' entries for glossaryTTL.
type plantGlossary struct {
	mu   sync.Mutex
	byID map[int64]cachedGlossary
}

type cachedGlossary struct {
	entries []shifu.GlossaryEntry
	at      time.Time
}

// entries returns the tenant's glossary; a store without one, or a failed
// read (logged), gives none: search goes on without the plant's words.
func (s *Searcher) plantEntries(ctx context.Context, tenant int64) []shifu.GlossaryEntry {
	g, ok := s.store.(Glossaries)
	if !ok {
		return nil
	}
	s.plant.mu.Lock()
	c, hit := s.plant.byID[tenant]
	s.plant.mu.Unlock()
	if hit && time.Since(c.at) < glossaryTTL {
		return c.entries
	}
	es, err := g.Glossary(ctx, tenant)
	if err != nil {
		s.opt.Logger.Warn("tenant glossary unreadable; searching without it", "tenant", tenant, "err", err)
		return nil
	}
	s.plant.mu.Lock()
	if s.plant.byID == nil {
		s.plant.byID = map[int64]cachedGlossary{}
	}
	s.plant.byID[tenant] = cachedGlossary{entries: es, at: time.Now()}
	s.plant.mu.Unlock()
	return es
}

// plantTranslations are the tenant's entries the question names, either
// side, each as a group of the other side's index terms at a question word's
// weight: the plant said what its word means, so it is not scaled down like
// a dictionary's guess. The question's text is matched, not its terms, so a
// word the shared index cuts in pieces (对刀) is still found.
func (s *Searcher) plantTranslations(question string, es []shifu.GlossaryEntry) []terms.Translation {
	if len(es) == 0 {
		return nil
	}
	q := strings.ToLower(norm.NFKC.String(question))
	var out []terms.Translation
	for _, e := range es {
		for _, side := range [2][2]string{{e.Term, e.Means}, {e.Means, e.Term}} {
			if !strings.Contains(q, strings.ToLower(norm.NFKC.String(side[0]))) {
				continue
			}
			if ts := s.analyzer.QueryTerms(side[1]); len(ts) > 0 {
				out = append(out, terms.Translation{Word: side[0], Alts: [][]string{ts}, Weight: 1, Glossary: true, Plant: true})
			}
		}
	}
	return out
}
