package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/bot/gateway"
)

// TestSlackSocketMode runs the real slack-go Socket Mode client against a
// fake Slack: apps.connections.open hands out a websocket, which says hello
// and pushes an app_mention envelope (twice, as a redelivery); Shifu must
// acknowledge each envelope and answer once with chat.postMessage.
func TestSlackSocketMode(t *testing.T) {
	asker := &standIn{text: "Reset with P-07 [1]."}
	w := newWorld(t, asker)
	const appToken = "xapp-1-A0FFV41KK-1-abc"
	w.install(t, w.acme.ID, bot.Slack, "TSOCK", appToken, "xoxb-acme")

	ws, _, _, acks := fakeSocket(t, func(conn *websocket.Conn) {
		payload := json.RawMessage(mentionBody("TSOCK", "EvSock1", "C9", "1700000001.000100", "", "<@U0LAN0Z89> how do I reset?"))
		env := map[string]any{"envelope_id": "env-1", "type": "events_api", "payload": payload, "accepts_response_payload": false, "retry_attempt": 0}
		conn.WriteJSON(env)
		env["envelope_id"], env["retry_attempt"] = "env-2", 1
		conn.WriteJSON(env)
	})
	w.slack.mu.Lock()
	w.slack.wsURL, w.slack.appToken = "ws"+strings.TrimPrefix(ws.URL, "http")+"/link", appToken
	w.slack.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	in, err := w.gw.Core.Installation(ctx, bot.Slack, "TSOCK")
	if err != nil {
		t.Fatal(err)
	}
	sock, err := w.gw.Slack.Socket(in)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- sock.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("socket runner did not stop")
		}
	}()

	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case a := <-acks:
			id, _ := a["envelope_id"].(string)
			got[id] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("acks received: %v", got)
		}
	}
	if !got["env-1"] || !got["env-2"] {
		t.Fatalf("acks %v", got)
	}
	wait(t, w.slack.got, 1)
	quiet(t, w.slack.got)
	posts := w.slack.Posts()
	if len(posts) != 1 || posts[0].Get("channel") != "C9" || posts[0].Get("thread_ts") != "1700000001.000100" || posts[0].Get("token") != "xoxb-acme" {
		t.Fatalf("posts %v", posts)
	}
	if qs := asker.Questions(); len(qs) != 1 || qs[0].Tenant != w.acme.ID || qs[0].Text != "how do I reset?" {
		t.Fatalf("asked %+v", qs)
	}
	if sock.SinceLastFrame() <= 0 {
		t.Error("no frame time recorded")
	}

	// A Socket Mode installation has no signing secret: its HTTP requests are
	// refused even when signed with the app token.
	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TSOCK", "EvSock2", "C9", "1.2", "", "<@U0LAN0Z89> hi"), appToken, w.now), 401)
}

