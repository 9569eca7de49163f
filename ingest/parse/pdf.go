package parse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/klippa-app/go-pdfium"
	pdferr "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/responses"
	"golang.org/x/sync/errgroup"

	"github.com/shifu-factory/shifu"
)

// pagesPerWorker is the least work that makes opening the document in one
// more PDFium instance worth it.
const pagesPerWorker = 24

// session is one PDFium instance with the document open in it. A watcher
// kills the instance when ctx ends, which interrupts a page stuck in PDFium.
type session struct {
	inst pdfium.Pdfium
	doc  references.FPDF_DOCUMENT
	stop func() bool
}

func (p *Parser) open(ctx context.Context, name string, data []byte) (*session, error) {
	pool, err := p.pool.get(ctx)
	if err != nil {
		return nil, err
	}
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("parse: pdfium instance: %w", err)
	}
	s := &session{inst: inst}
	s.stop = context.AfterFunc(ctx, func() { _ = inst.Kill() })
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	if err != nil {
		s.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, pdferr.ErrPassword) || errors.Is(err, pdferr.ErrSecurity) {
			return nil, shifu.Errorf(shifu.ErrInvalid, "%s: PDF is encrypted (password protected); upload an unprotected copy", name)
		}
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: corrupt or unreadable PDF", name)
	}
	s.doc = doc.Document
	return s, nil
}

// close returns the instance to the pool unless the watcher already killed it.
func (s *session) close() {
	if s.stop() {
		_ = s.inst.Close() // also closes the document
	}
}

// parsePDF reads a PDF's text layer within ctx, and then by OCR, within
// outer and a deadline per page, the pages where that layer is missing
// (with first, not those of a PDF mostly of text: see ocrPDF).
func (p *Parser) parsePDF(ctx, outer context.Context, name string, data []byte, first bool, progress func(done, total int)) (*Doc, error) {
	d, raw, marks, err := p.readPoppler(ctx, name, data, progress)
	if err == nil && d == nil {
		d, raw, marks, err = p.readPDFium(ctx, name, data, progress)
	}
	if err != nil {
		return nil, err
	}
	l := &layer{pages: d.Pages, title: d.Title, raw: raw, marks: marks}
	if d, err = p.pdfDoc(outer, name, data, l, first, progress); err != nil {
		return nil, err
	}
	if d.Pending > 0 {
		d.rest = l
	}
	return d, nil
}

// layer is a PDF's text layer as read, before OCR: what ParseRest needs
// of ParseFirst's reading to read the rest. raw is not changed once read.
type layer struct {
	pages int
	title string
	raw   [][]string
	marks []mark
}

// pdfDoc reads by OCR, within outer and a deadline per page, the pages of a
// read text layer where it is missing (with first, not those of a PDF mostly
// of text: see ocrPDF), and cuts the whole into blocks.
func (p *Parser) pdfDoc(outer context.Context, name string, data []byte, l *layer, first bool, progress func(done, total int)) (*Doc, error) {
	d := &Doc{Pages: l.pages, Title: l.title}
	raw, marks := slices.Clone(l.raw), l.marks // OCR replaces pages of raw
	var err error
	if d.OCR, d.Pending, err = p.ocrPDF(outer, name, data, raw, first, progress); err != nil {
		return nil, err
	}
	pages := Clean(raw)
	titles := Titles(pages)
	if len(marks) == 0 {
		marks = titleMarks(titles)
		if len(marks) > 1 && d.Title == "" {
			// A collection (of man pages): its first page's title is not
			// the document's, which the file name says better.
			d.Title = strings.ReplaceAll(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), "_", " ")
		}
	}
	d.Blocks = pdfBlocks(pages, marks)
	return d, nil
}

// readPoppler reads the page count, title, outline and text with poppler
// alone (popplerMeta, popplerOutline, popplerTexts: child processes, the
// outline's beside the text's), when PDFToText is set. A nil Doc and nil
// error mean poppler could not read the file (or is not used): PDFium reads
// it, as before, and says what is wrong with it if anything is.
func (p *Parser) readPoppler(ctx context.Context, name string, data []byte, progress func(done, total int)) (*Doc, [][]string, []mark, error) {
	if p.opts.PDFToText == "" {
		return nil, nil, nil, nil
	}
	fallback := func(err error) (*Doc, [][]string, []mark, error) {
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		slog.Debug("parse: poppler could not read the file, using PDFium", "file", name, "err", err)
		return nil, nil, nil, nil
	}
	n, title, err := p.popplerMeta(ctx, data)
	if err != nil {
		return fallback(err)
	}
	type result struct {
		marks []mark
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := p.popplerOutline(ctx, data, n)
		ch <- result{m, err}
	}()
	raw, err := p.popplerTexts(ctx, data, n, progress)
	r := <-ch
	if err == nil {
		err = r.err
	}
	if err != nil {
		return fallback(err)
	}
	return &Doc{Pages: n, Title: tidyTitle(CleanLine(title))}, raw, r.marks, nil
}

