package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

const userColumns = `u.id, u.tenant_id, u.login, u.name, u.role`

func scanUser(row pgx.Row, extra ...any) (shifu.User, error) {
	var u shifu.User
	err := row.Scan(append([]any{&u.ID, &u.TenantID, &u.Login, &u.Name, &u.Role}, extra...)...)
	return u, err
}

// CreateUser adds a user to the tenant with an already hashed password ("" for
// none: bot users cannot log in). Like every change to users and tokens
// below, it is audited as by's in its own transaction.
func (db *DB) CreateUser(ctx context.Context, tenant int64, u shifu.User, passwordHash string, by shifu.Actor) (shifu.User, error) {
	if !u.Role.Valid() {
		return u, shifu.Errorf(shifu.ErrInvalid, "role %q: accepted roles are worker, supervisor and admin", u.Role)
	}
	if u.Login == "" || len(u.Login) > 128 {
		return u, shifu.Errorf(shifu.ErrInvalid, "login %q: use 1-128 characters", u.Login)
	}
	var out shifu.User
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		out, err = scanUser(tx.QueryRow(ctx, `INSERT INTO users AS u (login, name, role, password_hash) VALUES ($1, $2, $3, $4)
			RETURNING `+userColumns, u.Login, u.Name, u.Role, passwordHash))
		if err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "user.create", map[string]any{"login": out.Login, "role": out.Role})
	})
	if err = classify(err); errors.Is(err, shifu.ErrConflict) {
		return out, shifu.Errorf(shifu.ErrConflict, "user %q already exists", u.Login)
	}
	if err != nil {
		return out, fmt.Errorf("create user %s: %w", u.Login, err)
	}
	return out, nil
}

// UserByLogin returns an enabled user and the password hash to check.
func (db *DB) UserByLogin(ctx context.Context, tenant int64, login string) (shifu.User, string, error) {
	var u shifu.User
	var hash string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+`, u.password_hash FROM users u
			WHERE u.login = $1 AND u.disabled_at IS NULL`, login), &hash)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return u, "", shifu.Errorf(shifu.ErrNotFound, "no user %q", login)
	}
	return u, hash, err
}

// User returns one enabled user of the tenant.
func (db *DB) User(ctx context.Context, tenant, id int64) (shifu.User, error) {
	var u shifu.User
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1 AND u.disabled_at IS NULL`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return u, shifu.Errorf(shifu.ErrNotFound, "user %d not found", id)
	}
	return u, err
}

// Users lists the tenant's users by login.
func (db *DB) Users(ctx context.Context, tenant int64) ([]shifu.UserRow, error) {
	var out []shifu.UserRow
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+userColumns+`, u.created_at, u.disabled_at IS NOT NULL FROM users u ORDER BY u.login`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (r shifu.UserRow, err error) {
			r.User, err = scanUser(row, &r.CreatedAt, &r.Disabled)
			return r, err
		})
		return err
	})
	return out, err
}

// SetUserDisabled disables (or re-enables) a user. Disabling ends the
// user's sessions and revokes their tokens in the same transaction, for
// good: enabling the user again brings none of them back.
func (db *DB) SetUserDisabled(ctx context.Context, tenant, id int64, disabled bool, by shifu.Actor) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END WHERE id = $1`, id, disabled)
		if err == nil && tag.RowsAffected() == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "user %d not found", id)
		}
		if err != nil {
			return err
		}
		if !disabled {
			return audit(ctx, tx, by.UserID, "user.enable", map[string]any{"user_id": id})
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1`, id); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "user.disable", map[string]any{"user_id": id})
	})
}

// SetPassword replaces a user's password hash and ends their sessions but
// keep (the session that changed its own password; 0: none). It is audited
// as a change when by is the user, else as a reset.
func (db *DB) SetPassword(ctx context.Context, tenant, id int64, passwordHash string, keep int64, by shifu.Actor) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		var login string
		err := tx.QueryRow(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1 AND external = '' RETURNING login`, id, passwordHash).Scan(&login)
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "user %d not found (bot users have no password)", id)
		}
		if err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, id, keep); err != nil {
			return err
		}
		action := "user.password_reset"
		if by.UserID == id {
			action = "user.password_change"
		}
		return audit(ctx, tx, by.UserID, action, map[string]any{"user_id": id, "login": login})
	})
}

