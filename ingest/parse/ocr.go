package parse

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shifu-factory/shifu"
)

// OCR reads pages that have no usable text layer (scans, photos) with the
// Tesseract command line, one process per page: a page that crashes or hangs
// the engine is killed at its deadline without touching the server, memory is
// the process's and returned when it exits, and no cgo is needed (PDFium runs
// in WebAssembly for the same reason). The price is loading the language
// models for every page: 0.2 s of CPU of the 1.1 s an English page at 200
// dpi takes (eng), 0.5 s of 2.9 s for a Chinese page (chi_sim+eng).
//
// Parallelism is bounded by one semaphore per Parser, shared by every
// document: pages of concurrent ingest jobs take turns, so a long scan of one
// tenant does not stop another's document.
type ocr struct {
	path    string
	langs   []string // the first is tried alone first; all together after
	dpi     int
	timeout time.Duration
	slots   chan struct{}
}

// maxOCROutput bounds what one page may print: a dense A4 page at 300 dpi
// gives ~200 KiB of TSV.
const maxOCROutput = 8 << 20

// maxImagePixels bounds an image's size before it is decoded (a 40-megapixel
// phone photo is ~7,300 × 5,500); a larger one is refused, not scaled, since
// decoding it already costs the memory.
const maxImagePixels = 60_000_000

// ocrPage is one page's OCR result: its lines (for the block pipeline) and
// its words with boxes.
type ocrPage struct {
	lines []string
	text  shifu.PageText
}

// script is what a document's other pages tell about a page to OCR.
type script int

const (
	scriptUnknown script = iota // read with the first language, then all if it reads poorly
	scriptHan                   // Chinese seen: read with all languages from the start
	scriptLatin                 // a text layer of many pages and no Chinese: no Chinese model
)

// read OCRs one grayscale page image. It first reads with the first language
// alone (all of them in a document that showed Chinese); a page that reads
// poorly is asked for its orientation (Tesseract's OSD), turned upright, and
// read again with all languages (all but Chinese in a document whose text
// layer is Latin), and the better reading is kept. A page skewed by up to 5°
// is straightened first (skew).
// Boxes are mapped back to the image as given, so the viewer's page image
// needs no turning.
//
// dpi is the image's resolution, 0 when unknown (a photo): Tesseract then
// estimates it from the letters.
func (o *ocr) read(ctx context.Context, img *image.Gray, dpi int, sc script) (ocrPage, error) {
	select {
	case o.slots <- struct{}{}:
	case <-ctx.Done():
		return ocrPage{}, ctx.Err()
	}
	defer func() { <-o.slots }()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	deg := skew(img)
	if deg != 0 {
		b := img.Bounds()
		r, err := o.upright(ctx, straighten(img, deg), dpi, sc)
		for i := range r.text.Words {
			r.text.Words[i].Box = unskew(r.text.Words[i].Box, deg, b.Dx(), b.Dy())
		}
		return r, err
	}
	return o.upright(ctx, img, dpi, sc)
}

// upright reads a level page, turning it upright first if it reads poorly.
func (o *ocr) upright(ctx context.Context, img *image.Gray, dpi int, sc script) (ocrPage, error) {
	all := strings.Join(o.langs, "+")
	first := o.langs[0]
	switch sc {
	case scriptHan:
		first = all // a document that showed Chinese is read with it from the start
	case scriptLatin:
		// A figure page of an English manual reads poorly in any language:
		// reading it again with Chinese cost 2.7-8.1 s a page and read no
		// better (LinuxCNC_Documentation.pdf, 2 of its 23 OCR pages).
		if l := notHan(o.langs); len(l) > 0 {
			all = strings.Join(l, "+")
			if !slices.Contains(l, first) {
				first = all // Chinese configured first: start with the rest
			}
		}
	}
	best, err := o.recognise(ctx, img, dpi, 0, first)
	if err != nil || good(best.text) || ctx.Err() != nil {
		return best, o.deadline(ctx, err)
	}
	rot, err := o.orientation(ctx, img)
	if err != nil && ctx.Err() != nil {
		return best, o.deadline(ctx, err)
	}
	if rot == 0 && first == all {
		return best, nil // nothing else to try
	}
	again, err := o.recognise(ctx, img, dpi, rot, all)
	if err != nil {
		return best, o.deadline(ctx, err)
	}
	if score(again.text) > score(best.text) {
		best = again
	}
	return best, nil
}

func (o *ocr) deadline(ctx context.Context, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("ocr: page took longer than %s: %w", o.timeout, err)
	}
	return err
}

// notHan is langs without Tesseract's Chinese models (chi_sim, chi_tra and
// their _vert forms).
func notHan(langs []string) []string {
	var out []string
	for _, l := range langs {
		if !strings.HasPrefix(l, "chi_") {
			out = append(out, l)
		}
	}
	return out
}

