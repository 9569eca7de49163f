package web_test

import (
	"context"
	"encoding/json"
	"errors"
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
	bslack "github.com/shifu-factory/shifu/bot/slack"
	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// slackPublic is SHIFU_PUBLIC_URL of worlds with a fake Slack: the only
// site bot messages link to.
const slackPublic = "https://shifu.example.cn"

func (w *world) logs() *slog.Logger { return slog.New(slog.NewTextHandler(&w.log, nil)) }

// slackAPI is a fake Slack Web API: chat.postMessage, form-encoded with the
// bot token in the body, answered {"ok":true,...}; an unknown token is
// invalid_auth, a channel in gone is channel_not_found (archived, say).
type slackAPI struct {
	*httptest.Server
	mu    sync.Mutex
	posts []url.Values
	gone  map[string]bool
	got   chan url.Values
}

func newSlackAPI(t *testing.T) *slackAPI {
	f := &slackAPI{gone: map[string]bool{}, got: make(chan url.Values, 100)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(body))
		if r.URL.Path != "/api/chat.postMessage" || err != nil || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("fake Slack: unexpected %s %s %q", r.Method, r.URL, body)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		f.mu.Lock()
		gone := f.gone[v.Get("channel")]
		f.posts = append(f.posts, v)
		f.mu.Unlock()
		switch {
		case v.Get("token") != "xoxb-acme" && v.Get("token") != "xoxb-bolt":
			io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
		case gone:
			io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
		default:
			io.WriteString(w, `{"ok":true,"channel":"`+v.Get("channel")+`","ts":"1700000099.000100"}`)
		}
		f.got <- v
	}))
	t.Cleanup(f.Close)
	return f
}

// next is the next post, or fails after a while.
func (f *slackAPI) next(t *testing.T, what string) url.Values {
	t.Helper()
	select {
	case v := <-f.got:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("fake Slack: no chat.postMessage for %s", what)
		return nil
	}
}

// none checks no post arrives for a moment.
func (f *slackAPI) none(t *testing.T, why string) {
	t.Helper()
	select {
	case v := <-f.got:
		t.Fatalf("fake Slack got a post %s: %v", why, v)
	case <-time.After(time.Second):
	}
}

// mention is a signed Slack app_mention event to the world's /bots/, as the
// Events API delivers it.
func (w *world) mention(t *testing.T, team, secret, user, channel, ts, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": team, "api_app_id": "A0FFV41KK", "type": "event_callback",
		"event_id": "Ev" + strings.ReplaceAll(ts, ".", ""), "event_time": 1700000000,
		"event":          map[string]any{"type": "app_mention", "user": user, "text": "<@U0SHIFU> " + text, "ts": ts, "channel": channel, "event_ts": ts},
		"authorizations": []map[string]any{{"team_id": team, "user_id": "U0SHIFU", "is_bot": true}},
	})
	req, _ := http.NewRequest(http.MethodPost, w.http.URL+"/bots/slack/events", strings.NewReader(string(body)))
	now := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Slack-Request-Timestamp", now)
	req.Header.Set("X-Slack-Signature", bslack.Sign(secret, now, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("slack event: %d", resp.StatusCode)
	}
}

// gapOf is the open gap of a tenant whose question is q.
func (w *world) gapOf(t *testing.T, tenant int64, q string) int64 {
	t.Helper()
	gs, err := w.db.GapGroups(context.Background(), tenant, shifu.GapsOpen, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Question == q {
			return g.ID
		}
	}
	t.Fatalf("no open gap %q in tenant %d: %+v", q, tenant, gs)
	return 0
}

