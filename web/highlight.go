package web

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
)

// Rect is an area of a page in fractions of its width and height, origin top
// left (what the parser's FindText reports).
type Rect struct{ X, Y, W, H float64 }

// TextFinder is an optional PageRenderer that can locate a quote on a page;
// the server then paints the quote's areas over the rendered image.
type TextFinder interface {
	FindRects(ctx context.Context, pdf []byte, page int, quote string) ([]Rect, error)
}

// highlightPNG paints translucent yellow over rects of a PNG. It returns the
// input unchanged when there is nothing to paint.
func highlightPNG(src []byte, rects []Rect) ([]byte, error) {
	if len(rects) == 0 {
		return src, nil
	}
	img, err := png.Decode(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	dst := image.NewRGBA(b)
	draw.Draw(dst, b, img, b.Min, draw.Src)
	mark := image.NewUniform(color.NRGBA{R: 255, G: 214, B: 0, A: 110})
	w, h := float64(b.Dx()), float64(b.Dy())
	for _, r := range rects {
		// A little padding, so the mark covers ascenders and descenders.
		x0, y0 := int(r.X*w)-2, int(r.Y*h)-2
		x1, y1 := int((r.X+r.W)*w)+2, int((r.Y+r.H)*h)+2
		area := image.Rect(x0, y0, x1, y1).Add(b.Min).Intersect(b)
		draw.Draw(dst, area, mark, image.Point{}, draw.Over)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&out, dst); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
