package gateway_test

// End to end: real answer service, retrieval and PostgreSQL; only the model,
// Slack and DingTalk are fakes (speaking their wire protocols).

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/bot"
	bslack "github.com/shifu-factory/shifu/bot/slack"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/terms"
	"github.com/shifu-factory/shifu/retrieval"
)

var (
	analyzerOnce sync.Once
	analyzer     *terms.Analyzer
	analyzerErr  error
)

// manual stores a ready document with chunks and embeddings in a tenant.
func manual(t *testing.T, db *postgres.DB, tenant int64, name, title string, chunks []string, emb llm.Embedder) int64 {
	t.Helper()
	ctx := context.Background()
	var doc, head int64 // the stored version, and the document links name
	err := db.InTenant(ctx, tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO documents (name, title, kind, sha256, size, status) VALUES ($1, $2, 'manual', $1, 1, 'ready') RETURNING id, head_id`,
			name, title).Scan(&doc, &head)
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]shifu.IndexedChunk, len(chunks))
	for i, c := range chunks {
		head, _, _ := strings.Cut(c, "\n")
		rows[i] = shifu.IndexedChunk{Chunk: shifu.Chunk{Ord: i, Text: c, Heading: head, PageStart: 10 + i, PageEnd: 10 + i}, Terms: analyzer.Terms(c)}
	}
	if err := db.StoreChunks(ctx, tenant, doc, shifu.DocMeta{Title: title}, rows); err != nil {
		t.Fatal(err)
	}
	ids, texts, err := db.Unembedded(ctx, tenant, doc, emb.Model())
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := emb.Embed(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.StoreEmbeddings(ctx, tenant, emb.Model(), ids, vecs); err != nil {
		t.Fatal(err)
	}
	return head
}

type e2e struct {
	*world
	model   *llmtest.Server
	millDoc int64
	pressID int64
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	analyzerOnce.Do(func() { analyzer, analyzerErr = terms.New() })
	if analyzerErr != nil {
		t.Fatal(analyzerErr)
	}
	// The model quotes whatever passage it was given, and adds what a
	// poisoned page might make it say.
	srv := llmtest.NewServer(t, llmtest.Options{ReplyFunc: func(r llmtest.ChatRequest) string {
		var all strings.Builder
		for _, m := range r.Messages {
			all.WriteString(m.Content)
		}
		switch s := all.String(); {
		case strings.Contains(s, "Alarm E-104 means spindle overload"):
			return `E-104 is a spindle overload [1] "Alarm E-104 means spindle overload". <!channel> @here see [the fix](https://evil.test/phish).`
		case strings.Contains(s, "Hydraulic pressure must stay"):
			return `Keep it within range [1] "Hydraulic pressure must stay".`
		}
		return "NOT_COVERED"
	}})
	e := &e2e{model: srv}
	emb, err := llm.NewOffline(0)
	if err != nil {
		t.Fatal(err)
	}
	chat, err := llm.NewChat(llm.ChatConfig{Provider: "compatible", BaseURL: srv.BaseURL(), Model: "fake-qwen",
		MaxRetries: -1, Timeout: 10 * time.Second, FirstByteTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.world = newWorldWith(t, func(w *world) bot.Asker {
		e.millDoc = manual(t, w.db, w.acme.ID, "mill.pdf", "Mill manual", []string{
			"Alarms > E-104\nAlarm E-104 means spindle overload. Reduce the feed rate and check the spindle belt tension.",
			"Safety > Lockout\nBefore opening the electrical cabinet, switch off the main disconnect and lock it out.",
		}, emb)
		e.pressID = manual(t, w.db, w.bolt.ID, "press.pdf", "Press manual", []string{
			"Hydraulics > Pressure\nHydraulic pressure must stay between 180 and 210 bar. Alarm E-104 on the press means low oil.",
		}, emb)
		return answer.New(w.db, retrieval.New(w.db, analyzer, emb, retrieval.Options{}), chat, answer.Options{Timeout: 30 * time.Second})
	})
	return e
}

func TestE2ESlackMentionAnsweredInThreadWithCitation(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	sec := e.slackSec["TACME"]
	body := mentionBody("TACME", "Ev9001", "C0LAN2Q65", "1515449522.000016", "", "<@U0LAN0Z89> What does alarm E-104 mean?")

	// Refused or ignored, and nothing posted: bad signature, old timestamp,
	// unknown team.
	status(t, e.slackPost(t, "/bots/slack/events", "application/json", body, "forged", e.now), 401)
	status(t, e.slackPost(t, "/bots/slack/events", "application/json", body, sec, e.now.Add(-10*time.Minute)), 401)
	status(t, e.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TUNKNOWN", "Ev9002", "C1", "1.1", "", "<@U0LAN0Z89> What does alarm E-104 mean?"), sec, e.now), 401)
	quiet(t, e.slack.got)
	if n := e.model.Count("/chat/completions"); n != 0 {
		t.Fatalf("the model was asked %d times for refused requests", n)
	}

	// The signed mention: acknowledged, answered in its thread with a citation.
	status(t, e.slackPost(t, "/bots/slack/events", "application/json", body, sec, e.now), 200)
	wait(t, e.slack.got, 1)
	// Replayed (a retry, and a replay minutes later within the window): ignored.
	status(t, e.slackPost(t, "/bots/slack/events", "application/json", body, sec, e.now, "X-Slack-Retry-Num", "1"), 200)
	status(t, e.slackPost(t, "/bots/slack/events", "application/json", body, sec, e.now.Add(2*time.Minute)), 200)
	quiet(t, e.slack.got)

	posts := e.slack.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	p := posts[0]
	if p.Get("channel") != "C0LAN2Q65" || p.Get("thread_ts") != "1515449522.000016" || p.Get("token") != "xoxb-acme" {
		t.Fatalf("posted %v", p)
	}
	blocks := p.Get("blocks")
	wantLink := public + "/documents/" + strconv.FormatInt(e.millDoc, 10) + "?v=1#page=10"
	for _, want := range []string{"E-104 is a spindle overload [1]", "Mill manual", "p. 10", wantLink, bslack.ActionUp} {
		if !strings.Contains(blocks, want) {
			t.Errorf("%q missing from blocks %s", want, blocks)
		}
	}
	for _, bad := range []string{"<!channel>", "evil.test", "@here"} {
		if strings.Contains(blocks+p.Get("text"), bad) {
			t.Errorf("model output %q reached Slack: %s", bad, blocks)
		}
	}

	// The exchange is stored, attributed to the Slack user mapped to a worker.
	var login, role, channel, external string
	var msgID int64
	err := e.db.InTenant(ctx, e.acme.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT u.login, u.role, c.channel, c.external, m.id FROM messages m
			JOIN conversations c ON c.id = m.conversation_id JOIN users u ON u.id = c.user_id
			WHERE m.role = 'assistant' ORDER BY m.id DESC LIMIT 1`).Scan(&login, &role, &channel, &external, &msgID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if login != "slack:TACME:U061F7AUR" || role != "worker" || channel != "slack" || external != "TACME:C0LAN2Q65:1515449522.000016" {
		t.Errorf("stored as %s/%s/%s/%s", login, role, channel, external)
	}
	if !strings.Contains(blocks, `"value":"`+strconv.FormatInt(msgID, 10)+`"`) {
		t.Errorf("feedback buttons do not carry message %d: %s", msgID, blocks)
	}

	// The 👎 button records feedback by the clicking Slack user.
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "team": map[string]any{"id": "TACME"},
		"user":    map[string]any{"id": "U061F7AUR", "name": "li"},
		"actions": []map[string]any{{"action_id": bslack.ActionDown, "block_id": "shifu_feedback", "value": strconv.FormatInt(msgID, 10), "type": "button", "action_ts": "1.7"}}})
	status(t, e.slackPost(t, "/bots/slack/interactions", "application/x-www-form-urlencoded",
		url.Values{"payload": {string(payload)}}.Encode(), sec, e.now), 200)
	var rating int
	err = e.db.InTenant(ctx, e.acme.ID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT f.rating FROM feedback f JOIN users u ON u.id = f.user_id WHERE f.message_id = $1 AND u.login = $2`,
			msgID, "slack:TACME:U061F7AUR").Scan(&rating)
	})
	if err != nil || rating != -1 {
		t.Errorf("feedback %d %v", rating, err)
	}
}

