package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

func newTenant(t *testing.T, url, name string) int64 {
	t.Helper()
	return pgtest.Tenant(t, url, name).ID
}

// seed puts one row in every tenant table for the tenant of tx.
func seed(ctx context.Context, tx pgx.Tx) error {
	for _, q := range []string{
		`INSERT INTO users (login, role) VALUES ('u', 'admin')`,
		`INSERT INTO api_tokens (user_id, token_hash) SELECT id, gen_random_uuid()::text::bytea FROM users`,
		`INSERT INTO sessions (user_id, token_hash, csrf, expires_at) SELECT id, gen_random_uuid()::text::bytea, 'x', now() + interval '1 hour' FROM users`,
		`INSERT INTO documents (name, kind, sha256, size, status) VALUES ('m.pdf', 'manual', gen_random_uuid()::text, 1, 'ready')`,
		`INSERT INTO originals (document_id, sealed) SELECT id, '\x00' FROM documents`,
		`INSERT INTO original_segments (document_id, seq, sealed) SELECT id, 0, '\x00' FROM documents`,
		`INSERT INTO chunks (document_id, ord, text) SELECT id, 0, 'secret spindle text' FROM documents`,
		`INSERT INTO posting_lists (term, document_id, n, list) SELECT 'spindl', document_id, 1, int8send(id) || int4send(ord) || int4send(1) || int4send(nterms) FROM chunks`,
		`INSERT INTO conversations (user_id) SELECT id FROM users`,
		`INSERT INTO messages (conversation_id, role, content) SELECT id, 'user', 'q' FROM conversations`,
		`INSERT INTO feedback (message_id, rating) SELECT id, 1 FROM messages`,
		`INSERT INTO gaps (question, reason) VALUES ('q', 'abstained')`,
		`INSERT INTO audit (action) VALUES ('test')`,
		`INSERT INTO glossary (term, means) VALUES ('对刀', 'tool touch-off')`,
		`INSERT INTO bots (platform, external_id, secret) VALUES ('slack', gen_random_uuid()::text, '\x00')`,
		`INSERT INTO bot_events (platform, event_id) VALUES ('slack', 'Ev1')`,
		`INSERT INTO page_texts (document_id, page, confidence, words, lines, boxes) SELECT id, 1, 90, '{secret}', '{1}', '{0,0,1,1}' FROM documents`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func TestTenantIsolationEveryTable(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := newTenant(t, url, "acme"), newTenant(t, url, "globex")
	if err := db.InTenant(ctx, b, func(tx pgx.Tx) error { return seed(ctx, tx) }); err != nil {
		t.Fatal(err)
	}

	// Every table with a tenant_id must force row-level security: a new
	// table that forgets it fails here.
	var tables []string
	err := db.InTenant(ctx, a, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity
			FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
			WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace ORDER BY 1`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var forced bool
			if err := rows.Scan(&name, &forced); err != nil {
				return err
			}
			if !forced {
				t.Errorf("table %s has tenant_id but no forced row-level security", name)
			}
			tables = append(tables, name)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) < 14 {
		t.Fatalf("found only %d tenant tables: %v", len(tables), tables)
	}

	count := func(tenant int64, table string) int64 {
		var n int64
		err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n)
		})
		if err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	before := map[string]int64{}
	for _, tb := range tables {
		before[tb] = count(b, tb)
		if before[tb] == 0 {
			t.Errorf("seed left %s empty for tenant B: the test would prove nothing", tb)
		}
	}
	for _, tb := range tables {
		id := pgx.Identifier{tb}.Sanitize()
		err := db.InTenant(ctx, a, func(tx pgx.Tx) error {
			var n int64
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+id).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("tenant A sees %d rows of B in %s", n, tb)
			}
			tag, err := tx.Exec(ctx, "UPDATE "+id+" SET tenant_id = tenant_id")
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 0 {
				t.Errorf("tenant A updated %d rows of B in %s", tag.RowsAffected(), tb)
			}
			tag, err = tx.Exec(ctx, "DELETE FROM "+id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 0 {
				t.Errorf("tenant A deleted %d rows of B in %s", tag.RowsAffected(), tb)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tb, err)
		}
	}
	for _, tb := range tables {
		if n := count(b, tb); n != before[tb] {
			t.Errorf("%s: tenant B had %d rows, now %d", tb, before[tb], n)
		}
	}

	// Writing a row into another tenant is refused by WITH CHECK.
	err = db.InTenant(ctx, a, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO audit (tenant_id, action) VALUES ($1, 'forged')`, b)
		return err
	})
	if err == nil {
		t.Error("tenant A inserted a row for tenant B")
	}
	// Without a tenant set, nothing is visible at all.
	var n int64
	if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM chunks").Scan(&n); err != nil || n != 0 {
		t.Errorf("without a tenant: %d chunks visible, err %v", n, err)
	}
}

func TestAppRoleIsNotPrivileged(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.DB(t)
	var super, bypass, owner bool
	var user string
	err := db.Pool().QueryRow(ctx, `SELECT current_user, r.rolsuper, r.rolbypassrls,
		EXISTS (SELECT FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user)
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&user, &super, &bypass, &owner)
	if err != nil {
		t.Fatal(err)
	}
	if user != postgres.AppRole || super || bypass || owner {
		t.Fatalf("serving as %s: superuser %v, bypassrls %v, owns tables %v", user, super, bypass, owner)
	}
	if _, err := db.Pool().Exec(ctx, "INSERT INTO tenants (name, wrapped_key) VALUES ('x', '\\x00')"); err == nil {
		t.Fatal("the app role created a tenant")
	}
}

func TestMigrateIsIdempotentAndSchemaChecked(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	applied, err := postgres.Migrate(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v", applied)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DELETE FROM schema_migrations WHERE version = $1", postgres.Latest()); err != nil {
		t.Fatal(err)
	}
	var prev int // migration numbers may have gaps
	if err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&prev); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(ctx, pgtest.AppURL(t, url), 2)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema is at version %d", prev)) {
		t.Fatalf("Open of an out-of-date schema: %v", err)
	}
}