// SetRole changes a user's role. The tenant keeps at least one enabled
// admin.
func (db *DB) SetRole(ctx context.Context, tenant, id int64, role shifu.Role, by shifu.Actor) (shifu.User, error) {
	var u shifu.User
	if !role.Valid() {
		return u, shifu.Errorf(shifu.ErrInvalid, "role %q: accepted roles are worker, supervisor and admin", role)
	}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		// Lock the tenant's admins, so two demotions cannot race past the check.
		if _, err := tx.Exec(ctx, `SELECT id FROM users WHERE role = 'admin' FOR UPDATE`); err != nil {
			return err
		}
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `UPDATE users u SET role = $2 WHERE u.id = $1 RETURNING `+userColumns, id, role))
		if errors.Is(err, pgx.ErrNoRows) {
			return shifu.Errorf(shifu.ErrNotFound, "user %d not found", id)
		}
		if err != nil {
			return err
		}
		var admins int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL`).Scan(&admins); err != nil {
			return err
		}
		if admins == 0 {
			return shifu.Errorf(shifu.ErrConflict, "%s is the last admin: make another user admin first", u.Login)
		}
		return audit(ctx, tx, by.UserID, "user.role", map[string]any{"user_id": id, "login": u.Login, "role": u.Role})
	})
	if err != nil {
		return u, fmt.Errorf("set role of user %d: %w", id, classify(err))
	}
	return u, nil
}

// PasswordHash returns an enabled user's password hash, to check the
// current password before a change.
func (db *DB) PasswordHash(ctx context.Context, tenant, id int64) (string, error) {
	var hash string
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1 AND disabled_at IS NULL`, id).Scan(&hash)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", shifu.Errorf(shifu.ErrNotFound, "user %d not found", id)
	}
	return hash, err
}

