package postgres

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	analysis "github.com/shifu-factory/shifu/internal/terms"
)

// filterSQL returns the WHERE conditions on d (documents) for f, numbering
// its parameters from next.
func filterSQL(f shifu.Filter, next int) (string, []any) {
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

// Lexical ranks the tenant's live chunks by BM25 over the postings for the
// given (distinct, analysed) query terms and returns the best limit, Score
// being the BM25 score, with the statistics it used.
func (db *DB) Lexical(ctx context.Context, tenant int64, terms []string, f shifu.Filter, p shifu.BM25, limit int) ([]shifu.Hit, shifu.TermStats, error) {
	var hits []shifu.Hit
	var st shifu.TermStats
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		pl, err := readPostings(ctx, tx, terms, terms, f, p.MaxDF)
		if err != nil {
			return err
		}
		st = pl.stats
		hits, _, err = lexical(ctx, tx, terms, nil, nil, pl, p, limit)
		return err
	})
	if err != nil {
		return nil, st, fmt.Errorf("lexical search: %w", err)
	}
	return hits, st, nil
}

// postingSet is what one search read of the postings: the statistics, and
// for some of the terms their lists in the documents the filter passes.
type postingSet struct {
	stats shifu.TermStats
	lists map[string][]docList // term → its lists in those documents
	read  map[string]bool      // terms whose lists were read
}

// docList is one document's packed postings of a term.
type docList struct {
	doc  int64
	list []byte
}

// postingSize is the bytes of one posting in posting_lists.list (migration
// 018): chunk id int8, ord int4, tf int4, the chunk's length int4.
const postingSize = 20

// posting is one chunk holding a term.
type posting struct {
	chunk   int64
	ord     int32
	tf, len int32
}

// decodePosting reads the first posting of a packed list.
func decodePosting(b []byte) posting {
	return posting{chunk: int64(binary.BigEndian.Uint64(b)), ord: int32(binary.BigEndian.Uint32(b[8:])),
		tf: int32(binary.BigEndian.Uint32(b[12:])), len: int32(binary.BigEndian.Uint32(b[16:]))}
}

// readPostings reads, in one round trip, N and the mean length of the
// tenant's live chunks, the document frequencies of terms, and the lists of
// those of them in fetch, in the documents f passes, for the terms no more
// common than maxDF of the live chunks (lexical skips the rest: their lists
// would be the longest). The statistics cover the tenant's live chunks
// whatever the filter: a filter chooses which chunks compete, not how rare
// a word is. Documents keep their chunk count and total length (migration
// 004): a few rows per tenant.
func readPostings(ctx context.Context, tx pgx.Tx, terms, fetch []string, f shifu.Filter, maxDF float64) (postingSet, error) {
	ps := postingSet{stats: shifu.TermStats{AvgDL: 1, DF: map[string]int{}}, lists: map[string][]docList{}, read: map[string]bool{}}
	b := &pgx.Batch{}
	b.Queue(`SELECT coalesce(sum(chunks), 0), coalesce(sum(nterms), 0) FROM documents
		WHERE tenant_id = app_tenant() AND status = 'ready'`).QueryRow(func(row pgx.Row) error {
		var chunks, nterms int64
		if err := row.Scan(&chunks, &nterms); err != nil {
			return err
		}
		ps.stats.N = int(chunks)
		if chunks > 0 {
			ps.stats.AvgDL = float64(nterms) / float64(chunks)
		}
		return nil
	})
	if len(terms) > 0 {
		for _, t := range fetch {
			ps.read[t] = true
		}
		// A list comes only where lexical will read it: the term is in
		// fetch, not too common (the rule of lexical, in the same float8
		// arithmetic), and its document passes the filter.
		where, fargs := filterSQL(f, 4)
		b.Queue(`SELECT p.term, p.n, p.document_id, CASE WHEN p.term = ANY($2::text[])`+where+`
				AND sum(p.n) OVER (PARTITION BY p.term) <= greatest($3::float8 * (SELECT coalesce(sum(chunks), 0)
					FROM documents WHERE tenant_id = app_tenant() AND status = 'ready'), 1)
				THEN p.list END
			FROM posting_lists p JOIN documents d ON d.id = p.document_id
			WHERE p.tenant_id = app_tenant() AND p.term = ANY($1::text[]) AND d.status = 'ready'`,
			append([]any{terms, fetch, maxDF}, fargs...)...).Query(func(rows pgx.Rows) error {
			return ps.scan(rows, true)
		})
	}
	return ps, tx.SendBatch(ctx, b).Close()
}

