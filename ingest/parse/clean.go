package parse

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Clean removes running headers and footers and the entries of tables of
// contents, figures and tables from the pages of a document, and normalises
// the whitespace of every line. Each page is a list of lines in
// reading order; the result has the same number of pages, blank lines dropped
// at page edges but kept inside (they mark paragraph breaks).
func Clean(pages [][]string) [][]string {
	out := make([][]string, len(pages))
	for i, p := range pages {
		lines := make([]string, 0, len(p))
		for _, l := range p {
			if l = CleanLine(l); !isLeader(l) {
				lines = append(lines, l)
			}
		}
		out[i] = trimBlank(lines)
	}
	dropRunning(out)
	return out
}

// isLeader reports a line of a table of contents (or of figures, or of
// tables): a title, a dot leader and a page number, "1.3 Getting Help . . . 2".
// Such lines hold every heading of a manual and nothing else, so they matched
// almost any question and outranked the pages they point to.
func isLeader(l string) bool {
	end := len(l)
	for end > 0 && (l[end-1] >= '0' && l[end-1] <= '9' || strings.IndexByte("ivxlcdm", l[end-1]) >= 0) {
		end--
	}
	if end == len(l) || end == 0 {
		return false
	}
	dots := 0
	for i := end - 1; i >= 0 && dots < 4; i-- {
		switch l[i] {
		case '.':
			dots++
		case ' ', '\t':
		default:
			return false
		}
	}
	return dots >= 4
}

// edge is how many non-blank lines at the top and at the bottom of a page may
// be a running header or footer: three, as in "LinuxCNC Documentation /
// 2007-04-01 / 4", where two left the page number in the text.
const edge = 3

// dropRunning removes lines that repeat at the top or bottom of more than
// half of the pages, unless that would leave more than half of the pages
// empty. Lines compare by runningKey, so "Page 12" and "Page 13"
// match, and so do the mirrored footers of left and right pages.
func dropRunning(pages [][]string) {
	if len(pages) < 3 {
		return
	}
	top, bottom := map[string]int{}, map[string]int{}
	for _, p := range pages {
		seenT, seenB := map[string]bool{}, map[string]bool{}
		for _, i := range edgeLines(p, true) {
			if k := runningKey(p[i]); !seenT[k] {
				seenT[k] = true
				top[k]++
			}
		}
		for _, i := range edgeLines(p, false) {
			if k := runningKey(p[i]); !seenB[k] {
				seenB[k] = true
				bottom[k]++
			}
		}
	}
	half := len(pages) / 2
	out := make([][]string, len(pages))
	emptied := 0
	for n, p := range pages {
		out[n] = p
		drop := map[int]bool{}
		for _, i := range edgeLines(p, true) {
			if top[runningKey(p[i])] > half {
				drop[i] = true
			}
		}
		for _, i := range edgeLines(p, false) {
			if bottom[runningKey(p[i])] > half {
				drop[i] = true
			}
		}
		if len(drop) == 0 {
			continue
		}
		kept := p[:0:0]
		for i, l := range p {
			if !drop[i] {
				kept = append(kept, l)
			}
		}
		if out[n] = trimBlank(kept); len(out[n]) == 0 {
			emptied++
		}
	}
	// Lines that are all there is on most pages are the document's text (a
	// form or notice printed on every page), not a header around it.
	if emptied > half {
		return
	}
	copy(pages, out)
}

// edgeLines returns the indexes of the first (or last) non-blank lines.
func edgeLines(p []string, top bool) []int {
	var idx []int
	for k := range p {
		i := k
		if !top {
			i = len(p) - 1 - k
		}
		if p[i] == "" {
			continue
		}
		idx = append(idx, i)
		if len(idx) == edge {
			break
		}
	}
	return idx
}

// runningKey is what stays of a line across the pages it runs on. A line
// with words keeps its words of letters, less the names of months: page
// numbers, dates and the spacing between them go ("4 2007-04-01 Manual",
// "42007-04-01 Manual" and "Manual 04 APR 2017 5" are one footer). A line
// without letters keeps its shape, digit runs masked: "12" and a Roman page
// number are "#", "2007-04-01" is "#-#-#", and a section number "1.2.7" or a
// rule of "#####" stays apart from page numbers.
func runningKey(s string) string {
	s = strings.ToLower(s)
	words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	words = slices.DeleteFunc(words, func(w string) bool { return months[w] })
	if len(words) > 0 && !isRoman(strings.Join(words, "")) {
		return strings.Join(words, " ")
	}
	var b strings.Builder
	prevDigit := false
	for _, r := range s {
		if unicode.IsDigit(r) {
			if !prevDigit {
				b.WriteByte('#')
			}
			prevDigit = true
			continue
		}
		prevDigit = false
		b.WriteRune(r)
	}
	if k := b.String(); !isRoman(k) {
		return k
	}
	return "#"
}

