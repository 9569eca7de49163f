package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
)

// TestReporterFiguresOnce: without a terminal, each file's state is one line
// however often its progress moves, and a searchable file whose figure pages
// are being read says so once while its vectors are stored, for each of two
// files whose reports interleave.
func TestReporterFiguresOnce(t *testing.T) {
	var b bytes.Buffer
	r := newReporter(&b)
	doc := func(st shifu.Status, pages, embedded int) shifu.Document {
		return shifu.Document{Status: st, Progress: shifu.Progress{PagesParsed: pages, PagesTotal: 100, ChunksTotal: 50, ChunksEmbedded: embedded, OCRPending: 23}}
	}
	for i := range 3 {
		for _, name := range []string{"a.pdf", "b.pdf"} {
			r.progress(name, doc(shifu.StatusParsing, 10*i, 0))
		}
	}
	for i := range 4 {
		for _, name := range []string{"a.pdf", "b.pdf"} {
			r.progress(name, doc(shifu.StatusReady, 100, 10*i))
		}
	}
	got := b.String()
	for _, name := range []string{"a.pdf", "b.pdf"} {
		if n := strings.Count(got, "parsing   "+name+"\n"); n != 1 {
			t.Errorf("%s: parsing written %d times, want once:\n%s", name, n, got)
		}
		if n := strings.Count(got, "ready     "+name+": searchable; reading 23 figure pages by OCR\n"); n != 1 {
			t.Errorf("%s: the searchable line written %d times, want once:\n%s", name, n, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 4 {
		t.Errorf("%d lines, want 4:\n%s", n, got)
	}
}
