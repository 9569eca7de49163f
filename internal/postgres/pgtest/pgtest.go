// Package pgtest gives tests a fresh, migrated database on the real
// PostgreSQL named by TEST_DATABASE_URL (`make test` starts a private cluster
// and sets it). Each call clones a migrated template, so a test costs one
// CREATE DATABASE, not a full migration.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
)

const template = "shifu_test_template"

// URL returns the URL of a new migrated database, dropped when t ends. Without
// TEST_DATABASE_URL the test fails: these tests are not optional.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Fatal("TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a private PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", redact(base), err)
	}
	defer admin.Close(ctx)

	// One template per schema (hash of the migrations), built once by whichever test process
	// gets the lock first.
	tmpl := fmt.Sprintf("%s_%s", template, postgres.SchemaHash())
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7302)"); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", tmpl).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists || os.Getenv("PGTEST_REBUILD") != "" {
		_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{tmpl}.Sanitize())
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{tmpl}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		if _, err := postgres.Migrate(ctx, withDB(base, tmpl)); err != nil {
			_, _ = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{tmpl}.Sanitize())
			admin.Exec(ctx, "SELECT pg_advisory_unlock(7302)")
			t.Fatalf("pgtest: migrate template: %v", err)
		}
		// The role is the cluster's: set under the lock, as concurrent
		// ALTER ROLEs of one role fail ("tuple concurrently updated").
		if err := postgres.SetAppPassword(ctx, withDB(base, tmpl), AppPassword); err != nil {
			admin.Exec(ctx, "SELECT pg_advisory_unlock(7302)")
			t.Fatal(err)
		}
	}
	name := "shifu_test_" + randHex(6)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize())
	admin.Exec(ctx, "SELECT pg_advisory_unlock(7302)")
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	u := withDB(base, name)
	// Migrate again, as an operator would: it applies nothing, but database
	// privileges (TEMP revoked) are not copied from the template.
	if _, err := postgres.Migrate(ctx, u); err != nil {
		t.Fatalf("pgtest: migrate %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return u
}

// AppPassword is the password of the login role shifu_app in test clusters.
const AppPassword = "shifu-test-app"

// AppURL is url's database as the application's login role, the way
// `shifu serve` connects.
func AppURL(t testing.TB, url string) string {
	t.Helper()
	u, err := postgres.AppURL(url, AppPassword)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// DB opens a new database as the application's login role, and returns it
// with the owner's URL (for tenants and for checks past row-level security).
func DB(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	u := URL(t)
	db, err := postgres.Open(context.Background(), AppURL(t, u), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, u
}

// Tenant creates tenant name in the database at url with a data key wrapped
// by a throw-away master key (tests that decrypt originals make their own).
func Tenant(t testing.TB, url, name string) shifu.Tenant {
	t.Helper()
	m, err := keyring.ParseMaster(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.NewDataKey(name)
	if err != nil {
		t.Fatal(err)
	}
	ten, err := postgres.CreateTenant(context.Background(), url, name, w)
	if err != nil {
		t.Fatal(err)
	}
	return ten
}

func withDB(base, db string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
