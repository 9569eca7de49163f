package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// NewConversation is what starts a conversation.
type NewConversation struct {
	UserID   int64  // 0: none (CLI)
	Channel  string // web | api | cli | slack | dingtalk
	External string // the channel's thread id
	Title    string
}

func nullID(id int64) *int64 {
	if id <= 0 {
		return nil
	}
	return &id
}

// CreateConversation starts a conversation and returns its id.
func (db *DB) CreateConversation(ctx context.Context, tenant int64, c NewConversation) (int64, error) {
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

// History returns the last limit messages of a conversation, oldest first.
// A conversation of another tenant is not found.
func (db *DB) History(ctx context.Context, tenant, conversation int64, limit int) ([]shifu.Turn, error) {
	var turns []shifu.Turn
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM conversations WHERE id = $1)`, conversation).Scan(&exists); err != nil {
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
		defer rows.Close()
		for rows.Next() {
			var t shifu.Turn
			if err := rows.Scan(&t.Role, &t.Content); err != nil {
				return err
			}
			turns = append(turns, t)
		}
		return rows.Err()
	})
	return turns, err
}

// Message is a stored message.
type Message struct {
	ID             int64
	ConversationID int64
	Role           string // user | assistant
	Content        string
	Citations      []shifu.Citation
	Abstained      bool
	Degraded       bool
	Model          string
	PromptVersion  string
	Usage          shifu.Usage
	LatencyMS      int64
	CreatedAt      time.Time
}

// Exchange stores one question and its answer in a conversation, and, when
// the answer abstained, a knowledge gap for supervisors, all in one
// transaction. It returns the assistant message's id.
func (db *DB) Exchange(ctx context.Context, tenant, conversation, userID int64, question string, a shifu.Answer) (int64, error) {
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
		if a.Abstained {
			_, err = tx.Exec(ctx, `INSERT INTO gaps (question, reason, message_id, user_id) VALUES ($1, 'abstained', $2, $3)`,
				question, id, nullID(userID))
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store answer: %w", classify(err))
	}
	return id, nil
}

// Messages returns a conversation's messages, oldest first.
func (db *DB) Messages(ctx context.Context, tenant, conversation int64) ([]Message, error) {
	var out []Message
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, conversation_id, role, content, citations, abstained, degraded, model,
				prompt_version, prompt_tokens, completion_tokens, latency_ms, created_at
			FROM messages WHERE conversation_id = $1 ORDER BY id`, conversation)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m Message
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
		return nil, fmt.Errorf("messages: %w", err)
	}
	return out, nil
}

// AddGap records a question the manuals answered badly (reason "downvoted")
// or not at all ("abstained").
func (db *DB) AddGap(ctx context.Context, tenant int64, question, reason string, messageID, userID int64) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO gaps (question, reason, message_id, user_id) VALUES ($1, $2, $3, $4)`,
			question, reason, nullID(messageID), nullID(userID))
		return classify(err)
	})
}

// Gap is a group of open knowledge gaps with the same question.
type Gap struct {
	ID       int64 // the newest gap of the group; resolving it resolves the group
	Question string
	Reasons  []string
	Count    int
	First    time.Time
	Last     time.Time
}

// Gaps lists the tenant's open gaps, the same question (ignoring case and
// surrounding space) asked several times grouped into one, most asked first.
func (db *DB) Gaps(ctx context.Context, tenant int64) ([]Gap, error) {
	var out []Gap
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT max(id), min(question), array_agg(DISTINCT reason ORDER BY reason), count(*),
				min(created_at), max(created_at)
			FROM gaps WHERE resolved_at IS NULL
			GROUP BY lower(btrim(question))
			ORDER BY count(*) DESC, max(created_at) DESC`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var g Gap
			if err := rows.Scan(&g.ID, &g.Question, &g.Reasons, &g.Count, &g.First, &g.Last); err != nil {
				return err
			}
			out = append(out, g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("gaps: %w", err)
	}
	return out, nil
}

// ResolveGap closes a gap and every open gap with the same question, noting
// the note (document) that answered it (0: none).
func (db *DB) ResolveGap(ctx context.Context, tenant, id, noteID int64) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE gaps g SET resolved_at = now(), note_id = $2
			FROM gaps o WHERE o.id = $1 AND g.resolved_at IS NULL AND lower(btrim(g.question)) = lower(btrim(o.question))`,
			id, nullID(noteID))
		if err != nil {
			return classify(err)
		}
		if tag.RowsAffected() == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "open gap %d not found", id)
		}
		return nil
	})
}
