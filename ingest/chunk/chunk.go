// Package chunk cuts a parsed document into retrievable chunks along its
// structure: sections first, then blocks, then sentences, never inside a table
// row or a sentence (Chinese or English) unless a single sentence alone is over
// budget. Each chunk's text starts with its heading path so the heading words
// are searchable and the model sees where the passage sits.
package chunk

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/parse"
)

// Options sets the chunk budget. Zero fields take the defaults.
type Options struct {
	TargetTokens  int                      // aim for this many tokens per chunk (300)
	MaxTokens     int                      // hard ceiling, heading line included (450)
	OverlapTokens int                      // sentences repeated when a long section is cut (40)
	Tokens        func(text string) int    // token counter; must be additive over "\n"-joined parts
	Lang          func(text string) string // "zh"/"en"/""; default: Han majority of letters
}

func (o Options) withDefaults() Options {
	if o.TargetTokens <= 0 {
		o.TargetTokens = 300
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = o.TargetTokens * 3 / 2
	}
	if o.MaxTokens < o.TargetTokens {
		o.MaxTokens = o.TargetTokens
	}
	if o.OverlapTokens < 0 || o.OverlapTokens > o.TargetTokens/4 {
		o.OverlapTokens = o.TargetTokens / 4
	}
	if o.OverlapTokens == 0 {
		o.OverlapTokens = 40
		if o.OverlapTokens > o.TargetTokens/4 {
			o.OverlapTokens = o.TargetTokens / 4
		}
	}
	if o.Tokens == nil {
		o.Tokens = shifu.Tokens
	}
	if o.Lang == nil {
		o.Lang = func(s string) string { return shifu.Lang(s) }
	}
	return o
}

// piece is the smallest unit the packer moves: a sentence, a table row, a
// list item, or a whole block that fits.
type piece struct {
	text   string
	page   int
	block  int  // index of the block it came from
	last   bool // ends its block
	prose  bool // a sentence of a paragraph (may be repeated as overlap)
	tokens int
}

// section is the blocks under one heading.
type section struct {
	path   []string
	anchor string
	pieces []piece
}

// draft is a chunk being built.
type draft struct {
	path          []string
	anchor        string
	head          string // heading line
	parts         []string
	pages         []int // page of each part; 0 for a heading put in by merge or absorbHeadings
	pageStart     int
	pageEnd       int
	tokens        int
	whole         bool // holds one or more complete sections (may be merged)
	hasPage       bool
	headingTokens int
	body          bool // holds text besides headings
}

// Split cuts doc into chunks, Ord from 0, deterministic for the same input.
func Split(doc *parse.Doc, opts Options) []shifu.Chunk {
	out, _ := SplitContext(context.Background(), doc, opts)
	return out
}

// SplitContext is Split that stops with ctx's error when ctx ends, so the
// ingest deadline covers chunking too. Its cost is linear in the text
// (times the log of a piece's length): a single megabyte-long line is cut
// in one pass.
func SplitContext(ctx context.Context, doc *parse.Doc, opts Options) ([]shifu.Chunk, error) {
	o := opts.withDefaults()
	secs, err := sections(ctx, doc, o)
	if err != nil {
		return nil, err
	}
	var drafts []draft
	for _, s := range secs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		drafts = append(drafts, pack(s, o)...)
	}
	drafts = absorbHeadings(merge(drafts, o))
	out := make([]shifu.Chunk, 0, len(drafts))
	for i, d := range drafts {
		body := strings.Join(d.parts, "\n")
		text, at := body, 0 // at: where body begins in text
		if d.head != "" && body == "" {
			text = d.head
		} else if d.head != "" {
			text, at = d.head+"\n"+body, len(d.head)+1
		}
		out = append(out, shifu.Chunk{
			Ord:       i,
			Text:      text,
			Heading:   strings.Join(d.path, " > "),
			PageStart: d.pageStart,
			PageEnd:   d.pageEnd,
			Anchor:    d.anchor,
			Language:  o.Lang(text),
			Tokens:    o.Tokens(text),
			Breaks:    breaks(d, at),
		})
	}
	return out, ctx.Err()
}

