package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// TestStoreChunksInParts: a document with enough rows with vectors goes in
// over several transactions at once, and comes out as one store would leave
// it: every row once, in order, with its vector, and postings that name the
// rows' own ids; stored again (a resumed job), still exactly one copy.
func TestStoreChunksInParts(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2)) // parts follow the cores
	c := newCorpus(t)
	ctx := context.Background()
	ten := c.tenant(t, "parts")
	id := c.version(t, ten, "big.pdf", "p1", shifu.StatusParsing)
	const n = 700
	rows := make([]shifu.IndexedChunk, n)
	for i := range rows {
		word := fmt.Sprintf("w%04d", i)
		vec := make([]float32, 8)
		vec[i%8], vec[(i/8)%8] = 1, 0.5
		rows[i] = shifu.IndexedChunk{Chunk: shifu.Chunk{Ord: i, Text: "spindle " + word, PageStart: i + 1, PageEnd: i + 1},
			Terms: []string{"spindle", word}, Embedding: vec}
	}
	meta := shifu.DocMeta{Title: "big", Pages: n, EmbedModel: "test-model"}
	for round := range 2 {
		if err := c.db.StoreChunks(ctx, ten, id, meta, rows); err != nil {
			t.Fatal(err)
		}
		var count, ords, vecs, chunks int
		err := c.db.InTenant(ctx, ten, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*), count(DISTINCT ord), count(embedding) FILTER (WHERE embed_model = 'test-model'),
				(SELECT chunks FROM documents WHERE id = $1) FROM chunks WHERE document_id = $1`, id).Scan(&count, &ords, &vecs, &chunks)
		})
		if err != nil {
			t.Fatal(err)
		}
		if count != n || ords != n || vecs != n || chunks != n {
			t.Fatalf("round %d: %d rows, %d ords, %d vectors, documents.chunks %d; want %d each", round, count, ords, vecs, chunks, n)
		}
	}
	if err := c.db.Publish(ctx, ten, id); err != nil {
		t.Fatal(err)
	}
	// Each row's own word finds that row, by the id its posting holds.
	for _, i := range []int{0, 349, 350, 699} {
		hits, _, err := c.db.Lexical(ctx, ten, []string{fmt.Sprintf("w%04d", i)}, shifu.Filter{}, allTerms, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 1 || hits[0].Ord != i || hits[0].PageStart != i+1 {
			t.Fatalf("w%04d: %+v, want the one chunk %d", i, hits, i)
		}
		var text string
		err = c.db.InTenant(ctx, ten, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT text FROM chunks WHERE id = $1`, hits[0].ID).Scan(&text)
		})
		if err != nil || text != rows[i].Text {
			t.Fatalf("w%04d: posting names chunk %d holding %q (%v)", i, hits[0].ID, text, err)
		}
	}
}
