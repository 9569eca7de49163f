package parse

import (
	"image"
	"math"

	"github.com/shifu-factory/shifu"
)

// skew estimates how many degrees (clockwise positive, at most 5) the text
// lines of a page image are turned, the cheap way: the angle whose row
// profile of dark pixels has the sharpest peaks (text lines and the gaps
// between them) wins. It works on a copy at most ~1,000 px wide, so it costs
// a few milliseconds; 0 when no angle beats level by 5 %, as on a page
// without lines of text (or turned a quarter, which OSD handles).
func skew(img *image.Gray) float64 {
	small := img
	for small.Bounds().Dx() > 1000 {
		small = half(small)
	}
	b := small.Bounds()
	var xs, ys []float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := small.Pix[small.PixOffset(b.Min.X, y):]
		for x := range b.Dx() {
			if row[x] < 128 {
				xs, ys = append(xs, float64(x)), append(ys, float64(y-b.Min.Y))
			}
		}
	}
	if len(xs) < 500 {
		return 0
	}
	w, h := b.Dx(), b.Dy()
	hist := make([]float64, h+w/5+w/5+4)
	score := func(deg float64) float64 {
		t := math.Tan(deg * math.Pi / 180)
		clear(hist)
		off := float64(w/5 + 2)
		for i := range xs {
			if r := int(ys[i] - xs[i]*t + off); r >= 0 && r < len(hist) {
				hist[r]++
			}
		}
		var s float64
		for _, v := range hist {
			s += v * v
		}
		return s
	}
	level := score(0)
	best, bestScore := 0.0, level
	for a := -5.0; a <= 5.0; a += 0.25 {
		if s := score(a); s > bestScore {
			best, bestScore = a, s
		}
	}
	for a := best - 0.2; a <= best+0.2; a += 0.05 {
		if s := score(a); s > bestScore {
			best, bestScore = a, s
		}
	}
	if bestScore < level*1.05 {
		return 0
	}
	return best
}

// straighten turns img counter-clockwise by deg about its centre (undoing a
// clockwise skew of deg), filling the corners with white.
func straighten(img *image.Gray, deg float64) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	sin, cos := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w)/2, float64(h)/2
	for y := range h {
		dy := float64(y) - cy
		for x := range w {
			dx := float64(x) - cx
			// the source of (x, y) is (x, y) turned clockwise by deg
			sx, sy := int(cx+dx*cos-dy*sin+0.5), int(cy+dx*sin+dy*cos+0.5)
			v := uint8(255)
			if sx >= 0 && sy >= 0 && sx < w && sy < h {
				v = img.Pix[img.PixOffset(b.Min.X+sx, b.Min.Y+sy)]
			}
			out.Pix[y*out.Stride+x] = v
		}
	}
	return out
}

// unskew maps a box found on the straightened image (fractions of w × h)
// back to the image before straightening: the box of its turned corners.
func unskew(r shifu.Box, deg float64, w, h int) shifu.Box {
	sin, cos := math.Sincos(deg * math.Pi / 180)
	fw, fh := float64(w), float64(h)
	cx, cy := fw/2, fh/2
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [4][2]float64{{r.X, r.Y}, {r.X + r.W, r.Y}, {r.X, r.Y + r.H}, {r.X + r.W, r.Y + r.H}} {
		dx, dy := c[0]*fw-cx, c[1]*fh-cy
		sx, sy := cx+dx*cos-dy*sin, cy+dx*sin+dy*cos
		x0, y0, x1, y1 = min(x0, sx), min(y0, sy), max(x1, sx), max(y1, sy)
	}
	x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
	return shifu.Box{X: x0 / fw, Y: y0 / fh, W: (x1 - x0) / fw, H: (y1 - y0) / fh}
}
