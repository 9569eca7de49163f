package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

func ownerExec(t *testing.T, url, query string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// A database that cannot take writes is not ready, and its errors are
// outages (503), not internal errors.
func TestReadOnlyDatabaseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	if err := db.Writable(ctx); err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	ten := pgtest.Tenant(t, url, "acme")
	var name string
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	ownerExec(t, url, `ALTER DATABASE "`+name+`" SET default_transaction_read_only = on`)
	ro, err := postgres.Open(ctx, pgtest.AppURL(t, url), 2) // new connections see the setting
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Writable(ctx); !errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("read-only database: Writable = %v, want unavailable", err)
	}
	if _, err := ro.CreateConversation(ctx, ten.ID, shifu.Conversation{Channel: "web", Title: "x"}); !errors.Is(err, shifu.ErrUnavailable) {
		t.Fatalf("write to a read-only database: %v, want unavailable", err)
	}
}

// A server older than the database's schema says so, instead of asking for
// the migration that made it old.
func TestNewerSchemaSaysReplaceTheServer(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	ownerExec(t, url, `INSERT INTO schema_migrations (version, name) VALUES (9999, 'from a newer binary')`)
	err := db.CheckSchema(ctx)
	if !errors.Is(err, postgres.ErrNewerSchema) || !strings.Contains(shifu.Message(err), "newer shifu binary") ||
		strings.Contains(shifu.Message(err), "shifu migrate") {
		t.Fatalf("CheckSchema = %v (%q)", err, shifu.Message(err))
	}
}