// UserIDByLogin returns the id of a user, enabled or not (for the CLI).
func (db *DB) UserIDByLogin(ctx context.Context, tenant int64, login string) (int64, error) {
	var id int64
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id FROM users WHERE login = $1`, login).Scan(&id)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, shifu.Errorf(shifu.ErrNotFound, "no user %q", login)
	}
	return id, err
}

// CreateSession stores a login session under the hash of its cookie value
// and audits the login, from ip.
func (db *DB) CreateSession(ctx context.Context, tenant, userID int64, hash []byte, csrf string, expires time.Time, ip string) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		// Old expired sessions of this user go now; nothing else sweeps them.
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND expires_at < now()`, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (user_id, token_hash, csrf, expires_at) VALUES ($1, $2, $3, $4)`,
			userID, hash, csrf, expires); err != nil {
			return err
		}
		return audit(ctx, tx, userID, "login", map[string]any{"ip": ip})
	})
}

// Session is an authenticated login session.
type Session struct {
	User shifu.User
	ID   int64
	CSRF string
}

// SessionByHash finds the live session whose cookie hashes to hash, and its
// user. auth_session is the only way to learn the tenant from a cookie.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (Session, error) {
	var s Session
	var tenant, user int64
	err := read(ctx, func() error {
		return db.pool.QueryRow(ctx, `SELECT tenant_id, user_id, session_id, csrf FROM auth_session($1)`, hash).
			Scan(&tenant, &user, &s.ID, &s.CSRF)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return s, shifu.Errorf(shifu.ErrUnauthorized, "the session has ended: log in again")
	}
	if err != nil {
		return s, fmt.Errorf("auth session: %w", err)
	}
	s.User, err = db.User(ctx, tenant, user)
	if errors.Is(err, shifu.ErrNotFound) {
		return s, shifu.Errorf(shifu.ErrUnauthorized, "the session has ended: log in again")
	}
	return s, err
}

// DeleteSession ends a session (logout).
func (db *DB) DeleteSession(ctx context.Context, tenant, id int64) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
		return err
	})
}

// CreateToken stores the hash of a new bearer token for a user of the tenant.
func (db *DB) CreateToken(ctx context.Context, tenant, userID int64, name string, hash []byte, by shifu.Actor) (shifu.Token, error) {
	t := shifu.Token{UserID: userID, Name: name}
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT login FROM users WHERE id = $1 AND disabled_at IS NULL`, userID).Scan(&t.Login); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return shifu.Errorf(shifu.ErrNotFound, "user %d not found", userID)
			}
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3) RETURNING id, created_at`,
			userID, name, hash).Scan(&t.ID, &t.CreatedAt); err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "token.create", map[string]any{"token_id": t.ID, "login": t.Login})
	})
	if err != nil {
		return t, fmt.Errorf("create token: %w", classify(err))
	}
	return t, nil
}

// UserByToken finds the user of a live bearer token. auth_token is the only
// way to learn the tenant from a token.
func (db *DB) UserByToken(ctx context.Context, hash []byte) (shifu.User, error) {
	var tenant, user int64
	err := read(ctx, func() error {
		return db.pool.QueryRow(ctx, `SELECT tenant_id, user_id FROM auth_token($1)`, hash).Scan(&tenant, &user)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return shifu.User{}, shifu.Errorf(shifu.ErrUnauthorized, "the bearer token is not valid")
	}
	if err != nil {
		return shifu.User{}, fmt.Errorf("auth token: %w", err)
	}
	u, err := db.User(ctx, tenant, user)
	if errors.Is(err, shifu.ErrNotFound) {
		return u, shifu.Errorf(shifu.ErrUnauthorized, "the bearer token is not valid")
	}
	return u, err
}

// TouchToken records that a token was used, at most once a minute per token so
// API traffic does not turn into a write per request.
func (db *DB) TouchToken(ctx context.Context, tenant int64, hash []byte) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE token_hash = $1
			AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, hash)
		return err
	})
}

// Tokens lists the tenant's API tokens, newest first.
func (db *DB) Tokens(ctx context.Context, tenant int64) ([]shifu.Token, error) {
	var out []shifu.Token
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT t.id, t.user_id, u.login, t.name, t.created_at, t.last_used_at, t.revoked_at IS NOT NULL
			FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.created_at DESC, t.id DESC`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (t shifu.Token, err error) {
			err = row.Scan(&t.ID, &t.UserID, &t.Login, &t.Name, &t.CreatedAt, &t.LastUsedAt, &t.Revoked)
			return t, err
		})
		return err
	})
	return out, err
}

// RevokeToken stops a token from working.
func (db *DB) RevokeToken(ctx context.Context, tenant, id int64, by shifu.Actor) error {
	return db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			return shifu.Errorf(shifu.ErrNotFound, "token %d not found", id)
		}
		if err != nil {
			return err
		}
		return audit(ctx, tx, by.UserID, "token.revoke", map[string]any{"token_id": id})
	})
}

// audit records who did what, in the transaction of the change itself, so
// no channel stores a change without its row. userID 0 is the operator's
// CLI: its rows say so ("via": "cli", shown on the admin page) and name no
// user.
func audit(ctx context.Context, tx pgx.Tx, userID int64, action string, detail map[string]any) error {
	detail = maps.Clone(detail)
	if detail == nil {
		detail = map[string]any{}
	}
	var uid *int64
	if userID > 0 {
		uid = &userID
	} else {
		detail["via"] = "cli"
	}
	dj, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit (user_id, action, detail) VALUES ($1, $2, $3)`, uid, action, dj)
	return err
}

// AuditLog returns the newest entries of the tenant's audit log.
func (db *DB) AuditLog(ctx context.Context, tenant int64, limit int) ([]shifu.AuditEntry, error) {
	var out []shifu.AuditEntry
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT a.id, coalesce(u.login, ''), a.action, a.detail, a.created_at
			FROM audit a LEFT JOIN users u ON u.id = a.user_id ORDER BY a.id DESC LIMIT $1`, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (e shifu.AuditEntry, err error) {
			err = row.Scan(&e.ID, &e.Login, &e.Action, &e.Detail, &e.CreatedAt)
			return e, err
		})
		return err
	})
	return out, err
}
