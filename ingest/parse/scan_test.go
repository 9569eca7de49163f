package parse

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/testenv"
)

// OCR tests use Parsers with Tesseract, one slot per core, one per
// resolution.
var sharedOCR struct {
	sync.Mutex
	p map[int]*Parser
}

func ocrParser(t testing.TB) *Parser { return ocrParserAt(t, scanDPI) }

func ocrParserAt(t testing.TB, dpi int) *Parser {
	t.Helper()
	need(t, "tesseract", "pdftoppm", "img2pdf", "pdftotext")
	sharedOCR.Lock()
	defer sharedOCR.Unlock()
	if p := sharedOCR.p[dpi]; p != nil {
		return p
	}
	path, _ := exec.LookPath("tesseract")
	p, err := New(context.Background(), Options{Tesseract: path, OCRWorkers: runtime.NumCPU(), OCRDPI: dpi})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if sharedOCR.p == nil {
		sharedOCR.p = map[int]*Parser{}
	}
	sharedOCR.p[dpi] = p
	return p
}

// scanDPI is the resolution of the English test scans and of their OCR:
// 150 keeps the 61-page test to about a minute on 2 free cores. Chinese
// characters need more: 200.
const scanDPI = 150

func need(t testing.TB, tools ...string) {
	t.Helper()
	testenv.Tools(t, tools...)
}

func sh(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

// scan makes an image-only copy of pages first..last of a PDF, as a scanner
// would: each page rendered to a grayscale PNG, wrapped into a PDF.
func scan(t testing.TB, src string, first, last, dpi int) []byte {
	t.Helper()
	dir := t.TempDir()
	sh(t, "pdftoppm", "-r", fmt.Sprint(dpi), "-gray", "-png", "-f", fmt.Sprint(first), "-l", fmt.Sprint(last), src, filepath.Join(dir, "p"))
	imgs, _ := filepath.Glob(filepath.Join(dir, "p-*.png"))
	if len(imgs) != last-first+1 {
		t.Fatalf("pdftoppm made %d pages, want %d", len(imgs), last-first+1)
	}
	out := filepath.Join(dir, "scan.pdf")
	sh(t, "img2pdf", append(imgs, "-o", out)...)
	return readFile(t, out)
}

// truth is pdftotext's text of one page of the original.
func truth(t testing.TB, src string, page int) string {
	return string(sh(t, "pdftotext", "-q", "-enc", "UTF-8", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), src, "-"))
}

// accuracy is 1 - edit distance / length between the letters and digits of
// got and want (lower-cased; spacing, punctuation and layout aside), the
// usual character accuracy of OCR.
func accuracy(got, want string) (errs, n int) {
	g, w := letters(got), letters(want)
	return levenshtein(g, w), len(w)
}

func letters(s string) []rune {
	var out []rune
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, r)
		}
	}
	return out
}

func levenshtein(a, b []rune) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ocrText is the text OCR read on a page, from its words.
func ocrText(p shifu.PageText) string {
	var b strings.Builder
	for _, w := range p.Words {
		b.WriteString(w.Text)
		b.WriteByte(' ')
	}
	return b.String()
}

// checkScan OCRs a scanned copy of n pages of src from first and checks
// that every page was read, the blocks carry the pages, and the character
// accuracy against the text layer is at least want.
func checkScan(t *testing.T, src string, first, n, dpi int, want float64) *Doc {
	p := ocrParserAt(t, dpi)
	data := scan(t, src, first, first+n-1, dpi)
	var last [2]int
	t0 := time.Now()
	d, err := p.Parse(context.Background(), filepath.Base(src), data, func(done, total int) { last = [2]int{done, total} })
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(t0)
	if d.Pages != n || len(d.OCR) != n {
		t.Fatalf("pages %d, OCR'd %d; want %d", d.Pages, len(d.OCR), n)
	}
	if last != [2]int{2 * n, 2 * n} {
		t.Errorf("last progress %v, want %d/%d", last, 2*n, 2*n)
	}
	seen := map[int]bool{}
	for _, b := range d.Blocks {
		seen[b.Page] = true
	}
	if len(seen) < n*8/10 {
		t.Errorf("blocks on %d pages of %d", len(seen), n)
	}
	errs, total := 0, 0
	var conf float64
	for i, pg := range d.OCR {
		if pg.Page != i+1 {
			t.Fatalf("OCR page %d at %d", pg.Page, i)
		}
		e, m := accuracy(ocrText(pg), truth(t, src, first-1+pg.Page))
		errs, total = errs+e, total+m
		conf += pg.Confidence
	}
	acc := 1 - float64(errs)/float64(total)
	t.Logf("%s: %d pages from %d at %d dpi in %s (%.2f pages/s, %d OCR slots); character accuracy %.4f (%d errors in %d); mean confidence %.1f",
		filepath.Base(src), n, first, dpi, el.Round(time.Millisecond), float64(n)/el.Seconds(), cap(p.ocr.slots), acc, errs, total, conf/float64(n))
	if acc < want {
		t.Errorf("character accuracy %.4f, want at least %.2f", acc, want)
	}
	return d
}