// readPDFium reads the page count, title, outline and text with PDFium, the
// text by pdftotext when PDFToText is set (it failed in readPoppler only
// when the page count, title or outline did).
func (p *Parser) readPDFium(ctx context.Context, name string, data []byte, progress func(done, total int)) (*Doc, [][]string, []mark, error) {
	first, err := p.open(ctx, name, data)
	if err != nil {
		return nil, nil, nil, err
	}
	defer first.close()
	cnt, err := first.inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: first.doc})
	if err != nil {
		return nil, nil, nil, p.pdfErr(ctx, name, err)
	}
	n := cnt.PageCount
	if n <= 0 {
		return nil, nil, nil, shifu.Errorf(shifu.ErrInvalid, "%s: PDF has no pages", name)
	}
	d := &Doc{Pages: n}
	if t, err := first.inst.FPDF_GetMetaText(&requests.FPDF_GetMetaText{Document: first.doc, Tag: "Title"}); err == nil {
		d.Title = tidyTitle(CleanLine(t.Value))
	}
	var raw [][]string
	var marks []mark
	if p.opts.PDFToText != "" {
		// pdftotext runs in its own processes while PDFium reads the outline.
		type result struct {
			pages [][]string
			err   error
		}
		ch := make(chan result, 1)
		go func() {
			pages, err := p.popplerTexts(ctx, data, n, progress)
			ch <- result{pages, err}
		}()
		marks = outline(first, n)
		r := <-ch
		raw, err = r.pages, r.err
		if err != nil && ctx.Err() == nil {
			slog.Warn("parse: pdftotext failed, using PDFium", "file", name, "err", err)
			raw, err = p.pageTexts(ctx, name, data, first, n, progress)
		}
	} else {
		marks = outline(first, n)
		raw, err = p.pageTexts(ctx, name, data, first, n, progress)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return d, raw, marks, nil
}

func outline(s *session, pages int) []mark {
	bm, err := s.inst.GetBookmarks(&requests.GetBookmarks{Document: s.doc})
	if err != nil {
		return nil // no outline: no headings, the text is still there
	}
	return flattenMarks(bm.Bookmarks, 1, pages, nil)
}

// popplerTexts runs pdftotext over page ranges in parallel; pages end with
// a form feed in its output.
func (p *Parser) popplerTexts(ctx context.Context, data []byte, n int, progress func(done, total int)) ([][]string, error) {
	workers := min(p.opts.PDFWorkers, (n+pagesPerWorker-1)/pagesPerWorker)
	per := (n + workers - 1) / workers
	pages := make([][]string, n)
	var done atomic.Int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for from := 0; from < n; from += per {
		to := min(from+per, n) // exclusive
		g.Go(func() error {
			cmd := exec.CommandContext(gctx, p.opts.PDFToText, "-q", "-enc", "UTF-8",
				"-f", strconv.Itoa(from+1), "-l", strconv.Itoa(to), "-", "-")
			cmd.Stdin = bytes.NewReader(data)
			out, err := outputLow(cmd)
			if err != nil {
				return fmt.Errorf("pdftotext pages %d-%d: %w", from+1, to, err)
			}
			texts := strings.Split(normText(string(out)), "\f")
			if len(texts) < to-from {
				return fmt.Errorf("pdftotext pages %d-%d: got %d pages", from+1, to, len(texts))
			}
			for i := range to - from {
				pages[from+i] = strings.Split(texts[i], "\n")
			}
			if progress != nil {
				d := int(done.Add(int64(to - from)))
				mu.Lock()
				progress(d, n)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return pages, nil
}

func (p *Parser) pdfErr(ctx context.Context, name string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %w", shifu.Errorf(shifu.ErrInvalid, "%s: corrupt or unreadable PDF", name), err)
}

// pageTexts extracts the lines of every page, spreading pages over up to
// PDFWorkers instances (PDFium is single-threaded per instance).
func (p *Parser) pageTexts(ctx context.Context, name string, data []byte, first *session, n int, progress func(done, total int)) ([][]string, error) {
	pages := make([][]string, n)
	var next, done atomic.Int64
	var mu sync.Mutex
	lastPct := -1
	report := func() {
		if progress == nil {
			return
		}
		d := int(done.Add(1))
		mu.Lock()
		defer mu.Unlock()
		if pct := d * 100 / n; pct != lastPct || d == n {
			lastPct = pct
			progress(d, n)
		}
	}
	work := func(s *session) error {
		for {
			i := int(next.Add(1)) - 1
			if i >= n {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			text, err := pageText(s, i)
			if err != nil {
				return p.pdfErr(ctx, name, fmt.Errorf("page %d: %w", i+1, err))
			}
			pages[i] = strings.Split(normText(text), "\n")
			report()
		}
	}
	workers := min(p.opts.PDFWorkers, (n+pagesPerWorker-1)/pagesPerWorker)
	g, gctx := errgroup.WithContext(ctx)
	for range workers - 1 {
		g.Go(func() error {
			s, err := p.open(gctx, name, data)
			if err != nil {
				return err
			}
			defer s.close()
			return work(s)
		})
	}
	g.Go(func() error { return work(first) })
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return pages, nil
}

// pageText returns the text of page i (0-based) in PDFium's reading order,
// lines separated by "\r\n".
func pageText(s *session, i int) (string, error) {
	pg, err := s.inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: s.doc, Index: i})
	if err != nil {
		return "", err
	}
	defer s.inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: pg.Page})
	tp, err := s.inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: requests.Page{ByReference: &pg.Page}})
	if err != nil {
		return "", err
	}
	defer s.inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})
	cc, err := s.inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp.TextPage})
	if err != nil {
		return "", err
	}
	if cc.Count <= 0 {
		return "", nil
	}
	t, err := s.inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp.TextPage, StartIndex: 0, Count: cc.Count})
	if err != nil {
		return "", err
	}
	return t.Text, nil
}

