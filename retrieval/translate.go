package retrieval

import (
	"maps"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
)

// group is one structured-query group: a word of the question with its
// translations, weighted as one term.
type group struct {
	alts   [][]string
	weight float64
	plant  bool // from the tenant's glossary, not the dictionary
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
		weights[i] = shifu.IDF(st.N, min(df[i], st.N)) * min(g.weight, 1)
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
func (s *Searcher) translate(text string, plant []terms.Translation, qterms []string, weights []float64) ([]string, []float64, []int, []group, []string, []terms.Translation) {
	trs := append(plant, s.analyzer.Translate(text, s.opt.Dict)...)
	if len(trs) == 0 {
		return qterms, weights, nil, nil, nil, nil
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
		if tr.Plant {
			w = tr.Weight
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
			grs = append(grs, group{alts: tr.Alts, weight: w, plant: tr.Plant})
			src = append(src, tr.Word)
		}
	}
	if len(grs) == 0 {
		return qterms, weights, nil, nil, nil, trs
	}
	return ts, ws, gs, grs, src, trs
}

// translatedRun searches the question's translations as a query of their
// own (with the question's codes, which both languages write alike), so that
// a Chinese question about an English manual is ranked among the English
// chunks on their own scale rather than below every Chinese chunk sharing
// its everyday words. The two lists are fused by how much the question
// leans to the other language: the share of its specific words no chunk
// holds (the library names them only in the other language; unknownShare)
// plus how much better the translations' best hits cover them than the
// question's own best hits cover its words (specificCoverage). Below
// TranslateRun the translated list does not count, so a strong hit in the
// question's own language is not pushed out by noisy translations; over
// leanSpan above it, it comes to count fully and the question's own list
// yields ownYield of its weight. Either way its coverage counts for
// abstention (coverage after translation). ok is false when nothing was
// translated or found.
//
// Measured (make eval, offline): the lean of dev's Chinese questions on
// Chinese pages is −0.2 to 0.7, of dev-cross's 0.3 to 1.2; the weight was
// tried at coverage ratios to a power (p = 2: own-zh hit@5 0.82 -> 0.47)
// and at lean thresholds 0.4, 0.6, 0.8 (dev-cross hit@5 0.40, 0.33, 0.27;
// own-zh 0.71, 0.76, 0.76; see README's eval notes).
const (
	leanSpan = 0.5
	ownYield = 0.5
	// minSpecificity: a word this everyday is not searched by its
	// translations alone.
	minSpecificity = 0.2
	// ambiguity: see ambiguous.
	ambiguity = 0.75
)

// ambiguous scales a dictionary translation's search weight in the
// translations' own run by its number of glosses to the power −ambiguity:
// a word the dictionary gives six senses (后: empress, queen, back, behind …)
// is mostly noise in a query of translations alone, a word with one (线圈:
// coil) is not. The group's weight for coverage (abstention, the run's
// lean) stays as it was. The glossary's translations are the plant's
// vocabulary, not guesses: 1. Inside the question's own query the scaling
// cost the cross-lingual sets (0.5: own-cross MRR 0.45 -> 0.40, own-cross2
// 0.28 -> 0.31 against 0.35 without it).
//
// Measured (shifu eval, offline) at exponent 0 (none), 0.5, 0.75, 1:
// dev-cross hit@5 0.33, 0.40, 0.40, 0.40 (MRR 0.280, 0.290, 0.297, 0.297);
// own-cross 0.50, 0.60, 0.60, 0.60 (MRR 0.450, 0.453, 0.453, 0.403);
// own-cross2 (held out) 0.42 throughout (MRR 0.276, 0.285, 0.347, 0.347;
// false abstention 0.08, 0.08, 0, 0); dev en and zh, own-zh unchanged
// (own-zh MRR 0.564 -> 0.568). Scaling the coverage weight too lowered dev
// zh (0.5: MRR 0.867 -> 0.863; 1: hit@5 1.0 -> 0.93).
func ambiguous(tr terms.Translation) float64 {
	if tr.Glossary || tr.Plant || len(tr.Alts) < 2 {
		return 1
	}
	return math.Pow(float64(len(tr.Alts)), -ambiguity)
}

// translatedQuery is the run of own's translations and its search; ok is
// false when nothing was translated. It needs only the question's analysis,
// so candidates runs it beside the question's own search.
func (s *Searcher) translatedQuery(own run, f shifu.Filter) (run, shifu.SearchQuery, bool) {
	r := run{text: own.text, translated: true, weight: 1}
	if len(own.trs) == 0 {
		return r, shifu.SearchQuery{}, false
	}
	var ts, src []string
	var ws []float64
	var gs []int
	at := map[string]bool{}
	add := func(word string, alts [][]string, w, cover float64) {
		id := len(r.groups) + 1
		any := false
		for _, alt := range alts {
			for _, t := range alt {
				if !at[t] {
					at[t] = true
					ts, ws, gs = append(ts, t), append(ws, w), append(gs, id)
					any = true
				}
			}
		}
		if any {
			r.groups = append(r.groups, group{alts: alts, weight: cover})
			src = append(src, word)
		}
	}
	if hasHan(own.text) {
		for _, t := range own.terms {
			if !hasHan(t) {
				add(t, [][]string{{t}}, 1, 1) // a code: G64, setp, AXIS
			}
		}
	}
	for _, tr := range own.trs {
		w := tr.Weight
		if hasHan(tr.Word) && !tr.Plant {
			sp := s.analyzer.Specificity(tr.Word)
			if sp < minSpecificity {
				continue // 时候, 现在: a run of their own would search little else
			}
			w *= sp
		}
		add(tr.Word, tr.Alts, w*ambiguous(tr), w)
	}
	if len(r.groups) == 0 {
		return r, shifu.SearchQuery{}, false
	}
	return r, shifu.SearchQuery{
		Terms: ts, Weights: ws, Groups: gs, Sources: src, Unknown: s.opt.TranslateUnknown,
		Filter: f, BM25: s.opt.BM25, LexicalK: s.opt.Candidates,
	}, true
}

// translatedRun weighs the run of own's translations that candidates
// searched (own.tr; see translatedQuery) against own's hits.
func (s *Searcher) translatedRun(own *run) (run, bool) {
	if own.tr == nil {
		return run{}, false
	}
	r := *own.tr
	c := r.cand
	if len(c.Lexical) == 0 {
		return r, false
	}
	// Each list judged on its own best hits: the question's run by its own
	// words alone (its translations are what this run is about).
	co := s.specificCoverage(*own, own.cand.Lexical)
	ct := s.confidence(r, c.Lexical)
	if ct == 0 {
		return r, false
	}
	lean := s.unknownShare(*own) + ct - co
	r.weight = min(1, max(0, (lean-s.opt.TranslateRun)/leanSpan))
	own.weight *= 1 - ownYield*r.weight
	return r, true
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x2E80 && unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// specificCoverage is confidence over the question's own words alone, each
// Chinese word weighted also by its Specificity: in a library mostly in the
// other language every everyday Chinese word (时候, 以后) is rare, so by IDF
// alone a page merely sharing them would seem to cover the question.
func (s *Searcher) specificCoverage(r run, hits []shifu.Hit) float64 {
	weights, _ := s.termWeights(r)
	total := 0.0
	for i, t := range r.terms {
		if hasHan(t) {
			weights[i] *= s.analyzer.Specificity(t)
		}
		total += weights[i]
	}
	if total == 0 {
		return 0
	}
	best := 0.0
	firstTwo := map[string]bool{}
	for i, h := range hits[:min(3, len(hits))] {
		have := map[string]bool{}
		if i < 2 {
			have = firstTwo
		}
		maps.Copy(have, s.holds(r, h))
		best = math.Max(best, coverage(r, weights, have)/total)
	}
	return best
}

// unknownShare is the share of the question's Chinese words, weighted by
// Specificity, that no chunk holds: the library names those things only in
// the other language.
func (s *Searcher) unknownShare(r run) float64 {
	u, total := 0.0, 0.0
	for _, t := range r.terms {
		if hasHan(t) && !terms.Unigram(t) {
			sp := s.analyzer.Specificity(t)
			total += sp
			if r.cand.Stats.DF[t] == 0 {
				u += sp
			}
		}
	}
	if total == 0 {
		return 0
	}
	return u / total
}

// windows are the hits' window shares (see crossWindow), each hit's
// sentences analysed once.
type windows struct {
	s       *Searcher
	r       *run
	weights []float64
	total   float64
	own     *Weigher // a Chinese question's own words; nil otherwise
	shares  map[int64][2]float64
}

// of returns the largest share of the translation groups that two adjacent
// sentences of h hold, by the groups' weights, and the larger of that and
// the largest share of the question's own words (w.own) a pair holds.
func (w *windows) of(h shifu.Hit) (tr, either float64) {
	if v, ok := w.shares[h.ID]; ok {
		return v[0], v[1]
	}
	analyse := func(t string) map[string]bool { return termSet(w.s.analyzer, t) }
	either = bestPair(h.Body(), analyse, func(have map[string]bool) float64 {
		t := groupCoverage(*w.r, w.weights, have) / w.total
		tr = max(tr, t)
		if w.own != nil {
			return max(t, w.own.whole(have))
		}
		return t
	})
	w.shares[h.ID] = [2]float64{tr, either}
	return tr, either
}

// focus is the largest translations' share among the first hits, as focus
// reads them; 0 without a translated run.
func (w *windows) focus(hits []shifu.Hit) float64 {
	if w == nil {
		return 0
	}
	best := 0.0
	for _, h := range hits[:min(focusHits, len(hits))] {
		tr, _ := w.of(h)
		best = max(best, tr)
	}
	return best
}

// crossWindow adds CrossWindow times its window share to each of the first
// CrossWindowTop fused hits and sorts them again. In a translated query
// every word comes with several guesses, and BM25 over a long chunk rewards
// one guess said often anywhere in it; the page that answers says the
// question's things together, in one sentence or the next. A Chinese
// question's own words are cut into pieces BM25 scores apart, so its
// own-language pages are judged by the same window, on its own words: else
// an English paragraph of a Chinese manual (KiCad's) that holds the
// translations outranks the Chinese paragraph that answers. An English
// question's pages are not: that cost dev en MRR 0.729 -> 0.702. It
// returns the shares, for the focus of abstention; nil without a
// translated run.
func (s *Searcher) crossWindow(runs []run, fs []*fused) *windows {
	var r *run
	for i := range runs {
		if runs[i].translated {
			r = &runs[i]
		}
	}
	if r == nil || len(r.groups) == 0 {
		return nil
	}
	weights, total := s.groupWeights(*r)
	if total == 0 {
		return nil
	}
	w := &windows{s: s, r: r, weights: weights, total: total, shares: map[int64][2]float64{}}
	if shifu.Lang(r.text) == "zh" {
		w.own = s.weigher(runs[0])
	}
	if s.opt.CrossWindow > 0 {
		for _, f := range fs[:min(s.opt.CrossWindowTop, len(fs))] {
			_, share := w.of(f.hit)
			f.score += s.opt.CrossWindow * share
		}
		sortFused(fs)
	}
	return w
}
