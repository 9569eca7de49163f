package parse

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"strings"

	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"

	"github.com/shifu-factory/shifu"
)

// RenderPage returns a PNG of page (1-based) of a PDF, or of an image upload
// (its one page), widthPx wide, for the citation view.
func (p *Parser) RenderPage(ctx context.Context, data []byte, page int, widthPx int) ([]byte, error) {
	if widthPx <= 0 || widthPx > 4000 {
		return nil, shifu.Errorf(shifu.ErrInvalid, "width %d px is out of range; use 1 to 4000", widthPx)
	}
	if f, err := Sniff("image", data); err == nil && f == Image {
		return renderImage(data, page, widthPx)
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	s, err := p.openPage(ctx, data, page)
	if err != nil {
		return nil, err
	}
	defer s.close()
	res, err := s.inst.RenderToFile(&requests.RenderToFile{
		RenderPageInPixels: &requests.RenderPageInPixels{
			Page:  requests.Page{ByIndex: &requests.PageByIndex{Document: s.doc, Index: page - 1}},
			Width: widthPx,
		},
		OutputFormat: requests.RenderToFileOutputFormatPNG,
		OutputTarget: requests.RenderToFileOutputTargetBytes,
	})
	if err != nil {
		return nil, p.pdfErr(ctx, "document", err)
	}
	if res.ImageBytes == nil {
		return nil, fmt.Errorf("parse: render page %d: no image", page)
	}
	return *res.ImageBytes, nil
}

// openPage opens the document and checks that page (1-based) exists.
func (p *Parser) openPage(ctx context.Context, data []byte, page int) (*session, error) {
	s, err := p.open(ctx, "document", data)
	if err != nil {
		return nil, err
	}
	cnt, err := s.inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: s.doc})
	if err != nil {
		s.close()
		return nil, p.pdfErr(ctx, "document", err)
	}
	if page < 1 || page > cnt.PageCount {
		s.close()
		return nil, shifu.Errorf(shifu.ErrNotFound, "page %d does not exist; the document has %d pages", page, cnt.PageCount)
	}
	return s, nil
}

// Rect is an area of a page in fractions of its width and height, origin at
// the top left, for highlighting a quote over a rendered page.
type Rect struct {
	X, Y, W, H float64
}

// FindText returns the areas of page (1-based) covered by quote. When the
// whole quote is not found (line breaks and hyphens differ between the chunk
// text and the page), it falls back to its first words. No match is not an
// error: the result is empty.
func (p *Parser) FindText(ctx context.Context, data []byte, page int, quote string) ([]Rect, error) {
	quote = CleanLine(quote)
	if quote == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	s, err := p.openPage(ctx, data, page)
	if err != nil {
		return nil, err
	}
	defer s.close()
	pg, err := s.inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: s.doc, Index: page - 1})
	if err != nil {
		return nil, p.pdfErr(ctx, "document", err)
	}
	defer s.inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: pg.Page})
	ref := requests.Page{ByReference: &pg.Page}
	w, err := s.inst.FPDF_GetPageWidthF(&requests.FPDF_GetPageWidthF{Page: ref})
	if err != nil {
		return nil, err
	}
	h, err := s.inst.FPDF_GetPageHeightF(&requests.FPDF_GetPageHeightF{Page: ref})
	if err != nil {
		return nil, err
	}
	tp, err := s.inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: ref})
	if err != nil {
		return nil, err
	}
	defer s.inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})

	tries := []string{quote}
	if f := strings.Fields(quote); len(f) > 6 {
		tries = append(tries, strings.Join(f[:6], " "))
	}
	for _, q := range tries {
		start, count, err := search(s, tp.TextPage, q)
		if err != nil {
			return nil, err
		}
		if count == 0 {
			continue
		}
		n, err := s.inst.FPDFText_CountRects(&requests.FPDFText_CountRects{TextPage: tp.TextPage, StartIndex: start, Count: count})
		if err != nil {
			return nil, err
		}
		pw, ph := float64(w.PageWidth), float64(h.PageHeight)
		var out []Rect
		for i := range n.Count {
			r, err := s.inst.FPDFText_GetRect(&requests.FPDFText_GetRect{TextPage: tp.TextPage, Index: i})
			if err != nil {
				return nil, err
			}
			// PDF space has its origin at the bottom left.
			out = append(out, Rect{X: r.Left / pw, Y: (ph - r.Top) / ph, W: (r.Right - r.Left) / pw, H: (r.Top - r.Bottom) / ph})
		}
		return out, nil
	}
	return nil, nil
}

func search(s *session, tp references.FPDF_TEXTPAGE, q string) (start, count int, err error) {
	h, err := s.inst.FPDFText_FindStart(&requests.FPDFText_FindStart{TextPage: tp, Find: q})
	if err != nil {
		return 0, 0, err
	}
	defer s.inst.FPDFText_FindClose(&requests.FPDFText_FindClose{Search: h.Search})
	next, err := s.inst.FPDFText_FindNext(&requests.FPDFText_FindNext{Search: h.Search})
	if err != nil || !next.GotMatch {
		return 0, 0, err
	}
	i, err := s.inst.FPDFText_GetSchResultIndex(&requests.FPDFText_GetSchResultIndex{Search: h.Search})
	if err != nil {
		return 0, 0, err
	}
	c, err := s.inst.FPDFText_GetSchCount(&requests.FPDFText_GetSchCount{Search: h.Search})
	if err != nil {
		return 0, 0, err
	}
	return i.Index, c.Count, nil
}

// renderImage scales an image upload to widthPx (nearest pixel: a preview,
// the highlight is drawn over it).
func renderImage(data []byte, page, widthPx int) ([]byte, error) {
	if page != 1 {
		return nil, shifu.Errorf(shifu.ErrNotFound, "page %d does not exist; an image has one page", page)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width*cfg.Height > maxImagePixels {
		return nil, shifu.Errorf(shifu.ErrInvalid, "the stored image cannot be drawn")
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "the stored image cannot be drawn")
	}
	b := src.Bounds()
	h := max(1, b.Dy()*widthPx/b.Dx())
	dst := image.NewRGBA(image.Rect(0, 0, widthPx, h))
	for y := range h {
		sy := b.Min.Y + y*b.Dy()/h
		for x := range widthPx {
			dst.Set(x, y, src.At(b.Min.X+x*b.Dx()/widthPx, sy))
		}
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
