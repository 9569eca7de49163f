package retrieval

import (
	"maps"
	"math"
	"slices"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
)

// confidence measures whether the hits are about the question at all: the
// share of the question's vocabulary, weighted by rarity (termWeights), that
// the best of the first few hits holds, or the first two together.
func (s *Searcher) confidence(r run, hits []shifu.Hit) float64 {
	if len(hits) == 0 || (len(r.terms) == 0 && len(r.groups) == 0) {
		return 0
	}
	weights, total := s.termWeights(r)
	if total == 0 && len(r.groups) == 0 {
		return 0
	}
	// The best of the first three hits on its own, or the first two
	// together: an answer is often split over two passages (a step and its
	// warning, a table and its note), and the model is given both.
	// A question searched with its translations beside its own words is
	// covered as well as either its words or their translations are.
	var gw []float64
	gt := 0.0
	if len(r.groups) > 0 {
		gw, gt = s.groupWeights(r)
	}
	best := 0.0
	firstTwo := map[string]bool{}
	for i, h := range hits[:min(3, len(hits))] {
		have := map[string]bool{}
		if i < 2 {
			have = firstTwo
		}
		maps.Copy(have, s.holds(r, h))
		if total > 0 {
			best = math.Max(best, coverage(r, weights, have)/total)
		}
		if gt > 0 {
			best = math.Max(best, groupCoverage(r, gw, have)/gt)
		}
	}
	return best
}

// focusHits is how many of the first hits focus reads.
const focusHits = 3

// focus is the largest share of the question's own words that two adjacent
// sentences of one of the first hits hold, by w's weights, whole words and
// glossary synonyms only. Coverage counts a chunk's words wherever they are,
// its heading path among them, and the dictionary's translations of the
// question's words: a question about something no manual mentions
// (激光切割机的保护镜片脏了用什么擦) was covered 0.81 by a page on Python
// filter programs, through its heading path and translated words, though
// no sentence of it holds a word of the question. An answer has the
// question's words together, in the sentence that answers or the one
// before it.
func focus(w *Weigher, hits []shifu.Hit) float64 {
	if w == nil {
		return 0
	}
	best := 0.0
	for _, h := range hits[:min(focusHits, len(hits))] {
		best = max(best, bestPair(h.Body(), w.analyse, w.whole))
	}
	return best
}

// bestPair is the largest score of two adjacent sentences of body together,
// what the pair holds by analyse (each sentence analysed once).
func bestPair(body string, analyse func(string) map[string]bool, score func(map[string]bool) float64) float64 {
	best := 0.0
	var prev map[string]bool
	for _, s := range shifu.Sentences(body) {
		have := analyse(s)
		pair := maps.Clone(have)
		maps.Copy(pair, prev)
		best = max(best, score(pair))
		prev = have
	}
	return best
}

// holds returns the terms of h's chunk that coverage looks for: from the
// lexical search when it found the chunk (terms too common to search,
// BM25.MaxDF, are missing there; they weigh little), else by analysing its
// text.
func (s *Searcher) holds(r run, h shifu.Hit) map[string]bool {
	if m, ok := r.cand.Matched[h.ID]; ok {
		have := make(map[string]bool, len(m))
		for _, t := range m {
			have[t] = true
		}
		return have
	}
	return termSet(s.analyzer, h.Text)
}

// termWeights weighs the question's terms by rarity for coverage: IDF, a
// single Han character scaled as in BM25. A term no chunk holds weighs as
// much as the rarest term that some chunk does hold, not more: its IDF would
// otherwise grow with nothing but the corpus's size, and in a small library
// every everyday verb ("hit") is unknown and would sink questions the library
// answers. A term no chunk holds still counts: a question about "HEPA
// filters" in a library without the word "HEPA" is not covered however well
// "filter" matches.
func (s *Searcher) termWeights(r run) (weights []float64, total float64) {
	st := r.cand.Stats
	weights = make([]float64, len(r.terms))
	known := 0.0
	for i, t := range r.terms {
		weights[i] = shifu.IDF(st.N, st.DF[t])
		if terms.Unigram(t) { // one character says less than a word, as in BM25
			weights[i] *= max(s.opt.BM25.Unigram, 0)
		}
		if st.DF[t] > 0 {
			known = math.Max(known, weights[i])
		}
	}
	for i, t := range r.terms {
		if st.DF[t] == 0 && known > 0 {
			weights[i] = math.Min(weights[i], known)
		}
		total += weights[i]
	}
	return weights, total
}

// coverage is the weight of the question's terms that a text whose terms are
// have holds, itself or by a glossary synonym.
func coverage(r run, weights []float64, have map[string]bool) float64 {
	got := 0.0
	for i, t := range r.terms {
		if covered(t, r.syn, have) {
			got += weights[i]
		}
	}
	return got
}

// covered reports whether a text whose terms are have holds the question's
// term t, or another name for it (a glossary synonym).
func covered(t string, syn []terms.Synonym, have map[string]bool) bool {
	if have[t] {
		return true
	}
	for _, sy := range syn {
		if slices.Contains(sy.Of, t) && sy.In(have) {
			return true
		}
	}
	return false
}
