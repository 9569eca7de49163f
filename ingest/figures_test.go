package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/testenv"
)

// gate is a real parser whose second reads (ParseRest: the figures pass)
// wait for open to be closed, or for their context to end; kept counts
// those given the first pass's reading.
type gate struct {
	*parse.Parser
	open        chan struct{}
	whole, kept atomic.Int32
}

func (g *gate) ParseRest(ctx context.Context, name string, data []byte, first *parse.Doc, progress func(done, total int)) (*parse.Doc, error) {
	g.whole.Add(1)
	if first != nil {
		g.kept.Add(1)
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Parser.ParseRest(ctx, name, data, first, progress)
}

// manualWithFigure is 20 text pages of LinuxCNC Getting Started and a
// scanned copy of the page after them (an image, no text layer), with a
// word the scanned page holds and the text pages do not.
func manualWithFigure(t *testing.T) ([]byte, string) {
	t.Helper()
	testenv.Tools(t, "pdfseparate", "pdfunite", "pdftoppm", "img2pdf", "pdftotext", "tesseract")
	src := filepath.Join(testenv.Corpus(t, "LinuxCNC_Getting_Started.pdf"), "LinuxCNC_Getting_Started.pdf")
	dir := t.TempDir()
	run := func(name string, args ...string) []byte {
		t.Helper()
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		return out
	}
	const first, last = 5, 24 // the text pages; last+1 is scanned
	run("pdfseparate", "-f", fmt.Sprint(first), "-l", fmt.Sprint(last), src, filepath.Join(dir, "t-%d.pdf"))
	run("pdftoppm", "-r", "150", "-gray", "-png", "-f", fmt.Sprint(last+1), "-l", fmt.Sprint(last+1), src, filepath.Join(dir, "s"))
	png, _ := filepath.Glob(filepath.Join(dir, "s-*.png"))
	if len(png) != 1 {
		t.Fatalf("pdftoppm made %d pages, want 1", len(png))
	}
	run("img2pdf", png[0], "-o", filepath.Join(dir, "scan.pdf"))
	var parts []string
	for p := first; p <= last; p++ {
		parts = append(parts, filepath.Join(dir, fmt.Sprintf("t-%d.pdf", p)))
	}
	doc := filepath.Join(dir, "doc.pdf")
	run("pdfunite", append(append(parts, filepath.Join(dir, "scan.pdf")), doc)...)
	words := regexp.MustCompile(`[a-z]{8,}`)
	text := strings.ToLower(string(run("pdftotext", "-f", fmt.Sprint(first), "-l", fmt.Sprint(last), src, "-")))
	scanned := words.FindAllString(strings.ToLower(string(run("pdftotext", "-f", fmt.Sprint(last+1), "-l", fmt.Sprint(last+1), src, "-"))), -1)
	slices.SortFunc(scanned, func(a, b string) int { return len(b) - len(a) })
	for _, w := range scanned {
		if !strings.Contains(text, w) {
			data, err := os.ReadFile(doc)
			if err != nil {
				t.Fatal(err)
			}
			return data, w
		}
	}
	t.Fatal("no word of the scanned page is missing from the text pages")
	return nil, ""
}

// figureParser is a real parser with Tesseract and poppler, closed when t
// ends.
func figureParser(t *testing.T) *parse.Parser {
	t.Helper()
	tess, _ := exec.LookPath("tesseract")
	pdftotext, _ := exec.LookPath("pdftotext")
	p, err := parse.New(context.Background(), parse.Options{Tesseract: tess, PDFToText: pdftotext, OCRWorkers: 2, OCRDPI: 150})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestFiguresReadAfterPublish: a manual of text pages with a scanned page
// is searchable by its text layer before the scanned page is read (by its
// words: the offline embedder's vectors come with the figure pass); a
// shutdown during that read leaves it searchable, with the page still
// pending, and the next process reads it and swaps the version's chunks
// for ones holding the page's text: the same version, one set of chunks.
func TestFiguresReadAfterPublish(t *testing.T) {
	data, word := manualWithFigure(t)
	p := figureParser(t)
	g := &gate{Parser: p, open: make(chan struct{})}
	f := setup(t, nil, Options{})
	service := func() *Service {
		svc, err := New(f.db, f.ring, g, testAnalyzer, f.svc.embedder, Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	ctx := context.Background()
	// holds counts the live chunks, those with the scanned page's word,
	// and those with a vector.
	holds := func() (chunks, with, vectors int) {
		t.Helper()
		err := f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE c.text ILIKE '%' || $1 || '%'), count(c.embedding)
				FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.status = 'ready'`, word).Scan(&chunks, &with, &vectors)
		})
		if err != nil {
			t.Fatal(err)
		}
		return chunks, with, vectors
	}

	svc := service()
	d, _, err := svc.Add(ctx, f.tenant, shifu.Upload{Name: "manual.pdf", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := svc.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	searchable := make(chan shifu.Document, 1)
	go func() {
		_, _ = svc.Wait(runCtx, f.tenant, []int64{d.VersionID}, func(d shifu.Document) {
			if d.Status == shifu.StatusReady && d.Progress.OCRPending > 0 {
				searchable <- d
			}
		})
	}()
	select {
	case first := <-searchable:
		if first.Progress.OCRPending != 1 || first.Version != 1 {
			t.Fatalf("ready first as version %d with %d pages pending; want version 1, 1 page", first.Version, first.Progress.OCRPending)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the manual never became searchable before its scanned page was read")
	}
	// Found by its words meanwhile: the offline embedder's vectors come
	// with the figure pass, whose rows replace these.
	if n, with, vecs := holds(); n == 0 || with != 0 || vecs != 0 {
		t.Fatalf("searchable before the figure pass: %d live chunks, %d with %q, %d with vectors; want some, none with it, none",
			n, with, word, vecs)
	}
	// Shut down while the figure pass waits at the gate.
	for g.whole.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mid, err := f.db.VersionRow(ctx, f.tenant, d.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Status != shifu.StatusReady || mid.Progress.OCRPending != 1 {
		t.Fatalf("after a shutdown in the figure pass: %s, %d pending; want ready, 1", mid.Status, mid.Progress.OCRPending)
	}
	if g.kept.Load() != 1 {
		t.Fatalf("the figure pass in the process of the first was not given its reading of the text layer")
	}

	close(g.open)
	next := service()
	if err := next.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = next.Stop(ctx) }()
	wctx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	final, err := next.Wait(wctx, f.tenant, []int64{d.VersionID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	end := final[0]
	if end.Status != shifu.StatusReady || end.Progress.OCRPending != 0 || end.Progress.Stages.Figures <= 0 || end.Version != 1 {
		t.Fatalf("after the figure pass: %s version %d, %d pending, figures %d ms; want ready version 1, 0 pending, its time",
			end.Status, end.Version, end.Progress.OCRPending, end.Progress.Stages.Figures)
	}
	n, with, vecs := holds()
	if with == 0 || n != end.Chunks || vecs != n {
		t.Fatalf("after the figure pass: %d live chunks (document says %d), %d with %q, %d with vectors; want them equal, the word found, all with vectors",
			n, end.Chunks, with, word, vecs)
	}
	var versions, dup int
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM documents WHERE head_id = $1`, d.ID).Scan(&versions); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) - count(DISTINCT ord) FROM chunks WHERE document_id = $1`, d.VersionID).Scan(&dup)
	})
	if err != nil {
		t.Fatal(err)
	}
	if versions != 1 || dup != 0 {
		t.Fatalf("%d versions, %d repeated chunk positions; want 1 and 0", versions, dup)
	}
	// The next process had no first reading: it read the whole file.
	if w, k := g.whole.Load(), g.kept.Load(); w != 2 || k != 1 {
		t.Fatalf("%d figure passes, %d given the first reading; want 2 and 1", w, k)
	}
}

// TestFiguresKeepHostedVectors: with a hosted embedder, the figure pass
// embeds only the chunks whose text it changed, before the swap, so every
// live chunk has its vector throughout.
func TestFiguresKeepHostedVectors(t *testing.T) {
	data, _ := manualWithFigure(t)
	var embedded atomic.Int32
	fake := llmtest.NewServer(t, llmtest.Options{Embed: func(text string, dim int) []float32 {
		embedded.Add(1)
		v := make([]float32, dim)
		v[len(text)%dim] = 1
		return v
	}})
	emb, err := llm.NewEmbedder(llm.EmbedConfig{Provider: llm.Compatible, BaseURL: fake.BaseURL(), Model: "fake", Dim: 1024})
	if err != nil {
		t.Fatal(err)
	}
	p := figureParser(t)
	g := &gate{Parser: p, open: make(chan struct{})}
	close(g.open)
	f := setup(t, emb, Options{})
	svc, err := New(f.db, f.ring, g, testAnalyzer, emb, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, _, err := svc.Add(ctx, f.tenant, shifu.Upload{Name: "manual.pdf", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Stop(ctx) }()
	first := 0
	wctx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	final, err := svc.Wait(wctx, f.tenant, []int64{d.VersionID}, func(d shifu.Document) {
		if d.Status == shifu.StatusReady && d.Progress.OCRPending > 0 {
			first = d.Progress.ChunksTotal
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	end := final[0]
	var missing int
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM chunks WHERE document_id = $1 AND (embedding IS NULL OR embed_model <> 'fake')`, d.VersionID).Scan(&missing)
	})
	if err != nil {
		t.Fatal(err)
	}
	n := int(embedded.Load())
	t.Logf("%d chunks first, %d after the figure pass, %d texts embedded", first, end.Chunks, n)
	if first == 0 || end.Progress.OCRPending != 0 || missing != 0 || n <= first || n >= first+end.Chunks {
		t.Fatalf("%d chunks first, %d after the figure pass, %d texts embedded in all, %d chunks without a vector; "+
			"want the first embedded once, some new ones, none without", first, end.Chunks, n, missing)
	}
}

