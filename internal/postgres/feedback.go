package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// Feedback is a thumbs up (+1) or down (-1) on an assistant message.
type Feedback struct {
	MessageID int64  `json:"message_id"`
	UserID    int64  `json:"-"`
	Rating    int    `json:"rating"`
	Comment   string `json:"comment"`
}

// AddFeedback records (or changes) a user's rating of an answer to their own
// question (anyone else's answer is not found). A thumbs
// down also opens a knowledge gap for the question that was answered, so the
// supervisor sees it; changing the rating to up closes that gap again.
func (db *DB) AddFeedback(ctx context.Context, tenant int64, f Feedback) error {
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

// GapGroup is one open knowledge gap: the same question (case and spacing
// aside) asked one or more times, abstained on or rated down.
type GapGroup struct {
	ID       int64     `json:"id"` // newest gap of the group; resolving it resolves the group
	Question string    `json:"question"`
	Reasons  []string  `json:"reasons"`
	Count    int       `json:"count"`
	Comments []string  `json:"comments"`
	Answer   string    `json:"answer"` // what Shifu said, newest
	Latest   time.Time `json:"latest"`
}

// gapKey groups questions that differ only in case, spacing and a trailing
// question mark.
const gapKey = `regexp_replace(regexp_replace(lower(btrim(g.question)), '[\s?？。.!！]+$', ''), '\s+', ' ', 'g')`

// GapGroups lists open knowledge gaps for the supervisor's desk, grouped by
// question (case, spacing and end punctuation aside), newest first, with the
// down-voters' comments and what Shifu answered.
func (db *DB) GapGroups(ctx context.Context, tenant int64, limit int) ([]GapGroup, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	var out []GapGroup
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT (array_agg(g.id ORDER BY g.created_at DESC, g.id DESC))[1],
				(array_agg(g.question ORDER BY g.created_at DESC, g.id DESC))[1],
				array_agg(DISTINCT g.reason), count(*),
				coalesce(array_agg(f.comment) FILTER (WHERE f.comment <> ''), '{}'),
				coalesce((array_agg(m.content ORDER BY g.created_at DESC) FILTER (WHERE m.content IS NOT NULL))[1], ''),
				max(g.created_at)
			FROM gaps g
			LEFT JOIN messages m ON m.id = g.message_id
			LEFT JOIN feedback f ON f.message_id = g.message_id AND f.user_id IS NOT DISTINCT FROM g.user_id AND g.reason = 'downvoted'
			WHERE g.resolved_at IS NULL
			GROUP BY `+gapKey+`
			ORDER BY max(g.created_at) DESC LIMIT $1`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g GapGroup
			if err := rows.Scan(&g.ID, &g.Question, &g.Reasons, &g.Count, &g.Comments, &g.Answer, &g.Latest); err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, err
}

// Gap returns the question of one open gap.
func (db *DB) Gap(ctx context.Context, tenant, id int64) (string, error) {
	var q string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT question FROM gaps WHERE id = $1 AND resolved_at IS NULL`, id).Scan(&q)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found or already answered", id)
	}
	return q, err
}

// CloseGap closes a gap and every open gap asking the same question (grouped
// as GapGroups groups them), naming the note that answers them.
func (db *DB) CloseGap(ctx context.Context, tenant, id, noteID int64) error {
	var note *int64
	if noteID > 0 {
		note = &noteID
	}
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE gaps g SET resolved_at = now(), note_id = $2
			WHERE g.resolved_at IS NULL AND `+gapKey+` = (SELECT `+gapKey+` FROM gaps g WHERE g.id = $1)`, id, note)
		if err == nil && tag.RowsAffected() == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found or already answered", id)
		}
		return err
	})
}
