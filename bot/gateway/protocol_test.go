package gateway_test

// Protocol tests: what Slack and DingTalk send in, what the real client code
// sends out, refusals. The answer service is a stand-in here (these tests are
// about the wire); e2e_test.go runs the same path with the real one.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/chatbot"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	bslack "github.com/shifu-factory/shifu/bot/slack"
)

// standIn answers every question the same way and remembers what it was asked.
type standIn struct {
	mu   sync.Mutex
	qs   []shifu.Question
	text string
	wait chan struct{} // when set, Ask blocks until it is closed
}

func (s *standIn) Ask(ctx context.Context, q shifu.Question, _ func(string)) (shifu.Answer, error) {
	s.mu.Lock()
	s.qs = append(s.qs, q)
	s.mu.Unlock()
	if s.wait != nil {
		select {
		case <-s.wait:
		case <-ctx.Done():
			return shifu.Answer{}, ctx.Err()
		}
	}
	return shifu.Answer{Text: s.text, Citations: []shifu.Citation{
		{N: 1, Document: "vfd.pdf", Title: "VFD-200 manual", PageStart: 12, PageEnd: 12, DocID: 7, Verified: true},
	}}, nil
}

func (s *standIn) Questions() []shifu.Question {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]shifu.Question(nil), s.qs...)
}

func status(t *testing.T, resp *http.Response, want int) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, want)
	}
	return string(b)
}

func TestSlackURLVerification(t *testing.T) {
	w := newWorld(t, &standIn{text: "x"})
	body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	got := status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, "anything", w.now), 200)
	if got != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("challenge echo %q", got)
	}
	// With ?team= in the Request URL the signature is checked too.
	status(t, w.slackPost(t, "/bots/slack/events?team=TACME", "application/json", body, "wrong", w.now), 401)
	status(t, w.slackPost(t, "/bots/slack/events?team=TACME", "application/json", body, w.slackSec["TACME"], w.now), 200)
	// A challenge that is not a token is not echoed.
	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		`{"type":"url_verification","challenge":"<script>alert(1)</script>"}`, "x", w.now), 400)
}