// sections groups blocks under their headings and cuts each block into pieces.
func sections(ctx context.Context, doc *parse.Doc, o Options) ([]section, error) {
	var (
		out  []section
		path []string // heading path; the title stands in before the first heading
		cur  *section
	)
	titled := doc.Title != ""
	if titled {
		path = []string{clean(doc.Title)}
	}
	for i, b := range doc.Blocks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		text := strings.TrimSpace(b.Text)
		if text == "" {
			continue
		}
		kind := b.Kind
		if kind == parse.Heading && o.Tokens(text) > o.MaxTokens/8 {
			kind = parse.Paragraph // a "heading" this long is a misread paragraph
		}
		if kind == parse.Heading {
			if titled {
				path, titled = nil, false
			}
			lvl := max(b.Level, 1)
			if lvl > len(path)+1 { // skipped levels: nest under what we have
				lvl = len(path) + 1
			}
			path = append(append([]string(nil), path[:lvl-1]...), clean(text))
			out = append(out, section{path: path, anchor: b.Anchor})
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			out = append(out, section{path: path, anchor: b.Anchor})
			cur = &out[len(out)-1]
		}
		if cur.anchor == "" {
			cur.anchor = b.Anchor
		}
		cur.pieces = append(cur.pieces, blockPieces(i, kind, text, b.Page, o)...)
	}
	// A heading with no body still carries searchable words: keep it as its own
	// (tiny) section so merge can attach it to a neighbour.
	for i := range out {
		if len(out[i].pieces) == 0 && len(out[i].path) > 0 {
			out[i].pieces = []piece{{text: "", page: 0, block: -1, last: true}}
		}
	}
	return out, nil
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// blockPieces cuts one block into the pieces the packer may separate.
func blockPieces(idx int, kind parse.BlockKind, text string, page int, o Options) []piece {
	limit := o.MaxTokens / 2 // a piece must leave room for the heading line
	var parts []string
	prose := false
	switch kind {
	case parse.Table, parse.List, parse.Code:
		if o.Tokens(text) <= limit {
			parts = []string{text} // keep procedures, lists and tables whole when they fit
		} else {
			parts = lines(text)
		}
	default:
		parts = sentences(text)
		prose = true
	}
	var out []piece
	for _, p := range parts {
		for _, q := range hardSplit(p, limit, o.Tokens) {
			out = append(out, piece{text: q, page: page, block: idx, prose: prose, tokens: weight(q, o)})
		}
	}
	if len(out) > 0 {
		out[len(out)-1].last = true
	}
	return out
}

// lines splits at line ends, dropping blank lines.
func lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimRight(l, " \t\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// sentences splits prose after . ? ! ; followed by space, after Chinese
// 。！？； (and their full-width forms), and at line ends.
func sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		end := false
		switch r {
		case '。', '！', '？', '；', '!', '?', ';', '.', '\n':
			end = r == '\n' || r == '。' || r == '！' || r == '？' || r == '；' ||
				i+1 == len(rs) || unicode.IsSpace(rs[i+1])
		}
		if !end {
			continue
		}
		// keep closing quotes/brackets with the sentence they close
		for i+1 < len(rs) && strings.ContainsRune("”’\"')）】」", rs[i+1]) {
			i++
		}
		if s := strings.TrimSpace(string(rs[start : i+1])); s != "" {
			out = append(out, s)
		}
		start = i + 1
	}
	if s := strings.TrimSpace(string(rs[start:])); s != "" {
		out = append(out, s)
	}
	return out
}

