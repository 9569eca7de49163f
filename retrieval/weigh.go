package retrieval

import (
	"slices"
	"strings"
	"unicode"

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

// Gloss is a word of the question and the words of a text in the other
// language that translate it, as the text writes them (回零: home).
type Gloss struct {
	Word   string
	Manual string
}

// Glosses returns, in the question's order and at most limit, the question's
// words whose translation (the glossary's, the plant's or the dictionary's:
// the one retrieval searched) text holds, with those words of text. A worker
// reading an English page for a Chinese question then finds in it the words
// of the question. A character standing in for an unknown word (weighed
// below a word) is not a gloss: it guesses; nor is a word whose words in
// text another gloss gives already (回零开关 = home switch, then not 回零 =
// home).
func (w *Weigher) Glosses(text string, limit int) []Gloss {
	if w == nil || len(w.r.trs) == 0 || limit <= 0 {
		return nil
	}
	// The text's terms in order, each with the word of text it came from
	// (an INI name's parts apart: HOME_SEARCH_VEL holds home).
	var seq, surface []string
	for _, word := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-'
	}) {
		for _, t := range w.analyzer.Terms(word) {
			seq, surface = append(seq, t), append(surface, word)
		}
	}
	var out []Gloss
	seen := map[string]bool{}
	for _, tr := range w.r.trs {
		if len(out) == limit {
			break
		}
		if seen[tr.Word] || tr.Weight < 1 {
			continue
		}
		for _, alt := range tr.Alts {
			at := index(seq, alt)
			if at < 0 || !tr.Glossary && !tr.Plant && !w.rareGloss(tr.Word, alt) {
				continue
			}
			g := Gloss{Word: tr.Word, Manual: w.written(surface[at:at+len(alt)], alt)}
			if !slices.ContainsFunc(out, func(o Gloss) bool { return strings.Contains(strings.ToLower(o.Manual), strings.ToLower(g.Manual)) }) {
				out = append(out, g)
			}
			seen[tr.Word] = true
			break
		}
	}
	return out
}

// written is how text writes the words that gave alt's terms: lower case
// but for an acronym (PCB, RPM; an INI name's TOOL is a word), and of a
// hyphenated word (spindle-fwd) only the part that is alt.
func (w *Weigher) written(words, alt []string) string {
	words = slices.Compact(slices.Clone(words))
	if len(words) == 1 && strings.Contains(words[0], "-") {
		for _, p := range strings.Split(words[0], "-") {
			if slices.Equal(w.analyzer.Terms(p), alt) {
				words = []string{p}
				break
			}
		}
	}
	for i, wd := range words {
		if len(wd) > 3 || strings.ToUpper(wd) != wd {
			words[i] = strings.ToLower(wd)
		}
	}
	return strings.Join(words, " ")
}

// rareGloss reports whether the dictionary's translation alt of word is
// likely the sense text means: the word names a topic (Specificity) and
// alt is rare in the library. An everyday word's first senses (改成: turn,
// 怎么回事: on) are words every page says; the glossaries' words are the
// shop's own and need no such test.
func (w *Weigher) rareGloss(word string, alt []string) bool {
	if w.analyzer.Specificity(word) < glossSpecific {
		return false
	}
	st := w.r.cand.Stats
	df := st.N
	for _, t := range alt {
		df = min(df, st.DF[t])
	}
	return float64(df) <= glossRare*float64(st.N)
}

// Limits of rareGloss, read off the glosses of the dev and own sets'
// no-model answers: 接着 (less specific) glossed "following", 改成 "turn"
// (a word on 5% of the chunks); 示波器 "oscilloscope" is on 0.2%, 补偿
// "compensation" on 2.6%.
const (
	glossSpecific = 0.5
	glossRare     = 0.03
)

// index is where sub starts in seq, or -1.
func index(seq, sub []string) int {
	if len(sub) == 0 {
		return -1
	}
	for i := 0; i+len(sub) <= len(seq); i++ {
		if slices.Equal(seq[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}
