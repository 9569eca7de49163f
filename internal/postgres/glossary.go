package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// AddGlossary stores a tenant's jargon entry; the same term and meaning
// twice is a conflict.
func (db *DB) AddGlossary(ctx context.Context, tenant int64, e shifu.GlossaryEntry) (shifu.GlossaryEntry, error) {
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO glossary (term, means, added_by) VALUES ($1, $2, $3)
			RETURNING id, created_at`, e.Term, e.Means, e.AddedBy).Scan(&e.ID, &e.Created)
	})
	if err != nil {
		return e, fmt.Errorf("glossary entry %q: %w", e.Term, classify(err))
	}
	return e, nil
}

// Glossary lists a tenant's jargon entries, by term.
func (db *DB) Glossary(ctx context.Context, tenant int64) ([]shifu.GlossaryEntry, error) {
	var out []shifu.GlossaryEntry
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, term, means, added_by, created_at FROM glossary ORDER BY term, means, id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (e shifu.GlossaryEntry, err error) {
			err = row.Scan(&e.ID, &e.Term, &e.Means, &e.AddedBy, &e.Created)
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("glossary: %w", classify(err))
	}
	return out, nil
}

// RemoveGlossary deletes a tenant's entry by id; ErrNotFound when it has none.
func (db *DB) RemoveGlossary(ctx context.Context, tenant, id int64) error {
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM glossary WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return pgx.ErrNoRows
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("glossary entry %d: %w", id, classify(err))
	}
	return nil
}
