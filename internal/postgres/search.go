package postgres

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	analysis "github.com/shifu-factory/shifu/internal/terms"
)

// Filter narrows a search. Filters are applied inside the query that ranks,
// never after a LIMIT, so a narrow filter still returns a full page of hits.
type Filter struct {
	Documents []int64       // only these documents; empty: all
	Kind      shifu.DocKind // manual or note; "": both
	Equipment string        // documents tagged with this equipment; "": any
}

// filterSQL returns the WHERE conditions on d (documents) for f, numbering
// its parameters from next.
func filterSQL(f Filter, next int) (string, []any) {
	var conds []string
	var args []any
	if len(f.Documents) > 0 {
		conds = append(conds, fmt.Sprintf("d.id = ANY($%d::bigint[])", next+len(args)))
		args = append(args, f.Documents)
	}
	if f.Kind != "" {
		conds = append(conds, fmt.Sprintf("d.kind = $%d", next+len(args)))
		args = append(args, string(f.Kind))
	}
	if f.Equipment != "" {
		conds = append(conds, fmt.Sprintf("d.equipment = $%d", next+len(args)))
		args = append(args, f.Equipment)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// BM25 holds the lexical ranking's parameters. Their values are the
// searcher's, measured there (retrieval.Defaults); this adapter takes them
// as given and refuses what cannot be a ranking.
type BM25 struct {
	K1 float64 // term-frequency saturation; > 0
	B  float64 // length normalisation; 0 to 1
	// MaxDF drops query terms found in more than this fraction of the
	// tenant's live chunks (they rank nothing and cost the most postings);
	// > 0, 1 keeps every term.
	MaxDF float64
	// Context is the share of each neighbouring chunk's score (ord ± 1) a
	// chunk adds to its own; 0: none.
	Context float64
	// Unigram scales the weight of single Han character terms (the analyzer
	// indexes them beside gse's words): they rescue questions whose verb or
	// noun is one character, but a match on one says less than a word's.
	// 0 or negative: ignore them.
	Unigram float64
	// Backoff is the weight, in place of Unigram, of the characters a word
	// no chunk holds is searched by (HybridQuery.Backoff): they stand for a
	// whole word of the question. 0 or negative: no back-off.
	Backoff float64
}

func (p BM25) check() error {
	if p.K1 <= 0 || p.B < 0 || p.B > 1 || p.MaxDF <= 0 {
		return fmt.Errorf("BM25 k1 %g, b %g, max df %g: k1 must be above 0, b from 0 to 1, max df above 0", p.K1, p.B, p.MaxDF)
	}
	return nil
}

// hitColumns are the columns scanHit reads, c being chunks and d documents.
const hitColumns = `c.id, c.document_id, c.ord, c.text, c.heading, c.page_start, c.page_end, c.page_breaks, c.anchor,
	c.language, c.tokens, d.name, d.title, d.kind, CASE WHEN d.kind = 'note' THEN d.uploader ELSE '' END, d.head_id, d.version`

// scanHit reads hitColumns, then score when not nil, then any extra columns.
func scanHit(rows pgx.Rows, score *float64, extra ...any) (shifu.Hit, error) {
	var h shifu.Hit
	dest := []any{&h.ID, &h.DocumentID, &h.Ord, &h.Text, &h.Heading, &h.PageStart, &h.PageEnd, &h.Breaks, &h.Anchor,
		&h.Language, &h.Tokens, &h.Document, &h.Title, &h.Kind, &h.Author, &h.DocID, &h.Version}
	if score != nil {
		dest = append(dest, score)
	}
	dest = append(dest, extra...)
	err := rows.Scan(dest...)
	if score != nil {
		h.Score = *score
	}
	return h, err
}

func collectHits(rows pgx.Rows, withScore bool) ([]shifu.Hit, error) {
	defer rows.Close()
	var out []shifu.Hit
	var s float64
	sp := &s
	if !withScore {
		sp = nil
	}
	for rows.Next() {
		h, err := scanHit(rows, sp)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// TermStats is what BM25 needs to know about the tenant's live chunks.
type TermStats struct {
	N     int            // live chunks
	AvgDL float64        // their mean length in terms
	DF    map[string]int // chunks holding each query term; absent: none
}

// IDF is the BM25 (Robertson-Spärck Jones, floored at 0 by the +1) inverse
// document frequency of a term found in df of n chunks.
func IDF(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// Lexical ranks the tenant's live chunks by BM25 over the postings table for
// the given (distinct, analysed) query terms and returns the best limit, Score
// being the BM25 score, with the statistics it used.
func (db *DB) Lexical(ctx context.Context, tenant int64, terms []string, f Filter, p BM25, limit int) ([]shifu.Hit, TermStats, error) {
	var hits []shifu.Hit
	var st TermStats
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		if st, err = termStats(ctx, tx, terms); err != nil {
			return err
		}
		hits, _, err = lexical(ctx, tx, terms, nil, nil, st, f, p, limit)
		return err
	})
	if err != nil {
		return nil, st, fmt.Errorf("lexical search: %w", err)
	}
	return hits, st, nil
}

// termStats reads N, the mean length and the query terms' document
// frequencies. They cover the tenant's live chunks whatever the filter: a
// filter chooses which chunks compete, not how rare a word is.
func termStats(ctx context.Context, tx pgx.Tx, terms []string) (TermStats, error) {
	st := TermStats{DF: map[string]int{}}
	// Documents keep their chunk count and total length (see migration 004):
	// a few rows per tenant, where counting chunks scanned thousands.
	// Both queries go in one batch: one round trip.
	b := &pgx.Batch{}
	b.Queue(`SELECT coalesce(sum(chunks), 0)::int, coalesce(sum(nterms)::float8 / nullif(sum(chunks), 0), 1)
		FROM documents WHERE tenant_id = app_tenant() AND status = 'ready'`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&st.N, &st.AvgDL)
	})
	if len(terms) > 0 {
		b.Queue(`SELECT ct.term, count(*)
		FROM chunk_terms ct JOIN documents d ON d.id = ct.document_id
		WHERE ct.tenant_id = app_tenant() AND ct.term = ANY($1::text[]) AND d.status = 'ready'
		GROUP BY ct.term`, terms).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var t string
				var n int
				if err := rows.Scan(&t, &n); err != nil {
					return err
				}
				st.DF[t] = n
			}
			return rows.Err()
		})
	}
	return st, tx.SendBatch(ctx, b).Close()
}

