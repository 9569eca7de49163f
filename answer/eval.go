package answer

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/retrieval"
)

// MaxFactChars is the longest answer text that can count as showing the
// fact (../shared/eval/README.md, issue 11): a fact buried in a wall of text
// is not shown on a phone.
const MaxFactChars = 900

// EvalOutcome is one question asked through the answer service.
type EvalOutcome struct {
	Question  retrieval.EvalQuestion
	Answer    shifu.Answer
	FactShown bool
	Chars     int // runes of the answer text
}

// Evaluate asks every question through s, each in a conversation of its
// own, as a worker would, and judges the answer text.
func Evaluate(ctx context.Context, s *Service, tenant int64, qs []retrieval.EvalQuestion) ([]EvalOutcome, error) {
	out := make([]EvalOutcome, 0, len(qs))
	for _, q := range qs {
		a, err := s.Ask(ctx, shifu.Question{Tenant: tenant, Text: q.Question, Channel: "cli", Lang: q.Lang}, nil)
		if err != nil {
			return out, fmt.Errorf("question %s: %w", q.ID, err)
		}
		n := len([]rune(a.Text))
		out = append(out, EvalOutcome{Question: q, Answer: a, Chars: n,
			FactShown: q.Answerable && !a.Abstained && n <= MaxFactChars && Shows(q, a.Text)})
	}
	return out, nil
}

// Shows reports whether text holds one of q's evidence strings under the
// eval's normalisation (NFKC, whitespace runs, case; Chinese also without
// whitespace).
func Shows(q retrieval.EvalQuestion, text string) bool {
	t := retrieval.Normalize(text)
	flat := noSpace(t)
	for _, e := range q.Evidence {
		ne := retrieval.Normalize(e)
		if ne == "" {
			continue
		}
		if strings.Contains(t, ne) || q.Lang == "zh" && strings.Contains(flat, noSpace(ne)) {
			return true
		}
	}
	return false
}

// EvalScore sums up one language.
type EvalScore struct {
	Lang         string
	Answerable   int
	FactShown    float64 // share of answerable questions
	MedianChars  int     // of the answers to answerable questions
	FalseAbstain float64 // share of answerable questions abstained on
	Unanswerable int
	Abstain      float64 // share of unanswerable questions abstained on
}

// ScoreAnswers computes the per-language figures, then all together.
func ScoreAnswers(outs []EvalOutcome) []EvalScore {
	type acc struct {
		s     EvalScore
		chars []int
		abst  int
	}
	by := map[string]*acc{}
	all := &acc{s: EvalScore{Lang: "all"}}
	var langs []string
	for _, o := range outs {
		a := by[o.Question.Lang]
		if a == nil {
			a = &acc{s: EvalScore{Lang: o.Question.Lang}}
			by[o.Question.Lang] = a
			langs = append(langs, o.Question.Lang)
		}
		for _, a := range []*acc{a, all} {
			if !o.Question.Answerable {
				a.s.Unanswerable++
				if o.Answer.Abstained {
					a.abst++
				}
				continue
			}
			a.s.Answerable++
			a.chars = append(a.chars, o.Chars)
			if o.FactShown {
				a.s.FactShown++
			}
			if o.Answer.Abstained {
				a.s.FalseAbstain++
			}
		}
	}
	sort.Strings(langs)
	var res []EvalScore
	for _, a := range append(mapped(by, langs), all) {
		if n := float64(a.s.Answerable); n > 0 {
			a.s.FactShown /= n
			a.s.FalseAbstain /= n
			sort.Ints(a.chars)
			a.s.MedianChars = a.chars[len(a.chars)/2]
		}
		if a.s.Unanswerable > 0 {
			a.s.Abstain = float64(a.abst) / float64(a.s.Unanswerable)
		}
		res = append(res, a.s)
	}
	return res
}

func mapped[T any](m map[string]T, keys []string) []T {
	out := make([]T, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}
