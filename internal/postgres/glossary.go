package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// AddGlossary stores a tenant's jargon entry, added by who (audited in the
// same transaction); the same term and meaning twice is a conflict.
func (db *DB) AddGlossary(ctx context.Context, tenant int64, e shifu.GlossaryEntry, by shifu.Actor) (shifu.GlossaryEntry, error) {
	e.AddedBy = by.Name
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO glossary (term, means, added_by) VALUES ($1, $2, $3)
			RETURNING id, created_at`, e.Term, e.Means, e.AddedBy).Scan(&e.ID, &e.Created); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "glossary.add", map[string]any{"id": e.ID, "term": e.Term, "means": e.Means})
	})
	if err = classify(err); errors.Is(err, shifu.ErrConflict) {
		return e, shifu.Errorf(shifu.ErrConflict, "the glossary already says %q means %q", e.Term, e.Means)
	}
	if err != nil {
		return e, fmt.Errorf("glossary entry %q: %w", e.Term, err)
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

// RemoveGlossary deletes a tenant's entry by id, audited as by's in the
// same transaction; ErrNotFound when the tenant has no such entry.
func (db *DB) RemoveGlossary(ctx context.Context, tenant, id int64, by shifu.Actor) error {
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var term, means string
		if err := tx.QueryRow(ctx, `DELETE FROM glossary WHERE id = $1 RETURNING term, means`, id).Scan(&term, &means); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "glossary.remove", map[string]any{"id": id, "term": term, "means": means})
	})
	if err != nil {
		return fmt.Errorf("glossary entry %d: %w", id, classify(err))
	}
	return nil
}
