package parse

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu/internal/testenv"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPDF(t *testing.T) {
	p := parser(t)
	var calls [][2]int
	d, err := p.Parse(context.Background(), "sample.pdf", readFile(t, "testdata/sample.pdf"), func(done, total int) {
		calls = append(calls, [2]int{done, total})
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != PDF || d.Pages != 4 || d.Title != "Spindle Manual" || d.Lang != "en" {
		t.Errorf("format %q pages %d title %q lang %q", d.Format, d.Pages, d.Title, d.Lang)
	}
	if len(calls) == 0 || calls[len(calls)-1] != [2]int{4, 4} {
		t.Errorf("progress calls %v, want to end at 4/4", calls)
	}
	want := []Block{
		{Kind: Heading, Level: 1, Text: "Introduction", Page: 1},
		{Kind: Paragraph, Text: "This manual explains the spindle setup for the milling machine. Read it before you start.", Page: 1},
		{Kind: Heading, Level: 1, Text: "Setup", Page: 2},
		{Kind: Paragraph, Text: "Connect the spindle drive to the controller and check the wiring twice.", Page: 2},
		{Kind: Table, Text: "Axis | Scale | Limit\nX | 1000 | 200\nY | 1000 | 150\nZ | 800 | 100", Page: 2},
		// the outline entry "Encoder" has no matching line: it opens the page
		{Kind: Heading, Level: 2, Text: "Encoder", Page: 3},
		{Kind: Paragraph, Text: "The encoder counts must match the configuration file exactly.", Page: 3},
		{Kind: Heading, Level: 2, Text: "Wiring", Page: 4},
		{Kind: Paragraph, Text: "Use shielded cable for the encoder signals.", Page: 4},
	}
	if len(d.Blocks) != len(want) {
		t.Fatalf("got %d blocks:\n%+v", len(d.Blocks), d.Blocks)
	}
	for i := range want {
		if d.Blocks[i] != want[i] {
			t.Errorf("block %d = %+v\nwant %+v", i, d.Blocks[i], want[i])
		}
	}
}

func TestPDFBad(t *testing.T) {
	p := parser(t)
	ctx := context.Background()
	_, err := p.Parse(ctx, "locked.pdf", readFile(t, "testdata/encrypted.pdf"), nil)
	wantInvalid(t, err, "locked.pdf", "encrypted (password protected)", "unprotected copy")

	_, err = p.Parse(ctx, "broken.pdf", []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage"), nil)
	wantInvalid(t, err, "broken.pdf", "corrupt or unreadable PDF")

	good := readFile(t, "testdata/sample.pdf")
	_, err = p.Parse(ctx, "cut.pdf", good[:len(good)/3], nil)
	if err == nil {
		// PDFium repairs some truncated files; that is fine as long as it does not crash.
		t.Log("truncated PDF was repaired by PDFium")
	}

	// An expired context stops the parse and returns the instance to the pool.
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.Parse(dead, "sample.pdf", good, nil); err == nil {
		t.Error("cancelled parse succeeded")
	}
	if _, err := p.Parse(ctx, "sample.pdf", good, nil); err != nil {
		t.Errorf("parser unusable after a cancelled parse: %v", err)
	}
}

func TestRenderPage(t *testing.T) {
	p := parser(t)
	data := readFile(t, "testdata/sample.pdf")
	img, err := p.RenderPage(context.Background(), data, 2, 300)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// Letter paper 612x792 pt at 300 px wide.
	if cfg.Width != 300 || cfg.Height < 385 || cfg.Height > 390 {
		t.Errorf("size %dx%d, want 300x388", cfg.Width, cfg.Height)
	}
	if _, err := p.RenderPage(context.Background(), data, 9, 300); err == nil {
		t.Error("page 9 of 4 rendered")
	}
	if _, err := p.RenderPage(context.Background(), data, 1, 0); err == nil {
		t.Error("width 0 rendered")
	}
}

func TestFindText(t *testing.T) {
	p := parser(t)
	data := readFile(t, "testdata/sample.pdf")
	rs, err := p.FindText(context.Background(), data, 2, "check the wiring twice")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("rects %+v, want 1", rs)
	}
	r := rs[0]
	// Third line of text: baseline 720-2*14 = 692 pt from the bottom → ~0.12 from the top.
	if r.X < 0.1 || r.X > 0.2 || r.Y < 0.09 || r.Y > 0.15 || r.W <= 0 || r.W > 0.5 || r.H <= 0 || r.H > 0.03 {
		t.Errorf("rect %+v out of place", r)
	}
	rs, err = p.FindText(context.Background(), data, 2, "not on this page at all")
	if err != nil || len(rs) != 0 {
		t.Errorf("missing quote: %+v, %v", rs, err)
	}
}

// TestCorpusPDF parses the real 1,335-page LinuxCNC manual.
func TestCorpusPDF(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: parses 1,335 pages")
	}
	path := corpus(t, "LinuxCNC_Documentation.pdf")
	start := time.Now()
	d, err := parser(t).Parse(context.Background(), "LinuxCNC_Documentation.pdf", readFile(t, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("%d pages in %v (%.0f pages/s), %d blocks", d.Pages, el, float64(d.Pages)/el.Seconds(), len(d.Blocks))
	if d.Pages != 1335 || d.Lang != "en" {
		t.Errorf("pages %d lang %q", d.Pages, d.Lang)
	}
	hs := headings(d)
	if len(hs) < 500 {
		t.Errorf("only %d headings", len(hs))
	}
	// Page 126 holds the lathe tool offset text the eval asks about.
	if b := findBlock(d, Paragraph, "offset from the center line of the spindle"); b == nil || b.Page != 126 {
		t.Errorf("evidence block = %+v, want on page 126", b)
	}
}

// TestCorpusManPages: the LinuxCNC man pages have no outline; each page's
// running header names its man page, which becomes the heading, and neither
// header nor footer is left in the text.
func TestCorpusManPages(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: parses 552 pages")
	}
	path := corpus(t, "LinuxCNC_Manual_Pages.pdf")
	d, err := parser(t).Parse(context.Background(), "LinuxCNC_Manual_Pages.pdf", readFile(t, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "LinuxCNC Manual Pages" {
		t.Errorf("title %q, want the file's name (the first man page's is not the collection's)", d.Title)
	}
	hs := headings(d)
	if len(hs) < 200 {
		t.Errorf("only %d headings", len(hs))
	}
	// unlinkp is described in halcmd(1): its block must sit under that heading.
	var under string
	for _, b := range d.Blocks {
		if b.Kind == Heading {
			under = b.Text
		}
		if b.Kind != Heading && strings.Contains(b.Text, "unlinkp") {
			break
		}
	}
	if under != "HALCMD(1)" {
		t.Errorf("unlinkp is under %q, want HALCMD(1)", under)
	}
	// PDFium glues a few footers to the body's last line ("…decelLinuxCNC
	// Documentation 2026-06-30 285"): those cannot be told from text.
	footer := regexp.MustCompile(`LinuxCNC Documentation\s+\d|\d\s*LinuxCNC Documentation`)
	left := map[int]bool{}
	for _, b := range d.Blocks {
		if b.Kind != Heading && (footer.MatchString(b.Text) || strings.Contains(b.Text, "Controller AXIS(1)")) {
			left[b.Page] = true
		}
	}
	t.Logf("%d headings; a running line left on %d of %d pages", len(hs), len(left), d.Pages)
	if len(left) > d.Pages/50 {
		t.Errorf("running header or footer left on %d pages: %v", len(left), left)
	}
}

func TestCorpusChinesePDF(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: parses a few hundred pages")
	}
	path := corpus(t, "debian-reference.zh-cn.pdf")
	data := readFile(t, path)
	d, err := parser(t).Parse(context.Background(), "debian-reference.zh-cn.pdf", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Lang != "zh" || d.Pages < 100 || len(headings(d)) < 50 {
		t.Errorf("lang %q pages %d headings %d", d.Lang, d.Pages, len(headings(d)))
	}
	// Lines inside a Chinese paragraph join without spaces between Han characters.
	han := regexp.MustCompile(`\p{Han} \p{Han}`)
	for _, b := range d.Blocks {
		if b.Kind == Paragraph && han.MatchString(b.Text) {
			t.Errorf("space between Han characters on page %d: %q", b.Page, b.Text)
			break
		}
	}

	// A per-document timeout stops the parse with a message the user can act on,
	// and the killed PDFium instances do not break the pool.
	base := parser(t)
	short := &Parser{opts: base.opts, pool: base.pool}
	short.opts.Timeout = 300 * time.Millisecond
	_, err = short.Parse(context.Background(), "slow.pdf", data, nil)
	wantInvalid(t, err, "slow.pdf", "took longer than")
	if _, err := base.Parse(context.Background(), "sample.pdf", readFile(t, "testdata/sample.pdf"), nil); err != nil {
		t.Errorf("pool broken after a timeout: %v", err)
	}
}

func TestCorpusHTML(t *testing.T) {
	d, err := lite().Parse(context.Background(), "pcbnew.html", readFile(t, corpus(t, "pcbnew.html")), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := findBlock(d, Heading, "性能")
	if h == nil || h.Anchor != "_性能" || d.Lang != "zh" {
		t.Fatalf("heading 性能 = %+v, lang %q", h, d.Lang)
	}
	// The eval's evidence for 图层预设 sits under that heading's anchor.
	if b := findBlock(d, Paragraph, "通过按住 Ctrl 并按 Tab 来使用快速切换器"); b == nil || b.Anchor != "_图层预设" {
		t.Errorf("evidence block = %+v", b)
	}
	g, err := lite().Parse(context.Background(), "gcode.html", readFile(t, corpus(t, "gcode.html")), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := findBlock(g, Heading, "Tool Length Offset"); h == nil || h.Anchor != "ref1" {
		t.Errorf("gcode section heading = %+v", h)
	}
	if b := findBlock(g, Table, "Apply additional Tool Length Offset"); b == nil || b.Anchor != "ref1" {
		t.Errorf("gcode row = %+v", b)
	}
}

// BenchmarkPDF measures pages per second on the real manual and, once,
// pdftotext on the same file for comparison.
func BenchmarkPDF(b *testing.B) {
	path := corpus(b, "LinuxCNC_Documentation.pdf")
	data := readFile(b, path)
	p := parser(b)
	if exe, err := exec.LookPath("pdftotext"); err == nil {
		start := time.Now()
		if err := exec.Command(exe, path, os.DevNull).Run(); err == nil {
			b.Logf("pdftotext: %v", time.Since(start))
		}
	}
	if os.Getenv("PDFTOTEXT") != "" {
		p = &Parser{opts: p.opts, pool: p.pool}
		p.opts.PDFToText = os.Getenv("PDFTOTEXT")
	}
	b.ResetTimer()
	pages := 0
	for b.Loop() {
		d, err := p.Parse(context.Background(), "LinuxCNC_Documentation.pdf", data, nil)
		if err != nil {
			b.Fatal(err)
		}
		pages += d.Pages
	}
	b.ReportMetric(float64(pages)/b.Elapsed().Seconds(), "pages/s")
}

func TestPDFPoppler(t *testing.T) {
	exe, err := exec.LookPath("pdftotext")
	testenv.Need(t, err == nil, "pdftotext is not installed (poppler-utils)")
	base := parser(t)
	p := &Parser{opts: base.opts, pool: base.pool}
	p.opts.PDFToText = exe
	d, err := p.Parse(context.Background(), "sample.pdf", readFile(t, "testdata/sample.pdf"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Pages != 4 || len(headings(d)) != 4 {
		t.Fatalf("pages %d headings %+v", d.Pages, headings(d))
	}
	for _, w := range []struct {
		kind BlockKind
		text string
		page int
	}{
		{Heading, "Setup", 2},
		{Paragraph, "check the wiring twice", 2},
		{Paragraph, "configuration file exactly", 3},
		{Heading, "Wiring", 4},
	} {
		if b := findBlock(d, w.kind, w.text); b == nil || b.Page != w.page {
			t.Errorf("%q: block %+v, want page %d", w.text, b, w.page)
		}
	}
	for _, b := range d.Blocks {
		if strings.Contains(b.Text, "Page ") {
			t.Errorf("running footer kept: %+v", b)
		}
	}
	p.opts.PDFToText = "/nonexistent/pdftotext" // falls back to PDFium
	if d, err := p.Parse(context.Background(), "sample.pdf", readFile(t, "testdata/sample.pdf"), nil); err != nil || d.Pages != 4 {
		t.Errorf("fallback: %v", err)
	}
}

func TestTidyTitle(t *testing.T) {
	for in, want := range map[string]string{
		"LinuxCNC V2.9.0~pre1+git20230208.f1270d6ed7, 28 Jun 2026":               "LinuxCNC",
		"Integrator Information V2.9.0~pre1+git20230208.f1270d6ed7, 28 Jun 2026": "Integrator Information",
		"V2.9.0~pre1+git20230208.f1270d6ed7":                                     "",
		"Debian 参考手册":                                                            "Debian 参考手册",
		"Spindle Drive Manual v2 (revised)":                                      "Spindle Drive Manual v2 (revised)",
	} {
		if got := tidyTitle(in); got != want {
			t.Errorf("tidyTitle(%q) = %q, want %q", in, got, want)
		}
	}
}

// textPDF writes a PDF whose pages each show lines in Helvetica, with a
// correct cross-reference table.
func textPDF(pages [][]string) []byte {
	var objs []string
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then page and content objects in pairs
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	for i, lines := range pages {
		var c strings.Builder
		c.WriteString("BT /F1 12 Tf 72 720 Td 16 TL\n")
		for _, l := range lines {
			fmt.Fprintf(&c, "(%s) Tj T*\n", l)
		}
		c.WriteString("ET")
		objs = append(objs, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i),
			fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

// TestPDFRepeatedPages: a PDF whose every page shows the same notice has
// text and parses to it (the running-header cleaner removed everything).
func TestPDFRepeatedPages(t *testing.T) {
	page := []string{"SAFETY NOTICE", "Press the red emergency stop before opening the guard.", "Lock out the main switch first."}
	data := textPDF([][]string{page, page, page})
	for _, p := range []*Parser{parser(t), {opts: parser(t).opts, pool: parser(t).pool}} {
		if p != parser(t) {
			tt, err := exec.LookPath("pdftotext")
			if err != nil {
				continue
			}
			p.opts.PDFToText = tt
		}
		d, err := p.Parse(context.Background(), "notice.pdf", data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Pages != 3 || findBlock(d, Paragraph, "emergency stop") == nil {
			t.Fatalf("pdftotext %q: pages %d, blocks %+v", p.opts.PDFToText, d.Pages, d.Blocks)
		}
	}
}