func TestSlackMentionRefusalsAndRetries(t *testing.T) {
	// The asker holds its answer until the mention is acknowledged.
	asker := &standIn{text: "Reset the drive with P-07 [1]. <!channel> see [this](https://evil.test/x)", wait: make(chan struct{})}
	w := newWorld(t, asker)
	sec := w.slackSec["TACME"]
	body := mentionBody("TACME", "Ev0001", "C0LAN2Q65", "1515449522.000016", "", "<@U0LAN0Z89> how do I reset the VFD?")

	// Refused before anything happens: bad signature, stale, from the future,
	// unknown team; none is answered.
	badSig := status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, "not-the-secret", w.now), 401)
	status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, sec, w.now.Add(-6*time.Minute)), 401)
	status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, sec, w.now.Add(6*time.Minute)), 401)
	unknown := mentionBody("TNOBODY", "Ev0002", "C1", "1.1", "", "<@U0LAN0Z89> hi")
	if got := status(t, w.slackPost(t, "/bots/slack/events", "application/json", unknown, sec, w.now), 401); got != badSig {
		t.Errorf("unknown team answered %q, bad signature %q: a caller can tell installed teams apart", got, badSig)
	}
	// Tenant bolt's secret does not sign for acme's team.
	status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, w.slackSec["TBOLT"], w.now), 401)
	quiet(t, w.slack.got)
	if n := len(asker.Questions()); n != 0 {
		t.Fatalf("%d questions asked on refused requests", n)
	}

	// The signed mention is acknowledged and answered once, in its thread,
	// even when Slack retries it.
	// The ack does not wait for the answer: it comes while Ask is held.
	status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, sec, w.now), 200)
	close(asker.wait)
	status(t, w.slackPost(t, "/bots/slack/events", "application/json", body, sec, w.now,
		"X-Slack-Retry-Num", "1", "X-Slack-Retry-Reason", "http_timeout"), 200)
	wait(t, w.slack.got, 1)
	quiet(t, w.slack.got)
	posts := w.slack.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	p := posts[0]
	if p.Get("channel") != "C0LAN2Q65" || p.Get("thread_ts") != "1515449522.000016" || p.Get("token") != "xoxb-acme" {
		t.Errorf("posted to %v", p)
	}
	if p.Get("unfurl_links") != "false" || p.Get("unfurl_media") != "false" {
		t.Errorf("unfurling not off: %v", p)
	}
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(p.Get("blocks")), &blocks); err != nil {
		t.Fatalf("blocks %q: %v", p.Get("blocks"), err)
	}
	raw := p.Get("blocks") + p.Get("text")
	if strings.Contains(raw, "<!channel>") || strings.Contains(raw, "evil.test") {
		t.Errorf("hostile output posted: %s", raw)
	}
	if !strings.Contains(raw, "VFD-200 manual") || !strings.Contains(raw, "https://shifu.example.cn/documents/7#page=12") {
		t.Errorf("citation missing: %s", raw)
	}
	qs := asker.Questions()
	if len(qs) != 1 || qs[0].Tenant != w.acme.ID || qs[0].Text != "how do I reset the VFD?" || qs[0].Channel != "slack" ||
		qs[0].UserID == 0 || qs[0].External != "TACME:C0LAN2Q65:1515449522.000016" {
		t.Fatalf("asked %+v", qs)
	}
	u, err := w.db.User(context.Background(), w.acme.ID, qs[0].UserID)
	if err != nil || u.Login != "slack:TACME:U061F7AUR" || u.Role != shifu.RoleWorker {
		t.Errorf("asker user %+v %v", u, err)
	}

	// A reply in the thread goes to the same thread.
	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TACME", "Ev0003", "C0LAN2Q65", "1515449600.000100", "1515449522.000016", "<@U0LAN0Z89> and P-08?"), sec, w.now), 200)
	wait(t, w.slack.got, 1)
	if p := w.slack.Posts()[1]; p.Get("thread_ts") != "1515449522.000016" {
		t.Errorf("follow-up posted to thread %q", p.Get("thread_ts"))
	}
}

func TestSlackIgnoresBotsAndSubtypes(t *testing.T) {
	asker := &standIn{text: "x"}
	w := newWorld(t, asker)
	sec := w.slackSec["TACME"]
	ev := func(id string, inner map[string]any) string {
		b, _ := json.Marshal(map[string]any{"team_id": "TACME", "type": "event_callback", "event_id": id, "event": inner,
			"authorizations": []map[string]any{{"user_id": "UBOT", "is_bot": true}}})
		return string(b)
	}
	for id, inner := range map[string]map[string]any{
		"E1": {"type": "message", "channel_type": "im", "user": "UBOT", "text": "my own answer", "ts": "1.1", "channel": "D1"},
		"E2": {"type": "message", "channel_type": "im", "bot_id": "B1", "user": "U2", "text": "another bot", "ts": "1.2", "channel": "D1"},
		"E3": {"type": "message", "channel_type": "im", "subtype": "message_changed", "user": "U2", "text": "edit", "ts": "1.3", "channel": "D1"},
		"E4": {"type": "message", "channel_type": "channel", "user": "U2", "text": "chatter", "ts": "1.4", "channel": "C1"},
		"E5": {"type": "reaction_added", "user": "U2", "reaction": "thumbsup"},
	} {
		status(t, w.slackPost(t, "/bots/slack/events", "application/json", ev(id, inner), sec, w.now), 200)
	}
	quiet(t, w.slack.got)
	if n := len(asker.Questions()); n != 0 {
		t.Fatalf("answered %d ignorable events", n)
	}
	// A direct message from a person is answered, in a thread under it.
	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		ev("E6", map[string]any{"type": "message", "channel_type": "im", "user": "U2", "text": "torque for M8?", "ts": "1.6", "channel": "D1"}), sec, w.now), 200)
	wait(t, w.slack.got, 1)
	if p := w.slack.Posts()[0]; p.Get("channel") != "D1" || p.Get("thread_ts") != "1.6" {
		t.Errorf("DM answer %v", p)
	}
}

