package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgvector/pgvector-go"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
	"github.com/shifu-factory/shifu/internal/terms"
)

// One PDF engine and one dictionary per test binary: each costs seconds.
var (
	testParser   *parse.Parser
	testAnalyzer *terms.Analyzer
)

func TestMain(m *testing.M) {
	var err error
	if testParser, err = parse.New(context.Background(), parse.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if testAnalyzer, err = terms.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testParser.Close()
	os.Exit(code)
}

type fixture struct {
	svc    *Service
	db     *postgres.DB
	ring   *keyring.Ring
	tenant int64
	url    string
}

func setup(t *testing.T, emb Embedder, o Options) *fixture {
	t.Helper()
	db, url := pgtest.DB(t)
	m, _ := keyring.ParseMaster(keyring.Generate())
	ring := keyring.NewRing(m, func(ctx context.Context, id int64) (string, []byte, error) {
		tn, w, err := db.TenantByID(ctx, id)
		return tn.Name, w, err
	})
	w, _ := m.NewDataKey("acme")
	tn, err := postgres.CreateTenant(context.Background(), url, "acme", w)
	if err != nil {
		t.Fatal(err)
	}
	if emb == nil {
		emb, err = llm.NewOffline(256)
		if err != nil {
			t.Fatal(err)
		}
	}
	svc, err := New(db, ring, testParser, testAnalyzer, emb, o)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, ring: ring, tenant: tn.ID, url: url}
}

// manual is a Markdown manual with n sections, each long enough to chunk apart.
func manual(title string, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", title)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "## Section %d: spindle check %d\n\n", i, i)
		for j := 0; j < 12; j++ {
			fmt.Fprintf(&b, "Step %d.%d: inspect the spindle bearing number %d and record alarm E-%d in the log. ", i, j, j, 100+i)
		}
		b.WriteString("\n\n")
	}
	return []byte(b.String())
}

