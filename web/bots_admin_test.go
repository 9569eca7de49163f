package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/web"
)

// An admin installs, lists and removes their own tenant's bots; the secrets
// are sealed and never returned.
func TestAdminBots(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ctx := context.Background()
	adm := w.session("admin")
	slack := map[string]any{"platform": "slack", "external_id": "T0ACME", "secret": "slack-signing-secret-1", "token": "xoxb-acme-bot-token"}
	ding := map[string]any{"platform": "dingtalk", "external_id": "dingacmekey", "secret": "ding-app-secret-2"}
	var added struct {
		Bot struct {
			ID         int64  `json:"id"`
			Platform   string `json:"platform"`
			ExternalID string `json:"external_id"`
		}
	}
	if code := adm.json("POST", "/api/bots", slack, &added); code != 201 || added.Bot.ID == 0 || added.Bot.ExternalID != "T0ACME" {
		t.Fatalf("add slack: %d %+v", code, added)
	}
	slackID := added.Bot.ID
	// A bearer token of an admin works as well (no CSRF needed).
	if code := w.token("admin").json("POST", "/api/bots", ding, &added); code != 201 || added.Bot.Platform != "dingtalk" {
		t.Fatalf("add dingtalk: %d %+v", code, added)
	}
	dingID := added.Bot.ID
	if code := adm.json("POST", "/api/bots", slack, nil); code != 409 {
		t.Fatalf("the same team twice: %d", code)
	}

	// The list names platform, id and date only: no secret, sealed or not.
	resp := adm.do("GET", "/api/bots", nil, "")
	body := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	for _, secret := range []string{"slack-signing-secret-1", "xoxb-", "ding-app-secret-2", `"secret"`, `"token"`, `"Secret"`, `"Token"`} {
		if strings.Contains(body, secret) {
			t.Fatalf("the list shows %s: %s", secret, body)
		}
	}
	var list struct {
		Bots []map[string]any
	}
	adm.json("GET", "/api/bots", nil, &list)
	if len(list.Bots) != 2 {
		t.Fatalf("list: %+v", list)
	}
	for _, b := range list.Bots {
		if len(b) != 4 || b["id"] == nil || b["platform"] == nil || b["external_id"] == nil || b["created_at"] == nil {
			t.Fatalf("a bot in the list: %v", b)
		}
	}
	// The installation belongs to acme and its secrets open.
	in, err := w.bots.Installation(ctx, "slack", "T0ACME")
	if err != nil || in.Tenant != w.acme.ID || in.Secret != "slack-signing-secret-1" || in.Token != "xoxb-acme-bot-token" {
		t.Fatalf("installed: %+v %v", in, err)
	}

	// A supervisor may not manage bots.
	sup := w.session("supervisor")
	for _, c := range []*client{sup, w.token("supervisor")} {
		if code := c.json("GET", "/api/bots", nil, nil); code != 403 {
			t.Fatalf("supervisor lists bots: %d", code)
		}
		if code := c.json("POST", "/api/bots", map[string]any{"platform": "slack", "external_id": "T0SUP", "secret": "s", "token": "xoxb-x"}, nil); code != 403 {
			t.Fatalf("supervisor adds a bot: %d", code)
		}
		if code := c.json("DELETE", "/api/bots/"+jsonNum(slackID), nil, nil); code != 403 {
			t.Fatalf("supervisor removes a bot: %d", code)
		}
	}

	// Another tenant's admin neither sees nor removes them, nor learns of them,
	// nor takes the team's deliveries.
	bolt := w.session("bolt")
	var boltList struct{ Bots []map[string]any }
	if code := bolt.json("GET", "/api/bots", nil, &boltList); code != 200 || len(boltList.Bots) != 0 {
		t.Fatalf("bolt sees %d %v", code, boltList)
	}
	if code := bolt.json("DELETE", "/api/bots/"+jsonNum(slackID), nil, nil); code != 404 {
		t.Fatalf("bolt removed acme's bot: %d", code)
	}
	var e struct{ Error string }
	boltSlack := map[string]any{"platform": "slack", "external_id": "T0ACME", "secret": "bolt-guessed-secret", "token": "xoxb-bolt-token"}
	if code := bolt.json("POST", "/api/bots", boltSlack, &e); code != 201 {
		t.Fatalf("bolt installs the same team id: %d %q (it must look like any new team)", code, e.Error)
	}
	if code := bolt.json("POST", "/api/bots", boltSlack, &e); code != 409 || strings.Contains(e.Error, "acme") || !strings.Contains(e.Error, "this tenant") {
		t.Fatalf("bolt installs it twice: %d %q", code, e.Error)
	}
	// A delivery goes to the installation whose secret signed it.
	for secret, tenant := range map[string]int64{"slack-signing-secret-1": w.acme.ID, "bolt-guessed-secret": w.bolt.ID} {
		in, err := w.bots.Authenticate(ctx, "slack", "T0ACME", func(in bot.Installation) error {
			if in.Secret != secret {
				return shifu.Errorf(shifu.ErrUnauthorized, "bad signature")
			}
			return nil
		})
		if err != nil || in.Tenant != tenant {
			t.Fatalf("signed with %q: %+v %v", secret, in, err)
		}
	}

	// Bad input is refused, naming the field and what it accepts.
	for _, tc := range []struct {
		body map[string]any
		want []string
	}{
		{map[string]any{"platform": "teams", "external_id": "x", "secret": "s"}, []string{"platform", "slack or dingtalk"}},
		{map[string]any{"external_id": "x", "secret": "s"}, []string{"platform", "slack or dingtalk"}},
		{map[string]any{"platform": "slack", "external_id": "T0NEW", "token": "xoxb-1"}, []string{"secret", "signing secret"}},
		{map[string]any{"platform": "slack", "external_id": "T0NEW", "secret": "s"}, []string{"token", "xoxb-"}},
		{map[string]any{"platform": "slack", "external_id": "acme", "secret": "s", "token": "xoxb-1"}, []string{"team id", "starts with T"}},
		{map[string]any{"platform": "dingtalk", "external_id": "k"}, []string{"secret", "AppSecret"}},
		{map[string]any{"platform": "dingtalk", "secret": "s"}, []string{"AppKey", "required"}},
		{map[string]any{"platform": "dingtalk", "external_id": "k", "secret": "s", "token": "t"}, []string{"token", "empty"}},
		{map[string]any{"platform": 7}, []string{"platform", "wrong type"}},
	} {
		e.Error = ""
		if code := adm.json("POST", "/api/bots", tc.body, &e); code != 400 {
			t.Fatalf("%v: %d %q", tc.body, code, e.Error)
		}
		for _, w := range tc.want {
			if !strings.Contains(e.Error, w) {
				t.Fatalf("%v: %q does not say %q", tc.body, e.Error, w)
			}
		}
	}
	if code := adm.json("DELETE", "/api/bots/x", nil, nil); code != 400 {
		t.Fatalf("remove bad id: %d", code)
	}

	// Removing one leaves the other; its deliveries are refused from then on.
	if code := adm.json("DELETE", "/api/bots/"+jsonNum(dingID), nil, nil); code != 200 {
		t.Fatalf("remove: %d", code)
	}
	if code := adm.json("DELETE", "/api/bots/"+jsonNum(dingID), nil, nil); code != 404 {
		t.Fatalf("remove twice: %d", code)
	}
	adm.json("GET", "/api/bots", nil, &list)
	if len(list.Bots) != 1 || list.Bots[0]["platform"] != "slack" {
		t.Fatalf("after remove: %+v", list)
	}
	if _, err := w.bots.Installation(ctx, "dingtalk", "dingacmekey"); err == nil {
		t.Fatal("the removed bot is still found")
	}

	var audit struct {
		Audit []struct {
			Action string
			Detail map[string]any
		}
	}
	adm.json("GET", "/api/audit", nil, &audit)
	var actions []string
	for _, a := range audit.Audit {
		actions = append(actions, a.Action)
		for _, v := range a.Detail {
			if s, _ := v.(string); strings.Contains(s, "secret") || strings.HasPrefix(s, "xoxb-") {
				t.Fatalf("the audit log holds a secret: %v", a)
			}
		}
	}
	all := strings.Join(actions, " ")
	if strings.Count(all, "bot.add") != 2 || strings.Count(all, "bot.remove") != 1 {
		t.Fatalf("audit: %v", actions)
	}
}

