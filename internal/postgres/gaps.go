package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// gapKey groups questions that differ only in case, spacing and a trailing
// question mark; a merged gap takes the key of the group it was merged into.
const gapKey = `coalesce(g.merge_key, regexp_replace(regexp_replace(lower(btrim(g.question)), '[\s?？。.!！]+$', ''), '\s+', ' ', 'g'))`

// GapGroups lists knowledge gaps for the supervisor, grouped by question,
// newest first, with the down-voters' comments and what Shifu answered:
// the open ones, or (state shifu.GapsDismissed) the dismissed ones with who
// dismissed them.
func (db *DB) GapGroups(ctx context.Context, tenant int64, state string, limit int) ([]shifu.GapGroup, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	where := `g.resolved_at IS NULL AND g.dismissed_at IS NULL`
	switch state {
	case shifu.GapsOpen, "":
	case shifu.GapsDismissed:
		where = `g.resolved_at IS NULL AND g.dismissed_at IS NOT NULL`
	default:
		return nil, shifu.Errorf(shifu.ErrInvalid, "gap state %q: use open or dismissed", state)
	}
	var out []shifu.GapGroup
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT (array_agg(g.id ORDER BY g.created_at DESC, g.id DESC))[1],
				(array_agg(g.question ORDER BY g.created_at DESC, g.id DESC))[1],
				array_agg(g.question ORDER BY g.created_at DESC, g.id DESC),
				array_agg(DISTINCT g.reason), count(*),
				coalesce(array_agg(f.comment) FILTER (WHERE f.comment <> ''), '{}'),
				coalesce((array_agg(m.content ORDER BY g.created_at DESC) FILTER (WHERE m.content IS NOT NULL))[1], ''),
				max(g.created_at), max(g.dismissed_at),
				coalesce((array_agg(coalesce(nullif(u.name, ''), u.login) ORDER BY g.dismissed_at DESC) FILTER (WHERE u.id IS NOT NULL))[1], '')
			FROM gaps g
			LEFT JOIN messages m ON m.id = g.message_id
			LEFT JOIN feedback f ON f.message_id = g.message_id AND f.user_id IS NOT DISTINCT FROM g.user_id AND g.reason = 'downvoted'
			LEFT JOIN users u ON u.id = g.dismissed_by
			WHERE `+where+`
			GROUP BY `+gapKey+`
			ORDER BY max(g.created_at) DESC LIMIT $1`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g shifu.GapGroup
			var all []string
			if err := rows.Scan(&g.ID, &g.Question, &all, &g.Reasons, &g.Count, &g.Comments, &g.Answer, &g.Latest,
				&g.DismissedAt, &g.DismissedBy); err != nil {
				return err
			}
			g.Questions = distinct(all)
			out = append(out, g)
		}
		return rows.Err()
	})
	return out, err
}

// distinct keeps the first of each string, in order.
func distinct(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Gap returns the question of one open gap.
func (db *DB) Gap(ctx context.Context, tenant, id int64) (string, error) {
	var q string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT question FROM gaps WHERE id = $1 AND resolved_at IS NULL AND dismissed_at IS NULL`, id).Scan(&q)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found or already answered", id)
	}
	return q, err
}

// groupOf is the gaps of id's group in the given state (a WHERE clause on g).
func groupOf(state string) string {
	return `g.resolved_at IS NULL AND ` + state + ` AND ` + gapKey + ` = (SELECT ` + gapKey + ` FROM gaps g WHERE g.id = $1)`
}

