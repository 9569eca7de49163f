package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

func nullID(id int64) *int64 {
	if id <= 0 {
		return nil
	}
	return &id
}

// CreateConversation starts a conversation (its user, channel, external
// thread id and title) and returns its id.
func (db *DB) CreateConversation(ctx context.Context, tenant int64, c shifu.Conversation) (int64, error) {
	if c.Channel == "" {
		c.Channel = "web"
	}
	if r := []rune(c.Title); len(r) > 200 {
		c.Title = string(r[:200])
	}
	var id int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO conversations (user_id, channel, external, title) VALUES ($1, $2, $3, $4) RETURNING id`,
			nullID(c.UserID), c.Channel, c.External, c.Title).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("create conversation: %w", classify(err))
	}
	return id, nil
}

// ConversationByExternal finds the conversation of a channel thread (a Slack
// thread, a DingTalk chat); 0 when there is none yet.
func (db *DB) ConversationByExternal(ctx context.Context, tenant int64, channel, external string) (int64, error) {
	var id int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id FROM conversations WHERE channel = $1 AND external = $2 ORDER BY id DESC LIMIT 1`,
			channel, external).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// History returns the last limit messages of a conversation, oldest first,
// for follow-up questions. userID > 0 asks for that user's own conversation
// (the id came from the client: web, API); 0 takes any conversation of the
// tenant (a Slack or DingTalk thread is shared by its members; the CLI has no
// user). A conversation of another tenant or, with userID, another user is
// not found.
func (db *DB) History(ctx context.Context, tenant, userID, conversation int64, limit int) ([]shifu.Turn, error) {
	var turns []shifu.Turn
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM conversations WHERE id = $1 AND ($2::bigint = 0 OR user_id = $2::bigint))`,
			conversation, userID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return shifu.Errorf(shifu.ErrNotFound, "conversation %d not found", conversation)
		}
		rows, err := tx.Query(ctx, `SELECT role, content FROM (
				SELECT id, role, content FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2
			) m ORDER BY id`, conversation, limit)
		if err != nil {
			return err
		}
		turns, err = pgx.AppendRows(turns, rows, func(row pgx.CollectableRow) (t shifu.Turn, err error) {
			err = row.Scan(&t.Role, &t.Content)
			return t, err
		})
		return err
	})
	return turns, err
}

// conversationCols reads a Conversation; the title is the first question
// (the stored title, set at creation, is the fallback).
const conversationCols = `c.id,
	coalesce(left((SELECT q.content FROM messages q WHERE q.conversation_id = c.id AND q.role = 'user' ORDER BY q.id LIMIT 1), 200), c.title),
	c.channel, (SELECT count(*) FROM messages n WHERE n.conversation_id = c.id), c.created_at, c.updated_at`

func scanConversation(row pgx.Row) (shifu.Conversation, error) {
	var c shifu.Conversation
	err := row.Scan(&c.ID, &c.Title, &c.Channel, &c.Messages, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// Conversations lists a user's own conversations that have messages, most
// recently active first, at most limit (1–200; default 50).
func (db *DB) Conversations(ctx context.Context, tenant, userID int64, limit int) ([]shifu.Conversation, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := []shifu.Conversation{}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+conversationCols+` FROM conversations c
			WHERE c.user_id = $1 AND EXISTS (SELECT FROM messages m WHERE m.conversation_id = c.id)
			ORDER BY c.updated_at DESC, c.id DESC LIMIT $2`, userID, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (shifu.Conversation, error) { return scanConversation(row) })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("conversations: %w", err)
	}
	return out, nil
}

// Exchange stores one question and its answer in a conversation and, when
// gap names a reason (the answer service gives "abstained"), the knowledge
// gap it opens for supervisors, all in one transaction: an answer is never
// stored without the gap its caller asked for. It returns the assistant
// message's id.
func (db *DB) Exchange(ctx context.Context, tenant, conversation, userID int64, question string, a shifu.Answer, gap string) (int64, error) {
	cites := a.Citations
	if cites == nil {
		cites = []shifu.Citation{}
	}
	cj, err := json.Marshal(cites)
	if err != nil {
		return 0, err
	}
	var id int64
	err = db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'user', $2)`,
			conversation, question); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, role, content, citations, abstained, degraded,
				model, prompt_version, prompt_tokens, completion_tokens, latency_ms)
			VALUES ($1, 'assistant', $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			conversation, a.Text, cj, a.Abstained, a.Degraded, a.Model, a.PromptVersion,
			a.Usage.PromptTokens, a.Usage.CompletionTokens, a.LatencyMS).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations SET updated_at = now(),
				title = CASE WHEN title = '' THEN left($2, 200) ELSE title END WHERE id = $1`, conversation, question); err != nil {
			return err
		}
		if gap != "" {
			_, err = tx.Exec(ctx, `INSERT INTO gaps (question, reason, message_id, user_id) VALUES ($1, $2, $3, $4)`,
				question, gap, id, nullID(userID))
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store answer: %w", classify(err))
	}
	return id, nil
}

// Messages returns one of a user's own conversations and its messages,
// oldest first. userID 0 reads only conversations without a user (the CLI's).
// Another user's conversation, even in the same tenant, is not found: the
// store checks ownership so no caller can forget to.
func (db *DB) Messages(ctx context.Context, tenant, userID, conversation int64) (shifu.Conversation, []shifu.ChatMessage, error) {
	var conv shifu.Conversation
	out := []shifu.ChatMessage{}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		conv, err = scanConversation(tx.QueryRow(ctx, `SELECT `+conversationCols+` FROM conversations c
			WHERE c.id = $1 AND c.user_id IS NOT DISTINCT FROM $2`, conversation, nullID(userID)))
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "conversation %d not found", conversation)
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, conversation_id, role, content, citations, abstained, degraded, model,
				prompt_version, prompt_tokens, completion_tokens, latency_ms, created_at
			FROM messages WHERE conversation_id = $1 ORDER BY id`, conversation)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m shifu.ChatMessage
			var cj []byte
			if err := rows.Scan(&m.ID, &m.ConversationID, &m.Role, &m.Content, &cj, &m.Abstained, &m.Degraded, &m.Model,
				&m.PromptVersion, &m.Usage.PromptTokens, &m.Usage.CompletionTokens, &m.LatencyMS, &m.CreatedAt); err != nil {
				return err
			}
			m.Usage.TotalTokens = m.Usage.PromptTokens + m.Usage.CompletionTokens
			if err := json.Unmarshal(cj, &m.Citations); err != nil {
				return fmt.Errorf("message %d citations: %w", m.ID, err)
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return shifu.Conversation{}, nil, fmt.Errorf("messages: %w", err)
	}
	return conv, out, nil
}
