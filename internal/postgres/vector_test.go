package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// clusters draws n vectors of dim dimensions around k gaussian centres:
// embeddings of real text are clustered, and HNSW is only meaningful there.
type clusters struct {
	rng     *rand.Rand
	centres [][]float32
	spread  float64
}

func newClusters(seed uint64, k, dim int, spread float64) *clusters {
	c := &clusters{rng: rand.New(rand.NewPCG(seed, 7)), spread: spread}
	for range k {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(c.rng.NormFloat64())
		}
		c.centres = append(c.centres, v)
	}
	return c
}

// near returns a point of cluster i (any cluster when i < 0).
func (c *clusters) near(i int) []float32 {
	if i < 0 {
		i = c.rng.IntN(len(c.centres))
	}
	v := make([]float32, len(c.centres[i]))
	for j, x := range c.centres[i] {
		v[j] = x + float32(c.spread*c.rng.NormFloat64())
	}
	return v
}

func cosDist(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return 1 - ab/math.Sqrt(aa*bb)
}

// vecFixture is one test database with tenants whose chunks carry known vectors.
type vecFixture struct {
	db   *postgres.DB
	url  string
	vecs map[int64][]float32 // chunk id → vector
	doc  map[int64]int64     // chunk id → document id
}

func newVecFixture(t testing.TB) *vecFixture {
	db, url := pgtest.DB(t)
	return &vecFixture{db: db, url: url, vecs: map[int64][]float32{}, doc: map[int64]int64{}}
}

func (f *vecFixture) tenant(t testing.TB, name string) int64 {
	t.Helper()
	// The wrapped data key is never opened here: vectors are not sealed.
	ten, err := postgres.CreateTenant(context.Background(), f.url, name, []byte("unused"))
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

// load stores a document with one chunk per vector, embedded by model.
func (f *vecFixture) load(t testing.TB, tenant int64, name string, kind shifu.DocKind, equipment, status, model string, vecs [][]float32) int64 {
	t.Helper()
	ctx := context.Background()
	hv := make([]pgvector.HalfVector, len(vecs))
	for i, v := range vecs {
		hv[i] = pgvector.NewHalfVector(postgres.Pad(v))
	}
	var doc int64
	var ids []int64
	err := f.db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO documents (name, kind, sha256, size, equipment, status, chunks)
			VALUES ($1, $2, $3, 1, $4, $5, $6) RETURNING id`,
			name, kind, fmt.Sprintf("%s-%d", name, tenant), equipment, status, len(vecs)).Scan(&doc)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO chunks (document_id, ord, text, page_start, page_end, embedding, embed_model)
			SELECT $1, u.o - 1, $2 || ' chunk ' || u.o, 1, 1, u.e, $4
			FROM unnest($3::halfvec[]) WITH ORDINALITY AS u(e, o) ORDER BY u.o RETURNING id`, doc, name, hv, model)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		f.vecs[id], f.doc[id] = vecs[i], doc
	}
	return doc
}

// bruteForce is the true top k distances among the chunks keep accepts.
func (f *vecFixture) bruteForce(q []float32, k int, keep func(id int64) bool) []float64 {
	var ds []float64
	for id, v := range f.vecs {
		if keep(id) {
			ds = append(ds, cosDist(q, v))
		}
	}
	sort.Float64s(ds)
	return ds[:min(k, len(ds))]
}

// sameDistances reports whether hits are the true top k: their distances,
// in order, equal the brute-force ones (to halfvec precision; ties may swap ids).
func sameDistances(hits []shifu.Hit, want []float64) bool {
	if len(hits) != len(want) {
		return false
	}
	for i, h := range hits {
		if math.Abs((1-h.Score)-want[i]) > 2e-3 {
			return false
		}
	}
	return true
}