// TestFiguresGivenUp: a figure pass failing on its last attempt leaves the
// version ready, searchable by its text layer with its vectors made, and
// nothing pending, so no one waits for figures that will not come; one
// failing before its last attempt is retried, the version still ready and
// its pages still pending.
func TestFiguresGivenUp(t *testing.T) {
	f := setup(t, nil, Options{})
	ctx := context.Background()
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "lathe.md", Data: manual("Lathe", 2)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.process(ctx, f.tenant, d.VersionID); err != nil {
		t.Fatal(err)
	}
	v, err := f.db.VersionRow(ctx, f.tenant, d.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	// As a local embedder's first pass leaves it: pages pending, no vectors.
	v.Progress.OCRPending = 2
	if err := f.db.SetProgress(ctx, f.tenant, d.VersionID, v.Progress); err != nil {
		t.Fatal(err)
	}
	vectors := func() (n, with int) {
		t.Helper()
		err := f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*), count(embedding) FROM chunks WHERE document_id = $1`, d.VersionID).Scan(&n, &with)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, with
	}
	if err := f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE chunks SET embedding = NULL, embed_model = '' WHERE document_id = $1`, d.VersionID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	w := &worker{s: f.svc}
	job := &river.Job[postgres.IngestJob]{JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: maxAttempts},
		Args: postgres.IngestJob{Tenant: f.tenant, Document: d.VersionID}}
	fail := &figuresError{errors.New("tesseract vanished")}
	check := func(wantPending int) {
		t.Helper()
		v, err := f.db.VersionRow(ctx, f.tenant, d.VersionID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != shifu.StatusReady || v.Progress.OCRPending != wantPending {
			t.Fatalf("version %s with %d pages pending; want ready with %d", v.Status, v.Progress.OCRPending, wantPending)
		}
	}
	if err := w.figuresFailed(ctx, ctx, job, fail); !errors.Is(err, fail) {
		t.Fatalf("first attempt failed: %v; want the error back, for a retry", err)
	}
	check(2)
	job.Attempt = maxAttempts
	var cancel *river.JobCancelError
	if err := w.figuresFailed(ctx, ctx, job, fail); !errors.As(err, &cancel) {
		t.Fatalf("last attempt failed: %v; want the job cancelled", err)
	}
	check(0)
	if n, with := vectors(); n == 0 || with != n {
		t.Fatalf("given up: %d of %d chunks with vectors; want all, not a version left to its words", with, n)
	}
}

// held is a local embedder whose Embed calls wait for open to be closed, or
// for their context to end. With it a figure pass stops right after its
// swap: a local embedder's vectors are stored after it (figures).
type held struct {
	LocalEmbedder
	open  chan struct{}
	calls atomic.Int32
}

func (h *held) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	h.calls.Add(1)
	select {
	case <-h.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.LocalEmbedder.Embed(ctx, texts)
}

// TestFiguresVectorsAfterSwap: with the local embedder, a figure pass swaps
// the version's chunks for ones holding the scanned page's text, without
// vectors, and stores the vectors after; until it has, the page counts as
// pending. A shutdown in between leaves the swapped version ready with the
// page pending, and the next process runs the pass again: one set of
// chunks, every one with its vector, nothing pending.
func TestFiguresVectorsAfterSwap(t *testing.T) {
	data, word := manualWithFigure(t)
	p := figureParser(t)
	off, err := llm.NewOffline(256)
	if err != nil {
		t.Fatal(err)
	}
	h := &held{LocalEmbedder: off, open: make(chan struct{})}
	f := setup(t, h, Options{})
	service := func() *Service {
		svc, err := New(f.db, f.ring, p, testAnalyzer, h, Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	ctx := context.Background()
	state := func() (v shifu.Document, chunks, with, vectors, dup int) {
		t.Helper()
		d, err := f.db.Documents(ctx, f.tenant, false)
		if err != nil || len(d) != 1 {
			t.Fatalf("documents: %d, %v; want 1", len(d), err)
		}
		if v, err = f.db.VersionRow(ctx, f.tenant, d[0].VersionID); err != nil {
			t.Fatal(err)
		}
		err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE text ILIKE '%' || $2 || '%'), count(embedding),
				count(*) - count(DISTINCT ord) FROM chunks WHERE document_id = $1`, v.VersionID, word).Scan(&chunks, &with, &vectors, &dup)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v, chunks, with, vectors, dup
	}

	svc := service()
	if _, _, err := svc.Add(ctx, f.tenant, shifu.Upload{Name: "manual.pdf", Data: data}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := svc.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Minute); h.calls.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the figure pass never came to its vectors")
		}
	}
	check := func(when string) {
		t.Helper()
		v, n, with, vecs, _ := state()
		if v.Status != shifu.StatusReady || v.FiguresPending() != 1 || n != v.Chunks || with == 0 || vecs != 0 {
			t.Fatalf("%s: %s, %d pages pending, %d chunks (document says %d), %d with %q, %d with vectors; "+
				"want ready, 1, the swapped chunks, none with vectors yet", when, v.Status, v.FiguresPending(), n, v.Chunks, with, word, vecs)
		}
	}
	check("at the vectors")
	cancel()
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a shutdown there")

	close(h.open)
	next := service()
	if err := next.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = next.Stop(ctx) }()
	v, _, _, _, _ := state()
	wctx, stop := context.WithTimeout(ctx, 3*time.Minute)
	defer stop()
	if _, err := next.Wait(wctx, f.tenant, []int64{v.VersionID}, nil); err != nil {
		t.Fatal(err)
	}
	v, n, with, vecs, dup := state()
	if v.Status != shifu.StatusReady || v.Progress.OCRPending != 0 || v.Version != 1 || n != v.Chunks || with == 0 || vecs != n || dup != 0 ||
		v.Progress.ChunksEmbedded != n || v.Progress.Stages.Figures <= 0 {
		t.Fatalf("after the next process: %s version %d, %d pending, %d chunks (document says %d, %d embedded), %d with %q, "+
			"%d with vectors, %d repeated positions, figures %d ms; want ready version 1, none pending, all with vectors, once, its time",
			v.Status, v.Version, v.Progress.OCRPending, n, v.Chunks, v.Progress.ChunksEmbedded, with, word, vecs, dup, v.Progress.Stages.Figures)
	}
}