// lexical ranks by BM25; weights, when not nil, scale each term's IDF (the
// query-side weight: expansion terms count less than the question's own).
// matched holds, for each hit, which of the terms searched its chunk holds
// (from the postings the score was summed over, so callers need not analyse
// the text again); terms skipped as too common (BM25.MaxDF) are not among
// them.
//
// groups, when not nil, puts terms with the same non-zero number into one
// structured-query group (Pirkola, 1998: a word's translations): the group
// counts as one term whose frequency in a chunk is the sum of its members'
// and whose document frequency is the sum of theirs (at most N), weighted by
// its largest member weight; members no chunk holds drop out of it.
func lexical(ctx context.Context, tx pgx.Tx, terms []string, weights []float64, groups []int, st TermStats, f Filter, p BM25, limit int) (hits []shifu.Hit, matched map[int64][]string, err error) {
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	var kept []string
	var idf []float64
	var grp []int
	gdf, gw := map[int]int{}, map[int]float64{}
	for i, t := range terms {
		df := st.DF[t]
		if df == 0 || float64(df) > max(p.MaxDF*float64(st.N), 1) {
			continue
		}
		w := IDF(st.N, df)
		wq := 1.0
		if weights != nil {
			if wq = weights[i]; wq <= 0 {
				continue
			}
			w *= wq
		}
		if analysis.Unigram(t) { // the analyzer's rule: one Han character
			if p.Unigram <= 0 {
				continue
			}
			w *= p.Unigram
		}
		g := -(i + 1) // a group of its own
		if groups != nil && groups[i] > 0 {
			g = groups[i]
			gdf[g] += df
			gw[g] = max(gw[g], wq)
		}
		kept, idf, grp = append(kept, t), append(idf, w), append(grp, g)
	}
	if len(kept) == 0 || limit <= 0 {
		return nil, nil, nil
	}
	for i, g := range grp {
		if g > 0 {
			idf[i] = IDF(st.N, min(gdf[g], st.N)) * gw[g]
		}
	}
	where, fargs := filterSQL(f, 9)
	// The postings hold their chunk's document, position and length: the
	// ranking reads only the postings index and the documents (migration 004).
	// A chunk's score borrows Context times its neighbours' (ord ± 1): an
	// answer cut in two by the chunker, or a question whose words are spread
	// over a section, still ranks the right place.
	// A group's members' frequencies are summed before BM25 saturates them
	// (a term alone is a group of one). Terms hold no spaces, so the
	// matched terms travel as one space-separated string. They are
	// gathered for the best $6 chunks only, from the same postings
	// (matched): string_agg over every matching posting (thousands for a
	// question with common words) cost a third of the query's CPU, its hash
	// aggregates spilling to disk. With single terms not aggregated (g),
	// 19 → ~12 ms of backend CPU for a dev question on the corpus.
	q := `WITH q AS (SELECT * FROM unnest($1::text[], $2::float8[], $8::int[]) AS q(term, idf, grp)),
	g AS (
		-- A term alone (grp < 0) is its own group: its postings need no
		-- aggregate (a chunk holds a term once), only translations do.
		SELECT ct.chunk_id, ct.document_id, ct.ord, ct.dl, q.idf, ct.tf::bigint AS tf
		FROM q JOIN chunk_terms ct ON ct.tenant_id = app_tenant() AND ct.term = q.term
		JOIN documents d ON d.id = ct.document_id
		WHERE q.grp < 0 AND d.status = 'ready'` + where + `
		UNION ALL
		SELECT ct.chunk_id, ct.document_id, ct.ord, ct.dl, max(q.idf) AS idf, sum(ct.tf) AS tf
		FROM q JOIN chunk_terms ct ON ct.tenant_id = app_tenant() AND ct.term = q.term
		JOIN documents d ON d.id = ct.document_id
		WHERE q.grp > 0 AND d.status = 'ready'` + where + `
		GROUP BY ct.chunk_id, ct.document_id, ct.ord, ct.dl, q.grp
	), raw AS (
		SELECT g.chunk_id, g.document_id, g.ord,
			sum(g.idf * g.tf * ($3::float8 + 1) / (g.tf + $3::float8 * (1 - $4::float8 + $4::float8 * g.dl / $5::float8))) AS score
		FROM g
		GROUP BY g.chunk_id, g.document_id, g.ord
	), scored AS (
		-- lag/lead over each document's matching chunks in order: a self-join
		-- on (document, ord ± 1) made the planner merge on document alone and
		-- compare a million pairs for common query words.
		SELECT r.chunk_id, r.score + $7::float8 * (
			CASE WHEN lag(r.ord) OVER w = r.ord - 1 THEN lag(r.score) OVER w ELSE 0 END +
			CASE WHEN lead(r.ord) OVER w = r.ord + 1 THEN lead(r.score) OVER w ELSE 0 END) AS score
		FROM raw r
		WINDOW w AS (PARTITION BY r.document_id ORDER BY r.ord)
		ORDER BY score DESC LIMIT $6
	), matched AS (
		SELECT ct.chunk_id, string_agg(q.term, ' ') AS terms
		FROM q JOIN chunk_terms ct ON ct.tenant_id = app_tenant() AND ct.term = q.term
		WHERE ct.chunk_id IN (SELECT chunk_id FROM scored)
		GROUP BY ct.chunk_id
	)
	SELECT ` + hitColumns + `, sc.score, m.terms FROM scored sc JOIN matched m ON m.chunk_id = sc.chunk_id
	JOIN chunks c ON c.id = sc.chunk_id JOIN documents d ON d.id = c.document_id ORDER BY sc.score DESC, c.id`
	args := append([]any{kept, idf, p.K1, p.B, max(st.AvgDL, 1), limit, p.Context, grp}, fargs...)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	matched = map[int64][]string{}
	for rows.Next() {
		var score float64
		var m string
		h, err := scanHit(rows, &score, &m)
		if err != nil {
			return nil, nil, err
		}
		hits = append(hits, h)
		matched[h.ID] = strings.Fields(m)
	}
	return hits, matched, rows.Err()
}

