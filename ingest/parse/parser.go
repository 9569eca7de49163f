package parse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/shifu-factory/shifu"
)

// Options tune a Parser. Zero values take the defaults.
type Options struct {
	MaxBytes   int64         // largest accepted upload; default 200 MiB
	Timeout    time.Duration // per document; default 5 min
	PDFWorkers int           // PDFium instances (or pdftotext processes) parsing pages in parallel; default 2
	// PDFToText, when set, is the path of poppler's pdftotext: page text then
	// comes from it, about 20x faster than PDFium in WebAssembly (LinuxCNC
	// manual: ~2 s instead of ~40 s on 2 cores), and the page count, title
	// and outline from poppler's pdfinfo and pdftohtml beside it (same
	// headings as PDFium's on the corpus); PDFium reads a file poppler
	// cannot, and rendering (OCR, page images) always uses PDFium. Empty
	// means PDFium only.
	PDFToText string
	// CacheDir, when set, keeps PDFium's WebAssembly compiled to machine
	// code (in its wazero subdirectory), so a process after the first
	// loads it instead of compiling it again (~4.7 s of CPU). Empty means
	// compile in every process. A cache that cannot be made costs only
	// the time: the pool starts without it.
	CacheDir string

	// Tesseract, when set, is the path of the tesseract command: PDF pages
	// without a usable text layer and image uploads (JPEG, PNG, TIFF) are
	// then read by OCR. Empty means no OCR: such pages stay empty and an
	// image is refused.
	Tesseract      string
	OCRLanguages   []string      // Tesseract language packs; the first is tried alone first; default eng, chi_sim
	OCRDPI         int           // resolution scanned PDF pages are rendered at for OCR; default 200
	OCRWorkers     int           // pages OCR'd at once by this Parser, across all documents; default PDFWorkers
	OCRPageTimeout time.Duration // per page; default 2 min
}

// Parser turns uploads into Docs. It owns the process's one PDFium
// (WebAssembly) pool, whose start-up costs seconds and ~100 MB, so make one
// and share it; the pool starts only when a PDF or a page image needs it (or
// Warm asks for it ahead). It is safe for concurrent use.
type Parser struct {
	opts Options
	pool *engine
	ocr  *ocr // nil without Tesseract
}