// hardSplit cuts a single over-budget sentence or row, preferring spaces and
// commas; it is the only place a sentence is cut, and only when it alone
// would break the budget (in tokens, or in runes: a "word" of a megabyte
// counts as one token but is no passage). Each piece's length is found by
// galloping then bisecting over at most maxRunes(limit) runes, so the cost is
// linear in len(s) times a log, not quadratic as a search over the whole
// remainder would be.
func hardSplit(s string, limit int, tokens func(string) int) []string {
	most := maxRunes(limit)
	if utf8.RuneCountInString(s) <= most && tokens(s) <= limit {
		return []string{s}
	}
	var out []string
	rs := []rune(s)
	for len(rs) > 0 {
		fits := func(n int) bool { return n <= most && tokens(string(rs[:n])) <= limit }
		// ok fits; bad is the shortest length known not to (len+1: all fits).
		ok, bad := 0, len(rs)+1
		for n := 16; ; n *= 2 {
			if n >= len(rs) {
				if fits(len(rs)) {
					ok = len(rs)
				} else {
					bad = len(rs)
				}
				break
			}
			if !fits(n) {
				bad = n
				break
			}
			ok = n
		}
		lo, hi := ok, bad-1 // the largest fitting length lies in [ok, bad-1]
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if fits(mid) {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		cut := max(lo, 1)
		if cut < len(rs) {
			for k := cut; k > cut/2; k-- {
				if unicode.IsSpace(rs[k-1]) || strings.ContainsRune(",，、", rs[k-1]) {
					cut = k
					break
				}
			}
		}
		if p := strings.TrimSpace(string(rs[:cut])); p != "" {
			out = append(out, p)
		}
		rs = rs[cut:]
	}
	return out
}

// weight is what a piece costs the packer: its tokens, or for text with few
// word breaks its runes over eight (see maxRunes), so a chunk of long
// "words" stays as short as one of prose.
func weight(q string, o Options) int { return max(o.Tokens(q), utf8.RuneCountInString(q)/8) }

// maxRunes is the longest piece in runes for a budget of limit tokens: eight
// runes a token is twice what English prose takes, so only text without
// word breaks (a base64 blob, a run of one letter) is cut by it.
func maxRunes(limit int) int { return max(limit*8, 64) }

// headLine renders the heading path, shortened so it never takes more than a
// quarter of the budget. It drops from the front: the deepest heading names
// this section, and each parent heads its own chunk already.
func headLine(path []string, o Options) string {
	h := strings.Join(path, " > ")
	limit := o.MaxTokens / 4
	for o.Tokens(h) > limit {
		rs := []rune(h)
		h = string(rs[len(rs)/4+1:])
	}
	return h
}

// pack fills chunks from one section's pieces.
func pack(s section, o Options) []draft {
	head := headLine(s.path, o)
	ht := 0
	if head != "" {
		ht = o.Tokens(head)
	}
	fresh := func() draft {
		return draft{path: s.path, anchor: s.anchor, head: head, tokens: ht, headingTokens: ht, whole: true}
	}
	var out []draft
	d := fresh()
	var buf []string // text of the current block's pieces, joined on block end
	lastBlock := -2
	var prevProse []piece // pieces of the last chunk, for overlap
	bufPage := 0          // the page of buf's block
	add := func(p piece) {
		if p.block != lastBlock && len(buf) > 0 {
			d.parts, d.pages = append(d.parts, joinPieces(buf)), append(d.pages, bufPage)
			buf = nil
		}
		lastBlock, bufPage = p.block, p.page
		if p.text != "" {
			d.body = true
			if !p.prose && len(buf) > 0 { // table rows, list items, code lines
				buf[len(buf)-1] += "\n" + p.text
			} else {
				buf = append(buf, p.text)
			}
		}
		d.tokens += p.tokens
		if p.page > 0 {
			if !d.hasPage {
				d.pageStart, d.hasPage = p.page, true
			}
			d.pageEnd = p.page
		}
	}
	flush := func() {
		if len(buf) > 0 {
			d.parts, d.pages = append(d.parts, joinPieces(buf)), append(d.pages, bufPage)
			buf = nil
		}
		lastBlock = -2
		out = append(out, d)
	}
	var inChunk []piece
	for _, p := range s.pieces {
		sameBlock := len(inChunk) > 0 && inChunk[len(inChunk)-1].block == p.block
		fits := d.tokens+p.tokens <= o.TargetTokens ||
			(sameBlock && d.tokens+p.tokens <= o.MaxTokens) // keep a block together
		if len(inChunk) == 0 || fits {
			add(p)
			inChunk = append(inChunk, p)
			continue
		}
		flush()
		out[len(out)-1].whole = false
		prevProse = inChunk
		d = fresh()
		d.whole = false
		inChunk = nil
		// Overlap: repeat the trailing sentences of the previous chunk when the
		// cut fell inside a paragraph, so the new chunk starts with context.
		if p.prose && sameBlock {
			var ov []piece
			t := 0
			for k := len(prevProse) - 1; k >= 0; k-- {
				q := prevProse[k]
				if !q.prose || q.block != p.block || t+q.tokens > o.OverlapTokens || d.tokens+t+q.tokens+p.tokens > o.MaxTokens {
					break
				}
				t += q.tokens
				ov = append([]piece{q}, ov...)
			}
			for _, q := range ov {
				add(q)
			}
		}
		add(p)
		inChunk = append(inChunk, p)
	}
	if len(inChunk) > 0 {
		flush()
		if len(out) > 1 {
			out[len(out)-1].whole = false
		}
	}
	return out
}

// joinPieces rejoins sentences of one block: no space between Chinese
// sentences, one space between others.
func joinPieces(ps []string) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(ps[i-1])
			next, _ := utf8.DecodeRuneInString(p)
			if !(isHan(prev) || isCJKPunct(prev)) || !(isHan(next) || isCJKPunct(next)) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(p)
	}
	return b.String()
}