// Without a BotAdmin the bot routes say so with 503.
func TestBotsUnavailable(t *testing.T) {
	w := newWorld(t, worldOpts{})
	srv, err := web.New(web.Options{DB: w.db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	w.http.Config.Handler = srv
	var e struct{ Error string }
	for _, m := range []string{"GET", "POST", "DELETE"} {
		path := "/api/bots"
		var body any
		if m == "DELETE" {
			path += "/1"
		}
		if m == "POST" {
			body = map[string]any{"platform": "slack"}
		}
		if code := w.token("admin").json(m, path, body, &e); code != 503 || e.Error != "bots are not available on this server" {
			t.Fatalf("%s %s without bots: %d %q", m, path, code, e.Error)
		}
	}
}

// In the browser an admin adds a DingTalk bot with the page's form and removes it.
func TestBrowserAdminBots(t *testing.T) {
	ctx, dir := browser(t, 1280, 900)
	w := newWorld(t, worldOpts{})
	do(t, ctx, "admin page",
		loginAs(w, "acme", "admin"),
		chromedp.Navigate(w.http.URL+"/admin"),
		chromedp.WaitVisible(css(`#bot-form`)),
		chromedp.WaitVisible(css(`#bots tbody tr`)),
	)
	if empty := run(t, ctx, "empty", chromedp.Text(css(`#bots`))); !strings.Contains(empty, "No bots installed") {
		t.Fatalf("empty list says %q", empty)
	}
	do(t, ctx, "choose dingtalk",
		jsStep(`(() => { const s = document.getElementById('bot-platform'); s.value = 'dingtalk'; s.dispatchEvent(new Event('change')); return true; })()`),
		chromedp.WaitNotVisible(css(`#bot-token-field`)),
	)
	label := run(t, ctx, "label", chromedp.Text(css(`#bot-external-label`)))
	do(t, ctx, "add",
		chromedp.SendKeys(css(`#bot-form input[name=external_id]`), "dingbrowserkey"),
		chromedp.SendKeys(css(`#bot-form input[name=secret]`), "ding-browser-secret"),
		chromedp.Click(css(`#bot-form button[type=submit]`)),
		chromedp.WaitVisible(css(`#bots tbody tr button`)),
	)
	row := run(t, ctx, "row", chromedp.Text(css(`#bots tbody tr`)))
	shot(t, ctx, dir, "admin-bots")
	if !strings.Contains(row, "DingTalk") || !strings.Contains(row, "dingbrowserkey") || strings.Contains(row, "secret") || label != "AppKey" {
		t.Fatalf("row %q, label %q", row, label)
	}
	in, err := w.bots.Installation(context.Background(), "dingtalk", "dingbrowserkey")
	if err != nil || in.Tenant != w.acme.ID || in.Secret != "ding-browser-secret" {
		t.Fatalf("installed: %+v %v", in, err)
	}
	do(t, ctx, "remove",
		jsStep(`window.confirm = () => true; true`),
		chromedp.Click(css(`#bots tbody tr button`)),
		chromedp.WaitNotPresent(css(`#bots tbody tr button`)),
	)
	if _, err := w.bots.Installation(context.Background(), "dingtalk", "dingbrowserkey"); err == nil {
		t.Fatal("the removed bot is still installed")
	}
}

// jsStep runs a script as one step of do.
func jsStep(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](expr)(ctx, tg)
		return err
	})
}
