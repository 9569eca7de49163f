package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shifu-factory/shifu"
)

// OCR'd pages are stored with the chunks, read back word for word, replaced
// by the next StoreChunks, listed when read poorly, and kept per tenant.
func TestPageTexts(t *testing.T) {
	ctx := context.Background()
	c := newCorpus(t)
	a, b := c.tenant(t, "acme"), c.tenant(t, "globex")
	id := c.version(t, a, "scan.pdf", "x", shifu.StatusParsing)
	good := shifu.PageText{Page: 1, Confidence: 91.5, Lang: "eng", Words: []shifu.Word{
		{Text: "Check", Line: 1, Box: shifu.Box{X: 0.1, Y: 0.2, W: 0.05, H: 0.01}},
		{Text: "主轴", Line: 2, Box: shifu.Box{X: 0.1, Y: 0.25, W: 0.04, H: 0.01}},
	}}
	bad := shifu.PageText{Page: 3, Confidence: 31}
	rows := []shifu.IndexedChunk{{Chunk: shifu.Chunk{Text: "Check 主轴", PageStart: 1, PageEnd: 1}, Terms: []string{"check"}}}
	if err := c.db.StoreChunks(ctx, a, id, shifu.DocMeta{Pages: 3, OCR: []shifu.PageText{good, bad}}, rows); err != nil {
		t.Fatal(err)
	}
	got, ok, err := c.db.PageText(ctx, a, id, 1)
	if err != nil || !ok || got.Confidence != 91.5 || got.Lang != "eng" || len(got.Words) != 2 {
		t.Fatalf("PageText = %+v, %v, %v", got, ok, err)
	}
	if w := got.Words[1]; w.Text != "主轴" || w.Line != 2 || fmt.Sprintf("%.3f", w.Box.Y) != "0.250" {
		t.Errorf("word %+v", w)
	}
	if _, ok, err := c.db.PageText(ctx, a, id, 2); ok || err != nil {
		t.Errorf("page 2 has a text layer: ok %v, %v", ok, err)
	}
	unread, err := c.db.UnreadPages(ctx, a, 60)
	if err != nil || len(unread) != 1 || fmt.Sprint(unread[id]) != "[3]" {
		t.Errorf("unread = %v, %v; want page 3", unread, err)
	}
	// Another tenant sees nothing of it.
	if _, ok, err := c.db.PageText(ctx, b, id, 1); ok || err != nil {
		t.Errorf("other tenant: ok %v, %v", ok, err)
	}
	// A new attempt replaces the pages.
	if err := c.db.StoreChunks(ctx, a, id, shifu.DocMeta{Pages: 3}, rows); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := c.db.PageText(ctx, a, id, 1); ok {
		t.Error("page 1 kept after a store without OCR")
	}
}
