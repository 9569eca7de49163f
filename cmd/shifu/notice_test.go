package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	bslack "github.com/shifu-factory/shifu/bot/slack"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// TestServeKilledStillTellsSlackThread: a worker asks in a Slack thread and
// `shifu serve` abstains (the library is empty), recording a gap; a
// supervisor answers it with a note through the API; Slack answers the
// notice with a 503 and the server is killed (SIGKILL) while the retry
// waits. The next `shifu serve` posts it in the thread: the notice was a job
// in the database, not a goroutine.
func TestServeKilledStillTellsSlackThread(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	sh.must("user", "create", "--tenant", "acme", "--user", "ana", "--role", "supervisor")
	token := strings.TrimSpace(strings.Split(sh.must("token", "create", "--tenant", "acme", "--user", "ana"), "\n")[0])
	posts, refused := make(chan url.Values, 10), make(chan struct{}, 10)
	var calls atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		v, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path != "/api/chat.postMessage" || v.Get("token") != "xoxb-acme":
			io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
		case calls.Add(1) == 2: // the first notice: Slack is down a moment
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
			refused <- struct{}{}
		default:
			io.WriteString(w, `{"ok":true,"channel":"`+v.Get("channel")+`","ts":"1700000099.000100"}`)
			posts <- v
		}
	}))
	defer fake.Close()
	next := func(what string) url.Values {
		select {
		case v := <-posts:
			return v
		case <-time.After(2 * time.Minute):
			t.Fatalf("fake Slack: no chat.postMessage for %s", what)
			return nil
		}
	}
	sh.env["SHIFU_SLACK_API_URL"] = fake.URL + "/api/"
	sh.env["SHIFU_PUBLIC_URL"] = "https://shifu.example.cn"
	sh.must("bot", "add", "slack", "--tenant", "acme", "--team", "TACME", "--signing-secret", "acme-signing-secret", "--bot-token", "xoxb-acme")

	base, first := sh.serveCmd()
	const thread, question = "1700000000.000100", "How do I reset AGV alarm 31?"
	body, _ := json.Marshal(map[string]any{"team_id": "TACME", "type": "event_callback", "event_id": "Ev01",
		"event":          map[string]any{"type": "app_mention", "user": "U0ANA", "text": "<@U0SHIFU> " + question, "ts": thread, "channel": "C0LINE"},
		"authorizations": []map[string]any{{"team_id": "TACME", "user_id": "U0SHIFU", "is_bot": true}}})
	req, _ := http.NewRequest(http.MethodPost, base+"/bots/slack/events", strings.NewReader(string(body)))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", bslack.Sign("acme-signing-secret", ts, body))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("slack event: %v %v", err, resp)
	}
	if p := next("the abstaining answer"); p.Get("thread_ts") != thread {
		t.Fatalf("answer %v", p)
	}
	api := func(method, path, body string, out any) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	var gaps struct {
		Gaps []shifu.GapGroup `json:"gaps"`
	}
	if code := api("GET", "/api/gaps", "", &gaps); code != 200 || len(gaps.Gaps) != 1 || gaps.Gaps[0].Question != question {
		t.Fatalf("gaps: %d %+v", code, gaps)
	}
	var note struct {
		ID int64 `json:"id"`
	}
	if code := api("POST", "/api/gaps/"+strconv.FormatInt(gaps.Gaps[0].ID, 10)+"/note", `{"fix":"Hold reset for 5 s, then release the e-stop."}`, &note); code != 201 {
		t.Fatalf("answer the gap: %d", code)
	}
	// Killed while the notice's retry waits.
	select {
	case <-refused:
	case <-time.After(time.Minute):
		t.Fatal("no notice was tried")
	}
	conn, err := pgx.Connect(context.Background(), sh.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for deadline := time.Now().Add(time.Minute); ; {
		var state string
		err := conn.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = $1`, postgres.NoticeJobKind).Scan(&state)
		if err != nil {
			t.Fatal(err)
		}
		if state == "retryable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notice job %s, want retryable", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = first.Process.Kill()
	_ = first.Wait()

	sh.serve()
	p := next("the notice, after the restart")
	link := "<https://shifu.example.cn/documents/" + strconv.FormatInt(note.ID, 10) + "|Open the note>"
	if p.Get("channel") != "C0LINE" || p.Get("thread_ts") != thread ||
		!strings.Contains(p.Get("text"), "<@U0ANA> Your question “"+question+"” now has an answer") || !strings.Contains(p.Get("text"), link) {
		t.Fatalf("notice %v", p)
	}
}