// CloseGap closes a gap and every open gap of its group, naming the note
// that answers them; the workers who asked see it (Answered). When notices
// is not nil it also queues, in the same transaction, a notice (NoticeJob)
// for each Slack thread the group was asked in, so it is sent once the close
// commits and is not lost if the process stops first. DingTalk chats are
// not told: a conversation there keeps no way to post later (its session
// webhook, a posting credential, lives about 90 minutes and is not stored),
// so DingTalk askers see the answer on the web chat.
func (db *DB) CloseGap(ctx context.Context, tenant, id, noteID int64, notices JobQueue) error {
	var note *int64
	if noteID > 0 {
		note = &noteID
	}
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE gaps g SET resolved_at = now(), note_id = $2 WHERE `+groupOf(`g.dismissed_at IS NULL`)+` RETURNING g.id`, id, note)
		if err != nil {
			return err
		}
		closed, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(closed) == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found or already answered", id)
		}
		if notices == nil {
			return nil
		}
		rows, err = tx.Query(ctx, `SELECT m.conversation_id, array_agg(g.id ORDER BY g.id)
			FROM gaps g
			JOIN messages m ON m.id = g.message_id
			JOIN conversations c ON c.id = m.conversation_id
			WHERE g.id = ANY($1) AND c.channel = 'slack'
			GROUP BY m.conversation_id ORDER BY m.conversation_id`, closed)
		if err != nil {
			return err
		}
		jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NoticeJob, error) {
			j := NoticeJob{Tenant: tenant}
			err := r.Scan(&j.Conversation, &j.Gaps)
			return j, err
		})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if _, err := notices.InsertTx(ctx, tx, j, nil); err != nil {
				return fmt.Errorf("queue the notice of conversation %d: %w", j.Conversation, err)
			}
		}
		return nil
	})
}

// GapNotice is what a bot says in the thread where gaps were asked, once a
// note answers them.
type GapNotice struct {
	Channel  string   // slack | dingtalk
	External string   // the platform's thread (shifu.Question.External)
	Askers   []string // the askers' bot identities (users.external: slack:TEAM:USER)
	Question string   // the newest wording asked there
	NoteID   int64    // the note's document (stable id)
	Title    string   // the note's title
	Status   shifu.Status
}

// GapNotice loads the notice of the answered gaps of one conversation:
// ErrNotFound when none is answered by a note still there (deleted since),
// or when they are not the tenant's (row-level security hides them).
func (db *DB) GapNotice(ctx context.Context, tenant, conversation int64, gaps []int64) (GapNotice, error) {
	var n GapNotice
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT c.channel, c.external,
				coalesce(array_agg(DISTINCT u.external) FILTER (WHERE u.external <> ''), '{}'),
				(array_agg(g.question ORDER BY g.id DESC))[1],
				d.head_id, coalesce(nullif(d.title, ''), d.name), d.status
			FROM gaps g
			JOIN messages m ON m.id = g.message_id
			JOIN conversations c ON c.id = m.conversation_id
			JOIN documents d ON d.id = g.note_id
			JOIN document_heads h ON h.id = d.head_id AND h.deleted_at IS NULL
			LEFT JOIN users u ON u.id = g.user_id
			WHERE g.id = ANY($2) AND m.conversation_id = $1 AND g.resolved_at IS NOT NULL
			GROUP BY c.channel, c.external, d.head_id, d.title, d.name, d.status
			LIMIT 1`, conversation, gaps).Scan(&n.Channel, &n.External, &n.Askers, &n.Question, &n.NoteID, &n.Title, &n.Status)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return n, shifu.Errorf(shifu.ErrNotFound, "no answered knowledge gap of conversation %d among %v", conversation, gaps)
	}
	if err != nil {
		return n, fmt.Errorf("gap notice: %w", err)
	}
	return n, nil
}

// DismissGap sets aside an open gap and its group (a question not worth a
// note, such as "asdfgh"), recording who did it and when; ReopenGap undoes it.
func (db *DB) DismissGap(ctx context.Context, tenant, id int64, by shifu.Actor) (int, error) {
	n, err := db.gapUpdate(ctx, tenant, id, "gap.dismiss", by, `dismissed_at = now(), dismissed_by = $2`, `g.dismissed_at IS NULL`, nullID(by.UserID))
	if err == nil && n == 0 {
		err = shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found, answered or already dismissed", id)
	}
	return n, err
}

// ReopenGap undoes a dismissal: the gap's group is open again.
func (db *DB) ReopenGap(ctx context.Context, tenant, id int64, by shifu.Actor) (int, error) {
	n, err := db.gapUpdate(ctx, tenant, id, "gap.reopen", by, `dismissed_at = NULL, dismissed_by = NULL`, `g.dismissed_at IS NOT NULL`)
	if err == nil && n == 0 {
		err = shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found or not dismissed", id)
	}
	return n, err
}

