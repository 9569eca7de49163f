package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/bot/dingtalk"
	"github.com/shifu-factory/shifu/bot/gateway"
	bslack "github.com/shifu-factory/shifu/bot/slack"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
	"github.com/shifu-factory/shifu/internal/testenv"
)

const public = "https://shifu.example.cn"

// fakeSlack speaks Slack's Web API (chat.postMessage, form-encoded, answered
// with {"ok":true}) and accepts response_url posts (JSON) under /hooks/.
type fakeSlack struct {
	*httptest.Server
	mu    sync.Mutex
	posts []url.Values
	hooks []map[string]any
	got   chan struct{}
	// Socket Mode: apps.connections.open hands out wsURL to appToken.
	wsURL    string
	appToken string
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{got: make(chan struct{}, 100)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.URL.Path == "/api/chat.postMessage":
			v, err := url.ParseQuery(string(body))
			if err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("chat.postMessage body %q: %v", body, err)
			}
			f.mu.Lock()
			f.posts = append(f.posts, v)
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if v.Get("token") != "xoxb-acme" && v.Get("token") != "xoxb-bolt" {
				io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			io.WriteString(w, `{"ok":true,"channel":"`+v.Get("channel")+`","ts":"1700000000.000200"}`)
		case r.URL.Path == "/api/apps.connections.open":
			w.Header().Set("Content-Type", "application/json")
			f.mu.Lock()
			ws := f.wsURL
			f.mu.Unlock()
			if r.Header.Get("Authorization") != "Bearer "+f.appToken || ws == "" {
				io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
				return
			}
			io.WriteString(w, `{"ok":true,"url":"`+ws+`"}`)
			return
		case strings.HasPrefix(r.URL.Path, "/hooks/drop/"):
			hangUp(w) // the post fails in net/http, whose error names the URL
			f.got <- struct{}{}
			return
		case strings.HasPrefix(r.URL.Path, "/hooks/"):
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("response_url body %q: %v", body, err)
			}
			f.mu.Lock()
			f.hooks = append(f.hooks, m)
			f.mu.Unlock()
			io.WriteString(w, "ok")
		default:
			t.Errorf("fake Slack: unexpected %s %s", r.Method, r.URL)
			http.NotFound(w, r)
		}
		f.got <- struct{}{}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) Posts() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.posts...)
}

func (f *fakeSlack) Hooks() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.hooks...)
}

// fakeDingTalk is the session webhook endpoint: JSON in, {"errcode":0} out.
type fakeDingTalk struct {
	*httptest.Server
	mu    sync.Mutex
	posts []map[string]any
	got   chan struct{}
}

func newFakeDingTalk(t *testing.T) *fakeDingTalk {
	f := &fakeDingTalk{got: make(chan struct{}, 100)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil || r.URL.Path != "/robot/sendBySession" {
			t.Errorf("session webhook %s: %v", r.URL, err)
		}
		m["session"] = r.URL.Query().Get("session")
		if strings.HasPrefix(r.URL.Query().Get("session"), "drop") {
			hangUp(w)
			f.got <- struct{}{}
			return
		}
		f.mu.Lock()
		f.posts = append(f.posts, m)
		f.mu.Unlock()
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
		f.got <- struct{}{}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeDingTalk) Posts() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.posts...)
}

// hangUp closes the connection without a response.
func hangUp(w http.ResponseWriter) {
	if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
		c.Close()
	}
}

// world is a database with two tenants, fake platforms and a gateway.
type world struct {
	db       *postgres.DB
	url      string
	ring     *keyring.Ring
	acme     shifu.Tenant
	bolt     shifu.Tenant
	slack    *fakeSlack
	ding     *fakeDingTalk
	gw       *gateway.Gateway
	srv      *httptest.Server
	now      time.Time
	slackSec map[string]string // team → signing secret
	dingSec  map[string]string // app key → app secret
	logs     *testenv.Log
}

func newWorld(t *testing.T, asker bot.Asker) *world {
	t.Helper()
	return newWorldWith(t, func(*world) bot.Asker { return asker })
}

