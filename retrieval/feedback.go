package retrieval

import (
	"context"
	"math"
	"sort"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
)

// expansion picks pseudo-relevance feedback terms (RM3, Lavrenko & Croft;
// Abdul-Jaleel et al. 2004): the best few fused hits are taken as relevant,
// each term's probability in them (its share of each hit's terms, weighted by
// the hit's fused score) ranks the candidates, and the best n not already in
// the question join it with query weights that sum, against the question's
// own terms at weight 1 each, to the interpolation lambda. Questions use the
// worker's words ("detach", "re-read"); the manual's own words for the same
// thing ("unlinkp", "reload") sit in the passages the question's rarer
// words already found.
func (s *Searcher) expansion(query []string, top []*fused) ([]string, []float64) {
	lambda := s.opt.FeedbackWeight
	if len(top) == 0 || len(query) == 0 || lambda <= 0 || lambda >= 1 {
		return nil, nil
	}
	have := make(map[string]bool, len(query))
	for _, t := range query {
		have[t] = true
	}
	total := 0.0
	for _, f := range top {
		total += math.Max(f.score, 0)
	}
	if total == 0 {
		return nil, nil
	}
	p := map[string]float64{}
	for _, f := range top {
		ts := s.analyzer.Terms(f.hit.Heading + "\n" + f.hit.Text)
		if len(ts) == 0 {
			continue
		}
		w := math.Max(f.score, 0) / total / float64(len(ts))
		for _, t := range ts {
			// One Han character says little on its own (see BM25.Unigram);
			// as an expansion term it mostly adds noise.
			if !have[t] && !terms.Unigram(t) {
				p[t] += w
			}
		}
	}
	cands := make([]string, 0, len(p))
	for t := range p {
		cands = append(cands, t)
	}
	sort.Slice(cands, func(i, j int) bool {
		if p[cands[i]] != p[cands[j]] {
			return p[cands[i]] > p[cands[j]]
		}
		return cands[i] < cands[j]
	})
	cands = cands[:min(len(cands), s.opt.FeedbackTerms)]
	sum := 0.0
	for _, t := range cands {
		sum += p[t]
	}
	if sum == 0 {
		return nil, nil
	}
	// RM3 mixes (1-λ)·question + λ·feedback, each a distribution; scaled so
	// a question term weighs 1.
	scale := lambda / (1 - lambda) * float64(len(query)) / sum
	terms := append(append([]string(nil), query...), cands...)
	weights := make([]float64, len(terms))
	for i := range query {
		weights[i] = 1
	}
	for i, t := range cands {
		weights[len(query)+i] = scale * p[t]
	}
	return terms, weights
}

// feedback re-runs the lexical search of r with the question expanded from
// the best fused hits (one more query), replacing r's lexical list. The
// glossary's synonyms are not in that query: feedback is off by default.
func (s *Searcher) feedback(ctx context.Context, tenant int64, r *run, fs []*fused, f shifu.Filter) error {
	n := min(s.opt.Feedback, len(fs))
	if n <= 0 {
		return nil
	}
	terms, weights := s.expansion(r.terms, fs[:n])
	if len(terms) == 0 {
		return nil
	}
	c, err := s.store.Hybrid(ctx, tenant, shifu.SearchQuery{
		Terms: terms, Weights: weights, Filter: f, BM25: s.opt.BM25, LexicalK: s.opt.Candidates,
	})
	if err != nil {
		return err
	}
	r.cand.Lexical = c.Lexical
	for t, df := range c.Stats.DF {
		r.cand.Stats.DF[t] = df
	}
	return nil
}
