package retrieval

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/shifu-factory/shifu"
)

// EvalQuestion is one line of an evaluation set (see ../shared/eval/README.md).
type EvalQuestion struct {
	ID   string `json:"id"`
	Lang string `json:"lang"`
	// Kind is "cross" (asked in one language, answered by a document in
	// another), "paraphrase" (the page's own terms avoided) or "".
	Kind       string   `json:"kind"`
	Question   string   `json:"question"`
	Answerable bool     `json:"answerable"`
	Doc        string   `json:"doc"`
	Page       int      `json:"page"`
	Section    string   `json:"section"`
	Anchor     string   `json:"anchor"`
	Evidence   []string `json:"evidence"`
	AlsoAt     []Place  `json:"also_at"`
}

// Place is another location of a question's answer.
type Place struct {
	Doc    string `json:"doc"`
	Page   int    `json:"page"`
	Anchor string `json:"anchor"`
}

// ReadQuestions parses a JSON-lines evaluation set.
func ReadQuestions(r io.Reader) ([]EvalQuestion, error) {
	var qs []EvalQuestion
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var q EvalQuestion
		if err := json.Unmarshal([]byte(line), &q); err != nil {
			return nil, shifu.Errorf(shifu.ErrInvalid, "questions line %d: not a JSON object (%v); expected {\"id\", \"lang\", \"question\", \"answerable\", …}", n, err)
		}
		if q.Question == "" {
			return nil, shifu.Errorf(shifu.ErrInvalid, "questions line %d: \"question\" is empty", n)
		}
		qs = append(qs, q)
	}
	return qs, sc.Err()
}

var fold = cases.Fold()

// Normalize applies the eval's text normalisation: NFKC, whitespace runs to
// one space, trimmed, case-folded.
func Normalize(s string) string {
	s = norm.NFKC.String(s)
	s = strings.Join(strings.Fields(s), " ")
	return fold.String(s)
}

func noSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

// IsHit reports whether h answers q under the eval's rule: its normalised text
// holds an evidence string, or it comes from the gold document and its page
// span covers the gold page (or an also_at page), or, for HTML, its anchor is
// the gold anchor.
func IsHit(q EvalQuestion, h shifu.Hit) bool {
	text := Normalize(h.Text)
	var flat string
	if q.Lang == "zh" {
		flat = noSpace(text)
	}
	for _, e := range q.Evidence {
		ne := Normalize(e)
		if ne != "" && strings.Contains(text, ne) {
			return true
		}
		if q.Lang == "zh" && ne != "" && strings.Contains(flat, noSpace(ne)) {
			return true
		}
	}
	places := append([]Place{{Doc: q.Doc, Page: q.Page, Anchor: q.Anchor}}, q.AlsoAt...)
	for _, p := range places {
		if p.Doc == "" || p.Doc != h.Document {
			continue
		}
		if p.Page > 0 && h.PageStart > 0 && h.PageStart <= p.Page && p.Page <= max(h.PageEnd, h.PageStart) {
			return true
		}
		if p.Anchor != "" && h.Anchor == p.Anchor {
			return true
		}
	}
	return false
}

// Outcome is one evaluated question.
type Outcome struct {
	Question  EvalQuestion
	Hits      []shifu.Hit
	Abstained bool
	// Confidence is what the abstention threshold was compared with.
	Confidence float64
	Focus      float64 // and what the focus threshold was
	Latency    time.Duration
	Rank       int // 1-based rank of the first hit; 0: none in the list
}

// Evaluate runs every question through the searcher.
func Evaluate(ctx context.Context, s *Searcher, tenant int64, qs []EvalQuestion, k int) ([]Outcome, error) {
	out := make([]Outcome, 0, len(qs))
	for _, q := range qs {
		start := time.Now()
		r, err := s.Retrieve(ctx, tenant, Query{Text: q.Question, K: k})
		if err != nil {
			return out, fmt.Errorf("question %s: %w", q.ID, err)
		}
		o := Outcome{Question: q, Hits: r.Hits, Abstained: r.Abstain, Confidence: r.Confidence, Focus: r.Focus, Latency: time.Since(start)}
		if q.Answerable {
			for i, h := range r.Hits {
				if IsHit(q, h) {
					o.Rank = i + 1
					break
				}
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// LangScore is the retrieval quality over one language's answerable
// questions, or one kind of them: Lang is then the language and kind
// ("zh-cross", "en-paraphrase"), reported apart from the plain questions of
// that language so that neither hides the other.
type LangScore struct {
	Lang                     string
	N                        int
	Hit1, Hit5, Hit10, MRR10 float64
	FalseAbstain             float64 // share of answerable questions abstained on
}

// Report sums up an evaluation.
type Report struct {
	Langs        []LangScore
	All          LangScore
	Unanswerable int
	Abstain      float64 // share of unanswerable questions abstained on
	P50, P95     time.Duration
}

// Score computes the report of outcomes.
func Score(outs []Outcome) Report {
	var r Report
	by := map[string]*LangScore{}
	add := func(ls *LangScore, o Outcome) {
		ls.N++
		if o.Rank == 1 {
			ls.Hit1++
		}
		if o.Rank >= 1 && o.Rank <= 5 {
			ls.Hit5++
		}
		if o.Rank >= 1 && o.Rank <= 10 {
			ls.Hit10++
			ls.MRR10 += 1 / float64(o.Rank)
		}
		if o.Abstained {
			ls.FalseAbstain++
		}
	}
	var lat []time.Duration
	abst := 0
	r.All.Lang = "all"
	for _, o := range outs {
		lat = append(lat, o.Latency)
		if !o.Question.Answerable {
			r.Unanswerable++
			if o.Abstained {
				abst++
			}
			continue
		}
		row := o.Question.Lang
		if o.Question.Kind != "" {
			row += "-" + o.Question.Kind
		}
		ls := by[row]
		if ls == nil {
			ls = &LangScore{Lang: row}
			by[row] = ls
		}
		add(ls, o)
		add(&r.All, o)
	}
	finish := func(ls *LangScore) {
		if ls.N == 0 {
			return
		}
		n := float64(ls.N)
		ls.Hit1, ls.Hit5, ls.Hit10, ls.MRR10, ls.FalseAbstain = ls.Hit1/n, ls.Hit5/n, ls.Hit10/n, ls.MRR10/n, ls.FalseAbstain/n
	}
	for _, ls := range by {
		finish(ls)
		r.Langs = append(r.Langs, *ls)
	}
	finish(&r.All)
	sort.Slice(r.Langs, func(i, j int) bool { return r.Langs[i].Lang < r.Langs[j].Lang })
	if r.Unanswerable > 0 {
		r.Abstain = float64(abst) / float64(r.Unanswerable)
	}
	r.P50, r.P95 = Percentile(lat, 0.50), Percentile(lat, 0.95)
	return r
}

// Recalled counts the hits of got that want holds (by chunk id): an
// approximate search's recall against the exact one, for benchmarks.
func Recalled(want, got []shifu.Hit) int {
	ids := map[int64]bool{}
	for _, h := range want {
		ids[h.ID] = true
	}
	n := 0
	for _, h := range got {
		if ids[h.ID] {
			n++
		}
	}
	return n
}

// Percentile returns the p-quantile (nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
