package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/auth"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

func TestUsersSessionsTokens(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")

	u, err := db.CreateUser(ctx, a.ID, shifu.User{Login: "li", Name: "Li Wei", Role: shifu.RoleWorker}, "h", shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.TenantID != a.ID || u.Role != shifu.RoleWorker {
		t.Fatalf("created %+v", u)
	}
	if _, err := db.CreateUser(ctx, a.ID, shifu.User{Login: "li", Role: shifu.RoleWorker}, "", shifu.Actor{}); !errors.Is(err, shifu.ErrConflict) {
		t.Fatalf("duplicate login: %v", err)
	}
	if _, err := db.CreateUser(ctx, a.ID, shifu.User{Login: "x", Role: "boss"}, "", shifu.Actor{}); !errors.Is(err, shifu.ErrInvalid) {
		t.Fatalf("bad role: %v", err)
	}
	// The same login in another tenant is another user.
	ub, err := db.CreateUser(ctx, b.ID, shifu.User{Login: "li", Role: shifu.RoleAdmin}, "hb", shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	got, hash, err := db.UserByLogin(ctx, a.ID, "li")
	if err != nil || got.ID != u.ID || hash != "h" {
		t.Fatalf("by login: %+v %q %v", got, hash, err)
	}
	if _, err := db.User(ctx, a.ID, ub.ID); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("tenant a sees tenant b's user: %v", err)
	}

	sid := auth.Secret()
	if err := db.CreateSession(ctx, a.ID, u.ID, auth.Hash(sid), "csrf1", time.Now().Add(time.Hour), "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	s, err := db.SessionByHash(ctx, auth.Hash(sid))
	if err != nil || s.User.ID != u.ID || s.User.TenantID != a.ID || s.CSRF != "csrf1" {
		t.Fatalf("session: %+v %v", s, err)
	}
	if _, err := db.SessionByHash(ctx, auth.Hash("nope")); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("unknown session: %v", err)
	}
	old := auth.Secret()
	if err := db.CreateSession(ctx, a.ID, u.ID, auth.Hash(old), "c", time.Now().Add(-time.Minute), "1.2.3.4"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByHash(ctx, auth.Hash(old)); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("expired session accepted: %v", err)
	}

	tok, th := auth.NewToken()
	row, err := db.CreateToken(ctx, a.ID, u.ID, "ci", th, shifu.Actor{})
	if err != nil || row.Login != "li" {
		t.Fatalf("token: %+v %v", row, err)
	}
	if _, err := db.CreateToken(ctx, a.ID, ub.ID, "x", auth.Hash("y"), shifu.Actor{}); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("token for another tenant's user: %v", err)
	}
	tu, err := db.UserByToken(ctx, auth.Hash(tok))
	if err != nil || tu.ID != u.ID {
		t.Fatalf("by token: %+v %v", tu, err)
	}
	if err := db.TouchToken(ctx, a.ID, auth.Hash(tok)); err != nil {
		t.Fatal(err)
	}
	toks, _ := db.Tokens(ctx, a.ID)
	if len(toks) != 1 || toks[0].LastUsedAt == nil {
		t.Fatalf("tokens: %+v", toks)
	}
	if other, _ := db.Tokens(ctx, b.ID); len(other) != 0 {
		t.Fatalf("tenant b lists tenant a's tokens: %+v", other)
	}
	if err := db.RevokeToken(ctx, b.ID, row.ID, shifu.Actor{}); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("tenant b revoked tenant a's token: %v", err)
	}
	if err := db.RevokeToken(ctx, a.ID, row.ID, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.UserByToken(ctx, auth.Hash(tok)); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("revoked token works: %v", err)
	}

	// Disabling a user ends their sessions.
	if err := db.SetUserDisabled(ctx, a.ID, u.ID, true, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByHash(ctx, auth.Hash(sid)); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("disabled user's session works: %v", err)
	}
	users, _ := db.Users(ctx, a.ID)
	if len(users) != 1 || !users[0].Disabled {
		t.Fatalf("users: %+v", users)
	}

	// Each change is audited (newest first), the refused ones not, each
	// session as a login; the CLI's rows name no user.
	log, err := db.AuditLog(ctx, a.ID, 10)
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action+" "+e.Login)
	}
	want := []string{"user.disable ", "token.revoke ", "token.create ", "login li", "login li", "user.create "}
	if err != nil || !slices.Equal(actions, want) {
		t.Fatalf("audit: %q, want %q (%v)", actions, want, err)
	}
}

