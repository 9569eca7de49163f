package main

import (
	"context"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu/internal/keyring"
)

// serveFails runs `shifu serve` and returns its error, which must come
// before it listens: each of these is a start-up error.
func serveFails(t *testing.T, sh *shell) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return sh.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("serve started")
	}
	var ex exitError
	if errors.As(err, &ex) && ex == 0 {
		t.Fatal("serve exited 0")
	}
	return err
}

func TestServeRefusesToStartWrong(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	sh.must("tenant", "create", "globex")

	t.Run("wrong master key", func(t *testing.T) {
		env := map[string]string{}
		for k, v := range sh.env {
			env[k] = v
		}
		env["SHIFU_MASTER_KEY"] = keyring.Generate()
		err := serveFails(t, &shell{t: t, env: env})
		if msg := errMessage(err); !strings.Contains(msg, "SHIFU_MASTER_KEY") || !strings.Contains(msg, `"acme"`) {
			t.Errorf("wrong key: %q", msg)
		}
	})
	t.Run("unreachable database", func(t *testing.T) {
		u, _ := url.Parse(sh.env["DATABASE_URL"])
		u.Host = "127.0.0.1:1" // nothing listens there
		err := serveFails(t, &shell{t: t, env: map[string]string{"DATABASE_URL": u.String(), "SHIFU_MASTER_KEY": sh.env["SHIFU_MASTER_KEY"]}})
		if msg := errMessage(err); !strings.Contains(msg, "cannot reach the database at 127.0.0.1:1") || strings.Contains(msg, "schema") {
			t.Errorf("unreachable: %q", msg)
		}
	})
	t.Run("unmigrated database", func(t *testing.T) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, sh.env["DATABASE_URL"])
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		name := conn.Config().Database + "_new"
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)")
		u, _ := url.Parse(sh.env["DATABASE_URL"])
		u.Path = "/" + name
		err = serveFails(t, &shell{t: t, env: map[string]string{"DATABASE_URL": u.String(), "SHIFU_MASTER_KEY": sh.env["SHIFU_MASTER_KEY"]}})
		if msg := errMessage(err); !strings.Contains(msg, "no Shifu schema: run `shifu migrate`") {
			t.Errorf("unmigrated: %q", msg)
		}
	})
	t.Run("owner as the app login", func(t *testing.T) {
		err := serveFails(t, &shell{t: t, env: map[string]string{"SHIFU_APP_DATABASE_URL": sh.env["DATABASE_URL"], "SHIFU_MASTER_KEY": sh.env["SHIFU_MASTER_KEY"]}})
		if msg := errMessage(err); !strings.Contains(msg, "superuser") || !strings.Contains(msg, "shifu_app") {
			t.Errorf("owner login: %q", msg)
		}
	})
}
