package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/auth"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

func (s *shell) runStdin(stdin string, args ...string) (string, string, error) {
	s.t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return s.env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestCLIUsersAndTokens(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	ctx := context.Background()
	db, tn := sh.tenantDB("acme")

	// Password from stdin: not echoed.
	out, _, err := sh.runStdin("a long enough password\n", "user", "create", "--tenant", "acme", "--user", "li", "--role", "supervisor", "--name", "Li Wei")
	if err != nil || strings.Contains(out, "password") || !strings.Contains(out, "li (supervisor)") {
		t.Fatalf("create li: %v %q", err, out)
	}
	u, hash, err := db.UserByLogin(ctx, tn.ID, "li")
	if err != nil || u.Role != shifu.RoleSupervisor || u.Name != "Li Wei" || !auth.CheckPassword(hash, "a long enough password") {
		t.Fatalf("li stored as %+v %v", u, err)
	}
	// No stdin: a generated password, printed once, that works.
	out, _, err = sh.runStdin("", "user", "create", "--tenant", "acme", "--user", "wang", "--role", "worker")
	m := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("create wang: %v %q", err, out)
	}
	if _, hash, _ := db.UserByLogin(ctx, tn.ID, "wang"); !auth.CheckPassword(hash, m[1]) {
		t.Fatal("the printed password does not log in")
	}
	for _, tc := range []struct {
		stdin string
		args  []string
		kind  error
	}{
		{"another long password\n", []string{"user", "create", "--tenant", "acme", "--user", "li", "--role", "worker"}, shifu.ErrConflict},
		{"", []string{"user", "create", "--tenant", "acme", "--user", "x", "--role", "boss"}, shifu.ErrInvalid},
		{"short\n", []string{"user", "create", "--tenant", "acme", "--user", "x"}, shifu.ErrInvalid},
		{"", []string{"user", "create", "--tenant", "nope", "--user", "x"}, shifu.ErrNotFound},
		{"", []string{"user", "create", "--tenant", "acme"}, shifu.ErrInvalid},
		{"", []string{"token", "create", "--tenant", "acme", "--user", "nobody"}, shifu.ErrNotFound},
	} {
		if _, _, err := sh.runStdin(tc.stdin, tc.args...); !errors.Is(err, tc.kind) {
			t.Errorf("%v: %v, want %v", tc.args, err, tc.kind)
		}
	}

	// A token is printed once on stdout and stored only as its hash.
	out, msg, err := sh.runStdin("", "token", "create", "--tenant", "acme", "--user", "li", "--name", "ci")
	tok := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(tok, auth.TokenPrefix) || !strings.Contains(msg, "shown once") {
		t.Fatalf("token: %v %q %q", err, out, msg)
	}
	who, err := db.UserByToken(ctx, auth.Hash(tok))
	if err != nil || who.Login != "li" || who.TenantID != tn.ID {
		t.Fatalf("token user %+v %v", who, err)
	}
	out2, _, _ := sh.runStdin("", "token", "create", "--tenant", "acme", "--user", "li")
	if strings.TrimSpace(out2) == tok {
		t.Fatal("two tokens are equal")
	}

	// Reset a password from stdin, change a role.
	if out, _, err := sh.runStdin("the new lathe password\n", "user", "passwd", "--tenant", "acme", "--user", "li"); err != nil || !strings.Contains(out, "reset") {
		t.Fatalf("passwd: %v %q", err, out)
	}
	if _, hash, _ := db.UserByLogin(ctx, tn.ID, "li"); !auth.CheckPassword(hash, "the new lathe password") {
		t.Fatal("the reset password does not log in")
	}
	if _, _, err := sh.runStdin("          \n", "user", "passwd", "--tenant", "acme", "--user", "li"); !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(errMessage(err), "spaces") {
		t.Fatalf("passwd to ten spaces: %v", err)
	}
	if out, _, err := sh.runStdin("", "user", "role", "--tenant", "acme", "--user", "wang", "--role", "admin"); err != nil || !strings.Contains(out, "wang is now admin") {
		t.Fatalf("role: %v %q", err, out)
	}
	if u, _, _ := db.UserByLogin(ctx, tn.ID, "wang"); u.Role != shifu.RoleAdmin {
		t.Fatalf("wang is %s", u.Role)
	}
	if _, _, err := sh.runStdin("", "user", "role", "--tenant", "acme", "--user", "wang", "--role", "boss"); !errors.Is(err, shifu.ErrInvalid) {
		t.Fatalf("role boss: %v", err)
	}
	if _, _, err := sh.runStdin("", "user", "role", "--tenant", "acme", "--user", "wang", "--role", "worker"); !errors.Is(err, shifu.ErrConflict) {
		t.Fatalf("the last admin demoted: %v", err)
	}
	if _, _, err := sh.runStdin("", "user", "passwd", "--tenant", "acme", "--user", "nobody"); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("passwd of nobody: %v", err)
	}
}