func TestVector(t *testing.T) {
	ctx := context.Background()
	f := newVecFixture(t)
	cl := newClusters(1, 12, 48, 0.35)
	gen := func(n, cluster int) [][]float32 {
		vs := make([][]float32, n)
		for i := range vs {
			vs[i] = cl.near(cluster)
		}
		return vs
	}
	a, b, empty := f.tenant(t, "alpha"), f.tenant(t, "beta"), f.tenant(t, "empty")
	manualA := f.load(t, a, "mill.pdf", shifu.KindManual, "mill-1", "ready", "m1", gen(700, -1))
	// The note sits far from cluster 0; 40 manual chunks and all of beta's sit
	// on it, so an unfiltered graph walk from cluster 0 meets the note last.
	noteA := f.load(t, a, "tip.md", shifu.KindNote, "lathe-2", "ready", "m1", gen(14, 5))
	crowdA := f.load(t, a, "crowd.pdf", shifu.KindManual, "mill-1", "ready", "m1", gen(40, 0))
	draftA := f.load(t, a, "draft.pdf", shifu.KindManual, "mill-1", "embedding", "m1", gen(30, 0))
	otherA := f.load(t, a, "old.pdf", shifu.KindManual, "mill-1", "ready", "m0", gen(30, 0))
	f.load(t, b, "beta.pdf", shifu.KindManual, "", "ready", "m1", gen(600, 0))

	inTenant := func(ten int64) func(int64) bool {
		docs := map[int64]bool{}
		switch ten {
		case a:
			docs = map[int64]bool{manualA: true, noteA: true, crowdA: true}
		case b:
			for _, d := range f.doc {
				if d != manualA && d != noteA && d != crowdA && d != draftA && d != otherA {
					docs[d] = true
				}
			}
		}
		return func(id int64) bool { return docs[f.doc[id]] }
	}
	plans := map[string]postgres.VectorPlan{
		"exact": {},                              // default: these tenants are far below ExactBelow
		"hnsw":  {ExactBelow: -1, EfSearch: 100}, // always the index
	}
	queries := make([][]float32, 25)
	for i := range queries {
		queries[i] = cl.near(i % 12)
	}

	t.Run("results equal exact search", func(t *testing.T) {
		// The exact plan is exact; the index plan is approximate, but on a
		// few thousand rows at ef_search 100 it must agree almost always.
		found, total := 0, 0
		for name, plan := range plans {
			for qi, q := range queries {
				for _, ten := range []int64{a, b} {
					r, err := f.db.Vector(ctx, ten, postgres.VectorQuery{Vector: q, Model: "m1", Plan: plan, Limit: 10})
					if err != nil {
						t.Fatal(err)
					}
					if wantM := map[string]postgres.Method{"exact": postgres.Exact, "hnsw": postgres.HNSW}[name]; r.Method != wantM {
						t.Fatalf("%s: method %s, want %s", name, r.Method, wantM)
					}
					want := f.bruteForce(q, 10, inTenant(ten))
					if name == "exact" {
						if !sameDistances(r.Hits, want) {
							t.Fatalf("exact, tenant %d, query %d: distances %v, want %v", ten, qi, hitDists(r.Hits), want)
						}
						continue
					}
					if len(r.Hits) != 10 {
						t.Fatalf("hnsw, tenant %d, query %d: %d hits, want 10", ten, qi, len(r.Hits))
					}
					for _, h := range r.Hits {
						if !inTenant(ten)(h.ID) {
							t.Fatalf("hnsw, tenant %d: hit %q is not the tenant's", ten, h.Text)
						}
					}
					found += overlap(hitDists(r.Hits), want)
					total += len(want)
				}
			}
		}
		if recall := float64(found) / float64(total); recall < 0.97 {
			t.Fatalf("hnsw recall@10 against exact search = %.3f, want ≥ 0.97", recall)
		} else {
			t.Logf("hnsw recall@10 against exact search = %.3f", recall)
		}
	})

	t.Run("exact plan never reads the HNSW index; the index plan does", func(t *testing.T) {
		m, plan, err := f.db.ExplainVector(ctx, a, postgres.VectorQuery{Vector: queries[0], Model: "m1", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		// A btree or (the tenant being half the table here) a sequential
		// scan, then a top-N sort of every candidate: never the index.
		if m != postgres.Exact || strings.Contains(plan, "hnsw") || !strings.Contains(plan, "top-N heapsort") {
			t.Fatalf("method %s with plan\n%s\nwant exact: a scan of the tenant's chunks and a top-N sort, no HNSW", m, plan)
		}
		t.Logf("exact plan:\n%s", plan)
		m, plan, err = f.db.ExplainVector(ctx, a, postgres.VectorQuery{Vector: queries[0], Model: "m1", Limit: 10, Plan: plans["hnsw"]})
		if err != nil {
			t.Fatal(err)
		}
		if m != postgres.HNSW || !strings.Contains(plan, "Index Scan using chunks_embedding_hnsw") {
			t.Fatalf("method %s with plan\n%s\nwant an index scan of chunks_embedding_hnsw", m, plan)
		}
		t.Logf("hnsw plan:\n%s", plan)
	})

	t.Run("plan follows the candidates' share of the index", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, f.url) // the owner: the app role may not ANALYZE
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `ANALYZE chunks`); err != nil {
			t.Fatal(err)
		}
		// 1,414 rows: alpha's ready documents hold 784 (55%), beta 600 (42%).
		plan := postgres.VectorPlan{AlwaysExactBelow: 100, IndexShare: 0.5} // the rule, not the default
		for _, c := range []struct {
			tenant int64
			filter shifu.Filter
			want   postgres.Method
		}{
			{a, shifu.Filter{}, postgres.HNSW},
			{b, shifu.Filter{}, postgres.Exact},
			{a, shifu.Filter{Kind: shifu.KindNote}, postgres.Exact}, // 14 candidates
		} {
			r, err := f.db.Vector(ctx, c.tenant, postgres.VectorQuery{Vector: queries[0], Model: "m1", Filter: c.filter, Plan: plan, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != c.want || len(r.Hits) != 10 {
				t.Errorf("tenant %d, filter %+v: %s with %d hits over %d candidates, want %s with 10", c.tenant, c.filter, r.Method, len(r.Hits), r.Candidates, c.want)
			}
		}
		// The share rule off: exact below ExactBelow whatever the share.
		r, err := f.db.Vector(ctx, a, postgres.VectorQuery{Vector: queries[0], Model: "m1", Plan: postgres.VectorPlan{AlwaysExactBelow: 100, IndexShare: 2}, Limit: 10})
		if err != nil || r.Method != postgres.Exact {
			t.Errorf("share rule off: %s, %v; want exact", r.Method, err)
		}
	})

	t.Run("filters never starve", func(t *testing.T) {
		filters := []struct {
			f    shifu.Filter
			keep func(int64) bool
		}{
			{shifu.Filter{Kind: shifu.KindNote}, func(id int64) bool { return f.doc[id] == noteA }},
			{shifu.Filter{Equipment: "lathe-2"}, func(id int64) bool { return f.doc[id] == noteA }},
			{shifu.Filter{Documents: []int64{noteA}}, func(id int64) bool { return f.doc[id] == noteA }},
			{shifu.Filter{Documents: []int64{noteA, crowdA}, Kind: shifu.KindNote}, func(id int64) bool { return f.doc[id] == noteA }},
			{shifu.Filter{Equipment: "mill-1"}, func(id int64) bool { return f.doc[id] == manualA || f.doc[id] == crowdA }},
		}
		for name, plan := range plans {
			for _, fl := range filters {
				for _, k := range []int{10, 20} { // the note has 14 chunks
					r, err := f.db.Vector(ctx, a, postgres.VectorQuery{Vector: queries[0], Model: "m1", Filter: fl.f, Plan: plan, Limit: k})
					if err != nil {
						t.Fatal(err)
					}
					want := f.bruteForce(queries[0], k, fl.keep)
					if !sameDistances(r.Hits, want) {
						t.Fatalf("%s, filter %+v, k %d (method %s): %d hits %v, want %d %v", name, fl.f, k, r.Method, len(r.Hits), hitDists(r.Hits), len(want), want)
					}
					for _, h := range r.Hits {
						if !fl.keep(h.ID) {
							t.Fatalf("%s, filter %+v: hit %q outside the filter", name, fl.f, h.Text)
						}
					}
				}
			}
		}
	})

	t.Run("tenants, models and drafts are isolated", func(t *testing.T) {
		// beta's own chunk vector, searched as alpha, finds only alpha's chunks.
		var betaVec []float32
		for id, v := range f.vecs {
			if inTenant(b)(id) {
				betaVec = v
				break
			}
		}
		for name, plan := range plans {
			r, err := f.db.Vector(ctx, a, postgres.VectorQuery{Vector: betaVec, Model: "m1", Plan: plan, Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Hits) != 50 {
				t.Fatalf("%s: %d hits, want 50", name, len(r.Hits))
			}
			for _, h := range r.Hits {
				if !inTenant(a)(h.ID) {
					t.Fatalf("%s: tenant alpha got chunk %q (draft, other model or beta's)", name, h.Text)
				}
			}
			r, err = f.db.Vector(ctx, empty, postgres.VectorQuery{Vector: betaVec, Model: "m1", Plan: plan, Limit: 10})
			if err != nil || len(r.Hits) != 0 {
				t.Fatalf("%s: tenant without documents got %d hits, %v", name, len(r.Hits), err)
			}
			r, err = f.db.Vector(ctx, a, postgres.VectorQuery{Vector: betaVec, Model: "m0", Plan: plan, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Hits) != 10 {
				t.Fatalf("%s: model m0: %d hits, want 10 of old.pdf's 30", name, len(r.Hits))
			}
			for _, h := range r.Hits {
				if f.doc[h.ID] != otherA {
					t.Fatalf("%s: model m0 search returned %q, embedded by another model", name, h.Text)
				}
			}
		}
	})
}

func hitDists(hs []shifu.Hit) []float64 {
	out := make([]float64, len(hs))
	for i, h := range hs {
		out[i] = math.Round((1-h.Score)*1e4) / 1e4
	}
	return out
}

// overlap counts the distances of want matched (to halfvec precision) by got.
func overlap(got, want []float64) int {
	n := 0
	used := make([]bool, len(got))
	for _, w := range want {
		for i, g := range got {
			if !used[i] && math.Abs(g-w) <= 2e-3 {
				used[i] = true
				n++
				break
			}
		}
	}
	return n
}