// good: a reading with enough words read confidently needs no second try.
func good(t shifu.PageText) bool { return t.Confidence >= 75 && len(t.Words) >= 5 }

// score ranks two readings of one page: confidence, weighted by how much of
// it there is (an upside-down page reads as a few confident specks).
func score(t shifu.PageText) float64 {
	return t.Confidence * float64(min(len(t.Words), 50))
}

// recognise runs Tesseract on img turned by rot degrees clockwise (0, 90,
// 180, 270) and maps the word boxes back to img.
func (o *ocr) recognise(ctx context.Context, img *image.Gray, dpi, rot int, langs string) (ocrPage, error) {
	in := img
	if rot != 0 {
		in = rotate(img, rot)
	}
	args := []string{"-l", langs, "--psm", "3"}
	if dpi > 0 {
		args = append(args, "--dpi", strconv.Itoa(dpi))
	}
	out, err := o.run(ctx, pgm(in), append(args, "tsv")...)
	if err != nil {
		return ocrPage{}, err
	}
	b := in.Bounds()
	p, err := parseTSV(out, b.Dx(), b.Dy())
	if err != nil {
		return ocrPage{}, err
	}
	p.text.Lang = langs
	if rot != 0 {
		for i := range p.text.Words {
			p.text.Words[i].Box = unrotate(p.text.Words[i].Box, rot)
		}
	}
	return p, nil
}

// orientation asks Tesseract's OSD how far the page is turned, on a half
// size copy (OSD needs only the shapes of letters; full size costs 3x).
func (o *ocr) orientation(ctx context.Context, img *image.Gray) (int, error) {
	out, err := o.run(ctx, pgm(half(img)), "--psm", "0")
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(l, "Rotate:"); ok {
			r, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil && r%90 == 0 && r >= 0 && r < 360 {
				return r, nil
			}
		}
	}
	return 0, nil // too little text to tell: leave the page as it is
}

// run starts Tesseract (no shell) with the image on stdin and returns its
// stdout, at most maxOCROutput bytes. OMP_THREAD_LIMIT=1: parallelism is
// across pages, bounded by slots; Tesseract's own threads only fight them.
func (o *ocr) run(ctx context.Context, img []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, o.path, append([]string{"stdin", "stdout"}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.Stdin = bytes.NewReader(img)
	var stdout, stderr capped
	stdout.max, stderr.max = maxOCROutput, 4<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	// Not niced like pdftotext: each page has a deadline (OCRPageTimeout),
	// and on a busy machine a nice-10 tesseract was starved past it, losing
	// pages; OCR is bounded by its slots instead.
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ocr: %w", ctx.Err())
		}
		return nil, fmt.Errorf("ocr: tesseract %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.b.String()))
	}
	if stdout.over {
		return nil, fmt.Errorf("ocr: tesseract printed more than %d MiB for one page", maxOCROutput>>20)
	}
	return stdout.b.Bytes(), nil
}

// capped keeps the first max bytes written to it and drops the rest, so a
// runaway process cannot fill memory.
type capped struct {
	b    bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room < len(p) {
		c.over = true
		c.b.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.b.Write(p)
}

// parseTSV reads Tesseract's TSV (level 5 rows are words) into lines of
// text and word boxes as fractions of a w × h image.
func parseTSV(tsv []byte, w, h int) (ocrPage, error) {
	var p ocrPage
	var cur []string
	curKey, line := "", 0
	var confSum float64
	flush := func() {
		if len(cur) > 0 {
			p.lines = append(p.lines, strings.Join(cur, " "))
			cur = cur[:0]
		}
	}
	prevBlock := ""
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 12 || f[0] != "5" {
			continue
		}
		text := strings.TrimSpace(f[11])
		conf, err := strconv.ParseFloat(f[10], 64)
		if text == "" || err != nil || conf < 0 {
			continue
		}
		nums := make([]int, 4)
		for i := range nums {
			if nums[i], err = strconv.Atoi(f[6+i]); err != nil {
				return p, fmt.Errorf("ocr: bad TSV row %q", sc.Text())
			}
		}
		if key := f[2] + "." + f[3] + "." + f[4]; key != curKey {
			flush()
			if block := f[2] + "." + f[3]; block != prevBlock && prevBlock != "" {
				p.lines = append(p.lines, "") // a paragraph break
			}
			prevBlock = f[2] + "." + f[3]
			curKey = key
			line++
		}
		cur = append(cur, text)
		confSum += conf
		p.text.Words = append(p.text.Words, shifu.Word{Text: text, Line: line, Box: shifu.Box{
			X: float64(nums[0]) / float64(w), Y: float64(nums[1]) / float64(h),
			W: float64(nums[2]) / float64(w), H: float64(nums[3]) / float64(h)}})
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("ocr: read TSV: %w", err)
	}
	flush()
	if n := len(p.text.Words); n > 0 {
		p.text.Confidence = confSum / float64(n)
	}
	return p, nil
}

