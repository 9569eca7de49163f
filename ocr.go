package shifu

import (
	"strings"
	"unicode"
)

// PageText is what OCR read on one page: its words with their boxes and how
// sure the engine was. It is kept per page so a citation of an OCR'd page can
// be highlighted as on a page with a text layer.
type PageText struct {
	Page       int     // 1-based
	Confidence float64 // mean word confidence, 0..100
	Lang       string  // the engine's languages used, e.g. "eng" or "chi_sim+eng"
	Words      []Word
}

// Word is one recognised word (or, in Chinese, often one character).
type Word struct {
	Text string
	Line int // words of one line share a number
	Box  Box
}

// Box is an area of a page in fractions of its width and height, origin top
// left.
type Box struct {
	X, Y, W, H float64
}

// Find returns the boxes covering quote on the page, one per line it spans.
// Words and quote compare by their letters and digits only, lower-cased, so
// spacing, hyphens and line breaks do not matter (nor the spaces OCR puts
// between Chinese characters). When the whole quote is not found, its first
// 24 letters are tried, as a quote may run on past what the page shows.
func (p PageText) Find(quote string) []Box {
	var stream []rune
	var owner []int // owner[i]: the word that stream[i] came from
	for i, w := range p.Words {
		for _, r := range foldText(w.Text) {
			stream = append(stream, r)
			owner = append(owner, i)
		}
	}
	q := foldText(quote)
	if len(q) == 0 || len(stream) == 0 {
		return nil
	}
	tries := [][]rune{q}
	if len(q) > 24 {
		tries = append(tries, q[:24])
	}
	for _, t := range tries {
		at := runeIndex(stream, t)
		if at < 0 {
			continue
		}
		return p.lineBoxes(owner[at], owner[at+len(t)-1])
	}
	return nil
}

// lineBoxes unites the boxes of words from..to (inclusive), one per line.
func (p PageText) lineBoxes(from, to int) []Box {
	var out []Box
	line := -1
	for _, w := range p.Words[from : to+1] {
		b := w.Box
		if w.Line != line || len(out) == 0 {
			out = append(out, b)
			line = w.Line
			continue
		}
		u := &out[len(out)-1]
		x0, y0 := min(u.X, b.X), min(u.Y, b.Y)
		x1, y1 := max(u.X+u.W, b.X+b.W), max(u.Y+u.H, b.Y+b.H)
		*u = Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
	}
	return out
}

func foldText(s string) []rune {
	var out []rune
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, r)
		}
	}
	return out
}

func runeIndex(s, sub []rune) int {
outer:
	for i := 0; i+len(sub) <= len(s); i++ {
		for j, r := range sub {
			if s[i+j] != r {
				continue outer
			}
		}
		return i
	}
	return -1
}
