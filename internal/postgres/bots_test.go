package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

func TestBots(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")

	sa, err := db.AddBot(ctx, a.ID, shifu.Bot{Platform: "slack", ExternalID: "T1", Secret: []byte("sealed-a"), Token: []byte("tok-a")}, shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.ID == 0 || sa.TenantID != a.ID {
		t.Fatalf("added %+v", sa)
	}
	if _, err := db.AddBot(ctx, a.ID, shifu.Bot{Platform: "slack", ExternalID: "T1", Secret: []byte("x")}, shifu.Actor{}); !errors.Is(err, shifu.ErrConflict) {
		t.Fatalf("same team twice in a tenant: %v", err)
	}
	if _, err := db.AddBot(ctx, b.ID, shifu.Bot{Platform: "teams", ExternalID: "T9", Secret: []byte("x")}, shifu.Actor{}); !errors.Is(err, shifu.ErrInvalid) {
		t.Fatalf("unknown platform: %v", err)
	}
	if _, err := db.AddBot(ctx, b.ID, shifu.Bot{Platform: "dingtalk", ExternalID: "ding-b", Secret: []byte("sealed-b")}, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}

	// Each tenant lists only its own.
	la, err := db.Bots(ctx, a.ID)
	if err != nil || len(la) != 1 || la[0].ExternalID != "T1" {
		t.Fatalf("tenant a bots: %+v %v", la, err)
	}
	lb, err := db.Bots(ctx, b.ID)
	if err != nil || len(lb) != 1 || lb[0].Platform != "dingtalk" {
		t.Fatalf("tenant b bots: %+v %v", lb, err)
	}

	// An event finds its tenant by platform and external id alone.
	f, err := db.FindBots(ctx, "slack", "T1")
	if err != nil || len(f) != 1 || f[0].TenantID != a.ID || f[0].ID != sa.ID || !bytes.Equal(f[0].Secret, []byte("sealed-a")) || !bytes.Equal(f[0].Token, []byte("tok-a")) {
		t.Fatalf("find: %+v %v", f, err)
	}
	if _, err := db.FindBots(ctx, "dingtalk", "T1"); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("wrong platform: %v", err)
	}
	if _, err := db.FindBots(ctx, "slack", "T404"); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("unknown team: %v", err)
	}

	// Tenant b cannot remove tenant a's bot.
	if err := db.RemoveBot(ctx, b.ID, "slack", "T1", shifu.Actor{}); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("foreign remove: %v", err)
	}
	if err := db.RemoveBot(ctx, a.ID, "slack", "T1", shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindBots(ctx, "slack", "T1"); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Fatalf("removed bot still found: %v", err)
	}
	// Each change is audited in its own transaction, once; refused ones not.
	for tenant, want := range map[int64][]string{a.ID: {"bot.remove", "bot.add"}, b.ID: {"bot.add"}} {
		log, err := db.AuditLog(ctx, tenant, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range log {
			got = append(got, e.Action)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("tenant %d audit %v, want %v", tenant, got, want)
		}
	}
}

// TestBotsPerTenant: two tenants install the same Slack team. Neither learns
// of the other (the second add succeeds like the first; a repeat within a
// tenant names only that tenant), and a delivery finds both, oldest first,
// each with its own sealed secret.
func TestBotsPerTenant(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")
	ba, err := db.AddBot(ctx, a.ID, shifu.Bot{Platform: "slack", ExternalID: "TSAME", Secret: []byte("sealed-a")}, shifu.Actor{})
	if err != nil {
		t.Fatal(err)
	}
	bb, err := db.AddBot(ctx, b.ID, shifu.Bot{Platform: "slack", ExternalID: "TSAME", Secret: []byte("sealed-b")}, shifu.Actor{})
	if err != nil {
		t.Fatalf("the same team in a second tenant: %v", err)
	}
	_, err = db.AddBot(ctx, b.ID, shifu.Bot{Platform: "slack", ExternalID: "TSAME", Secret: []byte("x")}, shifu.Actor{})
	if !errors.Is(err, shifu.ErrConflict) || !strings.Contains(shifu.Message(err), "in this tenant") {
		t.Fatalf("repeat in tenant b: %v", err)
	}
	f, err := db.FindBots(ctx, "slack", "TSAME")
	if err != nil || len(f) != 2 || f[0].ID != ba.ID || f[1].ID != bb.ID || f[1].TenantID != b.ID || !bytes.Equal(f[1].Secret, []byte("sealed-b")) {
		t.Fatalf("find: %+v %v", f, err)
	}
	if lb, err := db.Bots(ctx, b.ID); err != nil || len(lb) != 1 || lb[0].ID != bb.ID {
		t.Fatalf("tenant b lists %+v %v", lb, err)
	}
}

func TestBotEventsOnce(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")

	// Ten concurrent deliveries of one event: exactly one is first.
	var wg sync.WaitGroup
	var mu sync.Mutex
	firsts := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := db.FirstBotEvent(ctx, a.ID, "slack", "Ev1")
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				firsts++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firsts != 1 {
		t.Fatalf("first deliveries = %d, want 1", firsts)
	}
	// The same id in another tenant or platform is another event.
	if ok, err := db.FirstBotEvent(ctx, b.ID, "slack", "Ev1"); err != nil || !ok {
		t.Fatalf("other tenant: %v %v", ok, err)
	}
	if ok, err := db.FirstBotEvent(ctx, a.ID, "dingtalk", "Ev1"); err != nil || !ok {
		t.Fatalf("other platform: %v %v", ok, err)
	}
	if err := db.ForgetBotEvent(ctx, a.ID, "slack", "Ev1"); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.FirstBotEvent(ctx, a.ID, "slack", "Ev1"); err != nil || !ok {
		t.Fatalf("after forget: %v %v", ok, err)
	}
}

func TestBotUser(t *testing.T) {
	ctx := context.Background()
	db, url := pgtest.DB(t)
	a, b := pgtest.Tenant(t, url, "acme"), pgtest.Tenant(t, url, "bolt")

	u, err := db.BotUser(ctx, a.ID, "slack:T1:U1", "Li Wei")
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.TenantID != a.ID || u.Role != shifu.RoleWorker || u.Login != "slack:T1:U1" || u.Name != "Li Wei" {
		t.Fatalf("created %+v", u)
	}
	again, err := db.BotUser(ctx, a.ID, "slack:T1:U1", "renamed")
	if err != nil || again.ID != u.ID {
		t.Fatalf("second use: %+v %v", again, err)
	}
	log, err := db.AuditLog(ctx, a.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, e := range log {
		if e.Action == "user.create" {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d user.create audit entries for one new bot user: %+v", created, log)
	}
	// Same identity string in another tenant is another user.
	ub, err := db.BotUser(ctx, b.ID, "slack:T1:U1", "")
	if err != nil || ub.ID == u.ID || ub.TenantID != b.ID {
		t.Fatalf("tenant b: %+v %v", ub, err)
	}
	// A person whose login happens to be the identity is not taken over.
	if _, err := db.CreateUser(ctx, a.ID, shifu.User{Login: "dingtalk:k:s1", Role: shifu.RoleAdmin}, "h", shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BotUser(ctx, a.ID, "dingtalk:k:s1", ""); !errors.Is(err, shifu.ErrConflict) {
		t.Fatalf("login squatting: %v", err)
	}
	// A disabled bot user is refused.
	if err := db.SetUserDisabled(ctx, a.ID, u.ID, true, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BotUser(ctx, a.ID, "slack:T1:U1", ""); !errors.Is(err, shifu.ErrForbidden) {
		t.Fatalf("disabled: %v", err)
	}
}
