package retrieval

import (
	"slices"

	"github.com/shifu-factory/shifu/internal/terms"
)

// Weigher scores any text (a sentence, a table row) by the share of the
// question's vocabulary it holds, with the weights confidence uses: rarity,
// glossary synonyms, and a question's word no chunk holds credited for the
// share of its characters the text holds (as BM25.Backoff searches it). The
// answer service picks the sentences it quotes with it, so the sentence
// shown and the passage found are judged by one rule.
type Weigher struct {
	analyzer Analyzer
	r        run
	weights  []float64
	total    float64
	backoff  float64
	// The question's words in the other language (translation and plant
	// glossary groups, see translate) and their weights.
	groups []float64
	gtotal float64
}

// weigher is nil when the question has no term to weigh.
func (s *Searcher) weigher(r run) *Weigher {
	weights, total := s.termWeights(r)
	if total == 0 {
		return nil
	}
	w := &Weigher{analyzer: s.analyzer, r: r, weights: weights, total: total, backoff: max(s.opt.BM25.Backoff, 0)}
	if len(r.groups) > 0 {
		w.groups, w.gtotal = s.groupWeights(r)
	}
	return w
}

// Cover returns the weighted share, 0 to 1, of the question that text holds.
// A nil Weigher covers nothing.
func (w *Weigher) Cover(text string) float64 { return w.Covers(w.Analyse(text)) }

// Covers is Cover of a text already analysed (Analyse): a caller weighing
// the same sentence alone and among its neighbours analyses it once.
func (w *Weigher) Covers(have map[string]bool) float64 {
	if w == nil {
		return 0
	}
	got := 0.0
	st := w.r.cand.Stats
	for i, t := range w.r.terms {
		if covered(t, w.r.syn, have) {
			got += w.weights[i]
			continue
		}
		if st.DF[t] > 0 {
			continue
		}
		// A word no chunk holds: its characters stand in for it, at the
		// back-off weight.
		if cs := w.analyzer.Chars(t); len(cs) > 0 {
			n := 0
			for _, c := range cs {
				if have[c] {
					n++
				}
			}
			got += w.weights[i] * w.backoff * float64(n) / float64(len(cs))
		}
	}
	return got / w.total
}

// Terms returns the question's terms that text holds, itself or by a
// synonym, so a caller can tell whether a second text adds any.
func (w *Weigher) Terms(text string) map[string]bool { return w.Held(w.Analyse(text)) }

// Held is Terms of a text already analysed (Analyse).
func (w *Weigher) Held(have map[string]bool) map[string]bool {
	if w == nil {
		return map[string]bool{}
	}
	return w.held(have)
}

// Analyse returns the terms of text, as the index cuts it; nothing for a
// nil Weigher.
func (w *Weigher) Analyse(text string) map[string]bool {
	if w == nil {
		return map[string]bool{}
	}
	return w.analyse(text)
}

// analyse returns the terms of text, as the index cuts it.
func (w *Weigher) analyse(text string) map[string]bool { return termSet(w.analyzer, text) }

// termSet is the set of text's index terms.
func termSet(a Analyzer, text string) map[string]bool {
	have := map[string]bool{}
	for _, t := range a.Terms(text) {
		have[t] = true
	}
	return have
}

// held returns the question's terms among have, themselves or by a synonym.
func (w *Weigher) held(have map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, t := range w.r.terms {
		if covered(t, w.r.syn, have) {
			out[t] = true
		}
	}
	return out
}

// Weight is the share of the question's weight that the given terms carry.
func (w *Weigher) Weight(ts map[string]bool) float64 {
	if w == nil {
		return 0
	}
	got := 0.0
	for i, t := range w.r.terms {
		if ts[t] {
			got += w.weights[i]
		}
	}
	return got / w.total
}

// whole is the weighted share, 0 to 1, of the question's words that a
// text's terms (have) hold whole: its own words or their glossary synonyms,
// or (judged apart, as confidence does) the plant glossary's words for them.
// Unlike Cover it credits no characters standing in for a word, nor the
// dictionary's translations, which guess (see focus); what the plant says
// its words mean is not a guess.
func (w *Weigher) whole(have map[string]bool) float64 {
	if w == nil {
		return 0
	}
	got := w.Weight(w.held(have))
	if w.gtotal > 0 {
		plant := 0.0
		for i, g := range w.r.groups {
			if g.plant && slices.ContainsFunc(g.alts, func(alt []string) bool { return terms.Synonym{Terms: alt}.In(have) }) {
				plant += w.groups[i]
			}
		}
		got = max(got, plant/w.gtotal)
	}
	return got
}
