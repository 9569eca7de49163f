package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/testenv"
	"github.com/shifu-factory/shifu/retrieval"
)

// scanned is the quote the fake model cites: page 22 of Getting Started,
// the evidence of dev-en-017.
const scannedQuote = "creates a file with system information that may be useful for problem diagnosis"

// TestBrowserScannedManual is issue 15's end to end test: an image-only copy
// of all 61 pages of the Getting Started guide (as a scanner makes it) is
// uploaded, read by OCR in the ingest job, and then
//   - it has 61 pages and its chunks carry page numbers;
//   - the dev questions on it find their pages as well as on the text
//     original (hit@5 within 0.05; the original is in the other tenant);
//   - a worker's question is answered with a citation of the OCR'd page,
//     and the viewer highlights the quote where the text original's
//     highlight is;
//   - a phone photo (JPEG, 3° askew) of a page is a one-page document that
//     a question finds, and its page image is highlighted too.
func TestBrowserScannedManual(t *testing.T) {
	testenv.Tools(t, "tesseract", "pdftoppm", "img2pdf", "convert")
	if testing.Short() {
		t.Skip("61 pages of OCR: skipped with -short")
	}
	src := corpusDoc(t, "LinuxCNC_Getting_Started.pdf")
	reply := `Yes: the sample configurations have an entry that ` + scannedQuote + ` [1] "` + scannedQuote + `".`
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: reply}})

	work := t.TempDir()
	run0(t, "pdftoppm", "-r", "150", "-gray", "-png", src, filepath.Join(work, "p"))
	pngs, _ := filepath.Glob(filepath.Join(work, "p-*.png"))
	scan := filepath.Join(work, "scan.pdf")
	run0(t, "img2pdf", append(pngs, "-o", scan)...)
	photo := filepath.Join(work, "photo.jpg")
	run0(t, "convert", filepath.Join(work, "p-07.png"), "-background", "white", "-rotate", "3", "-quality", "85", photo)

	t0 := time.Now()
	scanID := uploadWait(t, w, "supervisor", w.acme.ID, part{"file", "LinuxCNC_Getting_Started.pdf", readAll(t, scan)})
	t.Logf("61 scanned pages ingested in %s", time.Since(t0).Round(time.Second))
	textID := uploadWait(t, w, "bolt", w.bolt.ID, part{"file", "LinuxCNC_Getting_Started.pdf", readAll(t, src)})
	photoID := uploadWait(t, w, "supervisor", w.acme.ID, part{"file", "photo.jpg", readAll(t, photo)})

	d, err := w.db.Document(context.Background(), w.acme.ID, scanID)
	if err != nil || d.Pages != 61 || d.Chunks < 30 {
		t.Fatalf("scanned document: %+v, %v; want 61 pages", d, err)
	}
	var unpaged, pages int
	err = w.db.InTenant(context.Background(), w.acme.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE page_start < 1 OR page_end < page_start),
			count(DISTINCT page_start) FROM chunks WHERE document_id = $1`, d.VersionID).Scan(&unpaged, &pages)
	})
	if err != nil || unpaged > 0 || pages < 30 {
		t.Fatalf("chunks without a page: %d; chunks start on %d pages of 61 (%v)", unpaged, pages, err)
	}
	_, an, emb := parts(t)
	s := retrieval.New(w.db, an, emb, retrieval.Options{})

	// Chunks carry the pages they come from, and a question finds its page.
	r, err := s.Retrieve(context.Background(), w.acme.ID, retrieval.Query{Text: "Is there something in the sample configs that makes a system information dump for troubleshooting?", K: 5})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range r.Hits {
		if h.PageStart < 1 || h.PageStart > 61 || h.PageEnd < h.PageStart {
			t.Errorf("hit with pages %d-%d", h.PageStart, h.PageEnd)
		}
		found = found || h.DocID == scanID && h.PageStart <= 22 && 22 <= h.PageEnd
	}
	if !found {
		t.Errorf("page 22 not in the top 5: %+v", pagesOf(r.Hits))
	}
	hitAt5(t, s, w.acme.ID, w.bolt.ID)

	// The photo is one page, and found.
	pd, err := w.db.Document(context.Background(), w.acme.ID, photoID)
	if err != nil || pd.Pages != 1 || pd.MIME != "image/jpeg" {
		t.Fatalf("photo: %+v, %v; want one JPEG page", pd, err)
	}
	r, err = s.Retrieve(context.Background(), w.acme.ID, retrieval.Query{Text: "Is LinuxCNC free software with open source code?", K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if i := indexOf(r.Hits, photoID); i < 0 {
		t.Errorf("the photo is not in the top 5: %+v", pagesOf(r.Hits))
	}
	if n := yellow(t, pageImage(t, w, photoID, 1, "LinuxCNC is free software with open source code")); n.count < 300 {
		t.Errorf("photo page image: %d highlighted pixels", n.count)
	}

	// The highlight on the OCR'd page is where it is on the text original.
	hs, ht := yellow(t, pageImage(t, w, scanID, 22, scannedQuote)), yellow(t, pageImageAs(t, w, "bolt", textID, 22, scannedQuote))
	t.Logf("highlight on the scan %v, on the text original %v (fractions of the page)", hs.box, ht.box)
	if hs.count < 300 || ht.count < 300 || !near(hs.box, ht.box, 0.03) {
		t.Errorf("highlight on the scan %+v, on the original %+v", hs, ht)
	}

	// A worker asks, and opens the citation of the OCR'd page in the viewer
	// (the browser starts now: its context has a deadline of minutes).
	ctx, dir := browser(t, 1280, 900)
	do(t, ctx, "login", loginAs(w, "acme", "worker"))
	done, _ := ask(t, ctx, "Is there something in the sample configs that makes a system information dump?")
	// Retrieval finding the right page is checked above; here the viewer
	// opens whichever OCR'd page the answer cites and marks its quote.
	chip := run(t, ctx, "chip", chromedp.Text(css(`.chip .t`)))
	m := regexp.MustCompile(`p\. (\d+)`).FindStringSubmatch(chip)
	if done != "1" || m == nil {
		t.Fatalf("answer done=%q, chip %q", done, chip)
	}
	do(t, ctx, "open citation", chromedp.Click(css(`.chip`)), chromedp.WaitVisible(css(`#viewer-img`)))
	run(t, ctx, "image", chromedp.Poll[int](`document.getElementById('viewer-img').complete && document.getElementById('viewer-img').naturalWidth`,
		chromedp.WithPollingTimeout(60*time.Second)))
	title := run(t, ctx, "title", chromedp.Text(css(`#viewer-title`)))
	marked := run(t, ctx, "highlight", chromedp.Evaluate[int](`(() => {
		const img = document.getElementById('viewer-img'), c = document.createElement('canvas');
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const g = c.getContext('2d'); g.drawImage(img, 0, 0);
		const px = g.getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < px.length; i += 4) if (px[i] - px[i + 2] > 60) n++;
		return n;
	})()`))
	shot(t, ctx, dir, "scanned-page-cited")
	viewerSrc := run(t, ctx, "image source", chromedp.Evaluate[string](`document.getElementById('viewer-img').src`))
	if !strings.HasSuffix(title, "p. "+m[1]) {
		t.Fatalf("viewer title %q, want the cited page %s", title, m[1])
	}
	// The viewer marks the quote on the OCR'd page it opens, when the quote
	// is the cited passage's (a misquote, flagged on the chip, is on no page
	// of it; the extractive case is TestBrowserExtractiveOCRHighlight).
	unverified := run(t, ctx, "unverified", chromedp.Evaluate[bool](`document.querySelector('.chip .unverified') !== null`))
	if marked < 300 && !unverified {
		asked := run(t, ctx, "page request", chromedp.Evaluate[string](`performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/pages/')).join(' ')`))
		quote := run(t, ctx, "quote", chromedp.Text(css(`#viewer-quote`)))
		t.Errorf("viewer %s: %d highlighted pixels; it asked %s for the quote %q", viewerSrc, marked, asked, quote)
	} else if unverified {
		t.Logf("the model's quote is not in the cited passage (%s): %d highlighted pixels", chip, marked)
	}

	// The desk lists no unread page for a clean scan.
	var docs struct{ Documents []map[string]any }
	if code := w.token("supervisor").json("GET", "/api/documents", nil, &docs); code != 200 {
		t.Fatalf("documents: %d", code)
	}
	for _, d := range docs.Documents {
		if d["unread_pages"] != nil {
			t.Errorf("%v: unread pages %v", d["name"], d["unread_pages"])
		}
	}
}