// New returns a Parser; it does not start PDFium (see Warm).
func New(ctx context.Context, opts Options) (*Parser, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 200 << 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.PDFWorkers <= 0 {
		opts.PDFWorkers = 2
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &Parser{opts: opts, pool: &engine{workers: opts.PDFWorkers, cacheDir: opts.CacheDir, ready: make(chan struct{})}}
	if opts.Tesseract != "" {
		var err error
		if p.ocr, err = newOCR(ctx, opts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Warm starts PDFium in the background, so a PDF that comes later does not
// wait for it; a no-op once started. With pdftotext, poppler reads a PDF
// with a text layer whole (readPoppler) and PDFium starts only for pages to
// render or a file poppler cannot read, so Warm leaves it unstarted: its
// CPU and ~100 MB would be spent for nothing on most PDFs.
func (p *Parser) Warm() {
	if p.opts.PDFToText == "" {
		p.pool.start()
	}
}

// Close stops the PDFium pool, waiting for a start under way.
func (p *Parser) Close() error {
	if p == nil || p.pool == nil {
		return nil
	}
	return p.pool.close()
}

// engine is the PDFium pool, started once on first use by one goroutine
// that close waits for.
type engine struct {
	workers  int
	cacheDir string
	cache    wazero.CompilationCache // nil without cacheDir
	mu       sync.Mutex
	started  bool
	closed   bool
	ready    chan struct{} // closed when pool and err are set
	pool     pdfium.Pool
	err      error
}

func (e *engine) start() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started || e.closed {
		return
	}
	e.started = true
	go func() {
		defer close(e.ready)
		rc := wazero.NewRuntimeConfig().
			WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithCloseOnContextDone(true).
			WithMemoryLimitPages(8192)
		if e.cacheDir != "" {
			// wazero writes each entry to a temporary file renamed into
			// place, so processes sharing the directory see whole entries;
			// entries are keyed by the module's hash and wazero's version.
			cc, err := wazero.NewCompilationCacheWithDir(filepath.Join(e.cacheDir, "wazero"))
			if err != nil {
				slog.Warn("parse: no compilation cache for PDFium, compiling it in this process", "dir", e.cacheDir, "err", err)
			} else {
				e.cache, rc = cc, rc.WithCompilationCache(cc)
			}
		}
		e.pool, e.err = webassembly.Init(webassembly.Config{
			MinIdle:  1,
			MaxIdle:  e.workers,
			MaxTotal: e.workers + 1, // one spare so RenderPage is not starved by a long parse
			// CloseOnContextDone lets Kill interrupt a page that hangs in PDFium.
			// A worker's memory is capped at 512 MiB (8192 pages of 64 KiB):
			// PDFium repairing a 190 MiB file of random bytes grew one
			// worker's memory without bound (peak RSS 3.1 GB before, 2.2 GB
			// with the cap, mostly garbage of the doublings; the 1,335-page
			// manual needs under 512 MiB: peak 0.55 GB either way). A file
			// that needs more fails as unreadable.
			RuntimeConfig: rc,
			ReuseWorkers:  true,
		})
		if e.err != nil {
			e.err = fmt.Errorf("parse: start pdfium: %w", e.err)
		}
	}()
}

// get starts the pool if need be and waits for it, or for ctx.
func (e *engine) get(ctx context.Context) (pdfium.Pool, error) {
	e.start()
	select {
	case <-e.ready:
		if e.pool == nil && e.err == nil {
			return nil, errors.New("parse: the parser is closed")
		}
		return e.pool, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *engine) close() error {
	e.mu.Lock()
	started, closed := e.started, e.closed
	e.closed = true
	e.mu.Unlock()
	if closed {
		return nil
	}
	if !started {
		close(e.ready)
		return nil
	}
	<-e.ready
	var err error
	if e.pool != nil {
		err = e.pool.Close()
	}
	if e.cache != nil {
		// The cache owns the compiled code the pool ran; it goes last.
		err = errors.Join(err, e.cache.Close(context.Background()))
	}
	return err
}

// Parse sniffs data and parses it into a Doc within the Parser's timeout.
// progress, when not nil, is told pages done/total (PDF and images). Pages
// read by OCR count twice, once read for text and once recognised, so total
// grows when a PDF turns out to be scanned.
func (p *Parser) Parse(ctx context.Context, name string, data []byte, progress func(done, total int)) (*Doc, error) {
	return p.parse(ctx, name, data, false, nil, progress)
}

// ParseFirst is Parse but for the figure pages of a PDF mostly of text
// (20 or more pages with a text layer): those are not read by OCR, and
// Doc.Pending counts them. Their OCR is most of such a manual's ingest,
// so ingest publishes what ParseFirst read and then reads the whole with
// Parse (the 1,335-page LinuxCNC manual, 23 figure pages: searchable after
// 2.4-3.0 s instead of ~19.5 s on 2 cores; shifu bench ingest).
func (p *Parser) ParseFirst(ctx context.Context, name string, data []byte, progress func(done, total int)) (*Doc, error) {
	return p.parse(ctx, name, data, true, nil, progress)
}

// ParseRest is Parse of the file that ParseFirst read as first: it reads
// the figure pages by OCR but not the text layer again, which first kept
// (1.6 s of the LinuxCNC manual's 10 s with its 23 figure pages). Without
// pages pending in first, or without first (a pass resumed in another
// process), it is Parse.
func (p *Parser) ParseRest(ctx context.Context, name string, data []byte, first *Doc, progress func(done, total int)) (*Doc, error) {
	var rest *layer
	if first != nil {
		rest = first.rest
	}
	return p.parse(ctx, name, data, false, rest, progress)
}

// parse is Parse, ParseFirst (first) and ParseRest (rest).
func (p *Parser) parse(ctx context.Context, name string, data []byte, first bool, rest *layer, progress func(done, total int)) (*Doc, error) {
	if int64(len(data)) > p.opts.MaxBytes {
		return nil, shifu.Errorf(shifu.ErrTooLarge, "%s: file is %d MiB; the limit is %d MiB", name, len(data)>>20, p.opts.MaxBytes>>20)
	}
	f, err := Sniff(name, data)
	if err != nil {
		return nil, err
	}
	outer := ctx // OCR is bounded per page, not by the document's timeout
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var doc *Doc
	switch f {
	case PDF:
		if rest != nil {
			doc, err = p.pdfDoc(outer, name, data, rest, false, progress)
		} else {
			doc, err = p.parsePDF(ctx, outer, name, data, first, progress)
		}
	case Image:
		doc, err = p.parseImage(outer, name, data, progress)
	case DOCX:
		doc, err = parseDOCX(name, data, p.opts.MaxBytes)
	case HTML:
		doc, err = parseHTML(name, data)
	case Markdown:
		doc, err = parseMarkdown(data)
	default:
		doc, err = parseText(data)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, shifu.Errorf(shifu.ErrInvalid, "%s: parsing took longer than %s; split the file or upload a smaller one", name, p.opts.Timeout)
		}
		return nil, err
	}
	// outer, not ctx: the document's timeout bounds reading its text, and
	// OCR after it is bounded per page.
	if err := outer.Err(); err != nil {
		return nil, err
	}
	doc.Format = f
	finish(doc)
	return doc, nil
}

// finish fills the fields every format derives the same way.
func finish(d *Doc) {
	texts := make([]string, 0, len(d.Blocks))
	for _, b := range d.Blocks {
		texts = append(texts, b.Text)
	}
	d.Lang = shifu.Lang(texts...)
	if d.Title == "" {
		for _, b := range d.Blocks {
			if b.Kind == Heading {
				d.Title = b.Text
				break
			}
		}
	}
}
