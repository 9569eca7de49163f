package retrieval

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/terms"
)

// words is an analyzer that lowercases and splits on spaces.
type words struct{}

func (words) Terms(s string) []string                             { return strings.Fields(strings.ToLower(s)) }
func (words) QueryTerms(s string) []string                        { return strings.Fields(strings.ToLower(s)) }
func (words) Synonyms([]string) []terms.Synonym                   { return nil }
func (words) Chars(string) []string                               { return nil }
func (words) Translate(string, terms.Lexicon) []terms.Translation { return nil }
func (words) Specificity(string) float64                          { return 1 }

func TestExpansion(t *testing.T) {
	s := New(nil, words{}, nil, Options{FeedbackTerms: 2, FeedbackWeight: 0.5})
	top := []*fused{
		{hit: shifu.Hit{Chunk: shifu.Chunk{Text: "detach pin unlinkp unlinkp"}}, score: 3},
		{hit: shifu.Hit{Chunk: shifu.Chunk{Text: "pin signal 拔"}}, score: 1},
	}
	terms, weights := s.expansion([]string{"detach", "pin"}, top)
	// p(unlinkp) = 3/4·2/4 = 0.375, p(signal) = 1/4·1/3 ≈ 0.083; the Han
	// unigram and the question's own terms are not candidates.
	if strings.Join(terms, " ") != "detach pin unlinkp signal" {
		t.Fatalf("terms = %v", terms)
	}
	if weights[0] != 1 || weights[1] != 1 {
		t.Fatalf("question terms weigh %v, want 1", weights[:2])
	}
	// λ 0.5: the expansion weighs as much as the question's two terms.
	if sum := weights[2] + weights[3]; math.Abs(sum-2) > 1e-9 || weights[2] <= weights[3] {
		t.Fatalf("expansion weights %v, want unlinkp > signal summing to 2", weights[2:])
	}
	if terms, _ := s.expansion(nil, top); terms != nil {
		t.Fatalf("no question terms expanded to %v", terms)
	}
}

// TestFeedbackFindsTheManualsWord runs the searcher on the real database: a
// question in the worker's words ("detach") finds the passage about it, and
// feedback from that passage brings the one that uses only the manual's word
// ("unlinkp") above one that shares a common word with the question.
func TestFeedbackFindsTheManualsWord(t *testing.T) {
	ctx := context.Background()
	texts := []string{
		"to detach a pin use halcmd unlinkp unlinkp",
		"unlinkp removes the pin from its signal",
		"pin value",
		"coolant pump primes first",
		"spindle brake releases",
		"axis homing sequence",
		"tool table reload",
		"feed override limits",
	}
	db, tenant := library(t, texts)
	order := func(o Options) []string {
		t.Helper()
		o.DupThreshold, o.HeadingBoost, o.AbstainBelow = 1, -1, -1
		r, err := New(db, words{}, nil, o).Retrieve(ctx, tenant, Query{Text: "detach pin", K: 3})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, h := range r.Hits {
			out = append(out, h.Text)
		}
		return out
	}
	without := order(Options{Feedback: -1, BM25: shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1}})
	with := order(Options{Feedback: 1, FeedbackTerms: 3, FeedbackWeight: 0.5, BM25: shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1}})
	if len(with) < 2 || with[0] != texts[0] || with[1] != texts[1] {
		t.Fatalf("with feedback: %q, want the detach passage then the unlinkp one", with)
	}
	if fmt.Sprint(without) == fmt.Sprint(with) {
		t.Fatalf("feedback changed nothing: %q", without)
	}
	if len(without) < 2 || without[1] != texts[2] {
		t.Fatalf("without feedback: %q, want the short pin passage second", without)
	}
}