// hitAt5 runs the dev questions whose gold page is in Getting Started on the
// scan (tenant scan) and on the text original (tenant text).
func hitAt5(t *testing.T, s *retrieval.Searcher, scan, text int64) {
	var qs []retrieval.EvalQuestion
	for _, f := range []string{"dev.jsonl", "dev-paraphrase.jsonl", "dev-cross.jsonl"} {
		b, err := os.ReadFile(testenv.Shared(t, "..", filepath.Join("eval", f)))
		if err != nil {
			t.Fatalf("eval set: %v", err)
		}
		all, err := retrieval.ReadQuestions(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range all {
			if q.Answerable && q.Doc == "LinuxCNC_Getting_Started.pdf" {
				qs = append(qs, q)
			}
		}
	}
	score := func(tenant int64) (float64, []int) {
		outs, err := retrieval.Evaluate(context.Background(), s, tenant, qs, 5)
		if err != nil {
			t.Fatal(err)
		}
		ranks := make([]int, len(outs))
		for i, o := range outs {
			ranks[i] = o.Rank
		}
		return retrieval.Score(outs).All.Hit5, ranks
	}
	hs, rs := score(scan)
	ht, rt := score(text)
	t.Logf("hit@5 over %d dev questions on Getting Started: scan %.3f (ranks %v), text original %.3f (ranks %v)", len(qs), hs, rs, ht, rt)
	if hs < ht-0.05 {
		t.Errorf("hit@5 on the scan %.3f, on the original %.3f: more than 0.05 lower", hs, ht)
	}
}

func corpusDoc(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(testenv.Corpus(t, name), name)
}

func run0(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uploadWait uploads one file as user and waits (OCR of a scan takes
// minutes on a busy machine) until it is ready.
func uploadWait(t *testing.T, w *world, user string, tenant int64, f part) int64 {
	t.Helper()
	code, out := w.token(user).upload("/api/documents", f)
	if code != http.StatusOK {
		t.Fatalf("upload %s: %d %v", f.name, code, out)
	}
	fm := out["files"].([]any)[0].(map[string]any)
	if fm["ok"] != true {
		t.Fatalf("upload %s: %v", f.name, fm)
	}
	id := int64(fm["document"].(map[string]any)["id"].(float64))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	head, err := w.db.Document(ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	// ingest.Wait polls the stored version, the API names the document.
	docs, err := w.ingest.Wait(ctx, tenant, []int64{head.VersionID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if docs[0].Status != shifu.StatusReady {
		t.Fatalf("%s: %s %s", f.name, docs[0].Status, docs[0].Error)
	}
	return id
}

func pagesOf(hs []shifu.Hit) []string {
	var out []string
	for _, h := range hs {
		out = append(out, fmt.Sprintf("%s p.%d-%d", h.Document, h.PageStart, h.PageEnd))
	}
	return out
}

func indexOf(hs []shifu.Hit, doc int64) int {
	for i, h := range hs {
		if h.DocID == doc {
			return i
		}
	}
	return -1
}

func pageImage(t *testing.T, w *world, doc int64, page int, quote string) []byte {
	return pageImageAs(t, w, "worker", doc, page, quote)
}

func pageImageAs(t *testing.T, w *world, user string, doc int64, page int, quote string) []byte {
	t.Helper()
	resp := w.token(user).do("GET", fmt.Sprintf("/api/documents/%d/pages/%d.png?w=1000&q=%s", doc, page, url.QueryEscape(quote)), nil, "")
	body := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("page image %d/%d: %d %s", doc, page, resp.StatusCode, body)
	}
	return []byte(body)
}

// marks is where a page image is painted yellow: how many pixels, and the
// box around them in fractions of the image.
type marks struct {
	count int
	box   [4]float64 // x0, y0, x1, y1
}

func yellow(t *testing.T, b []byte) marks {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	bd := img.Bounds()
	m := marks{box: [4]float64{1, 1, 0, 0}}
	x0, y0, x1, y1 := bd.Max.X, bd.Max.Y, bd.Min.X, bd.Min.Y
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			r, _, bl, _ := img.At(x, y).RGBA()
			if int(r>>8)-int(bl>>8) > 60 {
				m.count++
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if m.count > 0 {
		fw, fh := float64(bd.Dx()), float64(bd.Dy())
		m.box = [4]float64{float64(x0) / fw, float64(y0) / fh, float64(x1) / fw, float64(y1) / fh}
	}
	return m
}

func near(a, b [4]float64, tol float64) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// TestUnreadPagesListed: a page OCR cannot read well (a scan out of focus)
// is named on the desk's document list; the text pages of the
// same PDF are indexed as usual.
func TestUnreadPagesListed(t *testing.T) {
	testenv.Tools(t, "tesseract", "pdftoppm", "img2pdf", "convert", "pdfunite")
	w := newWorld(t, worldOpts{})
	work := t.TempDir()
	// A page scanned out of focus: blurred past reading.
	run0(t, "pdftoppm", "-r", "150", "-gray", "-png", "-f", "2", "-l", "2", "-singlefile", "testdata/sample.pdf", filepath.Join(work, "s"))
	noise := filepath.Join(work, "blurred.png")
	run0(t, "convert", filepath.Join(work, "s.png"), "-blur", "0x3", "-resize", "50%", "-resize", "200%", noise)
	run0(t, "img2pdf", noise, "-o", filepath.Join(work, "noise.pdf"))
	mixed := filepath.Join(work, "mixed.pdf")
	run0(t, "pdfunite", "testdata/sample.pdf", filepath.Join(work, "noise.pdf"), mixed)
	id := uploadWait(t, w, "supervisor", w.acme.ID, part{"file", "mixed.pdf", readAll(t, mixed)})
	var docs struct{ Documents []map[string]any }
	if code := w.token("supervisor").json("GET", "/api/documents", nil, &docs); code != 200 {
		t.Fatalf("documents: %d", code)
	}
	for _, d := range docs.Documents {
		if int64(d["id"].(float64)) == id && fmt.Sprint(d["unread_pages"]) != "[5]" {
			t.Errorf("unread pages %v, want [5]", d["unread_pages"])
		}
	}
}