// scanPages is how many pages the accuracy tests scan: a few by default
// (web's TestBrowserScannedManual OCRs all 61 pages of Getting Started end
// to end), all with SHIFU_OCR_PAGES=all, for the figures in the commit
// messages.
func scanPages(some, all int) int {
	if os.Getenv("SHIFU_OCR_PAGES") == "all" {
		return all
	}
	return some
}

// TestOCRScannedManual reads a scanned copy of the Getting Started guide
// (English; all 61 pages with SHIFU_OCR_PAGES=all).
func TestOCRScannedManual(t *testing.T) {
	if testing.Short() {
		t.Skip("pages of OCR: skipped with -short")
	}
	src := corpus(t, "LinuxCNC_Getting_Started.pdf")
	d := checkScan(t, src, 1, scanPages(10, 61), scanDPI, 0.93)
	if b := findBlock(d, Paragraph, "LinuxCNC"); b == nil {
		t.Error("no paragraph mentions LinuxCNC")
	}
}

// TestOCRScannedChinese reads pages of the Chinese Debian reference from
// page 31, past the cover and contents (30 with SHIFU_OCR_PAGES=all), which
// mix Chinese text with English commands.
func TestOCRScannedChinese(t *testing.T) {
	if testing.Short() {
		t.Skip("30 pages of OCR: skipped with -short")
	}
	src := corpus(t, "debian-reference.zh-cn.pdf")
	n := scanPages(6, 30)
	d := checkScan(t, src, 31, n, 200, 0.80)
	han := 0
	for _, pg := range d.OCR {
		if strings.Contains(pg.Lang, "chi_sim") {
			han++
		}
	}
	if han < n*2/3 {
		t.Errorf("only %d of %d pages read with chi_sim", han, n)
	}
	if d.Lang != "zh" {
		t.Errorf("language %q, want zh", d.Lang)
	}
}

// TestOCRMixedPDF: pages with a good text layer keep it; only the scanned
// page is OCR'd, rendered by PDFium, or by poppler when the parser has it
// (by PDFium when poppler fails).
func TestOCRMixedPDF(t *testing.T) {
	t.Run("pdfium", func(t *testing.T) { testMixedPDF(t, ocrParser(t)) })
	t.Run("poppler", func(t *testing.T) {
		tool, _ := exec.LookPath("pdftotext")
		path, _ := exec.LookPath("tesseract")
		p, err := New(context.Background(), Options{Tesseract: path, PDFToText: tool, OCRWorkers: 2, OCRDPI: scanDPI})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		testMixedPDF(t, p)
	})
	// poppler that cannot render (here: not there at all) leaves the pages
	// to PDFium, not unread.
	t.Run("poppler fails", func(t *testing.T) {
		path, _ := exec.LookPath("tesseract")
		p, err := New(context.Background(), Options{Tesseract: path, PDFToText: filepath.Join(t.TempDir(), "pdftotext"), OCRWorkers: 2, OCRDPI: scanDPI})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		testMixedPDF(t, p)
	})
}

