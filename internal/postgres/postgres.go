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
	neturl "net/url"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	pgxvec "github.com/pgvector/pgvector-go/pgx"

	"github.com/shifu-factory/shifu"
)

// AppRole is the role Shifu serves as. It owns nothing, is not superuser and
// not BYPASSRLS, so every row-level security policy applies to it. `shifu
// migrate` makes it a login role; the server connects as it (or as a login
// with no rights beyond membership in it), never as the owner, so no RESET ROLE
// leads back to more.
const AppRole = "shifu_app"

// DB is a pool of connections acting as AppRole.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects as the URL's role, which must have no more than AppRole's
// rights, and refuses to go on when the database cannot be reached, the role
// has more rights, or the schema is not current, with a different error for
// each.
func Open(ctx context.Context, url string, maxConns int32) (*DB, error) {
	db, err := connect(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	cfg := db.pool.Config().ConnConfig
	if err := db.pool.Ping(ctx); err != nil {
		db.Close()
		return nil, connectError(err, fmt.Sprintf("%s:%d as %s", cfg.Host, cfg.Port, cfg.User), cfg.Database)
	}
	if err := db.checkRole(ctx); err != nil {
		db.Close()
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
		return nil, shifu.Errorf(shifu.ErrInvalid, "postgres: the database URL is not a valid connection string (want postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	member := cfg.ConnConfig.User != AppRole
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// A login that is only a member of AppRole acts as it.
		if member {
			if _, err := c.Exec(ctx, "SET ROLE "+AppRole); err != nil {
				return fmt.Errorf("postgres: switch to role %s: %w", AppRole, err)
			}
		}
		// Shifu's queries are short; JIT compiling one whose estimated cost
		// crosses jit_above_cost added 300-600 ms to a 2 ms vector search.
		if _, err := c.Exec(ctx, "SET jit = off"); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if err := pgxvec.RegisterTypes(ctx, c); err != nil {
			return fmt.Errorf("%w: %w", errNoSchema, err) // no vector extension: never migrated
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return &DB{pool: pool}, nil
}

var (
	errNoSchema = errors.New("no Shifu schema")
	noSchema    = shifu.Errorf(shifu.ErrUnavailable, "postgres: the database has no Shifu schema: run `shifu migrate`")
)

// connectError tells apart a server that is not there, a login it refuses
// and a database it does not have.
func connectError(err error, where, database string) error {
	if errors.Is(err, errNoSchema) {
		return noSchema
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			return shifu.Errorf(shifu.ErrUnavailable, "postgres: password authentication failed at %s: SHIFU_APP_PASSWORD must be the password `shifu migrate` was run with (or set SHIFU_APP_DATABASE_URL)", where)
		case "28000":
			return shifu.Errorf(shifu.ErrUnavailable, "postgres: the server at %s refuses the login (%s): run `shifu migrate`, which creates the login %s (with SHIFU_APP_PASSWORD as its password), and check pg_hba.conf", where, pe.Message, AppRole)
		case "3D000":
			return shifu.Errorf(shifu.ErrUnavailable, "postgres: there is no database %q at %s: create it (createdb %s), then run `shifu migrate`", database, where, database)
		case "42704", "42501": // the login is not a member of AppRole, or AppRole does not exist
			return shifu.Errorf(shifu.ErrUnavailable, "postgres: connected at %s but cannot act as %s (%s): run `shifu migrate`", where, AppRole, pe.Message)
		}
		return fmt.Errorf("postgres: connect at %s: %w", where, err)
	}
	return shifu.Errorf(shifu.ErrUnavailable, "postgres: cannot reach the database at %s: is PostgreSQL running there, and DATABASE_URL (or SHIFU_APP_DATABASE_URL) right? (%v)", where, err)
}

// checkRole refuses a login with any right beyond AppRole's: superuser,
// BYPASSRLS, creating roles or databases, replication, owning anything here,
// or membership in another role (the owner's, say), any of which a RESET ROLE
// or SET ROLE would hand to whatever SQL the process runs.
func (db *DB) checkRole(ctx context.Context) error {
	var name string
	var super, bypass, createRole, createDB, repl, member, owner bool
	err := db.pool.QueryRow(ctx, `
SELECT r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb, r.rolreplication,
    EXISTS (SELECT FROM pg_roles o WHERE o.oid <> r.oid AND o.rolname <> $1 AND pg_has_role(r.oid, o.oid, 'MEMBER')),
    EXISTS (SELECT FROM pg_class WHERE relowner = r.oid)
        OR EXISTS (SELECT FROM pg_namespace WHERE nspowner = r.oid)
        OR EXISTS (SELECT FROM pg_proc WHERE proowner = r.oid)
        OR EXISTS (SELECT FROM pg_database WHERE datdba = r.oid AND datname = current_database())
FROM pg_roles r WHERE r.rolname = session_user`, AppRole).
		Scan(&name, &super, &bypass, &createRole, &createDB, &repl, &member, &owner)
	if err != nil {
		return fmt.Errorf("postgres: read the login's rights: %w", err)
	}
	var why []string
	for _, f := range []struct {
		on   bool
		what string
	}{{super, "superuser"}, {bypass, "BYPASSRLS"}, {createRole, "CREATEROLE"}, {createDB, "CREATEDB"},
		{repl, "REPLICATION"}, {member, "a member of another role than " + AppRole}, {owner, "an owner of objects in this database"}} {
		if f.on {
			why = append(why, f.what)
		}
	}
	if len(why) > 0 {
		return shifu.Errorf(shifu.ErrInvalid, "postgres: the server must not connect as %q, which is %s: connect as %s, which has only the application's rights (set SHIFU_APP_PASSWORD, or SHIFU_APP_DATABASE_URL; `shifu migrate` creates the login)",
			name, strings.Join(why, ", "), AppRole)
	}
	return nil
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
	// The role is set for the transaction too, not only for the session
	// (Open's SET ROLE): behind pgbouncer in transaction mode the session's
	// settings stay on whichever server connection ran them. BEGIN and the
	// settings go as one simple query, one round trip instead of two (a
	// search runs three transactions; on a loaded host each round trip is a
	// wake-up of the backend). The tenant is a number and the role a
	// constant, so writing them into the text is safe.
	begin := fmt.Sprintf("BEGIN; SELECT set_config('app.tenant_id', '%d', true), set_config('role', '%s', true)", tenant, AppRole)
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: begin})
	if err != nil {
		return early(fmt.Errorf("postgres: begin and set tenant: %w", err))
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
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

// AppURL is the URL to connect as AppRole when none is given
// (SHIFU_APP_DATABASE_URL): ownerURL's server and database, as AppRole with
// password ("" for peer, trust or certificate logins).
func AppURL(ownerURL, password string) (string, error) {
	u, err := neturl.Parse(ownerURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", shifu.Errorf(shifu.ErrInvalid, "DATABASE_URL is not a postgres:// URL, so the login of %s cannot be derived from it: set SHIFU_APP_DATABASE_URL", AppRole)
	}
	if password == "" {
		u.User = neturl.User(AppRole)
	} else {
		u.User = neturl.UserPassword(AppRole, password)
	}
	q := u.Query()
	q.Del("user")
	q.Del("password")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20") // as in Named
	return u.String(), nil
}

// Named sets application_name to name unless url sets it, so an operator
// sees in pg_stat_activity which command holds each session.
func Named(url, name string) string {
	if u, err := neturl.Parse(url); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		if q.Get("application_name") == "" {
			q.Set("application_name", name)
			// pgx reads + as itself, not as a space; Encode writes a real + as %2B.
			u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		}
		return u.String()
	}
	if strings.Contains(url, "application_name") {
		return url
	}
	return url + " application_name='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(name) + "'"
}
