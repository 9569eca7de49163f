package retrieval

import (
	"strings"
	"unicode"

	"github.com/shifu-factory/shifu/internal/terms"
)

// Thesaurus gives the other names of an everyday English word as written
// (internal/wordnet does).
type Thesaurus interface {
	Others(word string) []string
}

// thesaurus appends, for each English word of the question, its other
// names as one structured group (Pirkola, as a translation's) at
// ThesaurusWeight, below the question's own words, and for each Chinese
// word its near-synonyms at NearWeight; the word is the group's source, so
// when no chunk holds it the group weighs TranslateUnknown times more: the
// manuals say it only in other words.
//
// Abstention's coverage does not count the other names: measured with them
// counted as the word (as glossary synonyms are), false abstention fell by
// one question on each paraphrase set but own-en's unanswerable questions
// abstained on 67% instead of 75%.
func (s *Searcher) thesaurus(r run, qterms []string, weights []float64, groups []int, sources []string) ([]string, []float64, []int, []string) {
	at := make(map[string]bool, len(qterms))
	for _, t := range qterms {
		at[t] = true
	}
	x := widening{qterms: qterms, weights: weights, groups: groups, sources: sources, at: at}
	if s.opt.Thesaurus != nil && s.opt.ThesaurusWeight > 0 {
		s.widenEnglish(r, &x)
	}
	if s.opt.Near != nil && s.opt.NearWeight > 0 {
		s.widenChinese(r, &x)
	}
	return x.qterms, x.weights, x.groups, x.sources
}

// widening is a BM25 query being widened by other names.
type widening struct {
	qterms  []string
	weights []float64
	groups  []int
	sources []string
	at      map[string]bool // terms the query holds
}

// add appends source's other names (as one-term words) as one group at w;
// names the query holds already, or that are cut into several terms, are
// left out.
func (x *widening) add(s *Searcher, source string, others []string, w float64) {
	var alt []string
	for _, o := range others {
		ot := s.analyzer.QueryTerms(o)
		if len(ot) == 1 && !x.at[ot[0]] {
			x.at[ot[0]] = true
			alt = append(alt, ot[0])
		}
	}
	if len(alt) == 0 {
		return
	}
	if x.weights == nil {
		x.weights = make([]float64, len(x.qterms))
		for i := range x.weights {
			x.weights[i] = 1
		}
	}
	if x.groups == nil {
		x.groups = make([]int, len(x.qterms))
	}
	id := len(x.sources) + 1
	for _, t := range alt {
		x.qterms, x.weights, x.groups = append(x.qterms, t), append(x.weights, w), append(x.groups, id)
	}
	x.sources = append(x.sources, source)
}

// widenEnglish adds each English word's WordNet names.
func (s *Searcher) widenEnglish(r run, x *widening) {
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
		x.add(s, st[0], s.opt.Thesaurus.Others(w), s.opt.ThesaurusWeight)
	}
}

// widenChinese adds each Chinese word's near-synonyms (words, not single
// characters: a character's glosses are too many and too broad).
func (s *Searcher) widenChinese(r run, x *widening) {
	for _, t := range r.terms {
		if !hasHan(t) || terms.Unigram(t) {
			continue
		}
		x.add(s, t, s.opt.Near.Others(t), s.opt.NearWeight)
	}
}