// scan reads rows of (term, n, document, list or NULL) of live documents
// into ps, counting their document frequencies when df.
func (ps *postingSet) scan(rows pgx.Rows, df bool) error {
	for rows.Next() {
		var t string
		var n int
		var doc int64
		var list []byte
		if err := rows.Scan(&t, &n, &doc, &list); err != nil {
			return err
		}
		if df {
			ps.stats.DF[t] += n
		}
		if list != nil {
			if len(list) != n*postingSize {
				return fmt.Errorf("posting list of %q in document %d: %d bytes for %d postings of %d", t, doc, len(list), n, postingSize)
			}
			ps.lists[t] = append(ps.lists[t], docList{doc, list})
		}
	}
	return rows.Err()
}

// readMore reads, in the documents f passes, the lists of the terms not read
// yet that lexical will read (the back-off characters of words no chunk
// holds: known to be needed only once the frequencies are).
func readMore(ctx context.Context, tx pgx.Tx, ps *postingSet, terms []string, f shifu.Filter, maxDF float64) error {
	var more []string
	for _, t := range terms {
		if df := ps.stats.DF[t]; !ps.read[t] && df > 0 && float64(df) <= max(maxDF*float64(ps.stats.N), 1) {
			ps.read[t] = true
			more = append(more, t)
		}
	}
	if len(more) == 0 {
		return nil
	}
	where, fargs := filterSQL(f, 2)
	rows, err := tx.Query(ctx, `SELECT p.term, p.n, p.document_id, p.list FROM posting_lists p JOIN documents d ON d.id = p.document_id
		WHERE p.tenant_id = app_tenant() AND p.term = ANY($1::text[]) AND d.status = 'ready'`+where, append([]any{more}, fargs...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return ps.scan(rows, false)
}

// lexical ranks by BM25; weights, when not nil, scale each term's IDF (the
// query-side weight: expansion terms count less than the question's own).
// matched holds, for each hit, which of the terms searched its chunk holds
// (from the postings the score was summed over, so callers need not analyse
// the text again); terms skipped as too common (shifu.BM25.MaxDF) are not among
// them.
//
// groups, when not nil, puts terms with the same non-zero number into one
// structured-query group (Pirkola, 1998: a word's translations): the group
// counts as one term whose frequency in a chunk is the sum of its members'
// and whose document frequency is the sum of theirs (at most N), weighted by
// its largest member weight; members no chunk holds drop out of it.
//
// The scores are summed here from the packed lists ps read (migration 018),
// term by term in the order given, the translation groups after; then the
// chunks' rows are read for the best limit only. In SQL over a row per
// posting the same ranking cost 12-30 ms of backend CPU for a dev question
// on the corpus (hash aggregates and a window over thousands of chunks).
func lexical(ctx context.Context, tx pgx.Tx, terms []string, weights []float64, groups []int, ps postingSet, p shifu.BM25, limit int) (hits []shifu.Hit, matched map[int64][]string, err error) {
	if err := p.Check(); err != nil {
		return nil, nil, err
	}
	st := ps.stats
	var kept []string
	var idf []float64
	var grp []int
	gdf, gw := map[int]int{}, map[int]float64{}
	for i, t := range terms {
		df := st.DF[t]
		if df == 0 || float64(df) > max(p.MaxDF*float64(st.N), 1) {
			continue
		}
		w := shifu.IDF(st.N, df)
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
			idf[i] = shifu.IDF(st.N, min(gdf[g], st.N)) * gw[g]
		}
	}
	avgdl := max(st.AvgDL, 1)
	// Sums per chunk, in the order the terms were given, in arrays indexed
	// by the chunk's position in its document (the lists are per document):
	// no per-posting map, and a chunk's neighbours are next to it.
	docs := map[int64]*docScores{}
	var order []int64 // documents in first-seen order, for a stable result
	scoresOf := func(doc int64) *docScores {
		d := docs[doc]
		if d == nil {
			d = &docScores{}
			docs[doc] = d
			order = append(order, doc)
		}
		return d
	}
	var grpOrder []int // groups in order of their first member
	members := map[int][]int{}
	for i, t := range kept {
		if g := grp[i]; g > 0 {
			if members[g] == nil {
				grpOrder = append(grpOrder, g)
			}
			members[g] = append(members[g], i)
			continue
		}
		for _, l := range ps.lists[t] {
			d := scoresOf(l.doc)
			for b := l.list; len(b) >= postingSize; b = b[postingSize:] {
				q := decodePosting(b)
				if err := d.grow(q); err != nil {
					return nil, nil, fmt.Errorf("term %q: %w", t, err)
				}
				d.score[q.ord] += p.Score(idf[i], int64(q.tf), int64(q.len), avgdl)
			}
		}
	}
	for _, g := range grpOrder {
		// A group's members' frequencies are summed before BM25 saturates
		// them (tf holds the sums; touched, the chunks in first-seen order).
		w := 0.0
		type at struct {
			d   *docScores
			ord int32
		}
		var touched []at
		for _, i := range members[g] {
			w = max(w, idf[i])
			for _, l := range ps.lists[kept[i]] {
				d := scoresOf(l.doc)
				for b := l.list; len(b) >= postingSize; b = b[postingSize:] {
					q := decodePosting(b)
					if err := d.grow(q); err != nil {
						return nil, nil, fmt.Errorf("term %q: %w", kept[i], err)
					}
					if d.tf[q.ord] == 0 {
						touched = append(touched, at{d, q.ord})
					}
					d.tf[q.ord] += int64(q.tf)
				}
			}
		}
		for _, c := range touched {
			c.d.score[c.ord] += p.Score(w, c.d.tf[c.ord], int64(c.d.dl[c.ord]), avgdl)
			c.d.tf[c.ord] = 0
		}
	}
	// A chunk's score borrows Context times its neighbours' (ord ± 1) among
	// the matching chunks: an answer cut in two by the chunker, or a question
	// whose words are spread over a section, still ranks the right place.
	// The best limit are kept in a heap, worst on top.
	top := &rankHeap{}
	for _, doc := range order {
		d := docs[doc]
		for o, id := range d.id {
			if id == 0 {
				continue // no posting: not a candidate
			}
			var prev, next float64
			if o > 0 && d.id[o-1] != 0 {
				prev = d.score[o-1]
			}
			if o+1 < len(d.id) && d.id[o+1] != 0 {
				next = d.score[o+1]
			}
			s := d.score[o] + p.Context*(prev+next)
			r := ranked{id: id, score: s}
			if top.Len() < limit {
				heap.Push(top, r)
			} else if r.better((*top)[0]) {
				(*top)[0] = r
				heap.Fix(top, 0)
			}
		}
	}
	if top.Len() == 0 {
		return nil, nil, nil
	}
	best := []ranked(*top)
	slices.SortFunc(best, func(a, b ranked) int {
		if a.better(b) {
			return -1
		}
		return 1
	})
	ids := make([]int64, len(best))
	at := make(map[int64]int, len(best))
	for i, r := range best {
		ids[i], at[r.id] = r.id, i
	}
	// The terms each hit holds, from the same lists, in the order searched.
	matched = make(map[int64][]string, len(best))
	for _, t := range kept {
		for _, l := range ps.lists[t] {
			for b := l.list; len(b) >= postingSize; b = b[postingSize:] {
				if id := decodePosting(b).chunk; hasKey(at, id) {
					matched[id] = append(matched[id], t)
				}
			}
		}
	}
	rows, err := tx.Query(ctx, `SELECT `+hitColumns+` FROM chunks c JOIN documents d ON d.id = c.document_id
		WHERE c.id = ANY($1::bigint[])`, ids)
	if err != nil {
		return nil, nil, err
	}
	got, err := collectHits(rows, false)
	if err != nil {
		return nil, nil, err
	}
	hits = make([]shifu.Hit, 0, len(got))
	slices.SortFunc(got, func(a, b shifu.Hit) int { return cmp.Compare(at[a.ID], at[b.ID]) })
	for _, h := range got {
		h.Score = best[at[h.ID]].score
		hits = append(hits, h)
	}
	return hits, matched, nil
}

func hasKey(m map[int64]int, k int64) bool {
	_, ok := m[k]
	return ok
}

// docScores are one document's chunks' scores during a search, indexed by
// ord: id 0 where no posting was seen.
type docScores struct {
	id    []int64
	dl    []int32
	score []float64
	tf    []int64 // a translation group's summed frequencies
}

// maxOrd bounds a chunk's position, so a corrupt posting cannot make a
// search allocate without bound (a 1,335-page manual has ~2,000 chunks).
const maxOrd = 1 << 22

// grow makes room for q's chunk and records its id and length.
func (d *docScores) grow(q posting) error {
	if q.ord < 0 || q.ord >= maxOrd {
		return fmt.Errorf("posting of chunk %d at position %d: out of range", q.chunk, q.ord)
	}
	if n := int(q.ord) + 1; n > len(d.id) {
		n = max(n, 2*len(d.id))
		d.id = append(d.id, make([]int64, n-len(d.id))...)
		d.dl = append(d.dl, make([]int32, n-len(d.dl))...)
		d.score = append(d.score, make([]float64, n-len(d.score))...)
		d.tf = append(d.tf, make([]int64, n-len(d.tf))...)
	}
	d.id[q.ord], d.dl[q.ord] = q.chunk, q.len
	return nil
}

// ranked is a candidate chunk and its score.
type ranked struct {
	id    int64
	score float64
}

// better: a higher score, then the lower id.
func (r ranked) better(o ranked) bool {
	if r.score != o.score {
		return r.score > o.score
	}
	return r.id < o.id
}

// rankHeap keeps the best candidates, the worst of them first.
type rankHeap []ranked

func (h rankHeap) Len() int           { return len(h) }
func (h rankHeap) Less(i, j int) bool { return h[j].better(h[i]) }
func (h rankHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rankHeap) Push(x any)        { *h = append(*h, x.(ranked)) }
func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Nearest returns the limit live chunks whose embeddings from model are
// closest (cosine) to vec, Score being the cosine similarity. Only vectors of
// the same model are compared: another model's space is another geometry.
// efSearch > 0 sets hnsw.ef_search when the plan walks the index.
func (db *DB) Nearest(ctx context.Context, tenant int64, vec []float32, model string, f shifu.Filter, efSearch int, limit int) ([]shifu.Hit, error) {
	if len(vec) == 0 || limit <= 0 {
		return nil, nil
	}
	var hits []shifu.Hit
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		hits, err = nearestPlanned(ctx, tx, vec, model, f, efSearch, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	return hits, nil
}

// Hybrid runs the lexical and the vector search side by side, each in a
// tenant transaction of its own: both are CPU-bound queries, and in two
// backends they run on two cores at once. The two lists may come from
// snapshots a publish apart; fusion does not mind.
func (db *DB) Hybrid(ctx context.Context, tenant int64, q shifu.SearchQuery) (shifu.Candidates, error) {
	var c shifu.Candidates
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
				c.Vector, err = nearestPlanned(ctx, tx, q.Vector, q.Model, q.Filter, q.EfSearch, q.VectorK)
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
		ps, err := readPostings(ctx, tx, all, q.Terms, q.Filter, q.BM25.MaxDF)
		if err != nil {
			return fmt.Errorf("postings: %w", err)
		}
		c.Stats = ps.stats
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
			if err := readMore(ctx, tx, &ps, terms, q.Filter, q.BM25.MaxDF); err != nil {
				return fmt.Errorf("postings: %w", err)
			}
			if c.Lexical, c.Matched, err = lexical(ctx, tx, terms, weights, groups, ps, q.BM25, q.LexicalK); err != nil {
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
func backoff(terms []string, weights []float64, bo map[string][]string, st shifu.TermStats, p shifu.BM25) ([]string, []float64) {
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
