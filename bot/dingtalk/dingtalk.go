// Package dingtalk is Shifu's DingTalk enterprise internal robot: the HTTP
// callback (its timestamp and sign headers checked with the app secret of the
// installation its URL names, before anything else), markdown answers posted
// to the message's session webhook before it expires, and Stream mode for
// factories without a public URL.
package dingtalk

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
)

// Window is how far a callback's timestamp may be from now: DingTalk's hour.
const Window = time.Hour

// MaxBody is the largest callback body read.
const MaxBody = 1 << 20

// Sign is DingTalk's signature: Base64(HmacSHA256(secret, timestamp+"\n"+secret)).
func Sign(secret, timestamp string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Timestamp reads the timestamp header (milliseconds) and refuses a callback
// outside the window.
func Timestamp(h http.Header, now time.Time) (string, error) {
	ts := h.Get("timestamp")
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", shifu.Errorf(shifu.ErrUnauthorized, "missing or malformed timestamp header")
	}
	d := now.Sub(time.UnixMilli(ms))
	if d > Window || d < -Window {
		return "", shifu.Errorf(shifu.ErrUnauthorized, "callback timestamp is more than an hour from now")
	}
	return ts, nil
}

// Verify checks the sign header in constant time.
func Verify(h http.Header, secret string, now time.Time) error {
	ts, err := Timestamp(h, now)
	if err != nil {
		return err
	}
	got, err := base64.StdEncoding.DecodeString(h.Get("sign"))
	if err != nil || len(got) != sha256.Size {
		return shifu.Errorf(shifu.ErrUnauthorized, "missing or malformed sign header")
	}
	want, _ := base64.StdEncoding.DecodeString(Sign(secret, ts))
	if !hmac.Equal(got, want) {
		return shifu.Errorf(shifu.ErrUnauthorized, "bad callback signature")
	}
	return nil
}

// Message is a robot callback (HTTP) or chatbot frame (Stream): the fields
// Shifu uses.
type Message struct {
	MsgID   string `json:"msgId"`
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
	CreateAt                  int64  `json:"createAt"`
	ConversationType          string `json:"conversationType"`
	ConversationID            string `json:"conversationId"`
	SenderID                  string `json:"senderId"`
	SenderNick                string `json:"senderNick"`
	SenderStaffID             string `json:"senderStaffId"`
	ChatbotUserID             string `json:"chatbotUserId"`
	SessionWebhook            string `json:"sessionWebhook"`
	SessionWebhookExpiredTime int64  `json:"sessionWebhookExpiredTime"`
}

// Config configures the DingTalk endpoints.
type Config struct {
	// WebhookURLs are the prefixes a sessionWebhook may have; default
	// https://oapi.dingtalk.com/. Anything else is not posted to.
	WebhookURLs []string
	bot.Platform
	// OpenAPIHost is where Stream mode asks for its connection; default
	// DingTalk's (https://api.dingtalk.com).
	OpenAPIHost string
}

// Handler serves DingTalk's callbacks for every installation.
type Handler struct {
	svc *bot.Service
	c   Config
}

// New returns the DingTalk endpoints over the bots' core.
func New(svc *bot.Service, c Config) *Handler {
	if len(c.WebhookURLs) == 0 {
		c.WebhookURLs = []string{"https://oapi.dingtalk.com/"}
	}
	c.Platform = c.Platform.WithDefaults()
	return &Handler{svc: svc, c: c}
}

// Register mounts the callback on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /bots/dingtalk/{appKey}/callback", h.Callback)
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, shifu.ErrUnauthorized):
		status = http.StatusUnauthorized
	case errors.Is(err, shifu.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, shifu.ErrUnavailable):
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusInternalServerError {
		h.svc.Logger().Error("dingtalk callback", "err", err)
	} else {
		h.svc.Logger().Warn("dingtalk callback refused", "status", status, "err", err)
	}
	msg := shifu.Message(err)
	if status == http.StatusUnauthorized {
		// One answer for every refusal, so a caller cannot tell an unknown
		// installation from a bad signature; the log has the reason.
		msg = "request not authenticated"
	}
	http.Error(w, msg, status)
}