func testMixedPDF(t *testing.T, p *Parser) {
	need(t, "pdfseparate", "pdfunite")
	src := corpus(t, "LinuxCNC_Getting_Started.pdf")
	dir := t.TempDir()
	sh(t, "pdfseparate", "-f", "5", "-l", "6", src, filepath.Join(dir, "t-%d.pdf"))
	scanned := filepath.Join(dir, "s.pdf")
	if err := os.WriteFile(scanned, scan(t, src, 7, 7, scanDPI), 0o644); err != nil {
		t.Fatal(err)
	}
	mixed := filepath.Join(dir, "mixed.pdf")
	sh(t, "pdfunite", filepath.Join(dir, "t-5.pdf"), filepath.Join(dir, "t-6.pdf"), scanned, mixed)
	d, err := p.Parse(context.Background(), "mixed.pdf", readFile(t, mixed), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Pages != 3 || len(d.OCR) != 1 || d.OCR[0].Page != 3 {
		t.Fatalf("pages %d, OCR %+v; want 3 pages, page 3 OCR'd", d.Pages, len(d.OCR))
	}
	var pages [4]int
	for _, b := range d.Blocks {
		pages[b.Page]++
	}
	if pages[1] == 0 || pages[2] == 0 || pages[3] == 0 {
		t.Errorf("blocks per page %v; OCR confidence %.1f, %d words", pages, d.OCR[0].Confidence, len(d.OCR[0].Words))
	}
}

// TestOCRPhoto: a page photographed slightly askew (3°) as JPEG, and one
// turned a quarter (OSD turns it upright), become one-page documents whose
// words are found where they are on the image.
func TestOCRPhoto(t *testing.T) {
	p := ocrParser(t)
	need(t, "convert")
	src := corpus(t, "LinuxCNC_Getting_Started.pdf")
	dir := t.TempDir()
	sh(t, "pdftoppm", "-r", "200", "-png", "-f", "7", "-l", "7", "-singlefile", src, filepath.Join(dir, "p"))
	want := truth(t, src, 7)
	for _, c := range []struct {
		name string
		args []string
		acc  float64
	}{
		{"askew.jpg", []string{"-background", "white", "-rotate", "3", "-quality", "85"}, 0.9},
		{"turned.png", []string{"-rotate", "90"}, 0.95},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, c.name)
			sh(t, "convert", append(append([]string{filepath.Join(dir, "p.png")}, c.args...), out)...)
			data := readFile(t, out)
			if f, err := Sniff(c.name, data); f != Image || err != nil {
				t.Fatalf("Sniff = %q, %v", f, err)
			}
			d, err := p.Parse(context.Background(), c.name, data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.Format != Image || d.Pages != 1 || len(d.OCR) != 1 || len(d.Blocks) == 0 || d.Blocks[0].Page != 1 {
				t.Fatalf("format %q pages %d OCR %d blocks %d", d.Format, d.Pages, len(d.OCR), len(d.Blocks))
			}
			e, n := accuracy(ocrText(d.OCR[0]), want)
			acc := 1 - float64(e)/float64(n)
			t.Logf("%s: character accuracy %.4f, confidence %.1f, languages %s", c.name, acc, d.OCR[0].Confidence, d.OCR[0].Lang)
			if acc < c.acc {
				t.Errorf("character accuracy %.4f, want at least %.2f", acc, c.acc)
			}
			// Every word box lies on the image as given (boxes of the turned
			// page are mapped back), and a quote is found.
			for _, w := range d.OCR[0].Words {
				if b := w.Box; b.X < 0 || b.Y < 0 || b.X+b.W > 1.001 || b.Y+b.H > 1.001 || b.W <= 0 || b.H <= 0 {
					t.Fatalf("word %q box %+v off the page", w.Text, b)
				}
			}
			if c.name == "turned.png" {
				// turned clockwise, the page's lines run down the image: boxes are tall
				tall := 0
				for _, w := range d.OCR[0].Words {
					if len(w.Text) > 4 && w.Box.H > w.Box.W {
						tall++
					}
				}
				if tall*2 < len(d.OCR[0].Words)/4 {
					t.Errorf("only %d tall word boxes of %d: boxes not mapped back", tall, len(d.OCR[0].Words))
				}
			}
		})
	}
}

func TestImageBad(t *testing.T) {
	p := lite()
	_, err := p.Parse(context.Background(), "photo.jpg", []byte("\xff\xd8\xff\xe0garbage"), nil)
	wantInvalid(t, err, "photo.jpg", "JPEG", "accepted")
	// A valid image on a server without Tesseract is refused as unavailable.
	png := sh(t, "convert", "-size", "20x20", "xc:white", "png:-")
	_, err = p.Parse(context.Background(), "white.png", png, nil)
	if !strings.Contains(shifu.Message(err), "OCR") {
		t.Errorf("err = %v, want one naming OCR", err)
	}
}