func TestConnectRefusesUnknownOrHTTPInstallations(t *testing.T) {
	w := newWorld(t, &standIn{text: "x"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.gw.Connect(ctx, []string{"TNOPE"}, nil); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Errorf("unknown team: %v", err)
	}
	// TACME has a signing secret, not an app-level token: no Socket Mode.
	if err := w.gw.Connect(ctx, []string{"TACME"}, nil); !errors.Is(err, shifu.ErrInvalid) {
		t.Errorf("HTTP installation in Socket Mode: %v", err)
	}
	if err := w.gw.Connect(ctx, nil, []string{"dingnope"}); !errors.Is(err, shifu.ErrUnauthorized) {
		t.Errorf("unknown DingTalk app: %v", err)
	}
}

// TestConnections: of every tenant's installations, serve connects the
// Slack ones with an app-level token, and the DingTalk ones only when told
// their apps use Stream mode; HTTP ones never.
func TestConnections(t *testing.T) {
	w := newWorld(t, &standIn{text: "x"})
	ctx := context.Background()
	both := []int64{w.acme.ID, w.bolt.ID}
	if teams, apps, err := w.gw.Connections(ctx, both, false); err != nil || len(teams)+len(apps) != 0 {
		t.Fatalf("HTTP installations only: %v %v %v", teams, apps, err)
	}
	if _, apps, _ := w.gw.Connections(ctx, both, true); strings.Join(apps, " ") != "dingacme" {
		t.Fatalf("dingtalk stream apps %v", apps)
	}
	w.install(t, w.bolt.ID, bot.Slack, "TSOCKB", "xapp-1-B-1-abc", "xoxb-b")
	w.install(t, w.acme.ID, bot.Slack, "TSOCKA", "xapp-1-A-1-abc", "xoxb-a")
	teams, _, err := w.gw.Connections(ctx, both, false)
	if err != nil || strings.Join(teams, " ") != "TSOCKA TSOCKB" {
		t.Fatalf("teams %v, %v", teams, err)
	}
	// Only the tenants asked for.
	if teams, apps, _ := w.gw.Connections(ctx, []int64{w.bolt.ID}, true); strings.Join(teams, " ") != "TSOCKB" || len(apps) != 0 {
		t.Fatalf("bolt's: %v %v", teams, apps)
	}
}

// fakeSocket is Slack's Socket Mode websocket: it says hello, then greet
// may push envelopes, and it keeps the connection alive (the client wants
// pings). opened and closed receive as clients come and go, frames what
// they send.
func fakeSocket(t *testing.T, greet func(*websocket.Conn)) (srv *httptest.Server, opened, closed chan struct{}, frames chan map[string]any) {
	opened, closed, frames = make(chan struct{}, 10), make(chan struct{}, 10), make(chan map[string]any, 10)
	srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// Slack's client sends an Origin of its own.
		up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
		conn, err := up.Upgrade(rw, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer conn.Close()
		conn.WriteJSON(map[string]any{"type": "hello", "num_connections": 1,
			"connection_info": map[string]any{"app_id": "A0FFV41KK"}, "debug_info": map[string]any{"host": "fake"}})
		signal(opened)
		defer signal(closed)
		if greet != nil {
			greet(conn)
		}
		go func() {
			for {
				time.Sleep(200 * time.Millisecond)
				if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}()
		for {
			var m map[string]any
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			select {
			case frames <- m:
			default:
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, opened, closed, frames
}

// signal records an event without ever blocking the fake.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func within(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s", what)
	}
}

func never(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
		t.Fatalf("unexpected %s", what)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestSuperviseFollowsInstallations: a Socket Mode bot added while serving
// connects, on the desk's signal at once, from another process at the next
// listing; a removed one disconnects, new credentials reconnect, and a
// failed listing keeps what runs.
func TestSuperviseFollowsInstallations(t *testing.T) {
	w := newWorld(t, &standIn{text: "x"})
	ws, opened, closed, _ := fakeSocket(t, nil)
	const tokenA, tokenB = "xapp-1-A-1-abc", "xapp-1-A-2-def"
	w.slack.mu.Lock()
	w.slack.wsURL, w.slack.appToken = "ws"+strings.TrimPrefix(ws.URL, "http")+"/link", tokenA
	w.slack.mu.Unlock()
	var failing atomic.Bool
	tenants := func(context.Context) ([]int64, error) {
		if failing.Load() {
			return nil, errors.New("database down")
		}
		return []int64{w.acme.ID, w.bolt.ID}, nil
	}
	supervise := func(every time.Duration) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.gw.Supervise(ctx, tenants, false, every) }()
		return func() {
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("supervise: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("supervise did not stop")
			}
		}
	}
	ctx := context.Background()

	// Added and removed on the desk: the signal, not the hourly listing.
	stop := supervise(time.Hour)
	never(t, opened, "connection for HTTP installations")
	w.install(t, w.acme.ID, bot.Slack, "TSOCK", tokenA, "xoxb-acme")
	within(t, opened, "connection after the bot was added")
	if err := w.gw.Core.Uninstall(ctx, w.acme.ID, bot.Slack, "TSOCK", shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	within(t, closed, "disconnection after the bot was removed")
	stop()

	// Another process (`shifu bot add`) shares only the database.
	other := gateway.New(w.db, w.ring, &standIn{text: "x"}, gateway.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	stop = supervise(50 * time.Millisecond)
	defer stop()
	if _, err := other.Core.Install(ctx, w.acme.ID, bot.Credentials{Platform: bot.Slack, External: "TSOCK", Secret: tokenA, Token: "xoxb-acme"}, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	within(t, opened, "connection after another process added the bot")
	failing.Store(true)
	never(t, closed, "disconnection while the listing fails")
	failing.Store(false)
	// New credentials: the old connection stops and one with the new token starts.
	w.slack.mu.Lock()
	w.slack.appToken = tokenB
	w.slack.mu.Unlock()
	if err := other.Core.Uninstall(ctx, w.acme.ID, bot.Slack, "TSOCK", shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Core.Install(ctx, w.acme.ID, bot.Credentials{Platform: bot.Slack, External: "TSOCK", Secret: tokenB, Token: "xoxb-acme"}, shifu.Actor{}); err != nil {
		t.Fatal(err)
	}
	within(t, closed, "disconnection of the old credentials")
	within(t, opened, "connection with the new credentials")
}
