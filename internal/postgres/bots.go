package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// AddBot stores an installation for the tenant, audited as by in the same
// transaction. A team or app is installed once per tenant; other tenants may
// install the same one, and nothing here tells whether one has.
func (db *DB) AddBot(ctx context.Context, tenant int64, b shifu.Bot, by shifu.Actor) (shifu.Bot, error) {
	b.TenantID = tenant
	if b.Token == nil {
		b.Token = []byte{} // the column is NOT NULL DEFAULT ''
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO bots (platform, external_id, secret, token) VALUES ($1, $2, $3, $4)
			RETURNING id, created_at`, b.Platform, b.ExternalID, b.Secret, b.Token).Scan(&b.ID, &b.CreatedAt); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "bot.add", map[string]any{"bot_id": b.ID, "platform": b.Platform, "external_id": b.ExternalID})
	})
	if err != nil {
		err = classify(err)
		switch {
		case errors.Is(err, shifu.ErrConflict):
			return b, shifu.Errorf(shifu.ErrConflict, "a %s bot for %q is already installed in this tenant (remove it first with `shifu bot remove`)", b.Platform, b.ExternalID)
		case errors.Is(err, shifu.ErrInvalid):
			return b, shifu.Errorf(shifu.ErrInvalid, "bot platform %q: use slack or dingtalk", b.Platform)
		}
		return b, fmt.Errorf("add bot: %w", err)
	}
	return b, nil
}

// Bots lists the tenant's installations.
func (db *DB) Bots(ctx context.Context, tenant int64) ([]shifu.Bot, error) {
	var out []shifu.Bot
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, tenant_id, platform, external_id, secret, token, created_at
			FROM bots ORDER BY platform, external_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b shifu.Bot
			if err := rows.Scan(&b.ID, &b.TenantID, &b.Platform, &b.ExternalID, &b.Secret, &b.Token, &b.CreatedAt); err != nil {
				return err
			}
			out = append(out, b)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list bots: %w", err)
	}
	return out, nil
}

// RemoveBot deletes one of the tenant's installations, audited as by in the
// same transaction.
func (db *DB) RemoveBot(ctx context.Context, tenant int64, platform, externalID string, by shifu.Actor) error {
	var id int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM bots WHERE platform = $1 AND external_id = $2 RETURNING id`, platform, externalID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "bot.remove", map[string]any{"bot_id": id, "platform": platform, "external_id": externalID})
	})
	if err != nil {
		return fmt.Errorf("remove bot: %w", err)
	}
	if id == 0 {
		return shifu.Errorf(shifu.ErrNotFound, "no %s bot %q in this tenant (`shifu bot list` shows them)", platform, externalID)
	}
	return nil
}

// FindBots finds the installations an incoming event names, before its
// tenant is known: auth_bot() is the only door, returning the matching rows
// (a team or app may be installed by several tenants: at most 16, oldest
// first); each row is then read inside its tenant. The caller tells them apart
// by whose secret verifies the event's signature. An unknown team or app is
// ErrUnauthorized.
func (db *DB) FindBots(ctx context.Context, platform, externalID string) ([]shifu.Bot, error) {
	var found []shifu.Bot
	err := read(ctx, func() error {
		found = found[:0]
		rows, err := db.pool.Query(ctx, `SELECT tenant_id, bot_id FROM auth_bot($1, $2)`, platform, externalID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b shifu.Bot
			if err := rows.Scan(&b.TenantID, &b.ID); err != nil {
				return err
			}
			found = append(found, b)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("find bot: %w", err)
	}
	if len(found) == 0 {
		return nil, shifu.Errorf(shifu.ErrUnauthorized, "unknown %s installation", platform)
	}
	out := found[:0]
	for _, b := range found {
		err = db.InTenant(ctx, b.TenantID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT platform, external_id, secret, token, created_at FROM bots WHERE id = $1`, b.ID).
				Scan(&b.Platform, &b.ExternalID, &b.Secret, &b.Token, &b.CreatedAt)
		})
		if errors.Is(err, pgx.ErrNoRows) {
			continue // removed since
		}
		if err != nil {
			return nil, fmt.Errorf("find bot: %w", classify(err))
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, shifu.Errorf(shifu.ErrUnauthorized, "unknown %s installation", platform)
	}
	return out, nil
}

// FirstBotEvent records a delivery and reports whether it is the first one
// with this id: retries and replays of the same event return false.
func (db *DB) FirstBotEvent(ctx context.Context, tenant int64, platform, eventID string) (bool, error) {
	var n int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO bot_events (platform, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, platform, eventID)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record bot event: %w", err)
	}
	return n == 1, nil
}

// BindBotEvent records eventID bound to value, unless it is recorded
// already, and returns the value it is bound to: value the first time, the
// first value ever after (concurrent calls agree on one).
func (db *DB) BindBotEvent(ctx context.Context, tenant int64, platform, eventID, value string) (string, error) {
	var bound string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO bot_events (platform, event_id, bound) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, platform, event_id) DO UPDATE SET bound = bot_events.bound
			RETURNING bound`, platform, eventID, value).Scan(&bound)
	})
	if err != nil {
		return "", fmt.Errorf("record bot event: %w", err)
	}
	return bound, nil
}

// ForgetBotEvent removes a recorded delivery, so a retry of an event Shifu
// could not take on (busy) is answered when it comes again.
func (db *DB) ForgetBotEvent(ctx context.Context, tenant int64, platform, eventID string) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM bot_events WHERE platform = $1 AND event_id = $2`, platform, eventID)
		return err
	})
}

// BotUser returns the tenant's user for a chat identity (external, e.g.
// "slack:T123:U456"), creating it as a worker on first use. Its login is the
// identity itself, which no person's login contains (':' is not typed into a
// login form by accident), and its creation is audited. A disabled user is
// ErrForbidden.
func (db *DB) BotUser(ctx context.Context, tenant int64, external, name string) (shifu.User, error) {
	u := shifu.User{TenantID: tenant}
	var ext string
	var disabled *time.Time
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT id, login, name, role, external, disabled_at FROM users WHERE external = $1 ORDER BY id LIMIT 1`, external).
			Scan(&u.ID, &u.Login, &u.Name, &u.Role, &ext, &disabled)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// Two first messages at once: the loser of the race reads the winner's row.
		var created bool
		err = tx.QueryRow(ctx, `INSERT INTO users (login, name, role, external) VALUES ($1, $2, 'worker', $1)
			ON CONFLICT (tenant_id, login) DO UPDATE SET name = users.name
			RETURNING id, login, name, role, external, disabled_at, xmax = 0`, external, name).
			Scan(&u.ID, &u.Login, &u.Name, &u.Role, &ext, &disabled, &created)
		if err != nil || !created {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit (user_id, action, detail) VALUES ($1, 'user.create',
			jsonb_build_object('login', $2::text, 'role', 'worker', 'by', 'bot'))`, u.ID, u.Login)
		return err
	})
	if err != nil {
		return u, fmt.Errorf("bot user: %w", classify(err))
	}
	if ext != external {
		return u, shifu.Errorf(shifu.ErrConflict, "login %q is taken by a user who is not this chat identity", external)
	}
	if disabled != nil {
		return u, shifu.Errorf(shifu.ErrForbidden, "your Shifu account is disabled; ask your administrator")
	}
	return u, nil
}
