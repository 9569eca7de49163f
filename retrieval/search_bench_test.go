package retrieval_test

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
	"github.com/shifu-factory/shifu/internal/terms"
	"github.com/shifu-factory/shifu/retrieval"
)

// BenchmarkSearchCorpus measures retrieval latency (p50/p95, target p95 under
// 50 ms) over the real ingested corpus, the dev questions as the query set,
// with the offline embedder and no model. Two ways to give it the corpus:
//
//   - SHIFU_BENCH_DATABASE_URL (the owner's URL of a database at the current
//     schema; the benchmark connects as shifu_app, with pgtest's password or
//     none) and SHIFU_BENCH_TENANT (default acme): a database
//     where the corpus is already ingested; cheap.
//   - SHIFU_CORPUS (the directory fetch-corpus.sh filled) and
//     TEST_DATABASE_URL: the seven documents are ingested into a fresh test
//     database first (several minutes).
//
// SHIFU_BENCH_QUESTIONS overrides the query set (default ../../shared/eval/dev.jsonl).
//
//	SHIFU_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:54341/shifu_corpus \
//	  go test -run '^$' -bench BenchmarkSearchCorpus -benchtime 5x ./retrieval/
//
// Sub-benchmarks: "search" is Searcher.Retrieve (what shifu eval times);
// "vector/exact" and "vector/hnsw" are the nearest-neighbour search alone on
// each plan (default ef_search), with the HNSW plan's recall@10 against the
// exact one.
func BenchmarkSearchCorpus(b *testing.B) {
	ctx := context.Background()
	db, tenant := corpusDB(ctx, b)
	qpath := cmp.Or(os.Getenv("SHIFU_BENCH_QUESTIONS"), filepath.Join("..", "..", "shared", "eval", "dev.jsonl"))
	f, err := os.Open(qpath)
	if err != nil {
		b.Skipf("no questions: %v", err)
	}
	qs, err := retrieval.ReadQuestions(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	a, err := terms.New()
	if err != nil {
		b.Fatal(err)
	}
	st, err := db.Corpus(ctx, tenant)
	if err != nil {
		b.Fatal(err)
	}
	// The offline embedder at the width the corpus was ingested with: 512
	// is what `shifu ingest` uses by default (config), 1024 the model's own.
	var emb *llm.Hashing
	for _, dim := range []int{512, 1024} {
		e, err := llm.NewOffline(dim)
		if err != nil {
			b.Fatal(err)
		}
		if st.Models[e.Model()] > 0 {
			emb = e
		}
	}
	if emb == nil {
		b.Fatalf("the corpus has no offline vectors (it has %v): ingest it with the offline embedder", st.Models)
	}
	b.Logf("corpus: %d chunks, median %d characters; %d questions", st.Chunks, st.MedianChars, len(qs))

	b.Run("search", func(b *testing.B) {
		s := retrieval.New(db, a, emb, retrieval.Options{})
		if _, err := retrieval.Evaluate(ctx, s, tenant, qs, 10); err != nil { // warm caches
			b.Fatal(err)
		}
		var outs []retrieval.Outcome
		for b.Loop() {
			o, err := retrieval.Evaluate(ctx, s, tenant, qs, 10)
			if err != nil {
				b.Fatal(err)
			}
			outs = append(outs, o...)
		}
		r := retrieval.Score(outs)
		reportLatency(b, r.P50, r.P95)
		b.ReportMetric(r.All.Hit5, "hit@5")
		b.Logf("search: p50 %s, p95 %s over %d questions; hit@5 %.3f, MRR@10 %.3f", r.P50, r.P95, len(outs), r.All.Hit5, r.All.MRR10)
	})

	vecs, err := emb.Embed(ctx, questionTexts(qs))
	if err != nil {
		b.Fatal(err)
	}
	exact := make([][]shifu.Hit, len(vecs))
	for _, bc := range []struct {
		name string
		plan postgres.VectorPlan
		want postgres.Method
	}{
		{"vector/exact", postgres.VectorPlan{IndexShare: 2}, postgres.Exact}, // the share rule off
		{"vector/hnsw", postgres.VectorPlan{ExactBelow: -1}, postgres.HNSW},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			found, total := 0, 0
			for b.Loop() {
				for i, v := range vecs {
					t0 := time.Now()
					r, err := db.Vector(ctx, tenant, postgres.VectorQuery{Vector: v, Model: emb.Model(), Plan: bc.plan, Limit: 10})
					lat = append(lat, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
					if r.Method != bc.want {
						b.Fatalf("method %s, want %s (%d candidates)", r.Method, bc.want, r.Candidates)
					}
					if bc.want == postgres.Exact {
						exact[i] = r.Hits
						continue
					}
					if exact[i] != nil {
						found += retrieval.Recalled(exact[i], r.Hits)
						total += len(exact[i])
					}
				}
			}
			reportLatency(b, retrieval.Percentile(lat, 0.5), retrieval.Percentile(lat, 0.95))
			if total > 0 {
				b.ReportMetric(float64(found)/float64(total), "recall@10")
			}
		})
	}
}