// `shifu serve` starts, answers health checks and the login page, opens the
// Socket Mode connection of a Slack installation with an app-level token and
// (SHIFU_DINGTALK_STREAM=1) the Stream connection of a DingTalk one,
// re-indexes a document an older analyzer indexed, and stops cleanly when its
// context ends.
func TestServe(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	if _, _, err := sh.runStdin("a long enough password\n", "user", "create", "--tenant", "acme", "--user", "li", "--role", "worker"); err != nil {
		t.Fatal(err)
	}
	// A fake Slack that refuses the connection: serve must have asked.
	opened := make(chan string, 10)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/apps.connections.open" {
			opened <- r.Header.Get("Authorization")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
	}))
	defer slack.Close()
	sh.env["SHIFU_SLACK_API_URL"] = slack.URL + "/api/"
	sh.must("bot", "add", "slack", "--tenant", "acme", "--team", "TSOCK", "--app-token", "xapp-1-A1-1-abc", "--bot-token", "xoxb-1")
	// And a fake DingTalk OpenAPI that refuses Stream mode's connection.
	streamed := make(chan string, 10)
	ding := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1.0/gateway/connections/open" {
			var body struct {
				ClientID string `json:"clientId"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			streamed <- body.ClientID
		}
		http.Error(w, `{"code":"invalidClient"}`, http.StatusUnauthorized)
	}))
	defer ding.Close()
	sh.env["SHIFU_DINGTALK_API_URL"], sh.env["SHIFU_DINGTALK_STREAM"] = ding.URL, "1"
	sh.must("bot", "add", "dingtalk", "--tenant", "acme", "--app-key", "dingkey1", "--app-secret", "s3cret")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "press.md"), []byte("# Press\n\nTighten the clamp bolts to 40 Nm.\n"), 0o644)
	sh.must("ingest", "--tenant", "acme", dir)
	sh.sql(`UPDATE documents SET analyzer = '1-old'`)
	conn, err := pgx.Connect(context.Background(), sh.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr}, func(k string) string { return sh.env[k] }, strings.NewReader(""), io.Discard, &errb)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range []string{"/readyz", "/login", "/static/chat.js"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	if resp, err := http.Get(base + "/api/documents"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("anonymous /api/documents: %v %v", err, resp)
	}
	// Every session the server holds is shifu_app's own login: not
	// superuser, not BYPASSRLS, member of no other role (the owner's).
	rows, err := conn.Query(context.Background(), `SELECT a.usename, r.rolsuper OR r.rolbypassrls
		OR EXISTS (SELECT FROM pg_roles o WHERE o.oid <> r.oid AND pg_has_role(r.oid, o.oid, 'MEMBER'))
		FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
		WHERE a.application_name = 'shifu serve' AND a.datname = current_database()`)
	if err != nil {
		t.Fatal(err)
	}
	sessions := 0
	for rows.Next() {
		var user string
		var privileged bool
		if err := rows.Scan(&user, &privileged); err != nil {
			t.Fatal(err)
		}
		if sessions++; user != postgres.AppRole || privileged {
			t.Errorf("shifu serve holds a session as %s (privileged %v)", user, privileged)
		}
	}
	if rows.Err() != nil || sessions == 0 {
		t.Fatalf("no session of shifu serve in pg_stat_activity (%v)", rows.Err())
	}
	select {
	case auth := <-opened:
		if auth != "Bearer xapp-1-A1-1-abc" {
			t.Errorf("apps.connections.open with %q", auth)
		}
	case <-time.After(time.Minute):
		t.Error("serve did not open the Socket Mode connection")
	}
	select {
	case id := <-streamed:
		if id != "dingkey1" {
			t.Errorf("gateway/connections/open for %q", id)
		}
	case <-time.After(time.Minute):
		t.Error("serve did not open the DingTalk Stream connection")
	}
	for stale := true; stale; {
		var old string
		if err := conn.QueryRow(context.Background(), `SELECT analyzer FROM documents`).Scan(&old); err != nil {
			t.Fatal(err)
		}
		if stale = old == "1-old"; stale && time.Now().After(deadline) {
			t.Fatal("serve did not re-index the stale document")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
}

// tenantDB opens the shell's database as the app's login role and finds
// tenant name in it; closed when the test ends.
func (s *shell) tenantDB(name string) (*postgres.DB, shifu.Tenant) {
	s.t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.AppURL(s.t, s.env["DATABASE_URL"]), 2)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(db.Close)
	tn, _, err := db.Tenant(ctx, name)
	if err != nil {
		s.t.Fatal(err)
	}
	return db, tn
}
