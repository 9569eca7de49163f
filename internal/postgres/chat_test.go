package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// A user's history lists and opens only that user's conversations: not a
// colleague's in the same factory, not anyone's in another factory.
func TestConversationsAreTheOwners(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")
	li, err := db.CreateUser(ctx, a.ID, shifu.User{Login: "li", Role: shifu.RoleWorker}, "", shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	wang, err := db.CreateUser(ctx, a.ID, shifu.User{Login: "wang", Role: shifu.RoleWorker}, "", shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	zhao, err := db.CreateUser(ctx, b.ID, shifu.User{Login: "zhao", Role: shifu.RoleWorker}, "", shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	start := func(tenant, user int64, qs ...string) int64 {
		t.Helper()
		id, err := db.CreateConversation(ctx, tenant, shifu.Conversation{UserID: user, Channel: "web", Title: "placeholder"})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			a := shifu.Answer{Text: "Answer to " + q + " [1]", Citations: []shifu.Citation{{N: 1, Document: "p.pdf", PageStart: 3, Quote: "seal", Verified: true}}}
			if _, err := db.Exchange(ctx, tenant, id, user, q, a, ""); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	first := start(a.ID, li.ID, "Why does P-101 leak?", "And the torque?")
	second := start(a.ID, li.ID, "Alarm E42?")
	start(a.ID, li.ID) // no messages: not listed
	other := start(a.ID, wang.ID, "Wang's question")
	foreign := start(b.ID, zhao.ID, "Zhao's question")

	cs, err := db.Conversations(ctx, a.ID, li.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].ID != second || cs[1].ID != first || cs[1].Title != "Why does P-101 leak?" || cs[1].Messages != 4 {
		t.Fatalf("li's conversations = %+v, want %d then %d titled by the first question", cs, second, first)
	}
	if cs, _ := db.Conversations(ctx, a.ID, li.ID, 1); len(cs) != 1 || cs[0].ID != second {
		t.Fatalf("limit 1: %+v", cs)
	}

	conv, msgs, err := db.Messages(ctx, a.ID, li.ID, first)
	if err != nil {
		t.Fatal(err)
	}
	if conv.ID != first || len(msgs) != 4 || msgs[0].Role != "user" || msgs[0].Content != "Why does P-101 leak?" ||
		msgs[3].Role != "assistant" || len(msgs[3].Citations) != 1 || msgs[3].Citations[0].PageStart != 3 {
		t.Fatalf("messages = %+v %+v", conv, msgs)
	}
	for name, c := range map[string]struct{ tenant, user, conv int64 }{
		"colleague's":            {a.ID, li.ID, other},
		"another factory's":      {a.ID, li.ID, foreign},
		"read from the other":    {b.ID, zhao.ID, first},
		"without a user":         {a.ID, 0, first},
		"colleague reading li's": {a.ID, wang.ID, first},
	} {
		if _, _, err := db.Messages(ctx, c.tenant, c.user, c.conv); !errors.Is(err, shifu.ErrNotFound) {
			t.Errorf("%s conversation: %v, want not found", name, err)
		}
		if _, err := db.History(ctx, c.tenant, c.user, c.conv, 4); c.user != 0 && !errors.Is(err, shifu.ErrNotFound) {
			t.Errorf("%s history: %v, want not found", name, err)
		}
	}
	if cs, _ := db.Conversations(ctx, b.ID, li.ID, 0); len(cs) != 0 {
		t.Fatalf("li's conversations seen from bolt: %+v", cs)
	}
	// A shared channel thread (user 0) reads any conversation of the tenant.
	if h, err := db.History(ctx, a.ID, 0, first, 2); err != nil || len(h) != 2 || h[0].Content != "And the torque?" {
		t.Fatalf("history = %+v, %v", h, err)
	}
}