// CreateWindow is how far a callback's createAt may be from its signed
// timestamp: DingTalk calls back as the message is created, so a body whose
// message is older or newer than its signature by more is not the one signed.
const CreateWindow = 5 * time.Minute

// Callback is POST /bots/dingtalk/{appKey}/callback. The signature covers only
// the timestamp, so the body is bound to it as far as it can be: the body's
// createAt must be within CreateWindow of the signed timestamp, its sender
// and conversation fields consistent (Message.check), and each signature is
// good for one msgId only (a capture replayed with another body is refused;
// the same message again is a redelivery, answered once by msgId).
func (h *Handler) Callback(w http.ResponseWriter, r *http.Request) {
	now := h.c.Now()
	ts, err := Timestamp(r.Header, now)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	in, err := h.svc.Authenticate(r.Context(), bot.DingTalk, r.PathValue("appKey"), func(in bot.Installation) error {
		return Verify(r.Header, in.Secret, now)
	})
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		http.Error(w, "cannot read request", http.StatusRequestEntityTooLarge)
		return
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "body is not a robot message", http.StatusBadRequest)
		return
	}
	if err := m.signedAt(ts); err != nil {
		h.refuse(w, r, err)
		return
	}
	if ok, err := h.svc.Bind(r.Context(), in, "sign:"+ts, m.MsgID); err != nil || !ok {
		if err == nil {
			err = shifu.Errorf(shifu.ErrUnauthorized, "signature of timestamp %s already used for another message: a replay", ts)
		}
		h.refuse(w, r, err)
		return
	}
	if err := h.Receive(r.Context(), in, m); err != nil {
		h.refuse(w, r, err)
		return
	}
	// An empty 200 acknowledges without a synchronous reply.
	w.WriteHeader(http.StatusOK)
}

// signedAt refuses a callback body that is not the message its signature was
// made for: a msgId, createAt within CreateWindow of the signed timestamp, a
// session webhook that expires after the message and within sessionLife of
// it, and the fields every robot message has (check).
func (m Message) signedAt(ts string) error {
	signed, _ := strconv.ParseInt(ts, 10, 64) // Timestamp parsed it
	if m.MsgID == "" {
		return shifu.Errorf(shifu.ErrInvalid, "robot message has no msgId")
	}
	if d := time.Duration(m.CreateAt-signed) * time.Millisecond; m.CreateAt <= 0 || d > CreateWindow || d < -CreateWindow {
		return shifu.Errorf(shifu.ErrUnauthorized, "createAt %d is more than %v from the signed timestamp %s", m.CreateAt, CreateWindow, ts)
	}
	if e := m.SessionWebhookExpiredTime; e != 0 && (e <= m.CreateAt || time.Duration(e-m.CreateAt)*time.Millisecond > sessionLife) {
		return shifu.Errorf(shifu.ErrUnauthorized, "sessionWebhookExpiredTime %d is not within %v after createAt %d", e, sessionLife, m.CreateAt)
	}
	return m.check()
}

// sessionLife bounds how long after createAt a session webhook may expire:
// DingTalk gives about 90 minutes.
const sessionLife = 3 * time.Hour

// check refuses a message without the fields every robot message has: a
// conversation of a known type and a sender.
func (m Message) check() error {
	switch {
	case m.MsgID == "":
		return shifu.Errorf(shifu.ErrInvalid, "robot message has no msgId")
	case m.ConversationType != "1" && m.ConversationType != "2":
		return shifu.Errorf(shifu.ErrInvalid, "robot message conversationType %q: DingTalk sends \"1\" (single chat) or \"2\" (group)", m.ConversationType)
	case m.ConversationID == "":
		return shifu.Errorf(shifu.ErrInvalid, "robot message has no conversationId")
	case m.SenderStaffID == "" && m.SenderID == "":
		return shifu.Errorf(shifu.ErrInvalid, "robot message names no sender (senderStaffId or senderId)")
	}
	return nil
}

