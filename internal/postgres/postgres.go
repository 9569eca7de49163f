// Package postgres is Shifu's only SQL: hand-written queries with $n
// placeholders, numbered embedded migrations, and the tenant set per
// transaction for an application role that row-level security applies to.
package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/shifu-factory/shifu"
)

// AppRole is the role Shifu serves as. It owns nothing, is not superuser and
// not BYPASSRLS, so every row-level security policy applies to it.
const AppRole = "shifu_app"

// DB is a pool of connections that have switched to AppRole.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects with the URL's role and switches every connection to AppRole
// (the URL's role must be a member of it; `shifu migrate` arranges that), then
// refuses to go on when the schema is not current.
func Open(ctx context.Context, url string, maxConns int32) (*DB, error) {
	db, err := connect(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	if err := db.CheckSchema(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenReplica is Open for a streaming replica of the primary's database: its
// schema is the primary's, and it may be down now and come back later, so
// nothing is checked and no connection is made until the first query.
func OpenReplica(ctx context.Context, url string, maxConns int32) (*DB, error) {
	return connect(ctx, url, maxConns)
}

func connect(ctx context.Context, url string, maxConns int32) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DATABASE_URL: %w", shifu.ErrInvalid)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "SET ROLE "+AppRole); err != nil {
			return fmt.Errorf("postgres: switch to role %s: %w", AppRole, err)
		}
		// Shifu's queries are short; JIT compiling one whose estimated cost
		// crosses jit_above_cost added 300-600 ms to a 2 ms vector search.
		if _, err := c.Exec(ctx, "SET jit = off"); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return pgxvec.RegisterTypes(ctx, c)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &DB{pool: pool}, nil
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// Pool gives the job queue its connections; it must not be used for tenant data.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// InTenant runs fn in a transaction whose tenant is set, so row-level security
// limits every statement in it to that tenant's rows. It commits when fn
// returns nil.
func (db *DB) InTenant(ctx context.Context, tenant int64, fn func(tx pgx.Tx) error) error {
	if tenant <= 0 {
		return fmt.Errorf("postgres: no tenant: %w", shifu.ErrInvalid)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	// The role is set for the transaction too, not only for the session
	// (Open's SET ROLE): behind pgbouncer in transaction mode the session's
	// settings stay on whichever server connection ran them.
	if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true), set_config('role', $2, true)", fmt.Sprint(tenant), AppRole); err != nil {
		return fmt.Errorf("postgres: set tenant: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", classify(err))
	}
	return nil
}

// classify maps constraint violations to domain error kinds.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return fmt.Errorf("%w: %s", shifu.ErrConflict, pe.ConstraintName)
		case "23503", "23514", "22P02", "22001":
			return fmt.Errorf("%w: %s", shifu.ErrInvalid, pe.Code)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return shifu.ErrNotFound
	}
	return err
}