func TestE2ETenantBBotNeverSeesTenantA(t *testing.T) {
	e := newE2E(t)
	// The same question through bolt's bot: bolt's press manual, never acme's mill.
	status(t, e.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TBOLT", "EvB1", "CB", "2.1", "", "<@UBOLTBOT> What does alarm E-104 mean on the press? Hydraulic pressure?"), e.slackSec["TBOLT"], e.now), 200)
	wait(t, e.slack.got, 1)
	p := e.slack.Posts()[0]
	if p.Get("token") != "xoxb-bolt" || p.Get("channel") != "CB" {
		t.Fatalf("posted %v", p)
	}
	blocks := p.Get("blocks")
	if strings.Contains(blocks, "Mill manual") || strings.Contains(blocks, "/documents/"+strconv.FormatInt(e.millDoc, 10)+"#") {
		t.Errorf("bolt's answer cites acme's manual: %s", blocks)
	}
	if !strings.Contains(blocks, "Press manual") {
		t.Errorf("bolt's answer does not cite its own manual: %s", blocks)
	}
	for _, r := range e.model.Requests() {
		if r.Chat == nil {
			continue
		}
		for _, m := range r.Chat.Messages {
			if strings.Contains(m.Content, "spindle belt tension") || strings.Contains(m.Content, "main disconnect") {
				t.Fatalf("acme's passage was sent to the model for bolt's question: %q", m.Content)
			}
		}
	}
	// Acme's bot secret cannot sign for bolt's team either.
	status(t, e.slackPost(t, "/bots/slack/events", "application/json",
		mentionBody("TBOLT", "EvB2", "CB", "2.2", "", "<@UBOLTBOT> hi"), e.slackSec["TACME"], e.now), 401)
}

func TestE2EDingTalkCallback(t *testing.T) {
	e := newE2E(t)
	hook := e.ding.URL + "/robot/sendBySession?session=e2e"
	body := dingBody("msgE1", " What does alarm E-104 mean?", hook, e.now.Add(90*time.Minute))
	status(t, e.dingPost(t, "dingacme", body, "forged", e.now), 401)
	status(t, e.dingPost(t, "dingacme", body, e.dingSec["dingacme"], e.now.Add(-2*time.Hour)), 401)
	quiet(t, e.ding.got)
	status(t, e.dingPost(t, "dingacme", body, e.dingSec["dingacme"], e.now), 200)
	wait(t, e.ding.got, 1)
	status(t, e.dingPost(t, "dingacme", body, e.dingSec["dingacme"], e.now), 200)
	quiet(t, e.ding.got)
	md := e.ding.Posts()[0]["markdown"].(map[string]any)["text"].(string)
	want := "Mill manual, p. 10 [open](" + public + "/documents/" + strconv.FormatInt(e.millDoc, 10) + "?v=1#page=10)"
	if !strings.Contains(md, "E-104 is a spindle overload [1]") || !strings.Contains(md, want) {
		t.Errorf("markdown %q, want citation %q", md, want)
	}
	if strings.Contains(md, "evil.test") || strings.Contains(md, "@here") {
		t.Errorf("model output reached DingTalk: %q", md)
	}
}
