package retrieval

import (
	"math"
	"slices"
	"unicode/utf8"

	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/terms"
)

// group is one structured-query group: a word of the question with its
// translations, weighted as one term.
type group struct {
	alts   [][]string
	weight float64
}

// groupWeights weighs a run's translation groups for coverage as termWeights
// weighs a question's terms: the IDF of the group (its members' document
// frequencies summed, as the search counts it) times its query weight; a
// group no chunk holds weighs as much as the rarest group some chunk holds.
func (s *Searcher) groupWeights(r run) (weights []float64, total float64) {
	st := r.cand.Stats
	weights = make([]float64, len(r.groups))
	df := make([]int, len(r.groups))
	known := 0.0
	for i, g := range r.groups {
		for _, alt := range g.alts {
			n := math.MaxInt
			for _, t := range alt {
				n = min(n, st.DF[t])
			}
			df[i] += n
		}
		weights[i] = postgres.IDF(st.N, min(df[i], st.N)) * min(g.weight, 1)
		if df[i] > 0 {
			known = math.Max(known, weights[i])
		}
	}
	for i := range weights {
		if df[i] == 0 && known > 0 {
			weights[i] = math.Min(weights[i], known)
		}
		total += weights[i]
	}
	return weights, total
}

// groupCoverage is the weight of a run's translation groups that a text
// whose terms are have holds: any one translation whole.
func groupCoverage(r run, weights []float64, have map[string]bool) float64 {
	got := 0.0
	for i, g := range r.groups {
		for _, alt := range g.alts {
			if terms.Synonym.In(terms.Synonym{Terms: alt}, have) {
				got += weights[i]
				break
			}
		}
	}
	return got
}

// translate appends the question's translations to its own BM25 query, so
// that one search ranks the chunks of both languages on one scale: each
// word's translations are one group (Pirkola) at TranslateWeight times the
// word's weight and its Specificity (时候 weighs less than 限位开关); terms the
// query holds already keep theirs, and the SQL drops translations no chunk
// holds, so a tenant without documents in the other language searches as
// before.
//
// Measured against a second run of the translations fused with the
// question's own (both lists normalised, weighted by their coverage ratio):
// on the dev sets that run lifted cross-lingual hit@5 more (0.13 -> 0.33)
// but always cost the monolingual Chinese questions (own-zh 0.82 -> 0.63-0.74)
// as its English noise interleaved with strong Chinese hits; within one
// query they are not pushed out (see the eval notes in README).
func (s *Searcher) translate(text string, qterms []string, weights []float64) ([]string, []float64, []int, []group, []string) {
	trs := s.analyzer.Translate(text, s.opt.Dict)
	if len(trs) == 0 {
		return qterms, weights, nil, nil, nil
	}
	at := make(map[string]bool, len(qterms))
	for _, t := range qterms {
		at[t] = true
	}
	ts := slices.Clip(qterms)
	ws := slices.Clip(weights)
	if ws == nil {
		ws = make([]float64, len(ts))
		for i := range ws {
			ws[i] = 1
		}
	}
	gs := make([]int, len(ts))
	var grs []group
	var src []string
	for _, tr := range trs {
		w := tr.Weight * s.opt.TranslateWeight
		if r, _ := utf8.DecodeRuneInString(tr.Word); r >= utf8.RuneSelf {
			w *= s.analyzer.Specificity(tr.Word)
		}
		id := len(grs) + 1
		any := false
		for _, alt := range tr.Alts {
			for _, t := range alt {
				if !at[t] {
					at[t] = true
					ts, ws, gs = append(ts, t), append(ws, w), append(gs, id)
					any = true
				}
			}
		}
		if any {
			grs = append(grs, group{alts: tr.Alts, weight: w})
			src = append(src, tr.Word)
		}
	}
	if len(grs) == 0 {
		return qterms, weights, nil, nil, nil
	}
	return ts, ws, gs, grs, src
}
