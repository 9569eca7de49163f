// Package postgres is Shifu's only SQL: hand-written queries with $n
// placeholders, numbered embedded migrations, and the tenant set per
// transaction for an application role that row-level security applies to.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

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
	db := &DB{pool: pool}
	if err := db.CheckSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
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
	err := db.inTenant(ctx, tenant, fn)
	var early *beforeWork
	if errors.As(err, &early) && ctx.Err() == nil {
		// The connection broke before fn ran (a pooled connection that did
		// not survive a database restart): nothing was done, so one more
		// go on a fresh connection is safe for any call.
		err = db.inTenant(ctx, tenant, fn)
	}
	if errors.As(err, &early) {
		err = early.err
	}
	return outage(err)
}

// read runs a read-only statement outside a tenant transaction (the auth
// lookups), once more on a fresh connection if the database was unreachable.
func read(ctx context.Context, fn func() error) error {
	err := fn()
	if err != nil && down(err) && ctx.Err() == nil {
		err = fn()
	}
	return outage(err)
}

// beforeWork marks a connection failure before a transaction's work began.
type beforeWork struct{ err error }

func (e *beforeWork) Error() string { return e.err.Error() }
func (e *beforeWork) Unwrap() error { return e.err }

func (db *DB) inTenant(ctx context.Context, tenant int64, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return early(fmt.Errorf("postgres: begin: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", fmt.Sprint(tenant)); err != nil {
		return early(fmt.Errorf("postgres: set tenant: %w", err))
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", classify(err))
	}
	return nil
}

func early(err error) error {
	if down(err) {
		return &beforeWork{err: err}
	}
	return err
}

// outage marks err as shifu.ErrUnavailable when the database could not be
// reached or cannot take the work now (restarting, read-only, disk full, out
// of connections): the edges answer 503 with Retry-After, not 500.
func outage(err error) error {
	if err == nil || errors.Is(err, shifu.ErrUnavailable) || !down(err) {
		return err
	}
	return fmt.Errorf("%w: %w", shifu.ErrUnavailable, err)
}

// down reports whether err says the database is unreachable or unable to work
// now, as opposed to refusing this statement.
func down(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutting down, crash, starting up
			pe.Code == "25006",                     // read-only transaction (a standby, or default_transaction_read_only)
			pe.Code == "53100", pe.Code == "53300": // disk full, too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
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
