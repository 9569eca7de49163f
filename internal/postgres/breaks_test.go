package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// TestPageBreaksRoundTrip: a chunk's page breaks survive StoreChunks and
// come back on every search that returns hits (BM25, vector exact and
// through the index, neighbours), so a citation can name the page its
// quote is on; a chunk on one page comes back with none, and breaks that
// do not match the chunk's pages are refused by the table.
func TestPageBreaksRoundTrip(t *testing.T) {
	c := newCorpus(t)
	ctx := context.Background()
	ten := c.tenant(t, "breaks")
	id := c.version(t, ten, "m.pdf", "b1", shifu.StatusReady)
	over := "Homing\nPower the machine on. 按下回零键，机床依次回零。 The Home-All command homes every axis."
	chunks := []shifu.Chunk{
		{Ord: 0, Text: "Safety\nWear gloves.", PageStart: 35, PageEnd: 35},
		{Ord: 1, Text: over, PageStart: 36, PageEnd: 38,
			Breaks: []int{strings.Index(over, "按下"), strings.Index(over, "The Home")}},
		{Ord: 2, Text: "Axes\nJog each axis.", PageStart: 39, PageEnd: 39},
	}
	rows := make([]shifu.IndexedChunk, len(chunks))
	for i, ch := range chunks {
		rows[i] = shifu.IndexedChunk{Chunk: ch, Terms: strings.Fields(strings.ToLower(ch.Text))}
	}
	if err := c.db.StoreChunks(ctx, ten, id, shifu.DocMeta{Title: "m"}, rows); err != nil {
		t.Fatal(err)
	}
	ids, _, err := c.db.Unembedded(ctx, ten, id, "test-model")
	if err != nil {
		t.Fatal(err)
	}
	vecs := make([][]float32, len(ids))
	for i := range ids {
		vecs[i] = axis(i)
	}
	if err := c.db.StoreEmbeddings(ctx, ten, "test-model", ids, vecs); err != nil {
		t.Fatal(err)
	}
	check := func(how string, hits []shifu.Hit) {
		t.Helper()
		if len(hits) == 0 {
			t.Fatalf("%s: no hits", how)
		}
		for _, h := range hits {
			want := chunks[h.Ord].Breaks
			if !slices.Equal(h.Breaks, want) {
				t.Errorf("%s: chunk %d came back with breaks %v, stored %v", how, h.Ord, h.Breaks, want)
			}
		}
	}
	lex, _, err := c.db.Lexical(ctx, ten, []string{"homing", "jog"}, shifu.Filter{}, allTerms, 5)
	if err != nil {
		t.Fatal(err)
	}
	check("lexical", lex)
	if i := slices.IndexFunc(lex, func(h shifu.Hit) bool { return h.Ord == 1 }); i < 0 {
		t.Fatalf("lexical search for homing did not find the chunk over pages: %v", texts(lex))
	} else if a, b := lex[i].Pages(strings.Index(over, "The Home"), len(over)); a != 38 || b != 38 {
		t.Errorf("the last sentence of the stored chunk is on pages %d-%d, want 38", a, b)
	}
	for _, plan := range []postgres.VectorPlan{{}, {ExactBelow: -1}} {
		r, err := c.db.Vector(ctx, ten, postgres.VectorQuery{Vector: axis(1), Model: "test-model", Plan: plan, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		check(fmt.Sprintf("vector (%s)", r.Method), r.Hits)
	}
	nb, err := c.db.Neighbours(ctx, ten, []int64{ids[0], ids[2]})
	if err != nil {
		t.Fatal(err)
	}
	check("neighbours", nb)

	// Breaks must be one a page after the first: two for pp. 36-37 is refused,
	// and nothing of the attempt is stored.
	bad := []shifu.IndexedChunk{{Chunk: shifu.Chunk{Ord: 0, Text: over, PageStart: 36, PageEnd: 37, Breaks: []int{3, 9}}}}
	if err := c.db.StoreChunks(ctx, ten, id, shifu.DocMeta{Title: "m"}, bad); err == nil {
		t.Fatal("breaks for three pages stored on a chunk over two")
	}
	lex, _, err = c.db.Lexical(ctx, ten, []string{"homing", "jog"}, shifu.Filter{}, allTerms, 5)
	if err != nil {
		t.Fatal(err)
	}
	check("lexical after a refused store", lex)
}