// pgm encodes a grayscale image as binary PGM: Tesseract (Leptonica) reads
// it from stdin without any compression to undo.
func pgm(img *image.Gray) []byte {
	b := img.Bounds()
	hdr := fmt.Sprintf("P5\n%d %d\n255\n", b.Dx(), b.Dy())
	out := make([]byte, 0, len(hdr)+b.Dx()*b.Dy())
	out = append(out, hdr...)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := img.PixOffset(b.Min.X, y)
		out = append(out, img.Pix[i:i+b.Dx()]...)
	}
	return out
}

// rotate turns img by deg (90, 180, 270) clockwise.
func rotate(img *image.Gray, deg int) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	var out *image.Gray
	if deg == 180 {
		out = image.NewGray(image.Rect(0, 0, w, h))
	} else {
		out = image.NewGray(image.Rect(0, 0, h, w))
	}
	for y := range h {
		row := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		for x := range w {
			v := row[x]
			switch deg {
			case 90:
				out.Pix[x*out.Stride+(h-1-y)] = v
			case 180:
				out.Pix[(h-1-y)*out.Stride+(w-1-x)] = v
			case 270:
				out.Pix[(w-1-x)*out.Stride+y] = v
			}
		}
	}
	return out
}

// unrotate maps a box found on the image turned by deg clockwise back to the
// image before turning (all in fractions).
func unrotate(r shifu.Box, deg int) shifu.Box {
	switch deg {
	case 90: // turned (x, y) = (1-y0, x0)
		return shifu.Box{X: r.Y, Y: 1 - r.X - r.W, W: r.H, H: r.W}
	case 180:
		return shifu.Box{X: 1 - r.X - r.W, Y: 1 - r.Y - r.H, W: r.W, H: r.H}
	case 270: // turned (x, y) = (y0, 1-x0)
		return shifu.Box{X: 1 - r.Y - r.H, Y: r.X, W: r.H, H: r.W}
	}
	return r
}

// half scales img to half size by averaging 2 × 2 pixels.
func half(img *image.Gray) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		r0 := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+2*y):]
		r1 := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+2*y+1):]
		for x := range w {
			s := int(r0[2*x]) + int(r0[2*x+1]) + int(r1[2*x]) + int(r1[2*x+1])
			out.Pix[y*out.Stride+x] = uint8(s / 4)
		}
	}
	return out
}

// hasHan reports Chinese characters in a reading, which then makes the rest
// of the document be read with all languages from the start.
func hasHan(lines []string) bool {
	n := 0
	for _, l := range lines {
		for _, r := range l {
			if unicode.Is(unicode.Han, r) {
				if n++; n >= 10 {
					return true
				}
			}
		}
	}
	return false
}

// needsOCR reports a page whose text layer is missing or unusable: fewer
// than 20 letters and digits, or mostly replacement, private-use or control
// characters (a font without a Unicode map).
func needsOCR(lines []string) bool {
	good, bad := 0, 0
	for _, l := range lines {
		for _, r := range l {
			switch {
			case r == unicode.ReplacementChar || unicode.Is(unicode.Co, r) || (unicode.IsControl(r) && r != '\t'):
				bad++
			case unicode.IsLetter(r) || unicode.IsDigit(r):
				good++
			}
		}
	}
	return good < 20 || bad*2 > good
}

func newOCR(ctx context.Context, opts Options) (*ocr, error) {
	o := &ocr{path: opts.Tesseract, langs: opts.OCRLanguages, dpi: opts.OCRDPI, timeout: opts.OCRPageTimeout}
	if len(o.langs) == 0 {
		o.langs = []string{"eng", "chi_sim"}
	}
	if o.dpi <= 0 {
		o.dpi = 200
	}
	if o.timeout <= 0 {
		o.timeout = 2 * time.Minute
	}
	n := opts.OCRWorkers
	if n <= 0 {
		n = opts.PDFWorkers
	}
	o.slots = make(chan struct{}, n)
	// A missing language pack would make every page read as noise: refuse
	// to start instead.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, o.path, "--list-langs").Output()
	if err != nil {
		return nil, fmt.Errorf("parse: tesseract --list-langs: %w", err)
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		have[l] = true
	}
	for _, l := range append([]string{"osd"}, o.langs...) {
		if !have[l] {
			return nil, shifu.Errorf(shifu.ErrInvalid, "OCR language %q is not installed for %s (Debian: apt-get install tesseract-ocr-%s)",
				l, o.path, strings.ReplaceAll(l, "_", "-"))
		}
	}
	return o, nil
}
