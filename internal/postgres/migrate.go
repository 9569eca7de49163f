package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/shifu-factory/shifu"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("postgres: migration %q is not named NNN_name.sql", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// SchemaHash identifies the migrations' content, so test templates built
// from an edited migration are not reused.
func SchemaHash() string {
	ms, _ := migrations()
	h := sha256.New()
	for _, m := range ms {
		h.Write([]byte(m.sql))
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// Latest is the schema version this binary expects.
func Latest() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate brings the database at url (a role that may create extensions and
// roles, usually the database owner) to the latest schema: the application
// role, Shifu's migrations, and the job queue's tables. It is safe to run again.
// It returns the versions it applied.
func Migrate(ctx context.Context, url string) ([]int, error) {
	return migrate(ctx, url, 0)
}

// migrate applies Shifu's migrations up to version upTo (0: all); tests of a
// migration's carry-over stop before it.
func migrate(ctx context.Context, url string, upTo int) ([]int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(ctx)

	// Roles are cluster-wide, so several databases (tests, staging) share one.
	// shifu_app logs in itself (its password: SetAppPassword); the server
	// connects as it, never as this role. The migrating role stays a member so
	// an older server, which SET ROLEs, keeps working until it is replaced.
	if _, err := conn.Exec(ctx, `
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shifu_app') THEN
        CREATE ROLE shifu_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    ELSIF NOT (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shifu_app') THEN
        ALTER ROLE shifu_app LOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'shifu_app', 'MEMBER') THEN
        EXECUTE format('GRANT shifu_app TO %I', current_user);
    END IF;
END $$`); err != nil {
		return nil, fmt.Errorf("migrate: create role %s: %w", AppRole, err)
	}
	// One migrator at a time, whoever else runs `shifu migrate`.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7301)"); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(ctx, "SELECT pg_advisory_unlock(7301)") //nolint:errcheck
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if _, err := conn.Exec(ctx, "GRANT SELECT ON schema_migrations TO shifu_app"); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	var applied []int
	for _, m := range ms {
		if upTo > 0 && m.version > upTo {
			break
		}
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM schema_migrations WHERE version = $1)", m.version).Scan(&done); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		if done {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		applied = append(applied, m.version)
	}

	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return applied, fmt.Errorf("migrate: job queue: %w", err)
	}
	defer pool.Close()
	rm, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return applied, fmt.Errorf("migrate: job queue: %w", err)
	}
	if _, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return applied, fmt.Errorf("migrate: job queue: %w", err)
	}
	// The queue's tables are not tenant data: the app role works them directly.
	if _, err := conn.Exec(ctx, `
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO shifu_app;
REVOKE INSERT, UPDATE, DELETE ON tenants, schema_migrations FROM shifu_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO shifu_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO shifu_app;`); err != nil {
		return applied, fmt.Errorf("migrate: grants: %w", err)
	}
	// Shifu needs no temporary tables, and a temporary schema is where a
	// caller plants objects to shadow a definer function's (007_definer.sql).
	// Database privileges are not copied from a template, so this runs every time.
	if _, err := conn.Exec(ctx, `
DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$`); err != nil {
		return applied, fmt.Errorf("migrate: revoke TEMP: %w", err)
	}
	return applied, nil
}

// SetAppPassword gives the login role shifu_app the password the server will
// connect with (SHIFU_APP_PASSWORD). Only its SCRAM-SHA-256 verifier is sent,
// so the password itself reaches neither the server nor its logs.
func SetAppPassword(ctx context.Context, ownerURL, password string) error {
	v, err := scramVerifier(password)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ALTER ROLE "+AppRole+" PASSWORD '"+v+"'"); err != nil {
		return fmt.Errorf("migrate: set the password of %s: %w", AppRole, err)
	}
	return nil
}

// scramVerifier is what PostgreSQL stores for a SCRAM-SHA-256 password
// (RFC 5802, 4096 iterations as PostgreSQL uses). SASLprep is the identity on
// printable ASCII, which is all config accepts.
func scramVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	const iter = 4096
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(msg string) []byte {
		h := hmac.New(sha256.New, salted)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac("Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, b64(salt), b64(stored[:]), b64(mac("Server Key"))), nil
}

// CheckSchema returns an error unless every migration this binary knows is applied.
func (db *DB) CheckSchema(ctx context.Context) error {
	var v int
	err := db.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table
		return noSchema
	case errors.As(err, &pe) && pe.Code == "42501": // insufficient_privilege
		return shifu.Errorf(shifu.ErrUnavailable, "postgres: %s may not read the schema version: run `shifu migrate`", AppRole)
	case err != nil:
		return fmt.Errorf("postgres: read the schema version: %w: %w", shifu.ErrUnavailable, err)
	}
	switch want := Latest(); {
	case v > want:
		// Someone ran a newer binary's `shifu migrate`: this server is the
		// stale part, and migrating again would not help.
		return fmt.Errorf("%w: %w", ErrNewerSchema, shifu.Errorf(shifu.ErrUnavailable,
			"the database schema is at version %d, newer than this server's %d: replace this server with the newer shifu binary", v, want))
	case v != want:
		return fmt.Errorf("postgres: schema is at version %d, this binary needs %d (run `shifu migrate`): %w", v, want, shifu.ErrUnavailable)
	}
	return nil
}

// ErrNewerSchema: the database was migrated by a newer binary than this one.
var ErrNewerSchema = errors.New("postgres: this binary is older than the database schema")

// Writable reports whether the database takes writes now: it writes the
// health row, so a read-only database or a full disk fails it.
func (db *DB) Writable(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, "UPDATE health SET checked_at = now() WHERE id = 1")
	if err != nil {
		return outage(fmt.Errorf("postgres: write check: %w", err))
	}
	return nil
}
