package postgres

import (
	"cmp"
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/shifu-factory/shifu"
)

// ExactBelow is the number of candidate chunks (the tenant's live chunks that
// pass the filter) under which the nearest-neighbour search scores every
// candidate instead of walking the shared HNSW index, unless the candidates
// are most of the index (IndexShare). Measured on this machine
// (../shared/reference/retrieval-facts.md): a tenant of 4,000 chunks in a
// 200k-row table took 20-26 ms exactly at recall 1.00, and 27 ms through HNSW
// with iterative scans at recall 0.64; exact costs ~5-15 µs a chunk.
const ExactBelow = 50_000

// IndexShare is the share of the indexed rows above which the candidates go
// through the index even below ExactBelow: when the tenant is a large part of
// the table the graph walk discards few rows and loses little. On the real corpus
// (4,013 chunks, one tenant) exact search took p50 59 / p95 113 ms, the index
// 5 / 8 ms at recall@10 0.96 against it (BenchmarkSearchCorpus).
//
// 0.2 rather than "most": with two more tenants of the same size in the table
// (a third of the index), exact search made dev eval p50 85 ms against 40 ms
// through the index, at the same hit@k (lead's measurement, 3 tenants ×
// ~4,000 chunks). Iterative scans lose recall only when the filter keeps a
// few percent of the rows (retrieval-facts: 2%).
const IndexShare = 0.2

// AlwaysExactBelow: so few candidates are scored exactly whatever their share
// (≤ ~25 ms): exact, and no index to trust.
const AlwaysExactBelow = 2_000

// SmallIndex is the size of the chunks table (the planner's estimate) below
// which the index walk's default ef_search is SmallIndexEfSearch instead of
// LargeIndexEfSearch, the figure tuned at 1M rows: a small graph needs a
// short candidate list. On the corpus (4,063 chunks, one tenant; shifu bench search, host
// shared with other jobs, two runs each) ef_search 100 took the HNSW walk
// from p50 28-34 to 9-17 ms at recall@10 0.978 against exact (400: 0.998),
// the dev set's hit@5 unchanged (0.875) and MRR@10 0.779 -> 0.780.
const SmallIndex = 50_000

// SmallIndexEfSearch is the default ef_search below SmallIndex rows.
const SmallIndexEfSearch = 100

// LargeIndexEfSearch is the default ef_search from SmallIndex rows up, also
// pgvector's ceiling. Over 1,000,000 mixed chunks (every chunk also carries up
// to half of two other topics; BenchmarkVector1M, the index as migration 019
// builds it) recall@10 against exact search was 0.977 at p50 26 / p95 32 ms on
// this 2-core host shared with other jobs, where 800 gave 0.952 (p95 25 ms),
// 400 0.909 and the 400 this replaced, on 005's index, 0.836.
const LargeIndexEfSearch = 1000

// Method is how a nearest-neighbour search was answered.
type Method string

const (
	// Exact scored every candidate (btree on the tenant, then a top-k sort).
	Exact Method = "exact"
	// HNSW walked the index with an iterative scan.
	HNSW Method = "hnsw"
	// HNSWThenExact walked the index, found fewer than k rows that pass the
	// filter, and fell back to scoring every candidate.
	HNSWThenExact Method = "hnsw+exact"
)

// VectorPlan tunes how a nearest-neighbour search is planned. Zero fields take
// the defaults.
type VectorPlan struct {
	// ExactBelow: fewer candidate chunks than this are searched exactly,
	// unless they are at least IndexShare of the index and AlwaysExactBelow
	// or more; default ExactBelow. Negative: always use the index.
	ExactBelow int
	// IndexShare: default IndexShare; > 1 turns the share rule off.
	IndexShare float64
	// AlwaysExactBelow: default AlwaysExactBelow.
	AlwaysExactBelow int
	// EfSearch is hnsw.ef_search, the index scan's candidate list; default
	// SmallIndexEfSearch below SmallIndex rows, else LargeIndexEfSearch.
	// The index path asks the index for max(limit, Scan) rows and keeps
	// the best limit.
	EfSearch int
	// Scan is how many rows the index walk returns for re-sorting by exact
	// distance, never fewer than the limit; default EfSearch. More than
	// EfSearch lets the relaxed iterative scan go on past its first
	// candidate list (up to MaxScanTuples), which buys recall ef_search's
	// ceiling of 1,000 cannot. Fewer saves fetching and scoring rows the
	// re-sort drops (each row's vector is read from TOAST).
	Scan int
	// MaxScanTuples bounds an iterative scan (hnsw.max_scan_tuples); default
	// 20,000, pgvector's. A scan that ends short falls back to exact search.
	MaxScanTuples int
}

