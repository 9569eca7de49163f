package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

func TestCLIBots(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	sh.must("tenant", "create", "bolt")

	out := sh.must("bot", "add", "slack", "--tenant", "acme", "--team", "T0ACME", "--signing-secret", "s3cret-signing", "--bot-token", "xoxb-1-2-abc")
	if !strings.Contains(out, "/bots/slack/events") {
		t.Errorf("add slack: %q", out)
	}
	// Secrets from standard input stay out of argv.
	var o, e bytes.Buffer
	err := run(context.Background(), []string{"bot", "add", "dingtalk", "--tenant", "acme", "--app-key", "dingabc", "--app-secret", "-"},
		func(k string) string { return sh.env[k] }, strings.NewReader("app secret from stdin\n"), &o, &e)
	if err != nil || !strings.Contains(o.String(), "/bots/dingtalk/dingabc/callback") {
		t.Fatalf("add dingtalk: %v %s %s", err, o.String(), e.String())
	}

	out = sh.must("bot", "add", "slack", "--tenant", "bolt", "--team", "T0SOCK", "--app-token", "xapp-1-A1-zz", "--bot-token", "xoxb-9")
	if !strings.Contains(out, "Socket Mode") {
		t.Errorf("add socket mode: %q", out)
	}
	if _, err := sh.run("bot", "add", "slack", "--tenant", "bolt", "--team", "T0X", "--signing-secret", "s", "--app-token", "xapp-1", "--bot-token", "xoxb-9"); !errors.Is(err, shifu.ErrInvalid) {
		t.Errorf("both signing secret and app token: %v", err)
	}

	// A team is installed once per tenant; another tenant's installing it
	// tells nothing about the first (see TestSameTeamInTwoTenants for whose
	// deliveries are whose).
	if _, err := sh.run("bot", "add", "slack", "--tenant", "acme", "--team", "T0ACME", "--signing-secret", "x", "--bot-token", "xoxb-x"); !errors.Is(err, shifu.ErrConflict) {
		t.Errorf("same tenant, same team: %v", err)
	}
	for _, bad := range [][]string{
		{"bot", "add", "slack", "--tenant", "acme", "--team", "T1", "--signing-secret", "x", "--bot-token", "xoxp-user-token"},
		{"bot", "add", "slack", "--tenant", "acme", "--team", "acme", "--signing-secret", "x", "--bot-token", "xoxb-1"},
		{"bot", "add", "teams", "--tenant", "acme"},
		{"bot", "add", "dingtalk", "--tenant", "acme", "--app-key", "k"},
	} {
		if _, err := sh.run(bad...); !errors.Is(err, shifu.ErrInvalid) {
			t.Errorf("%v: %v, want ErrInvalid", bad, err)
		}
	}

	for _, bad := range [][]string{{"bot", "connect"}, {"bot", "connect", "T0ACME"}, {"bot", "connect", "teams:T1"}} {
		if _, err := sh.run(bad...); !errors.Is(err, shifu.ErrInvalid) {
			t.Errorf("%v: %v, want ErrInvalid", bad, err)
		}
	}

	var rows []struct {
		Platform string `json:"platform"`
		External string `json:"external_id"`
	}
	if err := json.Unmarshal([]byte(sh.must("bot", "list", "--tenant", "acme", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Platform != "dingtalk" || rows[1].External != "T0ACME" {
		t.Fatalf("list: %+v", rows)
	}
	if out := sh.must("bot", "list", "--tenant", "bolt"); strings.Contains(out, "T0ACME") {
		t.Errorf("bolt sees acme's bot: %q", out)
	}

	// Sealed at rest: neither secret nor token is in the database in the clear.
	conn, err := pgx.Connect(context.Background(), sh.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var raw []byte
	if err := conn.QueryRow(context.Background(), `SELECT string_agg(secret || token, '\x00'::bytea) FROM bots`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"s3cret-signing", "xoxb-1-2-abc", "app secret from stdin"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("%q stored in the clear", s)
		}
	}

	sh.must("bot", "remove", "slack", "--tenant", "acme", "--team", "T0ACME")
	if _, err := sh.run("bot", "remove", "slack", "--tenant", "acme", "--team", "T0ACME"); !errors.Is(err, shifu.ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
	if out := sh.must("bot", "list", "--tenant", "acme"); strings.Contains(out, "T0ACME") || !strings.Contains(out, "dingabc") {
		t.Errorf("after remove: %q", out)
	}
	var adds, removes int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'bot.add'), count(*) FILTER (WHERE action = 'bot.remove') FROM audit`).Scan(&adds, &removes); err != nil {
		t.Fatal(err)
	}
	if adds != 3 || removes != 1 {
		t.Errorf("audit: %d bot.add, %d bot.remove; want 3 and 1", adds, removes)
	}
}
