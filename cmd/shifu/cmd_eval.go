package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/retrieval"
)

// cmdEval runs an evaluation set through search and prints the scores of
// ../shared/eval/README.md. The tuning flags exist to measure alternatives;
// their defaults are the shipped settings.
func cmdEval(ctx context.Context, e *env, args []string) error {
	d := retrieval.Defaults()
	fs := flags(e, "eval")
	tenantName := fs.String("tenant", "", "tenant name")
	questions := fs.String("questions", "", "JSON-lines evaluation set")
	k := fs.Int("k", 10, "hits per question")
	outPath := fs.String("out", "", "write one JSON line of hits per question here")
	fusion := fs.String("fusion", string(d.Fusion), "rrf or convex")
	alpha := fs.Float64("alpha", 0, "convex fusion: weight of the vector score (0-1); 0: SHIFU_EMBED_FUSION, else the embedder's default")
	exact := fs.Float64("exact-boost", d.ExactBoost, "boost for chunks holding the question's codes, times the square of the chunk's coverage of the question (negative: off)")
	heading := fs.Float64("heading-boost", d.HeadingBoost, "boost for chunks whose heading path holds the question's terms (negative: off)")
	abstain := fs.Float64("abstain-below", d.AbstainBelow, "abstain when confidence is lower")
	abstainZh := fs.Float64("abstain-below-zh", d.AbstainBelowZh, "abstain on a Chinese question when confidence is lower")
	focus := fs.Float64("abstain-focus", d.AbstainFocus, "abstain when no two adjacent sentences of the first hits hold this share of the question's own words (negative: off)")
	k1 := fs.Float64("k1", d.BM25.K1, "BM25 k1")
	b := fs.Float64("b", d.BM25.B, "BM25 b")
	maxDF := fs.Float64("max-df", d.BM25.MaxDF, "BM25: skip query terms in more than this share of chunks")
	ctxW := fs.Float64("context", d.BM25.Context, "BM25: share of neighbouring chunks' scores added")
	unigram := fs.Float64("unigram", d.BM25.Unigram, "BM25: weight of single Han character terms (negative: off)")
	backoff := fs.Float64("backoff", d.BM25.Backoff, "BM25: weight of the characters a question's word no chunk holds is searched by (negative: off)")
	dup := fs.Float64("dup", d.DupThreshold, "duplicate collapse threshold (1: off)")
	cands := fs.Int("candidates", d.Candidates, "candidates per list")
	fb := fs.Int("feedback", d.Feedback, "pseudo-relevance feedback: best hits that expand the BM25 query (negative: off)")
	fbTerms := fs.Int("feedback-terms", d.FeedbackTerms, "pseudo-relevance feedback: expansion terms added")
	fbWeight := fs.Float64("feedback-weight", d.FeedbackWeight, "pseudo-relevance feedback: share of query weight of the expansion terms (0-1)")
	synW := fs.Float64("synonym-weight", d.SynonymWeight, "query weight of the glossary's other names for a question's words (negative: off)")
	trW := fs.Float64("translate-weight", d.TranslateWeight, "query weight of a translated word's group of translations (negative: no translated search)")
	trU := fs.Float64("translate-unknown", d.TranslateUnknown, "times the weight of a word's translations when no chunk holds the word (negative: 1)")
	trRun := fs.Float64("translate-run", d.TranslateRun, "fuse a search of the translations alone from this lean to the other language on (negative: off)")
	lexOnly := fs.Bool("lexical-only", false, "BM25 alone (no vectors)")
	ef := fs.Int("ef-search", 0, "hnsw.ef_search when the vector search uses the index: 1-1000, 0 for the default (100 below 50k chunks, else 1000)")
	verbose := fs.Bool("v", false, "print each question's rank")
	answers := fs.Bool("answers", false, "ask every question through the answer service with no model and judge the answer text (fact shown, length, abstention) instead of the hits")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ef < 0 || *ef > 1000 {
		return shifu.Errorf(shifu.ErrInvalid, "--ef-search %d: give 1 to 1000 (pgvector's range), or 0 for the default", *ef)
	}
	if !(*synW <= 1) { // NaN too
		return shifu.Errorf(shifu.ErrInvalid, "--synonym-weight %v: give at most 1 (a question's own word weighs 1), 0 for the default, or a negative number for off", *synW)
	}
	for name, v := range map[string]float64{"--translate-weight": *trW, "--translate-unknown": *trU, "--backoff": *backoff, "--abstain-focus": *focus} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return shifu.Errorf(shifu.ErrInvalid, "%s %v: give a finite number (0 for the default, negative for off)", name, v)
		}
	}
	if *questions == "" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu eval --tenant NAME --questions FILE.jsonl [--k 10] [--answers] [--out HITS.jsonl]")
	}
	f, err := os.Open(*questions)
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--questions %s: %v", *questions, err)
	}
	qs, err := retrieval.ReadQuestions(f)
	f.Close()
	if err != nil {
		return err
	}
	e.warmAnalyzer() // while the database and tenant are looked up
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	o := retrieval.Options{Fusion: retrieval.Fusion(*fusion), Alpha: *alpha, ExactBoost: *exact, HeadingBoost: *heading, AbstainBelow: *abstain, AbstainBelowZh: *abstainZh, AbstainFocus: *focus,
		BM25: shifu.BM25{K1: *k1, B: *b, MaxDF: *maxDF, Context: *ctxW, Unigram: *unigram, Backoff: *backoff}, DupThreshold: *dup, Candidates: *cands,
		Feedback: *fb, FeedbackTerms: *fbTerms, FeedbackWeight: *fbWeight, SynonymWeight: *synW, EfSearch: *ef,
		TranslateWeight: *trW, TranslateUnknown: *trU, TranslateRun: *trRun}
	if o.Fusion != retrieval.RRF && o.Fusion != retrieval.Convex {
		return shifu.Errorf(shifu.ErrInvalid, "--fusion %q: use rrf or convex", *fusion)
	}
	s, err := e.searcher(ctx, o)
	if err != nil {
		return err
	}
	if *lexOnly {
		db, _ := e.db(ctx)
		a, _ := e.analyzer()
		s = retrieval.New(db, a, nil, s.Options())
	}
	if *answers {
		return evalAnswers(ctx, e, s, t.ID, qs, *outPath, *verbose)
	}
	outs, err := retrieval.Evaluate(ctx, s, t.ID, qs, *k)
	if err != nil {
		return err
	}
	if *outPath != "" {
		if err := writeHits(*outPath, outs); err != nil {
			return err
		}
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	st, err := db.Corpus(ctx, t.ID)
	if err != nil {
		return err
	}
	r := retrieval.Score(outs)
	if *verbose {
		for _, o := range outs {
			fmt.Fprintf(e.stdout, "%-12s rank %-2d abstain %-5v confidence %.2f focus %.2f %s\n", o.Question.ID, o.Rank, o.Abstained, o.Confidence, o.Focus, o.Question.Question)
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "lang\tn\thit@1\thit@5\thit@10\tMRR@10\tfalse abstain\t")
	for _, ls := range append(r.Langs, r.All) {
		fmt.Fprintf(w, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", ls.Lang, ls.N, ls.Hit1, ls.Hit5, ls.Hit10, ls.MRR10, ls.FalseAbstain)
	}
	w.Flush()
	models := make([]string, 0, len(st.Models))
	for m, n := range st.Models {
		models = append(models, fmt.Sprintf("%s (%d)", m, n))
	}
	sort.Strings(models)
	fmt.Fprintf(e.stdout, "unanswerable: %d, abstained on %.0f%%\n", r.Unanswerable, 100*r.Abstain)
	fmt.Fprintf(e.stdout, "latency: p50 %.1f ms, p95 %.1f ms\n", ms(r.P50), ms(r.P95))
	fmt.Fprintf(e.stdout, "chunks: %d live, median %d characters; embeddings %v; query model %s\n",
		st.Chunks, st.MedianChars, models, embModel(e))
	return nil
}

func embModel(e *env) string {
	emb, err := e.embedder()
	if err != nil {
		return "?"
	}
	return emb.Model()
}

// evalLine is one line of --out.
type evalLine struct {
	ID        string      `json:"id"`
	Hits      []shifu.Hit `json:"hits"`
	Abstained bool        `json:"abstained"`
	LatencyMS float64     `json:"latency_ms"`
	Rank      int         `json:"rank,omitempty"`
	// Confidence is what the abstention threshold was compared with: the
	// figure to calibrate it on.
	Confidence float64 `json:"confidence"`
	Focus      float64 `json:"focus"`
}

func writeHits(path string, outs []retrieval.Outcome) error {
	f, err := os.Create(path)
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--out %s: %v", path, err)
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	for _, o := range outs {
		if err := enc.Encode(evalLine{ID: o.Question.ID, Hits: nonNil(o.Hits), Abstained: o.Abstained,
			LatencyMS: ms(o.Latency), Rank: o.Rank, Confidence: o.Confidence, Focus: o.Focus}); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// evalAnswers is `shifu eval --answers`: the questions go through the real
// answer service, no model configured, as the web chat and /v1 answer them.
func evalAnswers(ctx context.Context, e *env, s *retrieval.Searcher, tenant int64, qs []retrieval.EvalQuestion, outPath string, verbose bool) error {
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	svc := answer.New(db, s, nil, answer.Options{Logger: e.logger()})
	outs, err := answer.Evaluate(ctx, svc, tenant, qs)
	if err != nil {
		return err
	}
	if outPath != "" {
		if err := writeAnswers(outPath, outs); err != nil {
			return err
		}
	}
	if verbose {
		for _, o := range outs {
			fmt.Fprintf(e.stdout, "%-12s fact %-5v abstain %-5v chars %-4d %s\n", o.Question.ID, o.FactShown, o.Answer.Abstained, o.Chars, o.Question.Question)
		}
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "lang\tanswerable\tfact shown\tmedian chars\tfalse abstain\tunanswerable\tabstained\t")
	for _, sc := range answer.ScoreAnswers(outs) {
		fmt.Fprintf(w, "%s\t%d\t%.3f\t%d\t%.3f\t%d\t%.3f\t\n", sc.Lang, sc.Answerable, sc.FactShown, sc.MedianChars, sc.FalseAbstain, sc.Unanswerable, sc.Abstain)
	}
	return w.Flush()
}

// answerLine is one line of --out with --answers.
type answerLine struct {
	ID        string           `json:"id"`
	Lang      string           `json:"lang"`
	FactShown bool             `json:"fact_shown"`
	Abstained bool             `json:"abstained"`
	Chars     int              `json:"chars"`
	Answer    string           `json:"answer"`
	Citations []shifu.Citation `json:"citations"`
}

func writeAnswers(path string, outs []answer.EvalOutcome) error {
	f, err := os.Create(path)
	if err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "--out %s: %v", path, err)
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	for _, o := range outs {
		if err := enc.Encode(answerLine{ID: o.Question.ID, Lang: o.Question.Lang, FactShown: o.FactShown, Abstained: o.Answer.Abstained,
			Chars: o.Chars, Answer: o.Answer.Text, Citations: o.Answer.Citations}); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
