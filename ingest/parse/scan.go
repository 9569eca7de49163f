package parse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // decoders for image uploads
	_ "image/png"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/klippa-app/go-pdfium/requests"
	_ "golang.org/x/image/tiff"
	"golang.org/x/sync/errgroup"

	"github.com/shifu-factory/shifu"
)

// ocrPDF reads by OCR the pages of raw whose text layer is missing or
// unusable (needsOCR, with or without its running lines), replacing their
// lines, and returns what it read. Pages with a good text layer keep it.
// With first, a PDF whose text layer holds latinPages pages or more (a
// manual with some figure pages, not a scan) is not read now: pending
// counts its pages to read, for the pass after its text is published
// (Parser.ParseFirst).
// poppler's pdftoppm (popplerRender), or else one PDFium session, renders
// the pages in order, at most one page ahead of each OCR slot, so memory
// stays a few page images whatever the document's length. A page that cannot be read within
// its deadline is recorded with confidence 0 (listed as unreadable) and the
// document goes on; only the end of ctx stops it.
func (p *Parser) ocrPDF(ctx context.Context, name string, data []byte, raw [][]string, first bool, progress func(done, total int)) (pages []shifu.PageText, pending int, err error) {
	if p.ocr == nil {
		return nil, 0, nil
	}
	var todo []int
	han := false
	// Judged also without running headers and footers: a scan stamped with
	// a text line on every page ("Confidential – page 3") is still a scan.
	clean := Clean(raw)
	for i, lines := range raw {
		if needsOCR(lines) || needsOCR(clean[i]) {
			todo = append(todo, i)
		} else if !han {
			han = hasHan(lines)
		}
	}
	if len(todo) == 0 {
		return nil, 0, nil
	}
	if first && len(raw)-len(todo) >= latinPages {
		return nil, len(todo), nil
	}
	// Enough pages of text and no Chinese in any: the pages to OCR are not
	// Chinese either (an English manual's figure pages).
	latin := !han && len(raw)-len(todo) >= latinPages
	type job struct {
		i   int
		img *image.Gray
	}
	jobs := make(chan job)
	out := make([]shifu.PageText, len(todo))
	var sawHan atomic.Bool
	sawHan.Store(han)
	n := len(raw)
	var done atomic.Int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		send := func(k int, img *image.Gray) error {
			select {
			case jobs <- job{k, img}:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		from := 0
		if p.opts.PDFToText != "" {
			// poppler renders natively; PDFium renders what it could not.
			n, err := p.popplerRender(gctx, data, todo, p.ocr.dpi, send)
			if err != nil && gctx.Err() == nil {
				slog.Warn("ocr: pdftoppm could not render, using PDFium", "file", name, "err", err)
			}
			if from = n; from == len(todo) || gctx.Err() != nil {
				return gctx.Err()
			}
		}
		s, err := p.open(gctx, name, data)
		if err != nil {
			return err
		}
		defer s.close()
		for k := from; k < len(todo); k++ {
			img, err := p.renderGray(s, todo[k], p.ocr.dpi)
			if err != nil {
				return p.pdfErr(gctx, name, fmt.Errorf("render page %d for OCR: %w", todo[k]+1, err))
			}
			if err := send(k, img); err != nil {
				return err
			}
		}
		return nil
	})
	for range cap(p.ocr.slots) {
		g.Go(func() error {
			for j := range jobs {
				page := todo[j.i] + 1
				sc := scriptUnknown
				if sawHan.Load() {
					sc = scriptHan
				} else if latin {
					sc = scriptLatin
				}
				r, err := p.ocr.read(gctx, j.img, p.ocr.dpi, sc)
				if err != nil {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					slog.Warn("ocr: page not read", "file", name, "page", page, "err", err)
					r = ocrPage{}
				}
				if hasHan(r.lines) {
					sawHan.Store(true)
				}
				r.text.Page = page
				raw[page-1], out[j.i] = r.lines, r.text
				if progress != nil {
					d := int(done.Add(1))
					mu.Lock()
					progress(n+d, n+len(todo))
					mu.Unlock()
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, err
	}
	return out, 0, nil
}

// latinPages is how many pages of a text layer without Chinese make a
// document's OCR read in its first language only (script), and how many
// pages of text make a PDF searchable before its other pages are read
// (ocrPDF's first).
const latinPages = 20

// renderGray renders page i (0-based) in grayscale at dpi, copied out of
// PDFium's memory.
func (p *Parser) renderGray(s *session, i, dpi int) (*image.Gray, error) {
	res, err := s.inst.RenderPageInDPI(&requests.RenderPageInDPI{
		Page:        requests.Page{ByIndex: &requests.PageByIndex{Document: s.doc, Index: i}},
		DPI:         dpi,
		ImageFormat: requests.RenderImageFormatGrayscale,
	})
	if err != nil {
		return nil, err
	}
	defer res.Cleanup()
	src, ok := res.Result.RenderedImage.(*image.Gray)
	if !ok {
		return nil, errors.New("pdfium did not render grayscale")
	}
	// PDFium pads rows to 4 bytes; the response's Stride does not always
	// say so, the buffer's length does.
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	stride := src.Stride
	if h > 0 && len(src.Pix)/h > stride {
		stride = len(src.Pix) / h
	}
	if w <= 0 || h <= 0 || stride < w || len(src.Pix) < stride*(h-1)+w {
		return nil, fmt.Errorf("pdfium rendered %d × %d pixels in %d bytes", w, h, len(src.Pix))
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		copy(img.Pix[y*w:(y+1)*w], src.Pix[y*stride:y*stride+w])
	}
	return img, nil
}

// parseImage reads a photo or scan of one page (JPEG, PNG or TIFF) by OCR
// into a one-page document.
func (p *Parser) parseImage(ctx context.Context, name string, data []byte, progress func(done, total int)) (*Doc, error) {
	if p.ocr == nil {
		return nil, shifu.Errorf(shifu.ErrUnavailable, "%s: images are read by OCR, which this server does not have (install tesseract-ocr); %s", name, accepted)
	}
	img, err := decodeGray(name, data)
	if err != nil {
		return nil, err
	}
	r, err := p.ocr.read(ctx, img, 0, scriptUnknown)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", shifu.Errorf(shifu.ErrInvalid, "%s: the image could not be read by OCR", name), err)
	}
	if progress != nil {
		progress(1, 1)
	}
	r.text.Page = 1
	pages := Clean([][]string{r.lines})
	return &Doc{Pages: 1, Blocks: paragraphs(pages[0], 1), OCR: []shifu.PageText{r.text}}, nil
}

// maxOCRSide is the longest side an image is read at: a 12-megapixel phone
// photo of one page has more pixels than OCR needs, and time grows with them.
const maxOCRSide = 4200

// decodeGray decodes an image upload to grayscale, after checking its size
// from the header (a small file can claim gigapixels).
func decodeGray(name string, data []byte) (*image.Gray, error) {
	cfg, kind, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: corrupt or unsupported image; accepted images: JPEG, PNG, TIFF", name)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxImagePixels {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: the image is %d × %d pixels; at most %d megapixels are accepted",
			name, cfg.Width, cfg.Height, maxImagePixels/1_000_000)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: the %s image is corrupt or truncated", name, kind)
	}
	g, ok := src.(*image.Gray)
	if !ok {
		g = image.NewGray(src.Bounds())
		draw.Draw(g, g.Bounds(), src, src.Bounds().Min, draw.Src)
	}
	for max(g.Bounds().Dx(), g.Bounds().Dy()) > maxOCRSide {
		g = half(g)
	}
	return g, nil
}
