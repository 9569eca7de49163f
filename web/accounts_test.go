package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// TestAccounts: an admin resets a password and changes a role; a user
// changes their own; the policy refuses weak passwords, naming what is
// accepted; a disabled user's sessions and tokens stay dead after they are
// enabled again; feedback is only on answers to one's own questions.
func TestAccounts(t *testing.T) {
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "Replace the seal [1]."}})
	adm := w.session("admin")
	var created struct {
		User     struct{ ID int64 }
		Password string
	}
	if code := adm.json("POST", "/api/users", map[string]any{"login": "zhao", "role": "worker", "password": "          "}, nil); code != 400 {
		t.Fatalf("ten spaces accepted: %d", code)
	}
	if code := adm.json("POST", "/api/users", map[string]any{"login": "zhao", "role": "worker"}, &created); code != 201 {
		t.Fatalf("create: %d", code)
	}
	uid := jsonNum(created.User.ID)
	zhao, resp := w.login("acme", "zhao", created.Password)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}

	// Reset: the old password and the old session stop working.
	var reset struct{ Password string }
	if code := adm.json("POST", "/api/users/"+uid+"/password", map[string]any{}, &reset); code != 200 || len(reset.Password) < 10 {
		t.Fatalf("reset: %d %+v", code, reset)
	}
	if code := zhao.json("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("session after a reset: %d", code)
	}
	if _, resp := w.login("acme", "zhao", created.Password); resp.StatusCode == http.StatusSeeOther {
		t.Fatal("the old password still logs in")
	}
	for pw, want := range map[string]string{"          ": "only spaces", "short": "at least 10", "Password123": "common"} {
		var e struct{ Error string }
		if code := adm.json("POST", "/api/users/"+uid+"/password", map[string]any{"password": pw}, &e); code != 400 || !strings.Contains(e.Error, want) {
			t.Errorf("reset to %q: %d %q", pw, code, e.Error)
		}
	}
	zhao, resp = w.login("acme", "zhao", reset.Password)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with the reset password: %d", resp.StatusCode)
	}

	// Role change.
	var role struct{ User struct{ Role string } }
	if code := adm.json("POST", "/api/users/"+uid+"/role", map[string]any{"role": "supervisor"}, &role); code != 200 || role.User.Role != "supervisor" {
		t.Fatalf("role: %d %+v", code, role)
	}
	if code := zhao.json("GET", "/api/gaps", nil, nil); code != 200 {
		t.Fatalf("the new supervisor cannot see gaps: %d", code)
	}
	if code := adm.json("POST", "/api/users/"+uid+"/role", map[string]any{"role": "boss"}, nil); code != 400 {
		t.Fatalf("unknown role: %d", code)
	}
	if code := adm.json("POST", "/api/users/"+jsonNum(w.users["admin"].ID)+"/role", map[string]any{"role": "worker"}, nil); code != 409 {
		t.Fatalf("the last admin demoted: %d", code)
	}

	// Own password: the current one is needed; this session stays, others end.
	other, _ := w.login("acme", "zhao", reset.Password)
	if code := zhao.json("POST", "/api/me/password", map[string]any{"current": "wrong password", "password": "lathe-bay-7-oil"}, nil); code != 400 {
		t.Fatalf("change with a wrong current password: %d", code)
	}
	if code := zhao.json("POST", "/api/me/password", map[string]any{"current": reset.Password, "password": "lathe-bay-7-oil"}, nil); code != 200 {
		t.Fatalf("change: %d", code)
	}
	if code := zhao.json("GET", "/api/me", nil, nil); code != 200 {
		t.Fatalf("the changing session ended: %d", code)
	}
	if code := other.json("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("another session survived the change: %d", code)
	}

	// Disable, then enable: old sessions and tokens stay dead.
	var tok struct{ Token string }
	if code := adm.json("POST", "/api/tokens", map[string]any{"user_id": created.User.ID}, &tok); code != 201 {
		t.Fatalf("token: %d", code)
	}
	api := w.anon()
	api.bearer = tok.Token
	if code := adm.json("POST", "/api/users/"+uid+"/disable", nil, nil); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	if code := adm.json("POST", "/api/users/"+uid+"/enable", nil, nil); code != 200 {
		t.Fatalf("enable: %d", code)
	}
	if code := zhao.json("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("a session from before the disable works again: %d", code)
	}
	if code := api.json("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("a token from before the disable works again: %d", code)
	}
	if _, resp := w.login("acme", "zhao", "lathe-bay-7-oil"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("an enabled user cannot log in anew: %d", resp.StatusCode)
	}

	// Feedback only on one's own answers.
	w.ingestReady(part{"file", "pump.md", []byte(manual)})
	_, evs := w.session("worker").chat("How do I fix a seal leak on pump P-101?")
	msg := final(t, evs).MessageID
	if code := w.session("supervisor").json("POST", "/api/feedback", map[string]any{"message_id": msg, "rating": -1}, nil); code != 404 {
		t.Fatalf("feedback on a colleague's answer: %d", code)
	}
	var gaps struct{ Gaps []any }
	if w.session("supervisor").json("GET", "/api/gaps", nil, &gaps); len(gaps.Gaps) != 0 {
		t.Fatalf("a colleague's rating opened a gap: %+v", gaps)
	}
	if code := w.session("worker").json("POST", "/api/feedback", map[string]any{"message_id": msg, "rating": -1}, nil); code != 200 {
		t.Fatalf("feedback on one's own answer: %d", code)
	}

	var audit struct{ Audit []struct{ Action string } }
	adm.json("GET", "/api/audit", nil, &audit)
	var actions []string
	for _, a := range audit.Audit {
		actions = append(actions, a.Action)
	}
	for _, want := range []string{"user.password_reset", "user.role", "user.password_change"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
}