// TestGapAnsweredInSlackThread: a worker asks in a Slack thread, Shifu
// abstains and records a gap; a supervisor's note answering it is announced
// in that thread (channel, thread_ts, the tenant's bot token), in the
// worker's language, mentioning them, with a link the web app serves. A
// colleague who asked the same on the web gets the web notice, not a Slack
// post; another tenant's gap is neither answerable by this supervisor nor
// announced. A notice queued while no worker runs (the process stopped after
// the note's commit) is posted by the next process; a channel Slack no longer
// has is given up on at once, logged without the token.
func TestGapAnsweredInSlackThread(t *testing.T) {
	ctx := context.Background()
	fake := newSlackAPI(t)
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: "unused"}, slack: fake.URL + "/api/"})
	for _, in := range []struct {
		tenant              int64
		team, secret, token string
	}{{w.acme.ID, "TACME", "acme-signing-secret", "xoxb-acme"}, {w.bolt.ID, "TBOLT", "bolt-signing-secret", "xoxb-bolt"}} {
		if _, err := w.gw.Core.Install(ctx, in.tenant, bot.Credentials{Platform: "slack", External: in.team, Secret: in.secret, Token: in.token}, shifu.Actor{}); err != nil {
			t.Fatal(err)
		}
	}

	// The manuals are empty: every question is abstained on, in its thread.
	const zh, en, other = "AGV 31 号报警怎么复位？", "How do I reset AGV alarm 31?", "Where is the spare belt for line 4?"
	w.mention(t, "TACME", "acme-signing-secret", "U0ACME1", "C0LINE", "1700000000.000100", zh)
	w.mention(t, "TBOLT", "bolt-signing-secret", "U0BOLT1", "C0BOLT", "1700000001.000200", en)
	w.mention(t, "TACME", "acme-signing-secret", "U0ACME2", "C0GONE", "1700000002.000300", other)
	for range 3 {
		if p := fake.next(t, "the abstaining answers"); p.Get("thread_ts") == "" {
			t.Fatalf("answer not in a thread: %v", p)
		}
	}
	// A colleague asks the same on the web chat: one gap group, two askers.
	if code, evs := w.session("worker").chat(zh); code != 200 || !final(t, evs).Abstained {
		t.Fatalf("web question: %d %v", code, names(evs))
	}
	acmeGap, boltGap, goneGap := w.gapOf(t, w.acme.ID, zh), w.gapOf(t, w.bolt.ID, en), w.gapOf(t, w.acme.ID, other)

	// Another tenant's gap cannot be answered from acme: nothing is posted.
	sup := w.session("supervisor")
	fix := map[string]string{"fix": "按住复位键 5 秒，确认急停已松开，再重新上电。"}
	if code := sup.json("POST", "/api/gaps/"+num(boltGap)+"/note", fix, nil); code != 404 {
		t.Fatalf("acme answered bolt's gap: %d", code)
	}
	var note struct {
		ID int64 `json:"id"`
	}
	if code := sup.json("POST", "/api/gaps/"+num(acmeGap)+"/note", fix, &note); code != 201 {
		t.Fatalf("answer gap: %d", code)
	}
	p := fake.next(t, "the notice")
	text := p.Get("text")
	t.Logf("notice: %s", text)
	link := slackPublic + "/documents/" + strconv.FormatInt(note.ID, 10)
	if p.Get("channel") != "C0LINE" || p.Get("thread_ts") != "1700000000.000100" || p.Get("token") != "xoxb-acme" {
		t.Fatalf("notice posted to %s/%s with the wrong token or thread: %v", p.Get("channel"), p.Get("thread_ts"), p)
	}
	for _, want := range []string{"<@U0ACME1>", "你的问题“" + zh + "”现在有答案了", "<" + link + "|打开笔记>"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice %q lacks %q", text, want)
		}
	}
	if p.Get("unfurl_links") != "false" {
		t.Errorf("notice unfurls links: %v", p)
	}
	fake.none(t, "for the web asker or the other tenant")
	// The link opens the note in the web app.
	worker := w.session("worker")
	resp := worker.do("GET", strings.TrimPrefix(link, slackPublic), nil, "")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc == "" {
		t.Fatalf("note link: %d %q", resp.StatusCode, loc)
	} else if r := worker.do("GET", loc, nil, ""); r.StatusCode != 200 || !strings.Contains(readBody(t, r), "复位键") {
		t.Fatalf("note link leads to %s: %d", loc, r.StatusCode)
	}
	// The web asker is told on the web chat.
	var al answeredList
	if code := worker.json("GET", "/api/me/answered", nil, &al); code != 200 || len(al.Answered) != 1 || al.Answered[0].NoteID != note.ID {
		t.Fatalf("web notice: %d %+v", code, al)
	}
	// The job names its tenant and the Slack thread's gaps; its ids read
	// nothing under another tenant.
	var args struct {
		Tenant, Conversation int64
		Gaps                 []int64
	}
	var raw []byte
	if err := w.db.Pool().QueryRow(ctx, `SELECT args FROM river_job WHERE kind = $1 ORDER BY id LIMIT 1`, postgres.NoticeJobKind).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &args); err != nil || args.Tenant != w.acme.ID || len(args.Gaps) != 1 {
		t.Fatalf("job args %s: %v", raw, err)
	}
	if n, err := w.db.GapNotice(ctx, w.acme.ID, args.Conversation, args.Gaps); err != nil || n.NoteID != note.ID || n.External != "TACME:C0LINE:1700000000.000100" {
		t.Fatalf("acme's notice: %+v %v", n, err)
	}
	if _, err := w.db.GapNotice(ctx, w.bolt.ID, args.Conversation, args.Gaps); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("bolt read acme's gap notice: %v", err)
	}

	// The process stops after the note's commit, before the post: the job is
	// in the database and the next process posts it, in the asker's English.
	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := w.ingest.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	boltSup := w.session("bolt")
	if code := boltSup.json("POST", "/api/gaps/"+num(boltGap)+"/note", map[string]string{"fix": "Hold reset for 5 s, release the e-stop, power on."}, &note); code != 201 {
		t.Fatalf("bolt answers its gap: %d", code)
	}
	fake.none(t, "while no worker runs")
	restart(t, w)
	p = fake.next(t, "the notice queued before the restart")
	if p.Get("channel") != "C0BOLT" || p.Get("thread_ts") != "1700000001.000200" || p.Get("token") != "xoxb-bolt" ||
		!strings.Contains(p.Get("text"), "<@U0BOLT1> Your question “"+en+"” now has an answer") ||
		!strings.Contains(p.Get("text"), "<"+slackPublic+"/documents/"+strconv.FormatInt(note.ID, 10)+"|Open the note>") {
		t.Fatalf("bolt's notice: %v", p)
	}

	// A channel Slack no longer has: refused for good, tried once, logged
	// with Slack's reason and without the token.
	fake.mu.Lock()
	fake.gone["C0GONE"] = true
	fake.mu.Unlock()
	if code := sup.json("POST", "/api/gaps/"+num(goneGap)+"/note", map[string]string{"fix": "Shelf B2, left."}, nil); code != 201 {
		t.Fatalf("answer gap: %d", code)
	}
	if p := fake.next(t, "the notice to a channel gone"); p.Get("channel") != "C0GONE" {
		t.Fatalf("posted %v", p)
	}
	fake.none(t, "again after channel_not_found")
	var state string
	deadline := time.Now().Add(10 * time.Second)
	for state != "cancelled" && time.Now().Before(deadline) {
		_ = w.db.Pool().QueryRow(ctx, `SELECT state FROM river_job WHERE kind = $1 ORDER BY id DESC LIMIT 1`, postgres.NoticeJobKind).Scan(&state)
		time.Sleep(100 * time.Millisecond)
	}
	if logs := w.log.String(); state != "cancelled" || !strings.Contains(logs, "channel_not_found") || strings.Contains(logs, "xoxb-") {
		t.Fatalf("job %s; log:\n%s", state, logs)
	}
}

// restart starts a new ingest pipeline with the notices' worker over the
// world's database, as the next shifu serve would.
func restart(t *testing.T, w *world) {
	t.Helper()
	startIngest(t, w.db, w.ring, ingest.Options{Workers: 1, Logger: quiet,
		Jobs: []ingest.Jobs{{Queue: postgres.NoticeQueue, Workers: 1, Register: w.notices.Register}}})
}
