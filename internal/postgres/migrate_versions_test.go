package postgres

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestVersionsMigrationCarriesDataOver: before migration 008 each revision
// was a documents row of its own, matched by name and kind. Each such group
// becomes one document whose id is its live row's (the id stored citations
// name), with every row a version of it.
func TestVersionsMigrationCarriesDataOver(t *testing.T) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a private PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("shifu_test_m008_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	u, _ := url.Parse(base)
	u.Path = "/" + name
	if _, err := migrate(ctx, u.String(), 7); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var press2, press3, pump, other int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, wrapped_key) OVERRIDING SYSTEM VALUE VALUES (1, 'acme', '\x00')`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', '1', true)`); err != nil {
			return err
		}
		ins := func(name, kind string, version int, status string) (id int64) {
			if err != nil {
				return 0
			}
			err = tx.QueryRow(ctx, `INSERT INTO documents (name, kind, sha256, size, version, status) VALUES ($1, $2, $3, 1, $4, $5) RETURNING id`,
				name, kind, fmt.Sprintf("%s-%d", name, version), version, status).Scan(&id)
			return id
		}
		pump = ins("pump.md", "manual", 1, "failed")
		press2 = ins("press.md", "manual", 2, "ready")  // v1 was deleted when v2 went live
		press3 = ins("press.md", "manual", 3, "queued") // in ingest: replaces v2 once ready
		other = ins("press.md", "note", 1, "ready")     // same name, other kind: another document
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO chunks (document_id, ord, text) VALUES ($1, 0, 'press text')`, press2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, u.String(), 0); err != nil {
		t.Fatal(err)
	}
	type row struct {
		id, head int64
		version  int
		status   string
		live     *int64
	}
	rows, err := conn.Query(ctx, `SELECT d.id, d.head_id, d.version, d.status, h.live FROM documents d JOIN document_heads h ON h.id = d.head_id ORDER BY d.id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.head, &x.version, &x.status, &x.live)
	})
	if err != nil || len(got) != 4 {
		t.Fatalf("rows %+v, %v", got, err)
	}
	byID := map[int64]row{}
	for _, r := range got {
		byID[r.id] = r
	}
	if r := byID[press2]; r.head != press2 || r.live == nil || *r.live != press2 || r.status != "ready" {
		t.Errorf("press v2: %+v", r)
	}
	if r := byID[press3]; r.head != press2 || r.version != 3 || r.status != "queued" {
		t.Errorf("press v3 is not a version of press: %+v", r)
	}
	if r := byID[pump]; r.head != pump || r.live != nil {
		t.Errorf("pump: %+v", r)
	}
	if r := byID[other]; r.head != other || r.live == nil || *r.live != other {
		t.Errorf("the note of the same name: %+v", r)
	}
	// New documents number after every id used so far.
	var next int64
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', '1', true)`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO document_heads (kind) VALUES ('manual') RETURNING id`).Scan(&next)
	}); err != nil {
		t.Fatal(err)
	}
	if next <= other {
		t.Errorf("a new document got id %d, not after %d", next, other)
	}
}
