package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// corpus builds tenants with small documents whose chunks carry hand-made
// terms and one-hot-ish vectors, so rankings are known in advance.
type corpus struct {
	db  *postgres.DB
	url string
}

// allTerms ranks as BM25 usually does and keeps every query term, however
// common: the tests' corpora are a few chunks.
var allTerms = shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1, Unigram: 0.5, Backoff: 1}

func newCorpus(t *testing.T) *corpus {
	db, url := pgtest.DB(t)
	return &corpus{db: db, url: url}
}

func (c *corpus) tenant(t *testing.T, name string) int64 {
	t.Helper()
	return pgtest.Tenant(t, c.url, name).ID
}

// version inserts a bare documents row (no chunks) for StoreChunks to fill.
func (c *corpus) version(t *testing.T, tenant int64, name, sha string, status shifu.Status) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := c.db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO documents (name, kind, sha256, size, status) VALUES ($1, 'manual', $2, 1, $3) RETURNING id`,
			name, sha, status).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// doc stores a ready document with one chunk per text; each chunk's vector
// points along axis vec[i].
func (c *corpus) doc(t *testing.T, tenant int64, name string, kind shifu.DocKind, equipment string, texts []string, axes []int) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := c.db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO documents (name, kind, sha256, size, equipment, status) VALUES ($1, $2, $3, 1, $4, 'ready') RETURNING id`,
			name, kind, fmt.Sprintf("%s-%d", name, tenant), equipment).Scan(&id)
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]shifu.IndexedChunk, len(texts))
	for i, tx := range texts {
		rows[i] = shifu.IndexedChunk{Chunk: shifu.Chunk{Ord: i, Text: tx, PageStart: i + 1, PageEnd: i + 1}, Terms: strings.Fields(strings.ToLower(tx))}
	}
	if err := c.db.StoreChunks(ctx, tenant, id, shifu.DocMeta{Title: name}, rows); err != nil {
		t.Fatal(err)
	}
	ids, _, err := c.db.Unembedded(ctx, tenant, id, "test-model")
	if err != nil {
		t.Fatal(err)
	}
	vecs := make([][]float32, len(ids))
	for i := range ids {
		vecs[i] = axis(axes[i])
	}
	if err := c.db.StoreEmbeddings(ctx, tenant, "test-model", ids, vecs); err != nil {
		t.Fatal(err)
	}
	return id
}

func axis(i int) []float32 {
	v := make([]float32, 16)
	v[i%16] = 1
	v[(i+1)%16] = 0.1
	return v
}