var months = map[string]bool{
	"january": true, "february": true, "march": true, "april": true, "may": true, "june": true, "july": true,
	"august": true, "september": true, "october": true, "november": true, "december": true,
	"jan": true, "feb": true, "mar": true, "apr": true, "jun": true, "jul": true, "aug": true,
	"sep": true, "sept": true, "oct": true, "nov": true, "dec": true,
}

func isRoman(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	return strings.Trim(s, "ivxlc") == ""
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// CleanLine normalises one line: control characters and NULs go, typographic
// ligatures and odd spaces become plain letters and spaces, and runs of
// spaces collapse to one; a space between two Han characters goes (it is a
// line break or layout artefact, not a word boundary). Full-width punctuation is kept on purpose (full
// NFKC would turn Chinese "，" into ",").
func CleanLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	var prev rune
	for _, r := range s {
		if r == utf8.RuneError {
			continue
		}
		lig, isLig := ligatures[r]
		switch {
		case r == '\u00ad' || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff' || r == '\ufffe':
			continue // soft hyphen, zero-width characters, BOM
		case r == '\t' || unicode.IsSpace(r) || r == '\u3000':
			space = true
			continue
		case unicode.IsControl(r):
			continue
		}
		if space && b.Len() > 0 && !(unicode.Is(unicode.Han, prev) && unicode.Is(unicode.Han, r)) {
			b.WriteByte(' ')
		}
		space = false
		prev = r
		if isLig {
			b.WriteString(lig)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var ligatures = map[rune]string{
	'\ufb00': "ff", '\ufb01': "fi", '\ufb02': "fl", '\ufb03': "ffi", '\ufb04': "ffl", '\ufb05': "st", '\ufb06': "st",
	'\u2010': "-", '\u2011': "-", '\u2212': "-",
}

// JoinLines joins the lines of one paragraph: a hyphen at a line end followed
// by a lower-case word is a broken word and is removed; Han characters join
// without a space; everything else joins with one space.
func JoinLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(l)
			continue
		}
		cur := b.String()
		last, _ := utf8.DecodeLastRuneInString(cur)
		first, _ := utf8.DecodeRuneInString(l)
		switch {
		case last == '-' && unicode.IsLower(first) && len(cur) > 1 && isLetterBefore(cur):
			s := cur[:len(cur)-1]
			b.Reset()
			b.WriteString(s)
		case isCJK(last) && isCJK(first):
			// no space between Chinese characters or their punctuation
		default:
			b.WriteByte(' ')
		}
		b.WriteString(l)
	}
	return b.String()
}

func isLetterBefore(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:len(s)-1])
	return unicode.IsLetter(r)
}

// isCJK reports Han characters and CJK/full-width punctuation.
func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || (r >= 0x3000 && r <= 0x303f) || (r >= 0xff00 && r <= 0xffef) ||
		unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

// normText normalises CRLF/CR line ends to LF.
func normText(s string) string {
	if strings.IndexByte(s, '\r') < 0 {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// Titles finds the page titles of a running header that prints the title
// twice, as man pages do ("AXIS(1)  The Enhanced Machine Controller
// AXIS(1)"): both copies and whatever sits between them leave the page, and
// the title is returned for each page ("" for none), for a document without
// an outline to take as its headings. A document where fewer than three
// pages have such a header has none: the lines stay.
func Titles(pages [][]string) []string {
	titles := make([]string, len(pages))
	spans := make([][2]int, len(pages))
	found := 0
	for n, p := range pages {
		top := edgeLines(p, true)
		for a := 0; a < len(top) && titles[n] == ""; a++ {
			// On one line ("AXIS(1) The Enhanced Machine Controller AXIS(1)")…
			if f := strings.Fields(p[top[a]]); len(f) >= 2 && f[0] == f[len(f)-1] && utf8.RuneCountInString(f[0]) >= 2 && isTitle(f[0]) {
				titles[n], spans[n] = f[0], [2]int{top[a], top[a]}
				break
			}
			// … or on lines of their own, the middle between them.
			for b := a + 1; b < len(top); b++ {
				if l := p[top[a]]; l == p[top[b]] && isTitle(l) {
					titles[n], spans[n] = l, [2]int{top[a], top[b]}
					break
				}
			}
		}
		if titles[n] != "" {
			found++
		}
	}
	if found < 3 {
		return make([]string, len(pages))
	}
	for n, p := range pages {
		if titles[n] == "" {
			continue
		}
		kept := append(p[:spans[n][0]:spans[n][0]], p[spans[n][1]+1:]...)
		pages[n] = trimBlank(kept)
	}
	return titles
}

// isTitle: a line that can be a page title (words, not a number or a rule).
func isTitle(l string) bool {
	if len(l) > 120 {
		return false
	}
	for _, r := range l {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}