// newWorldWith builds the asker once the database and tenants exist.
func newWorldWith(t *testing.T, mkAsker func(*world) bot.Asker) *world {
	t.Helper()
	ctx := context.Background()
	db, u := pgtest.DB(t)
	m, err := keyring.ParseMaster(keyring.Generate())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{db: db, url: u, now: time.Now(), slackSec: map[string]string{}, dingSec: map[string]string{}, logs: &testenv.Log{}}
	w.ring = keyring.NewRing(m, func(ctx context.Context, id int64) (string, []byte, error) {
		tn, k, err := db.TenantByID(ctx, id)
		return tn.Name, k, err
	})
	for _, name := range []string{"acme", "bolt"} {
		k, err := m.NewDataKey(name)
		if err != nil {
			t.Fatal(err)
		}
		tn, err := postgres.CreateTenant(ctx, u, name, k)
		if err != nil {
			t.Fatal(err)
		}
		if name == "acme" {
			w.acme = tn
		} else {
			w.bolt = tn
		}
	}
	w.slack, w.ding = newFakeSlack(t), newFakeDingTalk(t)
	w.gw = gateway.New(db, w.ring, mkAsker(w), gateway.Config{
		PublicURL:           public,
		SlackAPIURL:         w.slack.URL + "/api/",
		DingTalkWebhookURLs: []string{w.ding.URL + "/robot/"},
		Now:                 func() time.Time { return w.now },
		Logger:              slog.New(slog.NewTextHandler(w.logs, nil)),
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.gw.Close(ctx); err != nil {
			t.Errorf("gateway close: %v", err)
		}
	})
	w.srv = httptest.NewServer(w.gw)
	t.Cleanup(w.srv.Close)

	w.install(t, w.acme.ID, bot.Slack, "TACME", "acme-signing-secret", "xoxb-acme")
	w.install(t, w.bolt.ID, bot.Slack, "TBOLT", "bolt-signing-secret", "xoxb-bolt")
	w.install(t, w.acme.ID, bot.DingTalk, "dingacme", "acme app secret", "")
	return w
}

func (w *world) install(t *testing.T, tenant int64, platform, ext, secret, token string) {
	t.Helper()
	if _, err := w.gw.Core.Install(context.Background(), tenant, bot.Credentials{Platform: platform, External: ext, Secret: secret, Token: token}, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if platform == bot.Slack {
		w.slackSec[ext] = secret
	} else {
		w.dingSec[ext] = secret
	}
}

// slackPost sends a Slack request signed with secret at time at.
func (w *world) slackPost(t *testing.T, path, contentType, body, secret string, at time.Time, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(body))
	ts := itoa(at.Unix())
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", bslack.Sign(secret, ts, []byte(body)))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// dingPost sends a DingTalk callback signed with secret at time at.
func (w *world) dingPost(t *testing.T, appKey, body, secret string, at time.Time) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/bots/dingtalk/"+appKey+"/callback", strings.NewReader(body))
	ts := itoa(at.UnixMilli())
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("timestamp", ts)
	req.Header.Set("sign", dingtalk.Sign(secret, ts))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// wait waits for n requests to reach a fake, or fails.
func wait(t *testing.T, got chan struct{}, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			t.Fatalf("fake platform got %d of %d expected requests", i, n)
		}
	}
}

// quiet checks nothing more reaches a fake for a moment.
func quiet(t *testing.T, got chan struct{}) {
	t.Helper()
	select {
	case <-got:
		t.Fatal("fake platform got a request it should not have")
	case <-time.After(300 * time.Millisecond):
	}
}

// mentionBody is an app_mention event_callback as Slack documents it.
func mentionBody(team, eventID, channel, ts, threadTS, text string) string {
	ev := map[string]any{"type": "app_mention", "user": "U061F7AUR", "text": text, "ts": ts, "channel": channel, "event_ts": ts}
	if threadTS != "" {
		ev["thread_ts"] = threadTS
	}
	b, _ := json.Marshal(map[string]any{
		"token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": team, "api_app_id": "A0FFV41KK", "event": ev,
		"type": "event_callback", "event_id": eventID, "event_time": 1515449522, "authed_users": []string{"U0LAN0Z89"},
		"authorizations": []map[string]any{{"team_id": team, "user_id": "U0LAN0Z89", "is_bot": true}},
	})
	return string(b)
}
