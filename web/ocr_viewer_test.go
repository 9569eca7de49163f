package web_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shifu-factory/shifu/internal/testenv"
)

// TestBrowserExtractiveOCRHighlight: with no model, the extractive answer's
// citation of an OCR'd page opens in the viewer with its quote highlighted
// (four scanned pages of Getting Started, the quote on page 22).
func TestBrowserExtractiveOCRHighlight(t *testing.T) {
	testenv.Tools(t, "tesseract", "pdftoppm", "img2pdf")
	src := corpusDoc(t, "LinuxCNC_Getting_Started.pdf")
	w := newWorld(t, worldOpts{noModel: true})
	work := t.TempDir()
	run0(t, "pdftoppm", "-r", "150", "-gray", "-png", "-f", "21", "-l", "23", src, filepath.Join(work, "p"))
	pngs, _ := filepath.Glob(filepath.Join(work, "p-*.png"))
	scan := filepath.Join(work, "scan.pdf")
	run0(t, "img2pdf", append(pngs, "-o", scan)...)
	uploadWait(t, w, "supervisor", w.acme.ID, part{"file", "getting-started-scan.pdf", readAll(t, scan)})

	ctx, dir := browser(t, 1280, 900)
	do(t, ctx, "login", loginAs(w, "acme", "worker"))
	done, _ := ask(t, ctx, "Is there something in the sample configs that makes a system information dump for problem diagnosis?")
	chip := run(t, ctx, "chip", chromedp.Text(css(`.chip .t`)))
	if done != "1" || !regexp.MustCompile(`p\. \d`).MatchString(chip) {
		t.Fatalf("answer done=%q, chip %q", done, chip)
	}
	do(t, ctx, "open citation", chromedp.Click(css(`.chip`)), chromedp.WaitVisible(css(`#viewer-img`)))
	run(t, ctx, "image", chromedp.Poll[bool](`document.getElementById('viewer-img').src.startsWith('blob:') && document.getElementById('viewer-img').complete && document.getElementById('viewer-img').naturalWidth > 0`,
		chromedp.WithPollingTimeout(60*time.Second)))
	marked := run(t, ctx, "highlight", chromedp.Evaluate[int](`(() => {
		const img = document.getElementById('viewer-img'), c = document.createElement('canvas');
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const g = c.getContext('2d'); g.drawImage(img, 0, 0);
		const px = g.getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < px.length; i += 4) if (px[i] - px[i + 2] > 60) n++;
		return n;
	})()`))
	shot(t, ctx, dir, "extractive-ocr-cited")
	if marked < 300 {
		asked := run(t, ctx, "page request", chromedp.Evaluate[string](`performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/pages/')).join(' ')`))
		quote := run(t, ctx, "quote", chromedp.Text(css(`#viewer-quote`)))
		t.Errorf("viewer: %d highlighted pixels; it asked %s for the quote %q (chip %q)", marked, asked, strings.TrimSpace(quote), chip)
	}
}
