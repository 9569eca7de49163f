package retrieval

import (
	"strings"
	"unicode"
)

// Thesaurus gives the other names of an everyday English word as written
// (internal/wordnet does).
type Thesaurus interface {
	Others(word string) []string
}

// thesaurus appends, for each English word of the question, its other
// names as one structured group (Pirkola, as a translation's) at
// ThesaurusWeight, below the question's own words; the word is the group's
// source, so when no chunk holds it the group weighs TranslateUnknown times
// more: the manuals say it only in other words.
//
// Abstention's coverage does not count the other names: measured with them
// counted as the word (as glossary synonyms are), false abstention fell by
// one question on each paraphrase set but own-en's unanswerable questions
// abstained on 67% instead of 75%.
func (s *Searcher) thesaurus(r run, qterms []string, weights []float64, groups []int, sources []string) ([]string, []float64, []int, []string) {
	if s.opt.Thesaurus == nil || s.opt.ThesaurusWeight <= 0 {
		return qterms, weights, groups, sources
	}
	at := make(map[string]bool, len(qterms))
	for _, t := range qterms {
		at[t] = true
	}
	asked := make(map[string]bool, len(r.terms))
	for _, t := range r.terms {
		asked[t] = true
	}
	done := map[string]bool{}
	words := strings.FieldsFunc(r.text, func(c rune) bool { return !(c < 0x250 && unicode.IsLetter(c)) })
	for _, w := range words {
		st := s.analyzer.QueryTerms(w)
		if len(st) != 1 || !asked[st[0]] || done[st[0]] {
			continue // a stop word, or one already expanded
		}
		done[st[0]] = true
		var alt []string
		for _, o := range s.opt.Thesaurus.Others(w) {
			ot := s.analyzer.QueryTerms(o)
			if len(ot) == 1 && !at[ot[0]] {
				at[ot[0]] = true
				alt = append(alt, ot[0])
			}
		}
		if len(alt) == 0 {
			continue
		}
		if weights == nil {
			weights = make([]float64, len(qterms))
			for i := range weights {
				weights[i] = 1
			}
		}
		if groups == nil {
			groups = make([]int, len(qterms))
		}
		id := len(sources) + 1
		for _, t := range alt {
			qterms, weights, groups = append(qterms, t), append(weights, s.opt.ThesaurusWeight), append(groups, id)
		}
		sources = append(sources, st[0])
	}
	return qterms, weights, groups, sources
}