// VectorSearch tunes the nearest-neighbour query.
type VectorSearch struct {
	// EfSearch > 0 sets hnsw.ef_search for the query; used only when the
	// planner picks the HNSW index.
	EfSearch int
}

// Nearest returns the limit live chunks whose embeddings from model are
// closest (cosine) to vec, Score being the cosine similarity. Only vectors of
// the same model are compared: another model's space is another geometry.
func (db *DB) Nearest(ctx context.Context, tenant int64, vec []float32, model string, f Filter, vs VectorSearch, limit int) ([]shifu.Hit, error) {
	if len(vec) == 0 || limit <= 0 {
		return nil, nil
	}
	var hits []shifu.Hit
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		hits, err = nearestPlanned(ctx, tx, vec, model, f, vs, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return hits, nil
}

// Candidates is the two ranked lists a hybrid search fuses.
type Candidates struct {
	Lexical []shifu.Hit
	Vector  []shifu.Hit
	Stats   TermStats
	// Matched holds, for each lexical hit, the query terms (the question's,
	// its synonyms' and back-off characters) its chunk holds.
	Matched map[int64][]string
}

// HybridQuery is one hybrid search: lexical terms and/or a query vector.
type HybridQuery struct {
	Terms []string
	// Weights, when not nil, holds a query weight for each of Terms (1: a
	// term of the question; less: a feedback expansion term).
	Weights []float64
	// Groups, when not nil, holds for each of Terms a structured-query group
	// (0: none): a word's translations, searched as one term (see lexical).
	Groups []int
	// Sources, when not nil, names the word each group translates (group
	// g's at g-1); a group whose word no live chunk holds weighs Unknown
	// times its weight: the library names that thing only in the other
	// language, so the translation is the question's only way to it.
	Sources []string
	Unknown float64
	// Backoff maps a term to the single characters searched in its stead
	// when no live chunk holds it (a worker's word the manuals never use:
	// 删了, 占满), at its weight times BM25.Backoff.
	Backoff  map[string][]string
	Vector   []float32
	Model    string
	Filter   Filter
	BM25     BM25
	Vec      VectorSearch
	LexicalK int // candidates from BM25
	VectorK  int // candidates from the vector index
}

// Hybrid runs the lexical and the vector search side by side, each in a
// tenant transaction of its own: both are CPU-bound queries, and in two
// backends they run on two cores at once. The two lists may come from
// snapshots a publish apart; fusion does not mind.
func (db *DB) Hybrid(ctx context.Context, tenant int64, q HybridQuery) (Candidates, error) {
	var c Candidates
	if q.Weights != nil && len(q.Weights) != len(q.Terms) {
		return c, fmt.Errorf("hybrid search: %d weights for %d terms", len(q.Weights), len(q.Terms))
	}
	if q.Groups != nil && len(q.Groups) != len(q.Terms) {
		return c, fmt.Errorf("hybrid search: %d groups for %d terms", len(q.Groups), len(q.Terms))
	}
	var vecErr error
	var wg sync.WaitGroup
	if len(q.Vector) > 0 && q.VectorK > 0 {
		wg.Go(func() {
			vecErr = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
				var err error
				c.Vector, err = nearestPlanned(ctx, tx, q.Vector, q.Model, q.Filter, q.Vec, q.VectorK)
				return err
			})
		})
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		all := slices.Clip(q.Terms) // appending must not write into the caller's array
		for _, b := range q.Backoff {
			all = append(all, b...)
		}
		all = append(all, q.Sources...)
		if c.Stats, err = termStats(ctx, tx, all); err != nil {
			return fmt.Errorf("term stats: %w", err)
		}
		weights := q.Weights
		if len(q.Sources) > 0 && q.Unknown > 0 && weights != nil {
			weights = slices.Clone(weights)
			for i, g := range q.Groups {
				if g > 0 && g <= len(q.Sources) && c.Stats.DF[q.Sources[g-1]] == 0 {
					weights[i] *= q.Unknown
				}
			}
		}
		terms, weights := backoff(q.Terms, weights, q.Backoff, c.Stats, q.BM25)
		groups := q.Groups
		if groups != nil && len(terms) > len(groups) { // back-off characters are groups of their own
			groups = append(slices.Clip(groups), make([]int, len(terms)-len(groups))...)
		}
		if len(terms) > 0 && q.LexicalK > 0 {
			if c.Lexical, c.Matched, err = lexical(ctx, tx, terms, weights, groups, c.Stats, q.Filter, q.BM25, q.LexicalK); err != nil {
				return fmt.Errorf("lexical: %w", err)
			}
		}
		return nil
	})
	wg.Wait()
	if err == nil && vecErr != nil {
		err = fmt.Errorf("vector: %w", vecErr)
	}
	if err != nil {
		return c, fmt.Errorf("hybrid search: %w", err)
	}
	return c, nil
}