// Receive takes a verified message (from the HTTP callback or a Stream
// frame): it is answered once, later, through its session webhook.
func (h *Handler) Receive(ctx context.Context, in bot.Installation, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	if m.MsgType != "text" {
		return nil // pictures, files, audio: nothing to ask
	}
	if !h.webhook(m.SessionWebhook) {
		return shifu.Errorf(shifu.ErrInvalid, "sessionWebhook is not a DingTalk address")
	}
	user := m.SenderStaffID
	if user == "" {
		user = m.SenderID
	}
	// A group chat has no threads: each member's questions there are their
	// own conversation, so follow-ups do not mix people's history.
	thread := m.ConversationID
	if m.ConversationType == "2" {
		thread += ":" + user
	}
	d := bot.Delivery{In: in, EventID: m.MsgID, User: user, UserName: m.SenderNick,
		Text: strings.TrimSpace(m.Text.Content), Thread: thread}
	if d.Text == "" {
		return nil
	}
	_, err := h.svc.Accept(ctx, d, func(ctx context.Context) { h.answer(ctx, d, m) })
	return err
}

func (h *Handler) webhook(u string) bool {
	for _, p := range h.c.WebhookURLs {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// answer asks and posts the answer before the session webhook expires,
// leaving the post a few seconds of the webhook's life.
func (h *Handler) answer(ctx context.Context, d bot.Delivery, m Message) {
	now := h.c.Now()
	expires := now.Add(24 * time.Hour)
	if m.SessionWebhookExpiredTime > 0 {
		expires = time.UnixMilli(m.SessionWebhookExpiredTime)
	}
	budget := min(h.c.AnswerTimeout, expires.Sub(now)-postMargin)
	if budget <= 0 {
		h.svc.Logger().Warn("dingtalk session webhook expires too soon to answer", "tenant", d.In.Tenant)
		return
	}
	actx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	var title, text string
	a, err := h.svc.Ask(actx, d)
	if err != nil {
		h.svc.Logger().Warn("dingtalk answer", "tenant", d.In.Tenant, "err", err)
		title, text = "Shifu", Escape(bot.Reply(d.Text, err))
	} else {
		title, text = Title(d.Text), Markdown(a, h.svc.PublicURL())
	}
	left := expires.Sub(h.c.Now())
	if left <= 0 {
		h.svc.Logger().Warn("dingtalk session webhook expired before the answer", "tenant", d.In.Tenant)
		return
	}
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), min(left, postMargin))
	defer pcancel()
	if err := h.post(pctx, m.SessionWebhook, title, text); err != nil {
		h.svc.Logger().Error("dingtalk reply", "tenant", d.In.Tenant, "err", err)
	}
}

// postMargin is the time kept for posting a reply before the webhook expires.
const postMargin = 10 * time.Second

// post sends a markdown message to a session webhook; its errors never
// spell the webhook (bot.Redact).
func (h *Handler) post(ctx context.Context, webhook, title, text string) error {
	return bot.Redact(h.send(ctx, webhook, title, text), webhook)
}

func (h *Handler) send(ctx context.Context, webhook, title, text string) error {
	body, err := json.Marshal(map[string]any{
		"msgtype":  "markdown",
		"markdown": map[string]string{"title": title, "text": text},
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.c.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("post to session webhook: %w", err)
	}
	defer resp.Body.Close()
	var r struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("session webhook: HTTP %d", resp.StatusCode)
	}
	if json.Unmarshal(raw, &r) == nil && r.ErrCode != 0 {
		return fmt.Errorf("session webhook: errcode %d: %s", r.ErrCode, r.ErrMsg)
	}
	return nil
}