func reportLatency(b *testing.B, p50, p95 time.Duration) {
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
}

func questionTexts(qs []retrieval.EvalQuestion) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.Question
	}
	return out
}

// corpusDB opens the benchmark's corpus: an ingested database, or the corpus
// directory ingested into a fresh test database.
func corpusDB(ctx context.Context, b *testing.B) (*postgres.DB, int64) {
	if url := os.Getenv("SHIFU_BENCH_DATABASE_URL"); url != "" {
		db, err := postgres.Open(ctx, pgtest.AppURL(b, url), 4)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(db.Close)
		t, _, err := db.Tenant(ctx, cmp.Or(os.Getenv("SHIFU_BENCH_TENANT"), "acme"))
		if err != nil {
			b.Fatal(err)
		}
		return db, t.ID
	}
	dir := filepath.Join(os.Getenv("SHIFU_CORPUS"), "docs")
	entries, err := os.ReadDir(dir)
	if os.Getenv("SHIFU_CORPUS") == "" || err != nil {
		b.Skip("set SHIFU_BENCH_DATABASE_URL to an ingested database, or SHIFU_CORPUS to the fetched corpus (../shared/eval/fetch-corpus.sh)")
	}
	db, url := pgtest.DB(b)
	m, err := keyring.ParseMaster(keyring.Generate())
	if err != nil {
		b.Fatal(err)
	}
	w, err := m.NewDataKey("acme")
	if err != nil {
		b.Fatal(err)
	}
	tn, err := postgres.CreateTenant(ctx, url, "acme", w)
	if err != nil {
		b.Fatal(err)
	}
	ring := keyring.NewRing(m, func(ctx context.Context, id int64) (string, []byte, error) {
		t, w, err := db.TenantByID(ctx, id)
		return t.Name, w, err
	})
	p, err := parse.New(ctx, parse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	a, err := terms.New()
	if err != nil {
		b.Fatal(err)
	}
	emb, err := llm.NewOffline(0)
	if err != nil {
		b.Fatal(err)
	}
	svc, err := ingest.New(db, ring, p, a, emb, ingest.Options{Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer svc.Stop(ctx) //nolint:errcheck
	start := time.Now()
	var ids []int64
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		d, _, err := svc.Add(ctx, tn.ID, shifu.Upload{Name: e.Name(), Data: data})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	docs, err := svc.Wait(ctx, tn.ID, ids, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range docs {
		if d.Status != shifu.StatusReady {
			b.Fatalf("%s: %s (%s)", d.Name, d.Status, d.Error)
		}
	}
	b.Logf("ingested %d documents in %s", len(docs), time.Since(start).Round(time.Second))
	return db, tn.ID
}
