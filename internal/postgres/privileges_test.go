package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// asRole returns owner URL u with its user replaced.
func asRole(t *testing.T, u, role string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.UserPassword(role, "attack-pw")
	return p.String()
}

// newLogin creates a login role that is a member of shifu_app and nothing
// else, dropped when t ends (roles are cluster-wide).
func newLogin(t *testing.T, ownerURL string, dbName string) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 4)
	rand.Read(b)
	role := "attacker_" + hex.EncodeToString(b)
	owner, err := pgx.Connect(ctx, ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD 'attack-pw' IN ROLE shifu_app"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		owner, err := pgx.Connect(ctx, ownerURL)
		if err != nil {
			t.Error(err)
			return
		}
		defer owner.Close(ctx)
		owner.Exec(ctx, "REVOKE ALL ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" FROM "+role)
		// A temporary schema's objects may outlive the session by a moment.
		owner.Exec(ctx, "DROP OWNED BY "+role)
		if _, err := owner.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Errorf("drop %s: %v", role, err)
		}
	})
	return role
}

func TestDefinerFunctionsPinSearchPathAndOwner(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
SELECT p.oid::regprocedure::text, r.rolname, r.rolsuper, r.rolbypassrls, r.rolcanlogin,
    coalesce((SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'), '')
FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
WHERE p.prosecdef AND p.pronamespace = 'public'::regnamespace ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var fn, owner, path string
		var super, bypass, login bool
		if err := rows.Scan(&fn, &owner, &super, &bypass, &login, &path); err != nil {
			t.Fatal(err)
		}
		n++
		if owner != "shifu_owner" || super || bypass || login {
			t.Errorf("%s is owned by %s (superuser %v, bypassrls %v, login %v); want shifu_owner", fn, owner, super, bypass, login)
		}
		// pg_temp last (or an empty path): otherwise the caller's
		// temporary schema is searched first.
		if !strings.HasSuffix(path, ", pg_temp") && path != `search_path=""` {
			t.Errorf("%s has %q: want pg_temp last", fn, path)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("found %d definer functions, want at least auth_token, auth_session, auth_bot, refresh_stats", n)
	}
}

// The attack the review ran: a role that is only a member of shifu_app
// shadows the tables a definer function reads with temporary views that call
// a temporary function, and has the function run it as its owner.
func TestTempSchemaAttackChangesNothing(t *testing.T) {
	ctx := context.Background()
	db, u := pgtest.DB(t)
	acme := newTenant(t, u, "acme")
	if err := db.InTenant(ctx, acme, func(tx pgx.Tx) error { return seed(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
	owner, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	dbName := owner.Config().Database
	role := newLogin(t, u, dbName)
	attack := func(t *testing.T, fn string) (rows int, super bool) {
		t.Helper()
		c, err := pgx.Connect(ctx, asRole(t, u, role))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		for _, q := range []string{
			`CREATE FUNCTION pg_temp.f() RETURNS bigint LANGUAGE plpgsql AS $$
			BEGIN EXECUTE format('ALTER ROLE %I SUPERUSER', session_user); RETURN 1; END $$`,
			`CREATE TEMP VIEW api_tokens AS SELECT pg_temp.f() AS tenant_id, 1::bigint AS user_id,
				'\x01'::bytea AS token_hash, NULL::timestamptz AS revoked_at`,
			`CREATE TEMP VIEW users AS SELECT 1::bigint AS id, NULL::timestamptz AS disabled_at`,
			`CREATE TEMP TABLE sessions (tenant_id bigint, user_id bigint, id bigint, csrf text, token_hash bytea, expires_at timestamptz)`,
			`INSERT INTO pg_temp.sessions VALUES (1, 1, 1, 'forged', '\x01', now() + interval '1 day')`,
			`CREATE TEMP TABLE bots (tenant_id bigint, id bigint, platform text, external_id text)`,
			`INSERT INTO pg_temp.bots VALUES (1, 1, 'slack', 'TFORGED')`,
		} {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		r, err := c.Query(ctx, "SELECT * FROM "+fn)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		for r.Next() {
			rows++
		}
		if err := r.Err(); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		if err := owner.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = $1", role).Scan(&super); err != nil {
			t.Fatal(err)
		}
		return rows, super
	}

	// shifu migrate revoked TEMP: the attack cannot even start.
	c, err := pgx.Connect(ctx, asRole(t, u, role))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE TEMP TABLE x (i int)"); err == nil {
		t.Error("a member of shifu_app created a temporary table: TEMP is not revoked")
	}
	c.Close(ctx)

	// Where TEMP is allowed (a database migrated by an older Shifu, say),
	// the functions still read only the real tables.
	if _, err := owner.Exec(ctx, "GRANT TEMPORARY ON DATABASE "+pgx.Identifier{dbName}.Sanitize()+" TO "+role); err != nil {
		t.Fatal(err)
	}
	for _, fn := range []string{`auth_token('\x01')`, `auth_session('\x01')`, `auth_bot('slack', 'TFORGED')`, `refresh_stats()`} {
		t.Run(fn, func(t *testing.T) {
			rows, super := attack(t, fn)
			if super {
				t.Fatalf("%s made %s superuser", fn, role)
			}
			if want := map[bool]int{true: 1, false: 0}[fn == "refresh_stats()"]; rows != want {
				t.Errorf("%s returned %d rows from the forged tables, want %d", fn, rows, want)
			}
		})
	}

	// The control: the same attack on a copy of auth_token as migrations
	// 001-006 made it (owned by the superuser, search_path = public) works,
	// so the test above would have caught it.
	if _, err := owner.Exec(ctx, `
CREATE FUNCTION old_auth_token(hash bytea) RETURNS TABLE (tenant_id bigint, user_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT t.tenant_id, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = hash AND t.revoked_at IS NULL AND u.disabled_at IS NULL $$`); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, "GRANT EXECUTE ON FUNCTION old_auth_token(bytea) TO shifu_app"); err != nil {
		t.Fatal(err)
	}
	var ownerSuper bool
	owner.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&ownerSuper)
	if !ownerSuper {
		t.Skip("the test cluster's owner is not superuser: the control cannot show the old escalation")
	}
	if _, super := attack(t, `old_auth_token('\x01')`); !super {
		t.Error("the control attack on the old function did not escalate: the test proves nothing")
	}
	if _, err := owner.Exec(ctx, "ALTER ROLE "+role+" NOSUPERUSER"); err != nil {
		t.Fatal(err)
	}
}

// The serving session has no way up: it logged in as shifu_app, so RESET
// ROLE and SET SESSION AUTHORIZATION lead nowhere, and it can create nothing.
func TestServingSessionCannotEscalate(t *testing.T) {
	ctx := context.Background()
	db, u := pgtest.DB(t)
	c, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "RESET ROLE"); err != nil {
		t.Fatal(err)
	}
	var sess, cur string
	var super, bypass, owns bool
	err = c.QueryRow(ctx, `SELECT session_user, current_user, r.rolsuper, r.rolbypassrls,
		EXISTS (SELECT FROM pg_roles o WHERE o.oid <> r.oid AND pg_has_role(r.oid, o.oid, 'MEMBER'))
		FROM pg_roles r WHERE r.rolname = session_user`).Scan(&sess, &cur, &super, &bypass, &owns)
	if err != nil {
		t.Fatal(err)
	}
	if sess != postgres.AppRole || cur != postgres.AppRole || super || bypass || owns {
		t.Fatalf("after RESET ROLE: session %s, current %s, superuser %v, bypassrls %v, member of another role %v", sess, cur, super, bypass, owns)
	}
	for _, q := range []string{
		"SET ROLE postgres", "SET ROLE shifu_owner", "SET SESSION AUTHORIZATION postgres",
		"CREATE TABLE public.x (i int)", "CREATE TEMP TABLE x (i int)", "CREATE SCHEMA x",
		"ALTER TABLE chunks NO FORCE ROW LEVEL SECURITY", "DROP TABLE chunks",
	} {
		if _, err := c.Exec(ctx, q); err == nil {
			t.Errorf("the serving session ran %q", q)
		}
	}
	owner, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	// refresh_stats, the one door to ANALYZE, still analyses (a non-owner's
	// ANALYZE only warns and skips): reltuples is -1 until a table is analysed.
	reltuples := func() (n float64) {
		if err := owner.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = 'public.chunks'::regclass").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples(); n != -1 {
		t.Fatalf("chunks of a new database has reltuples %v, want -1 (never analysed)", n)
	}
	if _, err := c.Exec(ctx, "SELECT refresh_stats()"); err != nil {
		t.Fatalf("refresh_stats as shifu_app: %v", err)
	}
	if n := reltuples(); n != 0 {
		t.Errorf("after refresh_stats chunks has reltuples %v, want 0: it did not analyse", n)
	}

	// Open refuses a login with more than shifu_app's rights: the owner
	// (superuser here), and a member of shifu_owner.
	_, err = postgres.Open(ctx, u, 2)
	if err == nil || !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(err.Error(), "must not connect as") {
		t.Errorf("Open as the owner: %v", err)
	}
	role := newLogin(t, u, owner.Config().Database)
	if _, err := owner.Exec(ctx, "GRANT shifu_owner TO "+role); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, asRole(t, u, role), 2)
	if err == nil || !strings.Contains(err.Error(), "a member of another role") {
		t.Errorf("Open as a member of shifu_owner: %v", err)
	}
	if _, err := owner.Exec(ctx, "REVOKE shifu_owner FROM "+role); err != nil {
		t.Fatal(err)
	}
	// A login that is only a member of shifu_app is accepted and acts as it.
	m, err := postgres.Open(ctx, asRole(t, u, role), 2)
	if err != nil {
		t.Fatalf("Open as a member of shifu_app: %v", err)
	}
	if err := m.Pool().QueryRow(ctx, "SELECT current_user").Scan(&cur); err != nil || cur != postgres.AppRole {
		t.Errorf("a member login acts as %q (%v), want %s", cur, err, postgres.AppRole)
	}
	m.Close()
}