func TestSlackSlashCommand(t *testing.T) {
	asker := &standIn{text: "Use P-07 [1]."}
	w := newWorld(t, asker)
	sec := w.slackSec["TACME"]
	form := url.Values{
		"token": {"gIkuvaNzQIHg97ATvDxqgjtO"}, "team_id": {"TACME"}, "team_domain": {"acme"}, "channel_id": {"C2147483705"},
		"channel_name": {"line-3"}, "user_id": {"U2147483697"}, "user_name": {"li"}, "command": {"/shifu"},
		"text": {"how do I reset the VFD?"}, "response_url": {w.slack.URL + "/hooks/commands/1234/5678"},
		"trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
	}
	got := status(t, w.slackPost(t, "/bots/slack/commands", "application/x-www-form-urlencoded", form.Encode(), sec, w.now), 200)
	if !strings.Contains(got, `"in_channel"`) {
		t.Errorf("ack %q", got)
	}
	wait(t, w.slack.got, 1)
	h := w.slack.Hooks()
	if len(h) != 1 || h[0]["response_type"] != "in_channel" || !strings.Contains(h[0]["text"].(string), "Use P-07") {
		t.Fatalf("response_url got %v", h)
	}
	if b, _ := json.Marshal(h[0]["blocks"]); !strings.Contains(string(b), "documents/7#page=12") {
		t.Errorf("blocks %s", b)
	}
	// A response_url that is not a Slack hook is never posted to.
	form.Set("response_url", "http://169.254.169.254/latest/meta-data")
	form.Set("trigger_id", "other")
	status(t, w.slackPost(t, "/bots/slack/commands", "application/x-www-form-urlencoded", form.Encode(), sec, w.now), 400)
	// Unsigned: refused.
	status(t, w.slackPost(t, "/bots/slack/commands", "application/x-www-form-urlencoded", form.Encode(), "nope", w.now), 401)
	quiet(t, w.slack.got)
}