// mark is one outline entry: a heading at a page.
type mark struct {
	title string
	level int
	page  int  // 0-based
	top   bool // at the top of the page, not where the title is found in its text
}

func flattenMarks(bs []responses.GetBookmarksBookmark, level, pages int, out []mark) []mark {
	for _, b := range bs {
		page := -1
		if b.DestInfo != nil {
			page = b.DestInfo.PageIndex
		} else if b.ActionInfo != nil && b.ActionInfo.DestInfo != nil {
			page = b.ActionInfo.DestInfo.PageIndex
		}
		if t := CleanLine(b.Title); t != "" && page >= 0 && page < pages {
			out = append(out, mark{title: t, level: min(level, 6), page: page})
		}
		out = flattenMarks(b.Children, level+1, pages, out)
	}
	return out
}

// titleMarks makes running page titles (see Titles) the headings of a PDF
// without an outline: one where the title changes. A collection of man pages
// then has each chunk under its page's name (halcmd(1)), which the chunk's
// own words often do not say.
func titleMarks(titles []string) []mark {
	var out []mark
	prev := ""
	for i, t := range titles {
		if t != "" && t != prev {
			out = append(out, mark{title: t, level: 1, page: i, top: true})
			prev = t
		}
	}
	return out
}

// pdfBlocks turns cleaned page lines into blocks, inserting outline headings
// where their title appears on the destination page (else at its top).
func pdfBlocks(pages [][]string, marks []mark) []Block {
	byPage := map[int][]mark{}
	for _, m := range marks {
		byPage[m.page] = append(byPage[m.page], m)
	}
	var blocks []Block
	for i, lines := range pages {
		page := i + 1
		from := 0 // lines before from are already emitted
		for _, m := range byPage[i] {
			at, span := -1, 0
			if !m.top {
				at, span = findTitle(lines, from, m.title)
			}
			if at < 0 {
				blocks = append(blocks, Block{Kind: Heading, Level: m.level, Text: m.title, Page: page})
				continue
			}
			blocks = append(blocks, paragraphs(lines[from:at], page)...)
			blocks = append(blocks, Block{Kind: Heading, Level: m.level, Text: m.title, Page: page})
			from = at + span
		}
		blocks = append(blocks, paragraphs(lines[from:], page)...)
	}
	return blocks
}

// findTitle finds the line (or two lines, for a wrapped heading) at or after
// from that carries title, allowing a section number in front.
func findTitle(lines []string, from int, title string) (at, span int) {
	want := titleKey(title)
	if want == "" {
		return -1, 0
	}
	for i := from; i < len(lines); i++ {
		got := titleKey(lines[i])
		if got == "" {
			continue
		}
		if titleMatch(got, want) {
			return i, 1
		}
		if i+1 < len(lines) && (strings.HasPrefix(want, got) || strings.HasPrefix(stripNumber(want), stripNumber(got))) &&
			titleMatch(titleKey(lines[i]+lines[i+1]), want) {
			return i, 2
		}
	}
	return -1, 0
}