// backoff adds, for each term no live chunk holds, the characters bo gives
// in its stead, weighted so that lexical's Unigram factor makes their weight
// the term's times p.Backoff (weights nil: all 1). A term already searched
// keeps its own weight.
func backoff(terms []string, weights []float64, bo map[string][]string, st TermStats, p BM25) ([]string, []float64) {
	if p.Backoff <= 0 || p.Unigram <= 0 {
		return terms, weights
	}
	var add []string
	var addW []float64
	at := map[string]bool{}
	for _, t := range terms {
		at[t] = true
	}
	for i, t := range terms {
		if st.DF[t] > 0 {
			continue
		}
		w := p.Backoff / p.Unigram
		if weights != nil {
			w *= weights[i]
		}
		for _, b := range bo[t] {
			if !at[b] {
				at[b] = true
				add, addW = append(add, b), append(addW, w)
			}
		}
	}
	if len(add) == 0 {
		return terms, weights
	}
	ws := weights
	if ws == nil {
		ws = make([]float64, len(terms))
		for i := range ws {
			ws[i] = 1
		}
	}
	return append(slices.Clip(terms), add...), append(slices.Clip(ws), addW...)
}

// Neighbours returns the chunks just before and after each given chunk in its
// document (ord ± 1), live documents only, excluding the given chunks
// themselves. Score is 0.
func (db *DB) Neighbours(ctx context.Context, tenant int64, ids []int64) ([]shifu.Hit, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var hits []shifu.Hit
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+hitColumns+`
			FROM chunks s JOIN chunks c ON c.document_id = s.document_id AND c.ord IN (s.ord - 1, s.ord + 1)
			JOIN documents d ON d.id = c.document_id
			WHERE s.id = ANY($1::bigint[]) AND d.status = 'ready' AND NOT c.id = ANY($1::bigint[])
			ORDER BY c.document_id, c.ord`, ids)
		if err != nil {
			return err
		}
		hits, err = collectHits(rows, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	// A chunk between two hits is its neighbour twice.
	out := hits[:0]
	seen := map[int64]bool{}
	for _, h := range hits {
		if !seen[h.ID] {
			seen[h.ID] = true
			out = append(out, h)
		}
	}
	return out, nil
}