func TestSlackFeedbackButtons(t *testing.T) {
	w := newWorld(t, &standIn{text: "x"})
	ctx := context.Background()
	// An answer to li's question stored in each tenant, as the answer
	// service stores them (only the asker may rate it).
	msg := func(tenant int64) int64 {
		li, err := w.db.BotUser(ctx, tenant, "slack:TACME:U2147483697", "li")
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		err = w.db.InTenant(ctx, tenant, func(tx pgxTx) error {
			var conv int64
			if err := tx.QueryRow(ctx, `INSERT INTO conversations (channel, user_id) VALUES ('slack', $1) RETURNING id`, li.ID).Scan(&conv); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'user', 'how do I reset?')`, conv); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'assistant', 'P-07') RETURNING id`, conv).Scan(&id)
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	mine, theirs := msg(w.acme.ID), msg(w.bolt.ID)
	click := func(action string, id int64, secret string) *http.Response {
		payload, _ := json.Marshal(map[string]any{
			"type": "block_actions", "team": map[string]any{"id": "TACME", "domain": "acme"},
			"user":       map[string]any{"id": "U2147483697", "username": "li", "name": "li", "team_id": "TACME"},
			"api_app_id": "A0FFV41KK", "trigger_id": "1.2.3", "response_url": w.slack.URL + "/hooks/actions/1",
			"container": map[string]any{"type": "message", "message_ts": "1.5", "channel_id": "C1"},
			"actions": []map[string]any{{"action_id": action, "block_id": "shifu_feedback", "value": itoa(id),
				"type": "button", "action_ts": "1.6", "text": map[string]any{"type": "plain_text", "text": "x"}}},
		})
		return w.slackPost(t, "/bots/slack/interactions", "application/x-www-form-urlencoded",
			url.Values{"payload": {string(payload)}}.Encode(), secret, w.now)
	}
	status(t, click(bslack.ActionDown, mine, "forged"), 401)
	status(t, click(bslack.ActionDown, mine, w.slackSec["TACME"]), 200)
	// Another tenant's message id is not rated (and not revealed).
	status(t, click(bslack.ActionUp, theirs, w.slackSec["TACME"]), 200)

	var ratings []int
	var user string
	err := w.db.InTenant(ctx, w.acme.ID, func(tx pgxTx) error {
		rows, err := tx.Query(ctx, `SELECT f.rating, u.login FROM feedback f JOIN users u ON u.id = f.user_id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r int
			if err := rows.Scan(&r, &user); err != nil {
				return err
			}
			ratings = append(ratings, r)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ratings) != 1 || ratings[0] != -1 || user != "slack:TACME:U2147483697" {
		t.Fatalf("acme feedback %v by %q", ratings, user)
	}
	var gap string
	err = w.db.InTenant(ctx, w.acme.ID, func(tx pgxTx) error {
		return tx.QueryRow(ctx, `SELECT string_agg(question, '|') FROM gaps WHERE reason = 'downvoted'`).Scan(&gap)
	})
	if err != nil || gap != "how do I reset?" {
		t.Errorf("down-vote gap %q %v", gap, err)
	}
	var n int
	w.db.InTenant(ctx, w.bolt.ID, func(tx pgxTx) error { return tx.QueryRow(ctx, `SELECT count(*) FROM feedback`).Scan(&n) })
	if n != 0 {
		t.Errorf("tenant bolt got %d ratings from acme's bot", n)
	}
}

// dingBody is a robot callback as DingTalk documents it, created now (or a
// minute before its webhook expires, if that is earlier).
func dingBody(msgID, text, webhook string, expires time.Time) string {
	created := time.Now()
	if e := expires.Add(-time.Minute); e.Before(created) {
		created = e
	}
	return dingBodyAt(msgID, text, webhook, expires, created)
}

func dingBodyAt(msgID, text, webhook string, expires, created time.Time, set ...string) string {
	m := map[string]any{
		"conversationId": "cid6KeBBLoveMJOGXoYKF5x7EeiodoA==", "atUsers": []map[string]any{{"dingtalkId": "$:LWCP_v1:$Ntaqu"}},
		"chatbotCorpId": "dinge8a565", "chatbotUserId": "$:LWCP_v1:$Ntaqu", "msgId": msgID, "senderNick": "张三",
		"isAdmin": false, "senderStaffId": "user123", "sessionWebhookExpiredTime": expires.UnixMilli(),
		"createAt": created.UnixMilli(), "senderCorpId": "dinge8a565", "conversationType": "2",
		"senderId": "$:LWCP_v1:$ff09GIxQ", "conversationTitle": "3号线", "isInAtList": true,
		"sessionWebhook": webhook, "text": map[string]any{"content": text}, "msgtype": "text",
	}
	for i := 0; i+1 < len(set); i += 2 {
		m[set[i]] = set[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestDingTalkReplay: DingTalk signs only the timestamp, so a captured
// timestamp and sign would otherwise sign any body for an hour. A signature
// serves the one message it came with: replayed with another body it is
// refused, with the same body it is a redelivery, answered once; a body whose
// createAt is far from the signed timestamp, or whose fields do not hang
// together, is refused.
func TestDingTalkReplay(t *testing.T) {
	asker := &standIn{text: "按 P-07 复位 [1]。"}
	w := newWorld(t, asker)
	sec := w.dingSec["dingacme"]
	hook := w.ding.URL + "/robot/sendBySession?session=replay"
	at := w.now
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR1", "变频器怎么复位？", hook, at.Add(90*time.Minute), at), sec, at), 200)
	wait(t, w.ding.got, 1)
	// The captured headers with another message, another text, another webhook.
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR2", "把我加为管理员", hook, at.Add(90*time.Minute), at), sec, at), 401)
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR3", "hi", w.ding.URL+"/robot/sendBySession?session=attacker", at.Add(90*time.Minute), at.Add(time.Second)), sec, at), 401)
	// The same message again: a redelivery, not answered twice.
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR1", "变频器怎么复位？", hook, at.Add(90*time.Minute), at), sec, at), 200)
	// A fresh signature whose body was made long before or after it.
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR4", "hi", hook, at.Add(90*time.Minute), at.Add(-6*time.Minute)), sec, at.Add(time.Millisecond)), 401)
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR5", "hi", hook, at.Add(90*time.Minute), at.Add(6*time.Minute)), sec, at.Add(2*time.Millisecond)), 401)
	// A webhook said to live a day, or to have died before the message.
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR6", "hi", hook, at.Add(24*time.Hour), at), sec, at.Add(3*time.Millisecond)), 401)
	status(t, w.dingPost(t, "dingacme", dingBodyAt("msgR7", "hi", hook, at.Add(-time.Minute), at), sec, at.Add(4*time.Millisecond)), 401)
	// Fields every message has, missing or wrong.
	for i, kv := range [][]string{{"conversationType", "9"}, {"conversationId", ""}, {"senderStaffId", "", "senderId", ""}, {"msgId", ""}} {
		body := dingBodyAt("msgR8"+itoa(int64(i)), "hi", hook, at.Add(90*time.Minute), at, kv...)
		status(t, w.dingPost(t, "dingacme", body, sec, at.Add(time.Duration(10+i)*time.Millisecond)), 400)
	}
	quiet(t, w.ding.got)
	if qs := asker.Questions(); len(qs) != 1 || qs[0].Text != "变频器怎么复位？" {
		t.Fatalf("asked %+v, want the first message only", qs)
	}
}

func TestDingTalkCallback(t *testing.T) {
	asker := &standIn{text: "按 P-07 复位 [1]。@all 详见 [这里](https://evil.test/x)"}
	w := newWorld(t, asker)
	sec := w.dingSec["dingacme"]
	hook := w.ding.URL + "/robot/sendBySession?session=c5ab1234"
	body := dingBody("msgA1", " 变频器怎么复位？", hook, w.now.Add(90*time.Minute))

	status(t, w.dingPost(t, "dingacme", body, "wrong secret", w.now), 401)
	status(t, w.dingPost(t, "dingacme", body, sec, w.now.Add(-61*time.Minute)), 401)
	status(t, w.dingPost(t, "dingnobody", body, sec, w.now), 401)
	quiet(t, w.ding.got)

	status(t, w.dingPost(t, "dingacme", body, sec, w.now), 200)
	status(t, w.dingPost(t, "dingacme", body, sec, w.now), 200) // redelivered: answered once
	wait(t, w.ding.got, 1)
	quiet(t, w.ding.got)
	posts := w.ding.Posts()
	if len(posts) != 1 || posts[0]["msgtype"] != "markdown" || posts[0]["session"] != "c5ab1234" {
		t.Fatalf("posts %v", posts)
	}
	md := posts[0]["markdown"].(map[string]any)
	text := md["text"].(string)
	if !strings.Contains(text, "按 P-07 复位 [1]") || !strings.Contains(text, "**出处**\n\n- 1. VFD-200 manual, 第 12 页 [打开](https://shifu.example.cn/documents/7#page=12)") {
		t.Errorf("markdown %q", text)
	}
	if strings.Contains(text, "@all") || strings.Contains(text, "evil.test") {
		t.Errorf("hostile output posted: %q", text)
	}
	if !strings.Contains(md["title"].(string), "变频器怎么复位") {
		t.Errorf("title %q", md["title"])
	}
	qs := asker.Questions()
	if len(qs) != 1 || qs[0].Tenant != w.acme.ID || qs[0].Text != "变频器怎么复位？" || qs[0].Channel != "dingtalk" ||
		qs[0].External != "cid6KeBBLoveMJOGXoYKF5x7EeiodoA==:user123" {
		t.Fatalf("asked %+v", qs)
	}
	u, err := w.db.User(context.Background(), w.acme.ID, qs[0].UserID)
	if err != nil || u.Login != "dingtalk:dingacme:user123" || u.Name != "张三" {
		t.Errorf("user %+v %v", u, err)
	}

	// A session webhook that is not DingTalk's is not posted to.
	// (Each callback is signed at its own moment: a signature serves one msgId.)
	status(t, w.dingPost(t, "dingacme", dingBody("msgA2", "hi", "http://169.254.169.254/", w.now.Add(time.Hour)), sec, w.now.Add(time.Millisecond)), 400)
	// An answer that would arrive after the webhook expired is not posted.
	status(t, w.dingPost(t, "dingacme", dingBody("msgA3", "hi", hook, w.now.Add(-time.Second)), sec, w.now.Add(2*time.Millisecond)), 200)
	quiet(t, w.ding.got)
	if n := len(asker.Questions()); n != 1 {
		t.Errorf("%d questions asked; a message whose webhook has expired must not be asked", n)
	}
}

type pgxTx = pgx.Tx

func TestDingTalkStreamGlue(t *testing.T) {
	asker := &standIn{text: "按 P-07 复位 [1]。"}
	w := newWorld(t, asker)
	ctx := context.Background()
	in, err := w.gw.Core.Installation(ctx, "dingtalk", "dingacme")
	if err != nil {
		t.Fatal(err)
	}
	s := w.gw.DingTalk.Stream(in)
	frame := &chatbot.BotCallbackDataModel{
		ConversationId: "cidStream==", MsgId: "msgS1", SenderNick: "李四", SenderStaffId: "staff9",
		SessionWebhookExpiredTime: time.Now().Add(90 * time.Minute).UnixMilli(), CreateAt: time.Now().UnixMilli(),
		ConversationType: "1", SenderId: "$:LWCP_v1:$x", SessionWebhook: w.ding.URL + "/robot/sendBySession?session=stream1",
		Text: chatbot.BotCallbackDataTextModel{Content: " 怎么复位？"}, Msgtype: "text",
	}
	if _, err := s.OnMessage(ctx, frame); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OnMessage(ctx, frame); err != nil { // redelivered frame
		t.Fatal(err)
	}
	wait(t, w.ding.got, 1)
	quiet(t, w.ding.got)
	p := w.ding.Posts()
	if len(p) != 1 || p[0]["session"] != "stream1" || !strings.Contains(p[0]["markdown"].(map[string]any)["text"].(string), "VFD-200 manual, 第 12 页") {
		t.Fatalf("stream answer %v", p)
	}
	qs := asker.Questions()
	if len(qs) != 1 || qs[0].Tenant != w.acme.ID || qs[0].Text != "怎么复位？" || qs[0].External != "cidStream==" {
		t.Fatalf("asked %+v", qs)
	}
	if s.SinceLastFrame() <= 0 || s.SinceLastFrame() > time.Minute {
		t.Errorf("last frame %v ago", s.SinceLastFrame())
	}
}

// TestPostingAddressesNeverLogged: a reply that fails to post is logged, but
// the response_url or sessionWebhook (a credential to post as the bot) is
// not, though net/http's error names the URL it failed on.
func TestPostingAddressesNeverLogged(t *testing.T) {
	w := newWorld(t, &standIn{text: "Use P-07 [1]."})
	form := url.Values{"team_id": {"TACME"}, "channel_id": {"C2147483705"}, "user_id": {"U2147483697"}, "user_name": {"li"},
		"command": {"/shifu"}, "text": {"how do I reset the VFD?"}, "trigger_id": {"1.2.3"},
		"response_url": {w.slack.URL + "/hooks/drop/T0ACME/1234/sl4ckS3cretPath"}}
	status(t, w.slackPost(t, "/bots/slack/commands", "application/x-www-form-urlencoded", form.Encode(), w.slackSec["TACME"], w.now), 200)
	hook := w.ding.URL + "/robot/sendBySession?session=dropD1ngS3cret"
	status(t, w.dingPost(t, "dingacme", dingBody("msgLog1", "变频器怎么复位？", hook, w.now.Add(90*time.Minute)), w.dingSec["dingacme"], w.now), 200)
	wait(t, w.slack.got, 1)
	wait(t, w.ding.got, 1)
	var logs string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if logs = w.logs.String(); strings.Contains(logs, "slack response_url") && strings.Contains(logs, "dingtalk reply") {
			break
		}
	}
	if !strings.Contains(logs, "slack response_url") || !strings.Contains(logs, "dingtalk reply") || !strings.Contains(logs, "[redacted]") {
		t.Fatalf("the failed posts are not logged (redacted):\n%s", logs)
	}
	for _, secret := range []string{"sl4ckS3cretPath", "D1ngS3cret", "1234"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log has %q:\n%s", secret, logs)
		}
	}
}

// TestSameTeamInTwoTenants: tenant bolt installs acme's Slack team and
// DingTalk app under secrets of its own. Each delivery goes to the tenant
// whose secret signed it; one signed with neither is refused as any other.
func TestSameTeamInTwoTenants(t *testing.T) {
	asker := &standIn{text: "Use P-07 [1]."}
	w := newWorld(t, asker)
	acmeSlack, acmeDing := w.slackSec["TACME"], w.dingSec["dingacme"]
	w.install(t, w.bolt.ID, bot.Slack, "TACME", "bolt-own-signing-secret", "xoxb-bolt")
	w.install(t, w.bolt.ID, bot.DingTalk, "dingacme", "bolt own app secret", "")

	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TACME", "EvTwo1", "C1", "1.000001", "", "<@U0LAN0Z89> acme asks"), acmeSlack, w.now), 200)
	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TACME", "EvTwo2", "C1", "1.000002", "", "<@U0LAN0Z89> bolt asks"), "bolt-own-signing-secret", w.now), 200)
	status(t, w.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TACME", "EvTwo3", "C1", "1.000003", "", "<@U0LAN0Z89> nobody asks"), "neither", w.now), 401)
	hook := w.ding.URL + "/robot/sendBySession?session=two"
	status(t, w.dingPost(t, "dingacme", dingBody("msgTwo1", "acme 问", hook, w.now.Add(90*time.Minute)), acmeDing, w.now), 200)
	status(t, w.dingPost(t, "dingacme", dingBody("msgTwo2", "bolt 问", hook, w.now.Add(90*time.Minute)), "bolt own app secret", w.now), 200)
	status(t, w.dingPost(t, "dingacme", dingBody("msgTwo3", "nobody 问", hook, w.now.Add(90*time.Minute)), "neither", w.now), 401)
	wait(t, w.slack.got, 2)
	wait(t, w.ding.got, 2)
	got := map[string]int64{}
	for _, q := range asker.Questions() {
		got[q.Text] = q.Tenant
	}
	want := map[string]int64{"acme asks": w.acme.ID, "bolt asks": w.bolt.ID, "acme 问": w.acme.ID, "bolt 问": w.bolt.ID}
	if len(got) != len(want) {
		t.Fatalf("asked %v, want %v", got, want)
	}
	for text, tenant := range want {
		if got[text] != tenant {
			t.Errorf("%q asked in tenant %d, want %d", text, got[text], tenant)
		}
	}
}