func isCJKPunct(r rune) bool { return r >= 0x3000 && r <= 0x303F || r >= 0xFF00 && r <= 0xFFEF }

// merge joins consecutive small whole sections that share a parent, as long as
// the result stays under the target and covers at most two pages.
func merge(ds []draft, o Options) []draft {
	small := o.TargetTokens / 3
	var out []draft
	for _, d := range ds {
		if len(out) > 0 {
			a := &out[len(out)-1]
			if a.whole && d.whole && (a.tokens < small || d.tokens < small) &&
				a.tokens+d.tokens <= o.TargetTokens && sameParent(a.path, d.path) && nearPages(a, &d) {
				// keep the later section's heading in the text so its words stay searchable
				if d.head != "" && d.head != a.head {
					a.parts, a.pages = append(a.parts, lastTitle(d.path)), append(a.pages, 0)
				}
				a.parts, a.pages = append(a.parts, d.parts...), append(a.pages, d.pages...)
				a.tokens += d.tokens
				a.body = a.body || d.body
				if d.hasPage {
					if !a.hasPage {
						a.pageStart, a.hasPage = d.pageStart, true
					}
					a.pageEnd = d.pageEnd
				}
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// absorbHeadings removes chunks that are a heading and nothing else (a part
// or chapter title straight followed by its first subsection, which merge
// could not join because that subsection is long). Alone they match the
// heading's words and say nothing. When the next chunk sits under that
// heading its heading line already holds the words and the chunk is dropped;
// otherwise the heading becomes the next chunk's first line.
func absorbHeadings(ds []draft) []draft {
	out := make([]draft, 0, len(ds))
	var carry []string // headings waiting for a body
	for _, d := range ds {
		if !d.body {
			// its own title, then those of heading-only sections merged into it
			carry = append(carry, lastTitle(d.path))
			carry = append(carry, d.parts...)
			continue
		}
		var lead []string
		for _, h := range carry {
			if h != "" && !containsTitle(d.path, h) {
				lead = append(lead, h)
			}
		}
		if len(lead) > 0 {
			d.parts = append(lead, d.parts...)
			d.pages = append(make([]int, len(lead)), d.pages...)
		}
		carry = nil
		out = append(out, d)
	}
	if len(out) == 0 { // headings only: they are all there is to search
		return ds
	}
	if len(carry) > 0 { // trailing headings: keep their words on the last chunk
		a := &out[len(out)-1]
		for _, h := range carry {
			if h != "" && !containsTitle(a.path, h) {
				a.parts, a.pages = append(a.parts, h), append(a.pages, 0)
			}
		}
	}
	return out
}

// breaks are where the pages after d's first begin in its chunk's text,
// whose body (d's parts joined by line ends) begins at byte at: one offset a
// page, a page without text beginning where the next one does. A heading
// put between parts is on the page of the part after it (it heads that
// section), else of the one before. Pages that do not run forward through
// the parts (no parser makes them) give none: the chunk cites its range.
func breaks(d draft, at int) []int {
	if !d.hasPage || d.pageEnd <= d.pageStart || len(d.pages) != len(d.parts) {
		return nil
	}
	pages := append([]int(nil), d.pages...)
	for i := len(pages) - 2; i >= 0; i-- {
		if pages[i] == 0 {
			pages[i] = pages[i+1]
		}
	}
	var out []int
	cur, off := d.pageStart, at
	for i, part := range d.parts {
		p := pages[i]
		if p < cur && p != 0 {
			return nil
		}
		for ; cur < p; cur++ {
			out = append(out, off)
		}
		off += len(part) + 1
	}
	if cur != d.pageEnd {
		return nil
	}
	return out
}

func containsTitle(path []string, h string) bool {
	for _, p := range path {
		if p == h {
			return true
		}
	}
	return false
}

func lastTitle(path []string) string {
	if len(path) == 0 {
		return ""
	}
	return path[len(path)-1]
}

// sameParent: both sections sit under the same heading one level up (or one
// is the parent of the other).
func sameParent(a, b []string) bool {
	n := min(len(a), len(b))
	if n == 0 {
		return len(a) == len(b)
	}
	common := 0
	for common < n && a[common] == b[common] {
		common++
	}
	return common >= n-1 && common >= max(len(a), len(b))-1
}

func nearPages(a, b *draft) bool {
	if !a.hasPage || !b.hasPage {
		return true
	}
	return b.pageEnd-a.pageStart <= 1
}

func isHan(r rune) bool { return r >= 0x2E80 && unicode.Is(unicode.Han, r) }