func (p VectorPlan) withDefaults() VectorPlan {
	if p.ExactBelow == 0 {
		p.ExactBelow = ExactBelow
	}
	if p.IndexShare <= 0 {
		p.IndexShare = IndexShare
	}
	if p.AlwaysExactBelow <= 0 {
		p.AlwaysExactBelow = AlwaysExactBelow
	}
	if p.EfSearch <= 0 {
		p.EfSearch = LargeIndexEfSearch
	}
	// pgvector accepts ef_search in [1, 1000].
	p.EfSearch = min(p.EfSearch, 1000)
	if p.MaxScanTuples <= 0 {
		p.MaxScanTuples = 20_000
	}
	return p
}

// exact decides the plan for n candidates in a table of about indexed rows.
func (p VectorPlan) exact(n int, indexed float64) bool {
	switch {
	case p.ExactBelow < 0:
		return false
	case n < p.AlwaysExactBelow:
		return true
	case indexed > 0 && float64(n) >= p.IndexShare*indexed:
		return false
	}
	return n < p.ExactBelow
}

// VectorQuery is one nearest-neighbour search.
type VectorQuery struct {
	Vector []float32
	Model  string // only chunks embedded by this model are compared
	Filter shifu.Filter
	Plan   VectorPlan
	Limit  int
}

// VectorResult is the nearest chunks, best first, Score being the cosine
// similarity, and how they were found.
type VectorResult struct {
	Hits       []shifu.Hit
	Method     Method
	Candidates int // live chunks passing the filter (embedded or not)
}

// Vector returns the q.Limit live chunks of the tenant whose embeddings from
// q.Model are closest (cosine) to q.Vector. Small candidate sets are searched
// exactly, large ones through the HNSW index (see vectorSearch).
func (db *DB) Vector(ctx context.Context, tenant int64, q VectorQuery) (VectorResult, error) {
	var r VectorResult
	if len(q.Vector) == 0 || q.Limit <= 0 {
		return r, nil
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		r, err = vectorSearch(ctx, tx, q, nil)
		return err
	})
	if err != nil {
		return VectorResult{}, fmt.Errorf("vector search: %w", err)
	}
	return r, nil
}

// ExplainVector runs q under EXPLAIN ANALYZE and returns the plan PostgreSQL
// used for the chunk query, and the method chosen; for checking that small
// tenants never touch the HNSW index and large ones do.
func (db *DB) ExplainVector(ctx context.Context, tenant int64, q VectorQuery) (Method, string, error) {
	var r VectorResult
	var plan string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		r, err = vectorSearch(ctx, tx, q, &plan)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("explain vector search: %w", err)
	}
	return r.Method, plan, nil
}