// gapUpdate sets columns on the gaps of id's group in state and, when any
// changed, audits action by who in the same transaction.
func (db *DB) gapUpdate(ctx context.Context, tenant, id int64, action string, by shifu.Actor, set, state string, args ...any) (int, error) {
	var n int
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE gaps g SET `+set+` WHERE `+groupOf(state), append([]any{id}, args...)...)
		if n = int(tag.RowsAffected()); err != nil || n == 0 {
			return err
		}
		return auditGap(ctx, tx, id, action, by, map[string]any{"gaps": n})
	})
	return n, err
}

// auditGap audits action on gap id, naming its question.
func auditGap(ctx context.Context, tx pgx.Tx, id int64, action string, by shifu.Actor, detail map[string]any) error {
	var q string
	if err := tx.QueryRow(ctx, `SELECT question FROM gaps WHERE id = $1`, id).Scan(&q); err != nil {
		return err
	}
	detail["id"], detail["question"] = id, q
	return audit(ctx, tx, by.UserID, action, detail)
}

// MaxMerge is how many gaps one merge takes.
const MaxMerge = 100

// MergeGaps makes the open gaps of the groups of ids one gap with the group
// of into: similar questions worded differently are then answered, dismissed
// and counted together. It returns how many gaps moved.
func (db *DB) MergeGaps(ctx context.Context, tenant, into int64, ids []int64, by shifu.Actor) (int, error) {
	if len(ids) == 0 || len(ids) > MaxMerge {
		return 0, shifu.Errorf(shifu.ErrInvalid, "merge needs 1 to %d other gaps, got %d", MaxMerge, len(ids))
	}
	var n int
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var key string
		err := tx.QueryRow(ctx, `SELECT `+gapKey+` FROM gaps g WHERE g.id = $1 AND g.resolved_at IS NULL AND g.dismissed_at IS NULL`, into).Scan(&key)
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "knowledge gap %d not found or not open", into)
		}
		if err != nil {
			return err
		}
		// Every gap (open) of the groups the ids are in, by the keys they
		// have before the merge.
		tag, err := tx.Exec(ctx, `UPDATE gaps g SET merge_key = $1
			WHERE g.resolved_at IS NULL AND g.dismissed_at IS NULL AND `+gapKey+` <> $1
			AND `+gapKey+` IN (SELECT `+gapKey+` FROM gaps g WHERE g.id = ANY($2) AND g.resolved_at IS NULL AND g.dismissed_at IS NULL)`, key, ids)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		if n == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "no open knowledge gap to merge among %v (answered, dismissed or already one gap)", ids)
		}
		return auditGap(ctx, tx, into, "gap.merge", by, map[string]any{"merged": ids, "gaps": n})
	})
	if err != nil {
		return 0, fmt.Errorf("merge gaps into %d: %w", into, classify(err))
	}
	return n, nil
}

// AnsweredFor lists userID's questions that notes have answered and the
// user has not yet seen, newest first.
func (db *DB) AnsweredFor(ctx context.Context, tenant, userID int64) ([]shifu.Answered, error) {
	out := []shifu.Answered{}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT array_agg(g.id ORDER BY g.id), (array_agg(g.question ORDER BY g.id DESC))[1],
				coalesce((array_agg(m.conversation_id ORDER BY g.id DESC) FILTER (WHERE m.conversation_id IS NOT NULL))[1], 0),
				d.head_id, coalesce(nullif(d.title, ''), d.name), d.uploader, max(g.resolved_at)
			FROM gaps g
			JOIN documents d ON d.id = g.note_id
			JOIN document_heads h ON h.id = d.head_id AND h.deleted_at IS NULL
			LEFT JOIN messages m ON m.id = g.message_id
			WHERE g.user_id = $1 AND g.resolved_at IS NOT NULL AND g.seen_at IS NULL
			GROUP BY `+gapKey+`, d.head_id, d.title, d.name, d.uploader
			ORDER BY max(g.resolved_at) DESC LIMIT 50`, userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a shifu.Answered
			if err := rows.Scan(&a.IDs, &a.Question, &a.Conversation, &a.NoteID, &a.NoteTitle, &a.Author, &a.AnsweredAt); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("answered questions: %w", err)
	}
	return out, nil
}

// SeeAnswered marks the asker's answered gaps ids as seen: the notice is not
// shown again. Gaps of other users are left alone.
func (db *DB) SeeAnswered(ctx context.Context, tenant, userID int64, ids []int64) (int, error) {
	if len(ids) == 0 || len(ids) > 500 {
		return 0, shifu.Errorf(shifu.ErrInvalid, "seen needs 1 to 500 gap ids, got %d", len(ids))
	}
	var n int
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE gaps SET seen_at = now()
			WHERE id = ANY($2) AND user_id = $1 AND resolved_at IS NOT NULL AND seen_at IS NULL`, userID, ids)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