func TestFeedbackGaps(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")
	u, _ := db.CreateUser(ctx, a.ID, shifu.User{Login: "li", Role: shifu.RoleWorker}, "", shifu.Actor{})
	u2, _ := db.CreateUser(ctx, a.ID, shifu.User{Login: "wang", Role: shifu.RoleWorker}, "", shifu.Actor{})

	// Two conversations asking the same question, differently typed.
	msg := func(asker int64, q string) int64 {
		var id int64
		err := db.InTenant(ctx, a.ID, func(tx pgx.Tx) error {
			var conv int64
			if err := tx.QueryRow(ctx, `INSERT INTO conversations (user_id) VALUES ($1) RETURNING id`, asker).Scan(&conv); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'user', $2)`, conv, q); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'assistant', 'Try turning it off.') RETURNING id`, conv).Scan(&id)
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	m1, m2 := msg(u.ID, "Why does pump P-101 leak?"), msg(u2.ID, "why does pump p-101  leak")

	if err := db.AddFeedback(ctx, a.ID, shifu.Feedback{MessageID: m1, UserID: u.ID, Rating: 1}); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.GapGroups(ctx, a.ID, "", 0); len(g) != 0 {
		t.Fatalf("thumbs up opened a gap: %+v", g)
	}
	if err := db.AddFeedback(ctx, a.ID, shifu.Feedback{MessageID: m1, UserID: u.ID, Rating: -1, Comment: "wrong seal"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddFeedback(ctx, a.ID, shifu.Feedback{MessageID: m2, UserID: u2.ID, Rating: -1}); err != nil {
		t.Fatal(err)
	}
	// Rating again does not duplicate the gap.
	if err := db.AddFeedback(ctx, a.ID, shifu.Feedback{MessageID: m2, UserID: u2.ID, Rating: -1}); err != nil {
		t.Fatal(err)
	}
	gaps, err := db.GapGroups(ctx, a.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || gaps[0].Count != 2 || gaps[0].Reasons[0] != "downvoted" || len(gaps[0].Comments) != 1 ||
		gaps[0].Comments[0] != "wrong seal" || gaps[0].Answer != "Try turning it off." {
		t.Fatalf("gaps: %+v", gaps)
	}
	if g, _ := db.GapGroups(ctx, b.ID, "", 0); len(g) != 0 {
		t.Fatalf("tenant b sees tenant a's gaps: %+v", g)
	}
	if err := db.AddFeedback(ctx, b.ID, shifu.Feedback{MessageID: m1, Rating: -1}); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("tenant b rated tenant a's answer: %v", err)
	}
	if err := db.AddFeedback(ctx, a.ID, shifu.Feedback{MessageID: m1, Rating: 5}); !errors.Is(err, shifu.ErrInvalid) {
		t.Fatalf("rating 5: %v", err)
	}
	q, err := db.Gap(ctx, a.ID, gaps[0].ID)
	if err != nil || q != "why does pump p-101  leak" {
		t.Fatalf("gap question %q %v", q, err)
	}
	if err := db.CloseGap(ctx, a.ID, gaps[0].ID, 0, nil); err != nil {
		t.Fatal(err)
	}
	if g, _ := db.GapGroups(ctx, a.ID, "", 0); len(g) != 0 {
		t.Fatalf("resolving left gaps open: %+v", g)
	}
	if err := db.CloseGap(ctx, a.ID, gaps[0].ID, 0, nil); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("resolve twice: %v", err)
	}
}