func liveChunks(t *testing.T, f *fixture, name string) (docIDs map[int64]bool, n int) {
	t.Helper()
	docIDs = map[int64]bool{}
	err := f.db.InTenant(context.Background(), f.tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT c.document_id FROM chunks c JOIN documents d ON d.id = c.document_id
			WHERE d.name = $1 AND d.status = 'ready'`, name)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			docIDs[id] = true
			n++
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return docIDs, n
}

func TestSameBytesChangeNothing(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	data := manual("Lathe", 3)
	d1, dup, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "lathe.md", Data: data})
	if err != nil || dup {
		t.Fatalf("first add: dup %v err %v", dup, err)
	}
	if err := f.svc.process(ctx, f.tenant, d1.VersionID); err != nil {
		t.Fatal(err)
	}
	before, _ := f.db.Document(ctx, f.tenant, d1.ID)
	d2, dup, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "copy-of-lathe.md", Data: data})
	if err != nil || !dup || d2.ID != d1.ID {
		t.Fatalf("second add: id %d (first %d) dup %v err %v", d2.ID, d1.ID, dup, err)
	}
	docs, _ := f.db.Documents(ctx, f.tenant, false)
	after, _ := f.db.Document(ctx, f.tenant, d1.ID)
	if len(docs) != 1 || after.UpdatedAt != before.UpdatedAt || after.Chunks != before.Chunks {
		t.Fatalf("re-upload changed something: %d documents, %+v -> %+v", len(docs), before, after)
	}
}

// TestRevisionReplacesAtomically: a new revision keeps the document's id and
// becomes its live version in one step; the old version stays, archived.
func TestRevisionReplacesAtomically(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	v1, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.md", Data: manual("Press rev A", 2), Revision: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.process(ctx, f.tenant, v1.VersionID); err != nil {
		t.Fatal(err)
	}
	v2, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.md", Data: manual("Press rev B", 4), Revision: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.ID != v1.ID || v2.VersionID == v1.VersionID {
		t.Fatalf("new revision: document %d version %d (stored %d), want document %d version 2", v2.ID, v2.Version, v2.VersionID, v1.ID)
	}
	// While v2 is queued and while it is half-way (chunks stored, not yet
	// embedded), readers still see v1 alone.
	if ids, _ := liveChunks(t, f, "press.md"); len(ids) != 1 || !ids[v1.VersionID] {
		t.Fatalf("live before v2 ingest: %v", ids)
	}
	if err := f.db.StoreChunks(ctx, f.tenant, v2.VersionID, shifu.DocMeta{}, []shifu.IndexedChunk{{Chunk: shifu.Chunk{Ord: 0, Text: "half"}}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := liveChunks(t, f, "press.md"); len(ids) != 1 || !ids[v1.VersionID] {
		t.Fatalf("live during v2 ingest: %v", ids)
	}
	if err := f.svc.process(ctx, f.tenant, v2.VersionID); err != nil {
		t.Fatal(err)
	}
	ids, n := liveChunks(t, f, "press.md")
	if len(ids) != 1 || !ids[v2.VersionID] || n == 0 {
		t.Fatalf("live after v2: %v (%d chunks)", ids, n)
	}
	d, err := f.db.Document(ctx, f.tenant, v1.ID)
	if err != nil || d.Version != 2 || d.Status != shifu.StatusReady || len(d.Versions) != 2 ||
		d.Versions[0].Status != shifu.StatusArchived || d.Versions[0].Revision != "A" || d.Versions[1].Revision != "B" || !d.Versions[1].Live {
		t.Fatalf("after v2: %+v, %v", d, err)
	}
	// Every posting belongs to a chunk.
	var orphans, postings int
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE c.id IS NULL), count(*)
			FROM (`+decodedPostings+`) t LEFT JOIN chunks c ON c.id = t.chunk_id`).Scan(&orphans, &postings)
	})
	if err != nil || orphans != 0 || postings == 0 {
		t.Fatalf("postings: %d orphaned of %d, err %v", orphans, postings, err)
	}
	// BM25 reads each chunk's document, position and length from its
	// postings, and N and the mean length from the documents: the copies
	// must agree with the chunks.
	var stale, wrongTotals int
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+decodedPostings+`) t JOIN chunks c ON c.id = t.chunk_id
			WHERE (t.document_id, t.ord, t.dl) IS DISTINCT FROM (c.document_id, c.ord, c.nterms)`).Scan(&stale)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM documents d,
			LATERAL (SELECT count(*) AS n, coalesce(sum(nterms), 0) AS terms FROM chunks WHERE document_id = d.id) c
			WHERE (d.chunks, d.nterms) IS DISTINCT FROM (c.n, c.terms)`).Scan(&wrongTotals)
	})
	if err != nil || stale != 0 || wrongTotals != 0 {
		t.Fatalf("%d postings disagree with their chunk, %d documents with their chunks' totals; err %v", stale, wrongTotals, err)
	}
	listsAgree(t, f)
}

// decodedPostings is the packed posting lists (migration 018: 20 bytes a
// posting, big-endian chunk id, ord, tf, length) as a row per posting.
const decodedPostings = `SELECT pl.term, pl.document_id, pl.n, length(pl.list) AS bytes, g AS i,
		('x' || encode(substring(pl.list FROM g*20 + 1 FOR 8), 'hex'))::bit(64)::bigint AS chunk_id,
		('x' || encode(substring(pl.list FROM g*20 + 9 FOR 4), 'hex'))::bit(32)::int AS ord,
		('x' || encode(substring(pl.list FROM g*20 + 13 FOR 4), 'hex'))::bit(32)::int AS tf,
		('x' || encode(substring(pl.list FROM g*20 + 17 FOR 4), 'hex'))::bit(32)::int AS dl
	FROM posting_lists pl, generate_series(0, pl.n - 1) g`

// listsAgree checks that the packed posting lists search reads (migration
// 018) are whole and say what the chunks say: a list is n postings long, in
// chunk order, names each chunk once and only the list's own document's;
// and a chunk's term frequencies over all lists add up to its length, so
// every term the analyzer gave it is in some list.
func listsAgree(t *testing.T, f *fixture) {
	t.Helper()
	var torn, unordered, lists, short int
	err := f.db.InTenant(context.Background(), f.tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(context.Background(), `WITH p AS (`+decodedPostings+`)
			SELECT (SELECT count(*) FROM posting_lists WHERE length(list) <> n*20 OR n < 1),
				(SELECT count(*) FROM (SELECT ord <= lag(ord) OVER (PARTITION BY term, document_id ORDER BY i) AS back FROM p) o WHERE back),
				(SELECT count(*) FROM posting_lists)`).Scan(&torn, &unordered, &lists)
		if err != nil {
			return err
		}
		return tx.QueryRow(context.Background(), `WITH p AS (`+decodedPostings+`)
			SELECT count(*) FROM chunks c LEFT JOIN (SELECT chunk_id, document_id, sum(tf) AS tf FROM p GROUP BY chunk_id, document_id) s
				ON s.chunk_id = c.id AND s.document_id = c.document_id
			WHERE coalesce(s.tf, 0) <> c.nterms`).Scan(&short)
	})
	if err != nil || torn != 0 || unordered != 0 || short != 0 || lists == 0 {
		t.Fatalf("posting lists: %d torn, %d out of chunk order, %d chunks whose postings do not add up to their length (of %d lists); err %v",
			torn, unordered, short, lists, err)
	}
}

func TestCrashMidEmbeddingResumes(t *testing.T) {
	ctx := context.Background()
	var broken atomic.Bool
	srv := llmtest.NewServer(t, llmtest.Options{Dim: 64, Fail: func(n int, r llmtest.Request) *llmtest.Step {
		if broken.Load() && n >= 2 {
			return &llmtest.Step{Status: 500}
		}
		return nil
	}})
	emb, err := llm.NewEmbedder(llm.EmbedConfig{Provider: "compatible", BaseURL: srv.BaseURL(), Model: "test-embed", Dim: 64, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, emb, Options{EmbedBatch: 2})
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "mill.md", Data: manual("Mill", 8)})
	if err != nil {
		t.Fatal(err)
	}
	broken.Store(true)
	if err := f.svc.process(ctx, f.tenant, d.VersionID); err == nil {
		t.Fatal("the embedding server failed but process did not")
	}
	mid, _ := f.db.Document(ctx, f.tenant, d.ID)
	left, _, _ := f.db.Unembedded(ctx, f.tenant, d.VersionID, emb.Model())
	if mid.Status != shifu.StatusEmbedding || mid.Chunks < 6 || len(left) != mid.Chunks-4 {
		t.Fatalf("after the crash: status %s, %d chunks, %d unembedded (want %d)", mid.Status, mid.Chunks, len(left), mid.Chunks-4)
	}
	embedCalls := srv.Count("/embeddings")
	broken.Store(false)
	if err := f.svc.process(ctx, f.tenant, d.VersionID); err != nil {
		t.Fatal(err)
	}
	final, _ := f.db.Document(ctx, f.tenant, d.ID)
	left, _, _ = f.db.Unembedded(ctx, f.tenant, d.VersionID, emb.Model())
	_, n := liveChunks(t, f, "mill.md")
	if final.Status != shifu.StatusReady || len(left) != 0 || n != mid.Chunks || final.Chunks != mid.Chunks {
		t.Fatalf("after resume: status %s, %d live chunks (want %d), %d unembedded", final.Status, n, mid.Chunks, len(left))
	}
	// The stages' times survive the crash; the resumed embedding adds to them.
	if ms, fs := mid.Progress.Stages, final.Progress.Stages; ms.Publish != 0 || fs.Publish < 1 || fs.Embed < ms.Embed || fs.Store != ms.Store {
		t.Errorf("stages after the crash %+v, after resuming %+v", ms, fs)
	}
	// Only the missing chunks were embedded again.
	if again := srv.Count("/embeddings") - embedCalls; again != (mid.Chunks-4+1)/2 {
		t.Fatalf("resume made %d embedding calls, want %d", again, (mid.Chunks-4+1)/2)
	}
}

func TestBadInputIsRefusedClearly(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{MaxBytes: 1 << 20})
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	for _, c := range []struct {
		name string
		data []byte
		kind error
		want []string
	}{
		{"empty.pdf", nil, shifu.ErrInvalid, []string{"empty.pdf", "empty"}},
		{"photo.pdf", png, shifu.ErrInvalid, []string{"photo.pdf", "PDF"}},
		{"huge.txt", bytes.Repeat([]byte("a"), 2<<20), shifu.ErrTooLarge, []string{"huge.txt", "limit"}},
	} {
		_, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: c.name, Data: c.data})
		if !errors.Is(err, c.kind) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.kind)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(shifu.Message(err), w) {
				t.Errorf("%s: message %q does not mention %q", c.name, shifu.Message(err), w)
			}
		}
	}
	if docs, _ := f.db.Documents(ctx, f.tenant, false); len(docs) != 0 {
		t.Fatalf("refused uploads left %d documents", len(docs))
	}
}

// TestWorkersIngestAndFailCleanly runs the real job path: River workers pick
// the jobs up; a corrupt PDF fails with a plain reason while a good file in
// the same batch becomes ready.
func TestWorkersIngestAndFailCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := setup(t, nil, Options{Workers: 2})
	if err := f.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.svc.Stop(context.Background())
	bad, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "broken.pdf", Data: []byte("%PDF-1.7\n1 0 obj garbage that is not a pdf\n")})
	if err != nil {
		t.Fatal(err)
	}
	good, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "good.md", Data: manual("Good", 2)})
	if err != nil {
		t.Fatal(err)
	}
	note, _, err := f.svc.AddNote(ctx, f.tenant, shifu.Note{Title: "Coolant foams", Equipment: "CNC-3000", Fix: "Use 5% concentrate", Author: "Li"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := f.svc.Wait(ctx, f.tenant, []int64{bad.VersionID, good.VersionID, note.VersionID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if docs[0].Status != shifu.StatusFailed || !strings.Contains(docs[0].Error, "broken.pdf") {
		t.Errorf("corrupt PDF: status %s, error %q", docs[0].Status, docs[0].Error)
	}
	if docs[1].Status != shifu.StatusReady || docs[1].Chunks == 0 {
		t.Errorf("good file: %+v", docs[1])
	}
	// Whoever sees it ready sees every stage's time, publishing's included.
	if st := docs[1].Progress.Stages; st.Publish < 1 || !strings.Contains(st.String(), "publish") {
		t.Errorf("good file's stages: %+v (%s)", st, st)
	}
	if docs[2].Status != shifu.StatusReady || docs[2].Kind != shifu.KindNote || docs[2].UploadedBy != "Li" {
		t.Errorf("note: %+v", docs[2])
	}
}

// spaces is an older analysis: words split at spaces, nothing more.
type spaces struct{}

func (spaces) Terms(s string) []string { return strings.Fields(strings.ToLower(s)) }
func (spaces) Version() string         { return "0-spaces" }

// TestReindexRebuildsOldPostings: a document indexed by an older analysis
// is not found by the words questions are now cut into; Reindex rebuilds its
// postings from the stored text, keeps chunks and embeddings, and is then a
// no-op.
func TestReindexRebuildsOldPostings(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	old, err := New(f.db, f.ring, testParser, spaces{}, f.svc.embedder, Options{})
	if err != nil {
		t.Fatal(err)
	}
	text := "# 维护\n\n工控机能直接断电吗？先关机，再切断电源。The spindle drive needs 10 minutes to cool.\n"
	d, _, err := old.Add(ctx, f.tenant, shifu.Upload{Name: "ipc.md", Data: []byte(text)})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.process(ctx, f.tenant, d.VersionID); err != nil {
		t.Fatal(err)
	}
	find := func(term string) int {
		hits, _, err := f.db.Lexical(ctx, f.tenant, []string{term}, shifu.Filter{}, shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(hits)
	}
	embedded := func() (ids []int64) {
		err := f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT id FROM chunks WHERE document_id = $1 AND embedding IS NOT NULL ORDER BY id`, d.VersionID)
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	before := embedded()
	if find("工控机") != 0 || find("关机") != 0 || find("spindl") != 0 || len(before) == 0 {
		t.Fatalf("old postings: 工控机 %d, 关机 %d, spindl %d, %d embedded", find("工控机"), find("关机"), find("spindl"), len(before))
	}
	stale, err := f.db.Stale(ctx, f.tenant, testAnalyzer.Version())
	if err != nil || len(stale) != 1 || stale[0] != d.VersionID {
		t.Fatalf("stale = %v, %v", stale, err)
	}
	// A document whose chunks changed under it is left alone.
	cs, err := f.db.ChunkTexts(ctx, f.tenant, d.VersionID)
	if err != nil || len(cs) == 0 {
		t.Fatalf("chunk texts: %v %v", cs, err)
	}
	err = f.db.Reterm(ctx, f.tenant, d.VersionID, testAnalyzer.Version(), []shifu.IndexedChunk{{Chunk: shifu.Chunk{ID: -1}, Terms: []string{"x"}}})
	if !errors.Is(err, shifu.ErrConflict) || find("x") != 0 {
		t.Fatalf("reterm of other chunks: %v, x found %d", err, find("x"))
	}

	n, err := f.svc.Reindex(ctx, f.tenant)
	if err != nil || n != 1 {
		t.Fatalf("reindex: %d, %v", n, err)
	}
	if find("工控机") == 0 || find("关机") == 0 || find("spindl") == 0 || find("spindle") != 0 {
		t.Fatalf("new postings: 工控机 %d, 关机 %d, spindl %d, spindle %d", find("工控机"), find("关机"), find("spindl"), find("spindle"))
	}
	if after := embedded(); !slices.Equal(after, before) {
		t.Fatalf("embedded chunks %v, were %v", after, before)
	}
	var nterms, sum int64
	var version string
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT d.nterms, d.analyzer, (SELECT sum(nterms) FROM chunks WHERE document_id = d.id)
			FROM documents d WHERE d.id = $1`, d.VersionID).Scan(&nterms, &version, &sum)
	})
	if err != nil || nterms != sum || version != testAnalyzer.Version() {
		t.Fatalf("document: nterms %d (chunks %d), analyzer %q, %v", nterms, sum, version, err)
	}
	if n, err := f.svc.Reindex(ctx, f.tenant); err != nil || n != 0 {
		t.Fatalf("second reindex: %d, %v", n, err)
	}
	listsAgree(t, f)
}

// TestHostileFilesDoNotStallOthers: one tenant's 8 MB one-line files (words,
// and a single 8 MB "word"), a token over 2,047 bytes and HTML nested 600
// deep each ingest or fail once with their reason, while another tenant's
// small manual ingests beside them.
func TestHostileFilesDoNotStallOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := setup(t, nil, Options{Workers: 2})
	w, err := f.ring.Master().NewDataKey("beta")
	if err != nil {
		t.Fatal(err)
	}
	beta, err := postgres.CreateTenant(ctx, f.url, "beta", w)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.svc.Stop(context.Background())
	var words strings.Builder
	for i := 0; words.Len() < 8<<20; i++ {
		fmt.Fprintf(&words, "spindle%d bearing alarm ", i%5000)
	}
	deep := "<html><body><h1>Deep</h1>" + strings.Repeat("<div>", 600) + "coolant pump " + strings.Repeat("<span>", 100) +
		"relay" + strings.Repeat("</div>", 600) + "</body></html>"
	files := map[string][]byte{
		"words.txt": []byte(words.String()),
		"blob.txt":  bytes.Repeat([]byte("x"), 8<<20),
		"token.md":  []byte("# Token\n\nThe spindle " + strings.Repeat("y", 3000) + " stops.\n"),
		"deep.html": []byte(deep),
	}
	var ids []int64
	names := map[int64]string{}
	for name, data := range files {
		d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: name, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.VersionID)
		names[d.VersionID] = name
	}
	small, _, err := f.svc.Add(ctx, beta.ID, shifu.Upload{Name: "small.md", Data: manual("Small", 2)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := f.svc.Wait(ctx, beta.ID, []int64{small.VersionID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != shifu.StatusReady {
		t.Fatalf("the other tenant's manual: %s %q", got[0].Status, got[0].Error)
	}
	t.Logf("the other tenant's manual was ready after %s", time.Since(start))
	docs, err := f.svc.Wait(ctx, f.tenant, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("all hostile files done after %s", time.Since(start))
	for _, d := range docs {
		switch name := names[d.VersionID]; {
		case d.Status == shifu.StatusFailed && (strings.Contains(d.Error, "internal") || !strings.Contains(d.Error, name)):
			t.Errorf("%s failed without its reason: %q", name, d.Error)
		case d.Status != shifu.StatusReady && d.Status != shifu.StatusFailed:
			t.Errorf("%s: %s", name, d.Status)
		case (name == "token.md" || name == "deep.html" || name == "words.txt") && d.Status != shifu.StatusReady:
			t.Errorf("%s did not ingest: %s %q", name, d.Status, d.Error)
		}
	}
}

// TestDeadlineCoversEveryStage: a document that cannot be read within the
// deadline fails as bad input (once, no retry), saying so.
func TestDeadlineCoversEveryStage(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{Deadline: time.Nanosecond})
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "slow.md", Data: manual("Slow", 3)})
	if err != nil {
		t.Fatal(err)
	}
	err = f.svc.process(ctx, f.tenant, d.VersionID)
	if !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(shifu.Message(err), "took longer than") {
		t.Fatalf("err = %v, want bad input that took too long", err)
	}
}

// TestFairnessLeavesAWorker: one tenant holds at most the workers less one
// while another tenant waits, and every worker when it is alone.
func TestFairnessLeavesAWorker(t *testing.T) {
	waiting := func() bool { return true }
	alone := func() bool { return false }
	f := newFairness(3)
	first, second, third := f.enter(1, waiting), f.enter(1, waiting), f.enter(1, waiting)
	if !first || !second || third {
		t.Fatal("tenant 1 should get two of three workers, not three")
	}
	if !f.enter(2, waiting) {
		t.Fatal("tenant 2 found no worker")
	}
	f.leave(1)
	if !f.enter(1, waiting) {
		t.Fatal("tenant 1 not let in again after one of its jobs ended")
	}
	if one := newFairness(1); !one.enter(1, waiting) || one.enter(1, waiting) {
		t.Fatal("one worker: one job per tenant")
	}
	solo := newFairness(2)
	if first, second := solo.enter(1, alone), solo.enter(1, alone); !first || !second {
		t.Fatal("a tenant alone in the queue should get both workers")
	}
}

// TestLocalVectorsGoInWithChunks: the offline embedder's vectors are stored
// by the chunks' own insert (every row of one transaction, never updated:
// one xmin), each the vector its text gets, with the model recorded and the
// embedding stage's time kept; a hosted embedder's are stored after
// (TestCrashMidEmbeddingResumes).
func TestLocalVectorsGoInWithChunks(t *testing.T) {
	ctx := context.Background()
	emb, err := llm.NewOffline(256)
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, emb, Options{EmbedBatch: 3})
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "mill.md", Data: manual("Mill", 8)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.process(ctx, f.tenant, d.VersionID); err != nil {
		t.Fatal(err)
	}
	var chunks, embedded, xmins int
	var text string
	var vec pgvector.HalfVector
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE embedding IS NOT NULL AND embed_model = $2), count(DISTINCT xmin::text)
			FROM chunks WHERE document_id = $1`, d.VersionID, emb.Model()).Scan(&chunks, &embedded, &xmins)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT text, embedding FROM chunks WHERE document_id = $1 ORDER BY ord DESC LIMIT 1`, d.VersionID).Scan(&text, &vec)
	})
	if err != nil || chunks < 6 || embedded != chunks || xmins != 1 {
		t.Fatalf("%d chunks, %d embedded by %s, written by %d transactions; err %v", chunks, embedded, emb.Model(), xmins, err)
	}
	want := emb.EmbedOne(text)
	for i, x := range vec.Slice() {
		w := float32(0)
		if i < len(want) {
			w = want[i]
		}
		if math.Abs(float64(x-w)) > 1e-3 {
			t.Fatalf("last chunk's vector at %d: %v, its text's %v", i, x, w)
		}
	}
	final, _ := f.db.Document(ctx, f.tenant, d.ID)
	if final.Status != shifu.StatusReady || final.Progress.ChunksEmbedded != chunks {
		t.Errorf("status %s, %d of %d chunks counted embedded", final.Status, final.Progress.ChunksEmbedded, chunks)
	}
}