func TestOpenTellsUnreachableFromUnmigrated(t *testing.T) {
	ctx := context.Background()
	u := pgtest.URL(t)
	// Nothing listens on port 1.
	p, _ := url.Parse(pgtest.AppURL(t, u))
	p.Host = "127.0.0.1:1"
	_, err := postgres.Open(ctx, p.String(), 2)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the database at 127.0.0.1:1") || strings.Contains(err.Error(), "schema") {
		t.Errorf("unreachable: %v", err)
	}
	// A database nobody migrated.
	owner, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	name := owner.Config().Database + "_bare"
	if _, err := owner.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	defer owner.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
	p, _ = url.Parse(pgtest.AppURL(t, u))
	p.Path = "/" + name
	_, err = postgres.Open(ctx, p.String(), 2)
	if err == nil || !strings.Contains(err.Error(), "no Shifu schema: run `shifu migrate`") {
		t.Errorf("unmigrated: %v", err)
	}
	p.Path = "/" + name + "_missing"
	_, err = postgres.Open(ctx, p.String(), 2)
	if err == nil || !strings.Contains(err.Error(), "there is no database") {
		t.Errorf("missing database: %v", err)
	}
}

func TestAppURL(t *testing.T) {
	got, err := postgres.AppURL("postgres://postgres:secret@db:5432/shifu?sslmode=disable&user=x", "p@ss")
	if err != nil || got != "postgres://shifu_app:p%40ss@db:5432/shifu?sslmode=disable" {
		t.Errorf("AppURL = %q, %v", got, err)
	}
	if _, err := postgres.AppURL("host=db user=postgres", ""); err == nil || !strings.Contains(err.Error(), "SHIFU_APP_DATABASE_URL") {
		t.Errorf("AppURL of a keyword DSN: %v", err)
	}
	if got := postgres.Named("postgres://a@b/c", "shifu serve"); got != "postgres://a@b/c?application_name=shifu%20serve" {
		t.Errorf("Named = %q", got)
	}
	if got := postgres.Named("host=b user=a", "shifu it's"); got != `host=b user=a application_name='shifu it\'s'` {
		t.Errorf("Named DSN = %q", got)
	}
}