// CorpusStats describes a tenant's live chunks.
type CorpusStats struct {
	Chunks      int
	MedianChars int
	Models      map[string]int // embed_model → chunks embedded with it
}

// Corpus returns statistics of the tenant's live chunks (for eval reports,
// and to know which embedding model the index was built with).
func (db *DB) Corpus(ctx context.Context, tenant int64) (CorpusStats, error) {
	st := CorpusStats{Models: map[string]int{}}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT count(*), coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY char_length(c.text)), 0)
			FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.status = 'ready'`).Scan(&st.Chunks, &st.MedianChars)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.embed_model, count(*) FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE d.status = 'ready' AND c.embedding IS NOT NULL GROUP BY c.embed_model`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m string
			var n int
			if err := rows.Scan(&m, &n); err != nil {
				return err
			}
			st.Models[m] = n
		}
		return rows.Err()
	})
	if err != nil {
		return st, fmt.Errorf("corpus stats: %w", err)
	}
	return st, nil
}

// Languages lists the languages ("en", "zh") the tenant's ready documents
// are written in, sorted; search translates a question only when one of
// them is not the question's.
func (db *DB) Languages(ctx context.Context, tenant int64) ([]string, error) {
	var out []string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT language FROM documents
			WHERE status = 'ready' AND language <> '' ORDER BY language`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("document languages: %w", classify(err))
	}
	return out, nil
}
