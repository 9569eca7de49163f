package retrieval_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/retrieval"
)

// The scoring rules are ../shared/eval/README.md's: these tests pin each one.

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Spindle Stop", "spindle stop"},
		{"  Spindle \t\n  STOP  ", "spindle stop"}, // whitespace runs, trimmed, case-folded
		{"ＭＩＮ＿ＬＩＭＩＴ　＝　１２", "min_limit = 12"},       // NFKC: full-width letters, digits, space
		{"ﬁle ﬂag", "file flag"},                   // NFKC: ligatures
		{"Ⅸ", "ix"},                                // NFKC: compatibility numeral
		{"Straße", "strasse"},                      // full case folding, not just lower-casing
		{"E\u0301", "é"},                           // composed
		{"主轴　停止\u00a0报警", "主轴 停止 报警"},              // ideographic and no-break spaces are whitespace
		{"", ""},
		{" \t\n", ""},
	} {
		if got := retrieval.Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func hit(doc string, start, end int, anchor, text string) shifu.Hit {
	return shifu.Hit{Chunk: shifu.Chunk{Text: text, PageStart: start, PageEnd: end, Anchor: anchor}, Document: doc}
}

func TestIsHit(t *testing.T) {
	const pdf, gs, html = "LinuxCNC_Documentation.pdf", "LinuxCNC_Getting_Started.pdf", "pcbnew.html"
	en := retrieval.EvalQuestion{Lang: "en", Answerable: true, Doc: pdf, Page: 163,
		Evidence: []string{"Enter 0 for PDM mode, which", ""},
		AlsoAt:   []retrieval.Place{{Doc: pdf, Page: 62}, {Doc: gs, Page: 10}}}
	zh := retrieval.EvalQuestion{Lang: "zh", Answerable: true, Doc: html, Anchor: "_性能", Evidence: []string{"数据 备份"}}
	zhPage := retrieval.EvalQuestion{Lang: "zh", Answerable: true, Doc: "debian-reference.zh-cn.pdf", Page: 40, Evidence: []string{"不要直接断电"}}
	none := retrieval.EvalQuestion{Lang: "en", Answerable: false}

	for _, c := range []struct {
		name string
		q    retrieval.EvalQuestion
		h    shifu.Hit
		want bool
	}{
		{"evidence, same case", en, hit("other.pdf", 1, 1, "", "Enter 0 for PDM mode, which is useful"), true},
		{"evidence across case, line breaks and spaces", en, hit("other.pdf", 1, 1, "", "ENTER 0 FOR PDM\n  MODE,   WHICH"), true},
		{"evidence in full-width characters", en, hit("other.pdf", 1, 1, "", "Ｅｎｔｅｒ ０ for PDM mode, which"), true},
		{"evidence cut short is no hit", en, hit("other.pdf", 1, 1, "", "Enter 0 for PDM"), false},
		{"an empty evidence string matches nothing", en, hit("other.pdf", 1, 1, "", "unrelated text"), false},
		{"gold page inside the span", en, hit(pdf, 160, 165, "", "unrelated"), true},
		{"gold page at the span's start", en, hit(pdf, 163, 170, "", "unrelated"), true},
		{"gold page at the span's end", en, hit(pdf, 150, 163, "", "unrelated"), true},
		{"single-page chunk without an end", en, hit(pdf, 163, 0, "", "unrelated"), true},
		{"page after the span", en, hit(pdf, 150, 162, "", "unrelated"), false},
		{"page before the span", en, hit(pdf, 164, 170, "", "unrelated"), false},
		{"gold page in another document", en, hit("LinuxCNC_Integrator.pdf", 163, 163, "", "unrelated"), false},
		{"also_at page, same document", en, hit(pdf, 61, 62, "", "unrelated"), true},
		{"also_at page, other document", en, hit(gs, 10, 10, "", "unrelated"), true},
		{"also_at page of one document, found in the other", en, hit(gs, 62, 62, "", "unrelated"), false},
		{"page 0 (a format without pages) never matches a page", en, hit(pdf, 0, 0, "", "unrelated"), false},
		{"HTML anchor", zh, hit(html, 0, 0, "_性能", "无关"), true},
		{"HTML, other anchor", zh, hit(html, 0, 0, "_布线", "无关"), false},
		{"HTML anchor in another document", zh, hit("gcode.html", 0, 0, "_性能", "无关"), false},
		{"no anchor on either side is no hit", retrieval.EvalQuestion{Lang: "zh", Doc: html}, hit(html, 0, 0, "", "无关"), false},
		{"zh evidence with spaces, text without", zh, hit("x.pdf", 1, 1, "", "定期进行数据备份。"), true},
		{"zh text split by spaces, evidence without", zhPage, hit("x.pdf", 1, 1, "", "工控机 不要 直接 断电 关机"), true},
		{"zh text split across lines", zhPage, hit("x.pdf", 1, 1, "", "不要直接\n断电"), true},
		{"zh page span", zhPage, hit("debian-reference.zh-cn.pdf", 39, 41, "", "无关"), true},
		{"whitespace removal is for zh only", retrieval.EvalQuestion{Lang: "en", Evidence: []string{"not directly"}}, hit("x.pdf", 1, 1, "", "notdirectly"), false},
		{"unanswerable question", none, hit(pdf, 163, 163, "_x", "anything"), false},
	} {
		if got := retrieval.IsHit(c.q, c.h); got != c.want {
			t.Errorf("%s: IsHit = %v, want %v", c.name, got, c.want)
		}
	}
}

func out(lang string, answerable bool, rank int, abstained bool, ms int) retrieval.Outcome {
	return retrieval.Outcome{
		Question: retrieval.EvalQuestion{Lang: lang, Answerable: answerable},
		Rank:     rank, Abstained: abstained, Latency: time.Duration(ms) * time.Millisecond,
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestScore(t *testing.T) {
	outs := []retrieval.Outcome{
		out("zh", true, 2, false, 30),
		out("en", true, 1, false, 10),
		out("en", true, 3, false, 20),
		out("en", true, 7, false, 40),
		out("en", true, 0, true, 50), // missed, and abstained on
		out("zh", true, 0, true, 60),
		out("en", false, 0, true, 70), // unanswerable: abstained, right
		out("zh", false, 0, false, 80),
		out("en", false, 0, true, 90),
	}
	r := retrieval.Score(outs)
	if len(r.Langs) != 2 || r.Langs[0].Lang != "en" || r.Langs[1].Lang != "zh" {
		t.Fatalf("languages = %+v, want en then zh", r.Langs)
	}
	for _, c := range []struct {
		got  retrieval.LangScore
		want retrieval.LangScore
	}{
		{r.Langs[0], retrieval.LangScore{Lang: "en", N: 4, Hit1: 1.0 / 4, Hit5: 2.0 / 4, Hit10: 3.0 / 4, MRR10: (1 + 1.0/3 + 1.0/7) / 4, FalseAbstain: 1.0 / 4}},
		{r.Langs[1], retrieval.LangScore{Lang: "zh", N: 2, Hit1: 0, Hit5: 1.0 / 2, Hit10: 1.0 / 2, MRR10: (1.0 / 2) / 2, FalseAbstain: 1.0 / 2}},
		{r.All, retrieval.LangScore{Lang: "all", N: 6, Hit1: 1.0 / 6, Hit5: 3.0 / 6, Hit10: 4.0 / 6, MRR10: (1 + 1.0/3 + 1.0/7 + 1.0/2) / 6, FalseAbstain: 2.0 / 6}},
	} {
		g, w := c.got, c.want
		if g.Lang != w.Lang || g.N != w.N || !near(g.Hit1, w.Hit1) || !near(g.Hit5, w.Hit5) || !near(g.Hit10, w.Hit10) ||
			!near(g.MRR10, w.MRR10) || !near(g.FalseAbstain, w.FalseAbstain) {
			t.Errorf("score = %+v, want %+v", g, w)
		}
	}
	if r.Unanswerable != 3 || !near(r.Abstain, 2.0/3) {
		t.Errorf("unanswerable %d, abstain %.3f; want 3, 2/3", r.Unanswerable, r.Abstain)
	}
	// Latency covers every question, answerable or not: nearest rank of 9.
	if r.P50 != 50*time.Millisecond || r.P95 != 90*time.Millisecond {
		t.Errorf("p50 %s, p95 %s; want 50ms, 90ms", r.P50, r.P95)
	}
}

func TestScoreRanksPastTen(t *testing.T) {
	// A first hit at rank 11 (a list longer than 10) counts nowhere, not in MRR@10.
	r := retrieval.Score([]retrieval.Outcome{out("en", true, 11, false, 1), out("en", true, 10, false, 1)})
	en := r.Langs[0]
	if !near(en.Hit10, 0.5) || !near(en.Hit5, 0) || !near(en.MRR10, 0.1/2) {
		t.Errorf("score = %+v, want hit@10 0.5, hit@5 0, MRR@10 0.05", en)
	}
}

func TestScoreEmpty(t *testing.T) {
	r := retrieval.Score(nil)
	if len(r.Langs) != 0 || r.All.N != 0 || r.Unanswerable != 0 || r.P50 != 0 || r.P95 != 0 {
		t.Errorf("empty report = %+v", r)
	}
	for _, v := range []float64{r.All.Hit1, r.All.Hit5, r.All.MRR10, r.Abstain} {
		if math.IsNaN(v) || v != 0 {
			t.Errorf("empty report has %v, want 0", v)
		}
	}
	// Only unanswerable questions: no language rows, abstention measured.
	r = retrieval.Score([]retrieval.Outcome{out("en", false, 0, true, 5), out("zh", false, 0, false, 5)})
	if len(r.Langs) != 0 || r.All.N != 0 || r.Unanswerable != 2 || !near(r.Abstain, 0.5) {
		t.Errorf("unanswerable-only report = %+v", r)
	}
}

func ms(ns ...int) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	twenty := make([]int, 20)
	for i := range twenty {
		twenty[i] = 20 - i // descending: Percentile sorts
	}
	for _, c := range []struct {
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		// nearest rank: the ceil(p·n)-th smallest, at least the first
		{ms(twenty...), 0.50, 10 * time.Millisecond},
		{ms(twenty...), 0.95, 19 * time.Millisecond},
		{ms(twenty...), 0.99, 20 * time.Millisecond},
		{ms(twenty...), 1, 20 * time.Millisecond},
		{ms(twenty...), 0, 1 * time.Millisecond},
		{ms(twenty...), 0.01, 1 * time.Millisecond},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 0.95, 100 * time.Millisecond},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 0.50, 50 * time.Millisecond},
		{ms(10, 20, 30, 40, 50, 60, 70, 80, 90, 100), 0.51, 60 * time.Millisecond},
		{ms(3, 1, 2), 0.5, 2 * time.Millisecond},
		{ms(7), 0.95, 7 * time.Millisecond},
		{nil, 0.5, 0},
	} {
		in := slices.Clone(c.ds)
		if got := retrieval.Percentile(c.ds, c.p); got != c.want {
			t.Errorf("Percentile(%v, %.2f) = %s, want %s", c.ds, c.p, got, c.want)
		}
		if !slices.Equal(in, c.ds) {
			t.Errorf("Percentile reordered its input: %v, was %v", c.ds, in)
		}
	}
}

