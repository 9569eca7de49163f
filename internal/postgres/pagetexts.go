package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// storePageTexts replaces a document's OCR'd pages, inside StoreChunks' tx
// so pages and the chunks citing them change together.
func storePageTexts(ctx context.Context, tx pgx.Tx, docID int64, pages []shifu.PageText) error {
	if _, err := tx.Exec(ctx, `DELETE FROM page_texts WHERE document_id = $1`, docID); err != nil {
		return err
	}
	for _, p := range pages {
		words, lines, boxes := make([]string, len(p.Words)), make([]int32, len(p.Words)), make([]float32, 0, 4*len(p.Words))
		for i, w := range p.Words {
			words[i], lines[i] = w.Text, int32(w.Line)
			boxes = append(boxes, float32(w.Box.X), float32(w.Box.Y), float32(w.Box.W), float32(w.Box.H))
		}
		_, err := tx.Exec(ctx, `INSERT INTO page_texts (document_id, page, confidence, lang, words, lines, boxes)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, docID, p.Page, p.Confidence, p.Lang, words, lines, boxes)
		if err != nil {
			return fmt.Errorf("page %d: %w", p.Page, err)
		}
	}
	return nil
}

// PageText returns what OCR read on a page of a document; ok is false for a
// page that was not OCR'd (it has a text layer).
func (db *DB) PageText(ctx context.Context, tenant, docID int64, page int) (p shifu.PageText, ok bool, err error) {
	err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var words []string
		var lines []int32
		var boxes []float32
		err := tx.QueryRow(ctx, `SELECT confidence, lang, words, lines, boxes FROM page_texts WHERE document_id = $1 AND page = $2`,
			docID, page).Scan(&p.Confidence, &p.Lang, &words, &lines, &boxes)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ok, p.Page = true, page
		p.Words = make([]shifu.Word, len(words))
		for i, w := range words {
			b := boxes[4*i : 4*i+4]
			p.Words[i] = shifu.Word{Text: w, Line: int(lines[i]), Box: shifu.Box{X: float64(b[0]), Y: float64(b[1]), W: float64(b[2]), H: float64(b[3])}}
		}
		return nil
	})
	if err != nil {
		return p, false, fmt.Errorf("page %d of document %d: %w", page, docID, classify(err))
	}
	return p, ok, nil
}

// UnreadPages lists, per document, the pages OCR read with a mean confidence
// below below, for the desk to name rather than index them silently.
func (db *DB) UnreadPages(ctx context.Context, tenant int64, below float64) (map[int64][]int, error) {
	out := map[int64][]int{}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT document_id, array_agg(page ORDER BY page) FROM page_texts
			WHERE confidence < $1 GROUP BY document_id`, below)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var pages []int32
			if err := rows.Scan(&id, &pages); err != nil {
				return err
			}
			for _, p := range pages {
				out[id] = append(out[id], int(p))
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("unread pages: %w", classify(err))
	}
	return out, nil
}
