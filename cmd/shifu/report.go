package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/shifu-factory/shifu"
)

// reporter shows ingest progress: a redrawn bar on a terminal, and one line
// per file and state otherwise (logs, CI, pipes). A searchable file whose
// figure pages are being read gets its line once, however often its
// progress moves (its vectors are stored after).
type reporter struct {
	w    io.Writer
	tty  bool
	last map[string]string // by file: the line last written for it
}

func newReporter(w io.Writer) *reporter {
	r := &reporter{w: w, last: map[string]string{}}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			r.tty = true
		}
	}
	return r
}

func (r *reporter) line(name, status, detail string) {
	r.clear()
	fmt.Fprintf(r.w, "%-9s %s: %s\n", status, name, detail)
}

func (r *reporter) progress(name string, d shifu.Document) {
	if d.Status.Done() {
		if n := d.FiguresPending(); n > 0 {
			if s := figuresNote(n) + " by OCR"; s != r.last[name] {
				r.line(name, "ready", s)
				r.last[name] = s
			}
		}
		return // the final line says the rest
	}
	p := d.Progress
	var frac float64
	switch {
	case d.Status == shifu.StatusEmbedding && p.ChunksTotal > 0:
		frac = 0.5 + 0.5*float64(p.ChunksEmbedded)/float64(p.ChunksTotal)
	case p.PagesTotal > 0:
		frac = 0.5 * float64(p.PagesParsed) / float64(p.PagesTotal)
	}
	if !r.tty {
		if s := string(d.Status); s != r.last[name] {
			fmt.Fprintf(r.w, "%-9s %s\n", s, name)
			r.last[name] = s
		}
		return
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(r.w, "\r\033[K%-9s [%s%s] %3.0f%% %s", d.Status, strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, name)
}

func (r *reporter) clear() {
	if r.tty {
		fmt.Fprint(r.w, "\r\033[K")
	}
}

func (r *reporter) done() { r.clear() }

// figuresNote says a version is searchable with n figure pages still to be
// read by OCR (shifu.Document.FiguresPending), for shifu ingest and shifu docs.
func figuresNote(n int) string {
	if n == 1 {
		return "searchable; reading 1 figure page"
	}
	return fmt.Sprintf("searchable; reading %d figure pages", n)
}