// vectorSearch runs q in tx, whose tenant is set. With explain set it runs
// the chosen chunk query under EXPLAIN ANALYZE instead, stores the plan there
// and returns no hits.
//
// The filter is resolved first, on documents (a few rows per tenant): the
// live documents that pass it and their chunk count. That count picks the
// plan, and the document ids become the chunk query's only join-free
// condition, so the index scan filters rows itself and its iterative scan
// keeps going until enough pass (a join above the scan could not).
func vectorSearch(ctx context.Context, tx pgx.Tx, q VectorQuery, explain *string) (VectorResult, error) {
	var r VectorResult
	if len(q.Vector) == 0 || q.Limit <= 0 {
		return r, nil
	}
	p := q.Plan.withDefaults()
	where, fargs := filterSQL(q.Filter, 1)
	var docs []int64
	var indexed float64 // the planner's estimate of the table's rows; ≤ 0: unknown
	err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(d.id), '{}'), coalesce(sum(d.chunks), 0),
			(SELECT reltuples FROM pg_class WHERE oid = 'chunks'::regclass)::float8
		FROM documents d WHERE d.tenant_id = app_tenant() AND d.status = 'ready'`+where, fargs...).Scan(&docs, &r.Candidates, &indexed)
	if err != nil {
		return r, fmt.Errorf("candidate documents: %w", err)
	}
	if len(docs) == 0 {
		return r, nil
	}
	if q.Plan.EfSearch <= 0 && indexed > 0 && indexed < SmallIndex {
		p.EfSearch = SmallIndexEfSearch
	}
	vec := pgvector.NewHalfVector(Pad(q.Vector))
	if p.exact(r.Candidates, indexed) {
		r.Method = Exact
		r.Hits, err = exactNearest(ctx, tx, vec, q.Model, docs, q.Limit, explain)
		return r, err
	}
	r.Method = HNSW
	if r.Hits, err = indexNearest(ctx, tx, vec, q.Model, docs, p, q.Limit, explain); err != nil {
		return r, err
	}
	if explain == nil && len(r.Hits) < q.Limit {
		// The scan hit MaxScanTuples before limit rows passed the filter
		// (a narrow filter on a big tenant, or chunks of another model):
		// the exact search finds every one there is.
		r.Method = HNSWThenExact
		r.Hits, err = exactNearest(ctx, tx, vec, q.Model, docs, q.Limit, nil)
	}
	return r, err
}

// hitJoin fetches the k nearest chunks' columns by primary key. The LATERAL
// subqueries (LIMIT 1 keeps them from being flattened) are run once per row:
// joined plainly, the planner hashed every chunk of the tenant to join k rows.
const hitJoin = `, LATERAL (SELECT * FROM chunks c0 WHERE c0.id = nn.id LIMIT 1) c,
	LATERAL (SELECT * FROM documents d0 WHERE d0.id = c.document_id LIMIT 1) d`

// exactNearestSQL scores every chunk of the given documents. The ORDER BY
// expression is `distance + 0`, which no index can produce, so the planner
// reads the chunks through the (tenant_id, document_id) btree and sorts;
// ordering by the bare distance would let it choose the HNSW index, whose
// post-filtered scan misses rows of small tenants (recall 0.03-0.64 measured).
const exactNearestSQL = `WITH nn AS MATERIALIZED (
	SELECT c.id, c.embedding <=> $1::halfvec AS dist
	FROM chunks c
	WHERE c.tenant_id = app_tenant() AND c.document_id = ANY($2::bigint[])
		AND c.embed_model = $3 AND c.embedding IS NOT NULL
	ORDER BY (c.embedding <=> $1::halfvec) + 0, c.id
	LIMIT $4
)
SELECT ` + hitColumns + `, 1 - nn.dist FROM nn` + hitJoin + `
ORDER BY nn.dist, c.id`

func exactNearest(ctx context.Context, tx pgx.Tx, vec pgvector.HalfVector, model string, docs []int64, limit int, explain *string) ([]shifu.Hit, error) {
	hits, err := queryHits(ctx, tx, explain, exactNearestSQL, vec, docs, model, limit)
	if err != nil {
		return nil, fmt.Errorf("exact nearest: %w", err)
	}
	return hits, nil
}

// queryHits runs a hit query, or with explain set, EXPLAIN ANALYZE of it.
func queryHits(ctx context.Context, tx pgx.Tx, explain *string, sql string, args ...any) ([]shifu.Hit, error) {
	if explain == nil {
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return nil, err
		}
		return collectHits(rows, true)
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF) "+sql, args...)
	if err != nil {
		return nil, err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	*explain = strings.Join(lines, "\n")
	return nil, nil
}

// indexNearestSQL walks the HNSW index: ORDER BY the bare distance with a
// LIMIT is the shape pgvector answers from the index. relaxed_order may return
// rows slightly out of order, and asks for $5 ≥ $4 rows: the outer query
// re-sorts by exact distance and keeps the best $4. Asking for $4 alone was
// measured: over one tenant's 1M chunks recall stayed equal and ef_search
// 1,000 went from p50 56 to 27 ms (fewer rows read from TOAST), but where
// tenants share the graph the later batches find nearer rows of the tenant
// and recall fell below TestVector's 0.97. The best $4 are picked before their
// columns are fetched: joining all $5 read 400 chunks' text to keep 60 (on
// the corpus, ~25 of the query's 93 ms).
const indexNearestSQL = `WITH nn AS MATERIALIZED (
	SELECT c.id, c.embedding <=> $1::halfvec AS dist
	FROM chunks c
	WHERE c.tenant_id = app_tenant() AND c.document_id = ANY($2::bigint[]) AND c.embed_model = $3
	ORDER BY c.embedding <=> $1::halfvec
	LIMIT $5
), top AS MATERIALIZED (
	SELECT id, dist FROM nn ORDER BY dist, id LIMIT $4
)
SELECT ` + hitColumns + `, 1 - nn.dist FROM top nn` + hitJoin + `
ORDER BY nn.dist, c.id`

func indexNearest(ctx context.Context, tx pgx.Tx, vec pgvector.HalfVector, model string, docs []int64, p VectorPlan, limit int, explain *string) ([]shifu.Hit, error) {
	// enable_sort = off makes the planner take the index's order rather
	// than sort the tenant's rows: above ExactBelow the index is the point.
	// It does so by adding a huge cost to sorting, which pushed the plan
	// past jit_above_cost: JIT compiling took 300-600 ms of a 2 ms query, so
	// jit is off too. SET LOCAL lasts to the end of the transaction, which
	// may run other queries after this one (Hybrid): both are reset below.
	//
	// Settings, query and reset go in one batch: one round trip, not three.
	// Each statement is planned after the one before it ran, so the query
	// is planned with the settings.
	const set = `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', $1, true),
		set_config('hnsw.max_scan_tuples', $2, true), set_config('enable_sort', 'off', true), set_config('jit', 'off', true)`
	efs, scan := fmt.Sprint(p.EfSearch), fmt.Sprint(p.MaxScanTuples)
	args := []any{vec, docs, model, limit, max(limit, cmp.Or(p.Scan, p.EfSearch))}
	if explain != nil {
		if _, err := tx.Exec(ctx, set, efs, scan); err != nil {
			return nil, fmt.Errorf("hnsw settings: %w", err)
		}
		if _, err := queryHits(ctx, tx, explain, indexNearestSQL, args...); err != nil {
			return nil, fmt.Errorf("hnsw nearest: %w", err)
		}
		_, err := tx.Exec(ctx, `SET LOCAL enable_sort TO DEFAULT; SET LOCAL jit TO DEFAULT`)
		return nil, err
	}
	var hits []shifu.Hit
	b := &pgx.Batch{}
	b.Queue(set, efs, scan)
	b.Queue(indexNearestSQL, args...).Query(func(rows pgx.Rows) error {
		var err error
		hits, err = collectHits(rows, true)
		return err
	})
	b.Queue(`SET LOCAL enable_sort TO DEFAULT`)
	b.Queue(`SET LOCAL jit TO DEFAULT`)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("hnsw nearest: %w", err)
	}
	return hits, nil
}

// nearestPlanned has the signature of search.go's nearest, for Hybrid and
// Nearest to call instead: the plan chosen by vectorSearch.
func nearestPlanned(ctx context.Context, tx pgx.Tx, vec []float32, model string, f shifu.Filter, efSearch int, limit int) ([]shifu.Hit, error) {
	r, err := vectorSearch(ctx, tx, VectorQuery{Vector: vec, Model: model, Filter: f, Plan: VectorPlan{EfSearch: efSearch}, Limit: limit}, nil)
	return r.Hits, err
}