// TestOCRPageDeadline: a page that cannot be read within its deadline is
// kept as unreadable (confidence 0, no words) and the document goes on.
func TestOCRPageDeadline(t *testing.T) {
	p := ocrParser(t)
	o := *p.ocr
	o.timeout = time.Millisecond
	q := *p
	q.ocr = &o
	src := corpus(t, "LinuxCNC_Getting_Started.pdf")
	d, err := q.Parse(context.Background(), "scan.pdf", scan(t, src, 7, 8, scanDPI), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Pages != 2 || len(d.OCR) != 2 {
		t.Fatalf("pages %d, OCR %d", d.Pages, len(d.OCR))
	}
	for _, pg := range d.OCR {
		if pg.Confidence != 0 || len(pg.Words) != 0 {
			t.Errorf("page %d: confidence %.1f, %d words; want unread", pg.Page, pg.Confidence, len(pg.Words))
		}
	}
}

// BenchmarkOCRPages OCRs a 4-page scan of Getting Started (pages 5-8) per
// iteration with one slot per core; pages/s is reported.
//
//	go test ./ingest/parse -run '^$' -bench OCRPages -benchtime 2x
func BenchmarkOCRPages(b *testing.B) {
	p := ocrParser(b)
	data := scan(b, corpus(b, "LinuxCNC_Getting_Started.pdf"), 5, 8, scanDPI)
	b.ResetTimer()
	for range b.N {
		if _, err := p.Parse(context.Background(), "scan.pdf", data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(4*b.N)/b.Elapsed().Seconds(), "pages/s")
}

// TestOCRTakesTurns: the OCR slots are shared by all documents, page by
// page, so a one-page photo uploaded while a long scan is being read is
// done before the scan (with one slot, after at most two of its pages).
func TestOCRTakesTurns(t *testing.T) {
	p := ocrParser(t)
	q := *p
	o := *p.ocr
	o.slots = make(chan struct{}, 1)
	q.ocr = &o
	src := corpus(t, "LinuxCNC_Getting_Started.pdf")
	long := scan(t, src, 5, 8, scanDPI)
	dir := t.TempDir()
	sh(t, "pdftoppm", "-r", "150", "-png", "-f", "7", "-l", "7", "-singlefile", src, filepath.Join(dir, "p"))
	photo := readFile(t, filepath.Join(dir, "p.png"))

	var mu sync.Mutex
	longDone := 0 // OCR'd pages of the long scan
	started := make(chan struct{})
	var once sync.Once
	errc := make(chan error, 1)
	go func() {
		_, err := q.Parse(context.Background(), "long.pdf", long, func(done, total int) {
			if done > 4 { // past the text phase: an OCR'd page
				mu.Lock()
				longDone = done - 4
				mu.Unlock()
				once.Do(func() { close(started) })
			}
		})
		errc <- err
	}()
	<-started // the long scan holds the slot, page by page
	if _, err := q.Parse(context.Background(), "photo.png", photo, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	at := longDone
	mu.Unlock()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if at >= 4 {
		t.Errorf("the photo waited for all %d pages of the long scan", at)
	}
	t.Logf("the photo was done when the long scan had %d of 4 pages", at)
}

// TestPopplerRender: pdftoppm renders the asked pages, runs of consecutive
// pages in one process, at the asked resolution, in order; a PGM stream
// claiming more pixels than an upload may have is refused before its pixels
// are read.
func TestPopplerRender(t *testing.T) {
	need(t, "pdftoppm", "pdftotext")
	tool, _ := exec.LookPath("pdftotext")
	p := &Parser{opts: Options{PDFToText: tool}}
	data := readFile(t, corpus(t, "LinuxCNC_Getting_Started.pdf"))
	pages := []int{4, 5, 9}
	var got []int
	n, err := p.popplerRender(context.Background(), data, pages, 100, func(k int, img *image.Gray) error {
		b := img.Bounds()
		// A letter or A4 page at 100 dpi.
		if b.Dx() < 800 || b.Dx() > 880 || b.Dy() < 1050 || b.Dy() > 1180 {
			t.Errorf("page %d: %d × %d px at 100 dpi", pages[k]+1, b.Dx(), b.Dy())
		}
		if img.Pix[0] != 255 { // a white margin
			t.Errorf("page %d: top-left pixel %d", pages[k]+1, img.Pix[0])
		}
		got = append(got, k)
		return nil
	})
	if err != nil || n != 3 || !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("rendered %d (%v): %v", n, got, err)
	}
	_, err = readPGM(bufio.NewReader(strings.NewReader("P5\n100000 100000\n255\n")))
	if err == nil || !strings.Contains(err.Error(), "at most") {
		t.Fatalf("a 10-gigapixel PGM: %v", err)
	}
}

// TestOCRLatinDocument: a page that reads poorly in a document whose text
// layer has many pages and no Chinese is not read again with Chinese (it
// cost seconds a page and read no better), while the same page in a document
// of a few text pages still is, and with Chinese configured first the Latin
// document is read in the other languages. Tesseract runs through a wrapper that logs
// its arguments.
func TestOCRLatinDocument(t *testing.T) {
	need(t, "pdfseparate", "pdfunite", "convert")
	real, _ := exec.LookPath("tesseract")
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	wrap := filepath.Join(dir, "tesseract")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %q\nexec %q \"$@\"\n", log, real)
	if err := os.WriteFile(wrap, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := New(context.Background(), Options{Tesseract: wrap, OCRWorkers: 2, OCRDPI: scanDPI})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	doc := textThenBlank(t, dir)
	chinese := func(p *Parser, textPages int) bool {
		t.Helper()
		if err := os.WriteFile(log, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := p.Parse(context.Background(), "doc.pdf", doc(textPages), nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Pages != textPages+1 || len(d.OCR) != 1 {
			t.Fatalf("%d text pages: %d pages, %d OCR'd; want %d and 1", textPages, d.Pages, len(d.OCR), textPages+1)
		}
		calls := string(readFile(t, log))
		if !strings.Contains(calls, "-l eng") {
			t.Fatalf("%d text pages: no English reading in the calls:\n%s", textPages, calls)
		}
		return strings.Contains(calls, "chi_sim")
	}
	if chinese(p, latinPages) {
		t.Errorf("%d English text pages: the poorly read page was read with Chinese too", latinPages)
	}
	if !chinese(p, 2) {
		t.Errorf("2 English text pages: the poorly read page was not read with Chinese")
	}
	// Chinese configured first: a Latin document is still read in English.
	zh, err := New(context.Background(), Options{Tesseract: wrap, OCRWorkers: 2, OCRDPI: scanDPI, OCRLanguages: []string{"chi_sim", "eng"}})
	if err != nil {
		t.Fatal(err)
	}
	defer zh.Close()
	if chinese(zh, latinPages) {
		t.Errorf("chi_sim+eng, %d English text pages: the page was read with Chinese", latinPages)
	}
}

// textThenBlank returns what makes PDFs of n text pages (LinuxCNC Getting
// Started from page 5, at most latinPages) followed by a blank scanned
// page, which reads poorly: no words.
func textThenBlank(t *testing.T, dir string) func(n int) []byte {
	t.Helper()
	need(t, "pdfseparate", "pdfunite", "convert", "img2pdf")
	blank := filepath.Join(dir, "blank.png")
	sh(t, "convert", "-size", "1240x1754", "xc:white", "-depth", "8", blank)
	sh(t, "img2pdf", blank, "-o", filepath.Join(dir, "blank.pdf"))
	src := corpus(t, "LinuxCNC_Getting_Started.pdf")
	sh(t, "pdfseparate", "-f", "5", "-l", fmt.Sprint(4+latinPages), src, filepath.Join(dir, "t-%d.pdf"))
	return func(n int) []byte {
		t.Helper()
		var parts []string
		for i := range n {
			parts = append(parts, filepath.Join(dir, fmt.Sprintf("t-%d.pdf", 5+i)))
		}
		doc := filepath.Join(dir, fmt.Sprintf("doc-%d.pdf", n))
		sh(t, "pdfunite", append(append(parts, filepath.Join(dir, "blank.pdf")), doc)...)
		return readFile(t, doc)
	}
}

// TestParseFirstLeavesFigurePages: a PDF of latinPages text pages and a
// scanned one is read by ParseFirst without OCR, the scanned page counted
// as pending; Parse reads it. With two text pages the PDF is no manual of
// text with a figure, and ParseFirst reads the page as Parse does.
func TestParseFirstLeavesFigurePages(t *testing.T) {
	p := ocrParser(t)
	doc := textThenBlank(t, t.TempDir())
	ctx := context.Background()
	for _, c := range []struct{ text, pending, ocr int }{{latinPages, 1, 0}, {2, 0, 1}} {
		first, err := p.ParseFirst(ctx, "doc.pdf", doc(c.text), nil)
		if err != nil {
			t.Fatal(err)
		}
		if first.Pending != c.pending || len(first.OCR) != c.ocr || first.Pages != c.text+1 {
			t.Errorf("%d text pages, ParseFirst: %d pages, %d pending, %d OCR'd; want %d, %d, %d",
				c.text, first.Pages, first.Pending, len(first.OCR), c.text+1, c.pending, c.ocr)
		}
		whole, err := p.Parse(ctx, "doc.pdf", doc(c.text), nil)
		if err != nil {
			t.Fatal(err)
		}
		if whole.Pending != 0 || len(whole.OCR) != 1 {
			t.Errorf("%d text pages, Parse: %d pending, %d OCR'd; want 0 and 1", c.text, whole.Pending, len(whole.OCR))
		}
	}
}

// TestParseRestKeepsTextLayer: ParseRest of what ParseFirst left pending
// reads the scanned page by OCR without reading the text layer again (no
// poppler tool but pdftoppm, which renders the page, runs: each is a
// wrapper that logs its name), and gives what Parse gives. Without pages
// pending, or without a first reading, it is Parse.
func TestParseRestKeepsTextLayer(t *testing.T) {
	need(t, "tesseract", "pdftoppm", "pdfinfo", "pdftohtml", "pdftotext")
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	for _, tool := range []string{"pdftotext", "pdfinfo", "pdftohtml", "pdftoppm"} {
		real, _ := exec.LookPath(tool)
		script := fmt.Sprintf("#!/bin/sh\necho %s >> %q\nexec %q \"$@\"\n", tool, log, real)
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tess, _ := exec.LookPath("tesseract")
	p, err := New(context.Background(), Options{Tesseract: tess, PDFToText: filepath.Join(dir, "pdftotext"), OCRWorkers: 2, OCRDPI: scanDPI})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	data := textThenBlank(t, dir)(latinPages)
	calls := func(f func() (*Doc, error)) (*Doc, string) {
		t.Helper()
		if err := os.WriteFile(log, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return d, strings.Join(strings.Fields(string(readFile(t, log))), " ")
	}
	first, _ := calls(func() (*Doc, error) { return p.ParseFirst(ctx, "doc.pdf", data, nil) })
	if first.Pending != 1 {
		t.Fatalf("ParseFirst: %d pages pending, want 1", first.Pending)
	}
	rest, tools := calls(func() (*Doc, error) { return p.ParseRest(ctx, "doc.pdf", data, first, nil) })
	if tools != "pdftoppm" {
		t.Errorf("ParseRest ran %q, want pdftoppm alone (the page's image)", tools)
	}
	whole, tools := calls(func() (*Doc, error) { return p.Parse(ctx, "doc.pdf", data, nil) })
	if !strings.Contains(tools, "pdftotext") {
		t.Errorf("Parse ran %q, want pdftotext among them", tools)
	}
	same := func(what string, d *Doc) {
		t.Helper()
		if d.Pending != 0 || len(d.OCR) != 1 || d.Title != whole.Title || d.Pages != whole.Pages || d.Lang != whole.Lang ||
			!slices.Equal(d.Blocks, whole.Blocks) {
			t.Errorf("%s: %d pending, %d OCR'd, title %q, %d pages, %d blocks; Parse: %q, %d pages, %d blocks",
				what, d.Pending, len(d.OCR), d.Title, d.Pages, len(d.Blocks), whole.Title, whole.Pages, len(whole.Blocks))
		}
	}
	same("ParseRest", rest)
	again, _ := calls(func() (*Doc, error) { return p.ParseRest(ctx, "doc.pdf", data, first, nil) })
	same("ParseRest again", again)
	none, tools := calls(func() (*Doc, error) { return p.ParseRest(ctx, "doc.pdf", data, nil, nil) })
	same("ParseRest without a first reading", none)
	if !strings.Contains(tools, "pdftotext") {
		t.Errorf("ParseRest without a first reading ran %q, want pdftotext among them", tools)
	}
}