func titleMatch(got, want string) bool {
	return got == want || stripNumber(got) == stripNumber(want)
}

// titleKey lower-cases and drops spaces and punctuation, so layout
// differences between the outline and the page text do not matter.
func titleKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// stripNumber drops a leading section number ("3.2.1", "第3章" is kept).
func stripNumber(k string) string {
	return strings.TrimLeft(k, "0123456789")
}

// paragraphs splits the lines of a page region into blocks. PDF text has no
// blank lines between paragraphs, so a paragraph ends at a short line that
// closes a sentence, at a blank line, or before a bullet. Runs of short lines
// (table rows, key/value lists) stay together as one Table block.
func paragraphs(lines []string, page int) []Block {
	width := typicalWidth(lines)
	short := func(l string) bool { return utf8.RuneCountInString(l)*100 < width*55 }
	var blocks []Block
	var cur []string
	flush := func() {
		if t := JoinLines(cur); t != "" {
			blocks = append(blocks, Block{Kind: Paragraph, Text: t, Page: page})
		}
		cur = cur[:0]
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			flush()
			continue
		}
		// A short line inside a paragraph is its last line.
		if width > 0 && short(l) && len(cur) > 0 && !bullet(l) {
			cur = append(cur, l)
			flush()
			continue
		}
		// A run of 3+ short lines is a table or a list: keep its rows intact.
		if width > 0 && short(l) {
			j := i
			for j < len(lines) && lines[j] != "" && short(lines[j]) {
				j++
			}
			if j-i >= 3 {
				flush()
				kind := Table
				if bullets(lines[i:j])*2 >= j-i {
					kind = List
				}
				blocks = append(blocks, Block{Kind: kind, Text: strings.Join(lines[i:j], "\n"), Page: page})
				i = j - 1
				continue
			}
		}
		if bullet(l) && len(cur) > 0 {
			flush()
		}
		cur = append(cur, l)
		if endsSentence(l) && (width == 0 || utf8.RuneCountInString(l)*100 < width*85) {
			flush()
		}
	}
	flush()
	return blocks
}

// typicalWidth is the length in runes of a full line: the 90th percentile.
func typicalWidth(lines []string) int {
	var ws []int
	for _, l := range lines {
		if l != "" {
			ws = append(ws, utf8.RuneCountInString(l))
		}
	}
	if len(ws) < 4 {
		return 0
	}
	slices.Sort(ws)
	return ws[min(len(ws)-1, len(ws)*9/10)]
}

func endsSentence(l string) bool {
	r, _ := utf8.DecodeLastRuneInString(l)
	return strings.ContainsRune(".:!?。：！？；", r)
}

func bullet(l string) bool {
	r, size := utf8.DecodeRuneInString(l)
	if strings.ContainsRune("•·◦▪‣●○■□–—*", r) {
		return true
	}
	if r == '-' && len(l) > size && l[size] == ' ' {
		return true
	}
	// "1." / "2)" numbered items
	k := strings.TrimLeft(l, "0123456789")
	return len(k) < len(l) && len(l)-len(k) <= 3 && (strings.HasPrefix(k, ". ") || strings.HasPrefix(k, ") "))
}

func bullets(lines []string) int {
	n := 0
	for _, l := range lines {
		if bullet(l) {
			n++
		}
	}
	return n
}

// tidyTitle strips what document build systems append to a PDF's metadata
// title — "LinuxCNC V2.9.0~pre1+git20230208.f1270d6ed7, 28 Jun 2026" — down to
// its words ("LinuxCNC"): the title is shown in citations. A title that is
// nothing but a build string becomes "", so finish falls back to the first
// heading.
func tidyTitle(t string) string {
	fields := strings.Fields(t)
	for i, f := range fields {
		g := strings.TrimRight(f, ",;")
		build := strings.Contains(g, "+git") || strings.Contains(g, "~") ||
			len(g) > 2 && (g[0] == 'V' || g[0] == 'v') && g[1] >= '0' && g[1] <= '9' && strings.Contains(g, ".")
		if build { // the version and whatever follows it (build date)
			return strings.TrimRight(strings.Join(fields[:i], " "), " ,;-–")
		}
	}
	return t
}