func TestLexicalRanksRareTermsAndIsolatesTenants(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	a, b := c.tenant(t, "alpha"), c.tenant(t, "beta")
	c.doc(t, a, "mill.pdf", shifu.KindManual, "", []string{
		"spindle stops when estop pressed",
		"coolant pump primes before spindle start",
		"alarm e-104 means spindle overload",
	}, []int{0, 1, 2})
	c.doc(t, b, "secret.pdf", shifu.KindManual, "", []string{"alarm e-104 beta secret procedure"}, []int{2})

	hits, st, err := c.db.Lexical(ctx, a, []string{"e-104", "spindle"}, shifu.Filter{}, allTerms, 10)
	if err != nil {
		t.Fatal(err)
	}
	if st.N != 3 || st.DF["spindle"] != 3 || st.DF["e-104"] != 1 {
		t.Fatalf("stats of tenant alpha = %+v, want N 3, df spindle 3, e-104 1", st)
	}
	if len(hits) != 3 || !strings.Contains(hits[0].Text, "e-104") {
		t.Fatalf("hits = %v, want the e-104 chunk first of 3", texts(hits))
	}
	for _, h := range hits {
		if strings.Contains(h.Text, "secret") {
			t.Fatalf("tenant alpha saw tenant beta's chunk %q", h.Text)
		}
	}
	// The vector search is isolated too, even for the exact vector of B's chunk.
	vh, err := c.db.Nearest(ctx, a, axis(2), "test-model", shifu.Filter{}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vh) != 3 || !strings.Contains(vh[0].Text, "e-104 means") || vh[0].Score < 0.99 {
		t.Fatalf("nearest = %v (top score %.3f), want alpha's e-104 chunk with cosine ~1", texts(vh), vh[0].Score)
	}
	for _, h := range vh {
		if strings.Contains(h.Text, "secret") {
			t.Fatalf("vector search of alpha returned beta's chunk")
		}
	}
	bh, _, err := c.db.Lexical(ctx, b, []string{"spindle"}, shifu.Filter{}, allTerms, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(bh) != 0 {
		t.Fatalf("tenant beta found %v for a word only alpha has", texts(bh))
	}
}

func TestFiltersDoNotStarve(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	a := c.tenant(t, "gamma")
	// 40 manual chunks closer to the query than the one note.
	var many []string
	var axes []int
	for i := range 40 {
		many = append(many, fmt.Sprintf("pump seal chapter %d", i))
		axes = append(axes, 3)
	}
	c.doc(t, a, "big.pdf", shifu.KindManual, "press-1", many, axes)
	note := c.doc(t, a, "tip.md", shifu.KindNote, "lathe-2", []string{"pump seal leaks: replace the o-ring"}, []int{5})

	for _, f := range []shifu.Filter{{Kind: shifu.KindNote}, {Equipment: "lathe-2"}, {Documents: []int64{note}}} {
		vh, err := c.db.Nearest(ctx, a, axis(3), "test-model", f, 0, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(vh) != 1 || vh[0].DocumentID != note {
			t.Fatalf("filter %+v: nearest = %v, want only the note", f, texts(vh))
		}
		lh, _, err := c.db.Lexical(ctx, a, []string{"pump", "seal"}, f, allTerms, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(lh) != 1 || lh[0].DocumentID != note {
			t.Fatalf("filter %+v: lexical = %v, want only the note", f, texts(lh))
		}
	}
	// Another model's vectors are never compared.
	vh, err := c.db.Nearest(ctx, a, axis(3), "other-model", shifu.Filter{}, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(vh) != 0 {
		t.Fatalf("search with another model's vector found %d chunks", len(vh))
	}
}

func TestNeighboursAndUnpublished(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	a := c.tenant(t, "delta")
	doc := c.doc(t, a, "proc.pdf", shifu.KindManual, "", []string{"step one", "step two", "step three", "step four"}, []int{0, 1, 2, 3})
	hits, _, err := c.db.Lexical(ctx, a, []string{"three"}, shifu.Filter{}, allTerms, 1)
	if err != nil || len(hits) != 1 {
		t.Fatalf("lexical: %v %v", hits, err)
	}
	nb, err := c.db.Neighbours(ctx, a, []int64{hits[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(nb); len(got) != 2 || got[0] != "step two" || got[1] != "step four" {
		t.Fatalf("neighbours of step three = %v", got)
	}
	// A document still in ingest is invisible to search.
	if err := c.db.SetStatus(ctx, a, doc, shifu.StatusEmbedding, "", shifu.Progress{}); err != nil {
		t.Fatal(err)
	}
	hits, _, err = c.db.Lexical(ctx, a, []string{"three"}, shifu.Filter{}, allTerms, 5)
	if err != nil || len(hits) != 0 {
		t.Fatalf("unpublished document searchable: %v %v", texts(hits), err)
	}
}

func TestGaps(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	a, b := c.tenant(t, "eps"), c.tenant(t, "zeta")
	conv, err := c.db.CreateConversation(ctx, a, shifu.Conversation{Channel: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"HEPA filter interval?", "  hepa filter interval?", "AGV alarm"} {
		if _, err := c.db.Exchange(ctx, a, conv, 0, q, shifu.Answer{Text: "not covered", Abstained: true}, "abstained"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.db.Exchange(ctx, a, conv, 0, "covered", shifu.Answer{Text: "yes [1]"}, ""); err != nil {
		t.Fatal(err)
	}
	gaps, err := c.db.GapGroups(ctx, a, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Newest first: AGV was asked last; the two HEPA questions are one group.
	if len(gaps) != 2 || gaps[0].Question != "AGV alarm" || gaps[1].Count != 2 || !strings.Contains(strings.ToLower(gaps[1].Question), "hepa") {
		t.Fatalf("gaps = %+v, want AGV then HEPA ×2", gaps)
	}
	if g, _ := c.db.GapGroups(ctx, b, "", 0); len(g) != 0 {
		t.Fatalf("tenant zeta sees %d gaps of eps", len(g))
	}
	if err := c.db.CloseGap(ctx, b, gaps[1].ID, 0, nil); err == nil {
		t.Fatal("tenant zeta closed a gap of eps")
	}
	if err := c.db.CloseGap(ctx, a, gaps[1].ID, 0, nil); err != nil {
		t.Fatal(err)
	}
	gaps, _ = c.db.GapGroups(ctx, a, "", 0)
	if len(gaps) != 1 || gaps[0].Question != "AGV alarm" {
		t.Fatalf("after closing HEPA, gaps = %+v", gaps)
	}
	h, err := c.db.History(ctx, a, 0, conv, 3)
	if err != nil || len(h) != 3 || h[2].Content != "yes [1]" || h[1].Content != "covered" {
		t.Fatalf("history = %+v, %v", h, err)
	}
	if _, err := c.db.History(ctx, b, 0, conv, 3); err == nil {
		t.Fatal("tenant zeta read a conversation of eps")
	}
}

func texts(hs []shifu.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Text
	}
	return out
}

// TestLexicalScoreIsBM25 checks the score against the formula computed here,
// with fractional k1, b and context: PostgreSQL infers an integer type for a
// bare parameter in `$3 + 1`, and pgx then truncated k1 1.2 to 1 and b 0.75
// to 0 without a word.
func TestLexicalScoreIsBM25(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	ten := c.tenant(t, "acme")
	texts := []string{
		"pump pump filter",
		"valve seat gasket ring bolt nut washer",
		"pump",
		"motor",
	}
	c.doc(t, ten, "m.pdf", shifu.KindManual, "", texts, []int{0, 1, 2, 3})
	avg := (3.0 + 7 + 1 + 1) / 4
	bm25 := func(k1, b, tf, dl float64) float64 {
		return shifu.IDF(4, 2) * tf * (k1 + 1) / (tf + k1*(1-b+b*dl/avg))
	}
	for _, p := range []shifu.BM25{
		{K1: 1.2, B: 0.75, MaxDF: 1},
		{K1: 2.5, B: 0.3, MaxDF: 1},
		{K1: 0.6, B: 0.9, MaxDF: 1, Context: 0.25},
	} {
		hits, _, err := c.db.Lexical(ctx, ten, []string{"pump"}, shifu.Filter{}, p, 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, h := range hits {
			got[h.Text] = h.Score
		}
		first, third := bm25(p.K1, p.B, 2, 3), bm25(p.K1, p.B, 1, 1)
		// Chunks 0 and 2 are not neighbours (ord 0 and 2): no context between them.
		want := map[string]float64{texts[0]: first, texts[2]: third}
		if len(got) != 2 {
			t.Fatalf("%+v: hits %v, want the two pump chunks", p, got)
		}
		for k, w := range want {
			if d := got[k] - w; d > 1e-9 || d < -1e-9 {
				t.Errorf("%+v: score of %q = %.6f, want %.6f", p, k, got[k], w)
			}
		}
	}
	// Context: the chunk next to a match borrows Context of its score only
	// when it matches itself (neighbours are matching chunks).
	hits, _, err := c.db.Lexical(ctx, ten, []string{"pump", "valve"}, shifu.Filter{}, shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1, Context: 0.25}, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, h := range hits {
		got[h.Text] = h.Score
	}
	valve := shifu.IDF(4, 1) * 1 * 2.2 / (1 + 1.2*(1-0.75+0.75*7/avg))
	pump0 := bm25(1.2, 0.75, 2, 3)
	pump2 := bm25(1.2, 0.75, 1, 1)
	if w := valve + 0.25*(pump0+pump2); abs(got[texts[1]]-w) > 1e-9 {
		t.Errorf("valve chunk with context = %.6f, want %.6f", got[texts[1]], w)
	}
	if w := pump0 + 0.25*valve; abs(got[texts[0]]-w) > 1e-9 {
		t.Errorf("first pump chunk with context = %.6f, want %.6f", got[texts[0]], w)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestHybridTermWeights checks the query-side weights of feedback terms:
// a term's BM25 contribution scales with its weight, and weight 0 drops it.
func TestHybridTermWeights(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	ten := c.tenant(t, "acme")
	texts := []string{"pump seal", "valve seat", "motor", "fan"}
	c.doc(t, ten, "m.pdf", shifu.KindManual, "", texts, []int{0, 1, 2, 3})
	p := shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1}
	score := func(w []float64) map[string]float64 {
		t.Helper()
		return lexicalScores(t, c.db, ten, shifu.SearchQuery{Terms: []string{"pump", "valve"}, Weights: w, BM25: p, LexicalK: 10})
	}
	full, half, none := score(nil), score([]float64{1, 0.5}), score([]float64{1, 0})
	if len(full) != 2 || abs(half["valve seat"]-full["valve seat"]/2) > 1e-9 || half["pump seal"] != full["pump seal"] {
		t.Fatalf("weights 1, 0.5: %v; unweighted %v", half, full)
	}
	if _, ok := none["valve seat"]; ok || len(none) != 1 {
		t.Fatalf("weight 0 kept the term: %v", none)
	}
	if _, err := c.db.Hybrid(ctx, ten, shifu.SearchQuery{Terms: []string{"pump"}, Weights: []float64{1, 1}, BM25: p, LexicalK: 10}); err == nil {
		t.Fatal("2 weights for 1 term accepted")
	}
	// The parameters are the searcher's to set; none set is no ranking.
	if _, err := c.db.Hybrid(ctx, ten, shifu.SearchQuery{Terms: []string{"pump"}, LexicalK: 10}); err == nil || !strings.Contains(err.Error(), "k1") {
		t.Fatalf("zero BM25 parameters: %v, want them refused", err)
	}
	// Each lexical hit says which of the terms searched its chunk holds.
	cand, err := c.db.Hybrid(ctx, ten, shifu.SearchQuery{Terms: []string{"pump", "seal", "valve", "gasket"}, BM25: p, LexicalK: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cand.Lexical {
		m := cand.Matched[h.ID]
		slices.Sort(m)
		want := map[string]string{"pump seal": "pump seal", "valve seat": "valve"}[h.Text]
		if strings.Join(m, " ") != want {
			t.Errorf("%q holds %v of the terms, want %q", h.Text, m, want)
		}
	}
	if len(cand.Lexical) != 2 {
		t.Fatalf("lexical hits %v", cand.Lexical)
	}
}

// TestHybridBackoff: a term no chunk holds is searched by the terms Backoff
// gives, at its weight times BM25.Backoff over Unigram; a term some chunk
// holds is not backed off.
func TestHybridBackoff(t *testing.T) {
	c := newCorpus(t)
	ten := c.tenant(t, "acme")
	texts := []string{"删 除 文 件", "复 制 文 件", "网 络", "打 印"}
	c.doc(t, ten, "m.pdf", shifu.KindManual, "", texts, []int{0, 1, 2, 3})
	p := shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1, Unigram: 0.3}
	search := func(terms []string, bo map[string][]string, backoff float64) map[string]float64 {
		t.Helper()
		p := p
		p.Backoff = backoff
		return lexicalScores(t, c.db, ten, shifu.SearchQuery{Terms: terms, Backoff: bo, BM25: p, LexicalK: 10})
	}
	bo := map[string][]string{"删了": {"删"}, "文件": {"文", "件"}}
	got := search([]string{"删了"}, bo, 0.6)
	direct := search([]string{"删"}, nil, 0.6)
	if len(got) != 1 || abs(got[texts[0]]-2*direct[texts[0]]) > 1e-9 {
		t.Fatalf("backed off: %v; 删 as a unigram: %v (want twice: 0.6 against 0.3)", got, direct)
	}
	if off := search([]string{"删了"}, bo, -1); len(off) != 0 {
		t.Fatalf("back-off off: %v", off)
	}
	// 文件 is no term here (the texts are single characters), but 删 is.
	if got := search([]string{"删", "网"}, map[string][]string{"删": {"文"}}, 0.6); len(got) != 2 || got[texts[1]] != 0 {
		t.Fatalf("a term chunks hold was backed off: %v", got)
	}
}

// lexicalScores runs q and returns each lexical hit's score by its text.
func lexicalScores(t *testing.T, db *postgres.DB, tenant int64, q shifu.SearchQuery) map[string]float64 {
	t.Helper()
	cand, err := db.Hybrid(context.Background(), tenant, q)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, h := range cand.Lexical {
		out[h.Text] = h.Score
	}
	return out
}

// TestLanguages: a tenant's languages are those of its ready documents,
// none of another tenant's, and none of a document still in ingest.
func TestLanguages(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	a, b := c.tenant(t, "lang-a"), c.tenant(t, "lang-b")
	en := c.doc(t, a, "en.pdf", shifu.KindManual, "", []string{"spindle"}, []int{0})
	zh := c.doc(t, a, "zh.pdf", shifu.KindManual, "", []string{"主轴"}, []int{1})
	c.doc(t, b, "b.pdf", shifu.KindManual, "", []string{"other"}, []int{2})
	set := func(tenant, id int64, lang string) {
		err := c.db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE documents SET language = $2 WHERE id = $1`, id, lang)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	set(a, en, "en")
	set(a, zh, "zh")
	if got, err := c.db.Languages(ctx, a); err != nil || !slices.Equal(got, []string{"en", "zh"}) {
		t.Fatalf("tenant a: %v %v, want [en zh]", got, err)
	}
	if got, err := c.db.Languages(ctx, b); err != nil || len(got) != 0 {
		t.Fatalf("tenant b (language unknown): %v %v, want none", got, err)
	}
	if err := c.db.SetStatus(ctx, a, zh, shifu.StatusEmbedding, "", shifu.Progress{}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.db.Languages(ctx, a); err != nil || !slices.Equal(got, []string{"en"}) {
		t.Fatalf("tenant a with zh.pdf in ingest: %v %v, want [en]", got, err)
	}
}

// TestHybridGroupsSumFrequencies: a structured group (a word's translations)
// counts as one term: its members' frequencies in a chunk are summed before
// BM25 saturates them, its document frequency is the sum of theirs, and it
// weighs its largest member weight; a member no chunk holds drops out.
func TestHybridGroupsSumFrequencies(t *testing.T) {
	c := newCorpus(t)
	ten := c.tenant(t, "acme")
	texts := []string{"spindle spindle chuck", "chuck", "motor fan belt", "coolant"}
	c.doc(t, ten, "m.pdf", shifu.KindManual, "", texts, []int{0, 1, 2, 3})
	avg := (3.0 + 1 + 3 + 1) / 4
	p := shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1}
	got := lexicalScores(t, c.db, ten, shifu.SearchQuery{
		Terms:   []string{"spindle", "chuck", "quill", "motor"},
		Weights: []float64{0.5, 0.25, 1, 1},
		Groups:  []int{1, 1, 1, 0},
		BM25:    p, LexicalK: 10,
	})
	bm25 := func(idf, tf, dl float64) float64 { return idf * tf * 2.2 / (tf + 1.2*(1-0.75+0.75*dl/avg)) }
	// spindle is in 1 chunk, chuck in 2: the group's df is 3; quill, in no
	// chunk, neither counts nor lends its weight of 1.
	group := shifu.IDF(4, 3) * 0.5
	want := map[string]float64{
		texts[0]: bm25(group, 3, 3), // spindle twice + chuck once
		texts[1]: bm25(group, 1, 1),
		texts[2]: bm25(shifu.IDF(4, 1), 1, 3),
	}
	if len(got) != len(want) {
		t.Fatalf("hits %v, want %v", got, want)
	}
	for k, w := range want {
		if abs(got[k]-w) > 1e-9 {
			t.Errorf("score of %q = %.6f, want %.6f", k, got[k], w)
		}
	}
}
