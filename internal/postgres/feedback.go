package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// AddFeedback records (or changes) a user's rating of an answer to their own
// question (anyone else's answer is not found). A thumbs
// down also opens a knowledge gap for the question that was answered, so the
// supervisor sees it; changing the rating to up closes that gap again.
func (db *DB) AddFeedback(ctx context.Context, tenant int64, f shifu.Feedback) error {
	if f.Rating != 1 && f.Rating != -1 {
		return shifu.Errorf(shifu.ErrInvalid, "rating %d: use 1 (helpful) or -1 (not helpful)", f.Rating)
	}
	if len([]rune(f.Comment)) > 2000 {
		return shifu.Errorf(shifu.ErrInvalid, "the comment is too long: at most 2000 characters")
	}
	var uid *int64
	if f.UserID > 0 {
		uid = &f.UserID
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var question string
		// Only the asker rates an answer: a rating down opens a gap showing
		// the question, which is theirs to show.
		err := tx.QueryRow(ctx, `SELECT coalesce((SELECT q.content FROM messages q WHERE q.conversation_id = m.conversation_id
				AND q.role = 'user' AND q.id < m.id ORDER BY q.id DESC LIMIT 1), '')
			FROM messages m JOIN conversations c ON c.id = m.conversation_id
			WHERE m.id = $1 AND m.role = 'assistant' AND c.user_id IS NOT DISTINCT FROM $2`, f.MessageID, uid).Scan(&question)
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "answer %d not found", f.MessageID)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO feedback (message_id, user_id, rating, comment) VALUES ($1, $2, $3, $4)
			ON CONFLICT (message_id, user_id) DO UPDATE SET rating = EXCLUDED.rating, comment = EXCLUDED.comment, created_at = now()`,
			f.MessageID, uid, f.Rating, f.Comment)
		if err != nil {
			return err
		}
		if f.Rating > 0 {
			_, err = tx.Exec(ctx, `DELETE FROM gaps WHERE message_id = $1 AND reason = 'downvoted' AND user_id IS NOT DISTINCT FROM $2
				AND resolved_at IS NULL`, f.MessageID, uid)
			return err
		}
		if question == "" {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO gaps (question, reason, message_id, user_id)
			SELECT $1, 'downvoted', $2, $3 WHERE NOT EXISTS (SELECT 1 FROM gaps WHERE message_id = $2
				AND reason = 'downvoted' AND user_id IS NOT DISTINCT FROM $3)`, question, f.MessageID, uid)
		return err
	})
	if err != nil {
		return fmt.Errorf("feedback on %d: %w", f.MessageID, classify(err))
	}
	return nil
}