func TestReadQuestions(t *testing.T) {
	in := `{"id":"dev-en-001","lang":"en","question":"Where is X measured from?","answerable":true,"doc":"a.pdf","page":126,"evidence":["spindle"],"also_at":[{"doc":"b.pdf","page":3}]}

{"id":"dev-zh-010","lang":"zh","question":"性能?","answerable":true,"doc":"pcbnew.html","anchor":"_性能"}
{"id":"dev-en-026","lang":"en","question":"Who won?","answerable":false}
`
	qs, err := retrieval.ReadQuestions(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 3 || qs[0].Page != 126 || qs[0].AlsoAt[0] != (retrieval.Place{Doc: "b.pdf", Page: 3}) ||
		qs[1].Anchor != "_性能" || qs[2].Answerable {
		t.Fatalf("questions = %+v", qs)
	}
	for _, c := range []struct{ in, mention string }{
		{"{\"id\":\"a\",\"question\":\"ok\"}\nnot json\n", "line 2"},
		{"\n{\"id\":\"a\",\"question\":\"\"}\n", "line 2"},
	} {
		_, err := retrieval.ReadQuestions(strings.NewReader(c.in))
		if !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(err.Error(), c.mention) {
			t.Errorf("ReadQuestions(%q) error = %v, want ErrInvalid naming %s", c.in, err, c.mention)
		}
	}
}

func TestScoreKindsHaveTheirOwnRows(t *testing.T) {
	// A Chinese question about an English manual is not mixed into the
	// Chinese figures, nor a paraphrase into the plain English ones.
	cross := out("zh", true, 0, true, 1)
	cross.Question.Kind = "cross"
	para := out("en", true, 1, false, 1)
	para.Question.Kind = "paraphrase"
	r := retrieval.Score([]retrieval.Outcome{out("zh", true, 1, false, 1), cross, para, out("en", true, 2, false, 1)})
	var rows []string
	for _, ls := range r.Langs {
		rows = append(rows, ls.Lang)
	}
	if got, want := strings.Join(rows, " "), "en en-paraphrase zh zh-cross"; got != want {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if zh, x := r.Langs[2], r.Langs[3]; zh.N != 1 || !near(zh.Hit1, 1) || x.N != 1 || !near(x.Hit10, 0) || !near(x.FalseAbstain, 1) {
		t.Errorf("zh %+v, zh-cross %+v: want the cross miss counted only in its own row", zh, x)
	}
	if r.All.N != 4 || !near(r.All.Hit5, 0.75) {
		t.Errorf("all %+v, want every question in it", r.All)
	}
}
