// Package slack is Shifu's Slack app: the Events API, interactivity and slash
// command endpoints (each request's signature checked with the secret of the
// installation its team id names, before anything else is done), answers
// posted in the thread with Block Kit, and Socket Mode for factories without
// a public URL.
package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
)

// MaxBody is the largest request Slack sends us that we read.
const MaxBody = 1 << 20

// postTimeout bounds posting one message to Slack.
const postTimeout = 15 * time.Second

// Config configures the Slack endpoints.
type Config struct {
	// APIURL is Slack's Web API base (SHIFU_SLACK_API_URL), ending in "/";
	// default https://slack.com/api/.
	APIURL string
	// HookURLs are the prefixes a slash command's response_url may have;
	// default https://hooks.slack.com/. Anything else is not posted to.
	HookURLs []string
	bot.Platform
}

// Handler serves Slack's requests for every installation.
type Handler struct {
	svc *bot.Service
	c   Config
}

// New returns the Slack endpoints over the bots' core.
func New(svc *bot.Service, c Config) *Handler {
	if c.APIURL == "" {
		c.APIURL = slack.APIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if len(c.HookURLs) == 0 {
		c.HookURLs = []string{"https://hooks.slack.com/"}
	}
	c.Platform = c.Platform.WithDefaults()
	return &Handler{svc: svc, c: c}
}

// Register mounts the endpoints on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /bots/slack/events", h.Events)
	mux.HandleFunc("POST /bots/slack/interactions", h.Interactions)
	mux.HandleFunc("POST /bots/slack/commands", h.Commands)
}

// read reads the raw body, size-limited: the signature covers its bytes.
func read(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read request", http.StatusBadRequest)
		}
		return nil, false
	}
	return body, true
}

// authenticate refuses a stale request before looking anything up, then finds
// the installation of team whose secret verifies the signature.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, body []byte, team string) (bot.Installation, bool) {
	now := h.c.Now()
	if _, err := Timestamp(r.Header, now); err != nil {
		h.refuse(w, r, err)
		return bot.Installation{}, false
	}
	in, err := h.svc.Authenticate(r.Context(), bot.Slack, team, func(in bot.Installation) error {
		if SocketMode(in) {
			return shifu.Errorf(shifu.ErrUnauthorized, "this Slack installation uses Socket Mode, not HTTP")
		}
		return Verify(r.Header, body, in.Secret, now)
	})
	if err != nil {
		h.refuse(w, r, err)
		return in, false
	}
	return in, true
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
		h.svc.Logger().Error("slack request", "path", r.URL.Path, "err", err)
	} else {
		h.svc.Logger().Warn("slack request refused", "path", r.URL.Path, "status", status, "err", err)
	}
	msg := shifu.Message(err)
	if status == http.StatusUnauthorized {
		// One answer for every refusal, so a caller cannot tell an unknown
		// installation from a bad signature; the log has the reason.
		msg = "request not authenticated"
	}
	http.Error(w, msg, status)
}

// envelope is the outer Events API body.
type envelope struct {
	Type           string          `json:"type"`
	Challenge      string          `json:"challenge"`
	TeamID         string          `json:"team_id"`
	EventID        string          `json:"event_id"`
	Event          json.RawMessage `json:"event"`
	Authorizations []struct {
		UserID string `json:"user_id"`
		IsBot  bool   `json:"is_bot"`
	} `json:"authorizations"`
}

// event is the inner event: an app_mention or a message.
type event struct {
	Type        string `json:"type"`
	SubType     string `json:"subtype"`
	User        string `json:"user"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	ThreadTS    string `json:"thread_ts"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type"`
}

var challengeRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,200}$`)

// Events is POST /bots/slack/events.
func (h *Handler) Events(w http.ResponseWriter, r *http.Request) {
	body, ok := read(w, r)
	if !ok {
		return
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "body is not an Events API JSON object", http.StatusBadRequest)
		return
	}
	if env.Type == "url_verification" {
		h.verifyURL(w, r, body, env)
		return
	}
	in, ok := h.authenticate(w, r, body, env.TeamID)
	if !ok {
		return
	}
	if err := h.event(r.Context(), in, env); err != nil {
		h.refuse(w, r, err)
		return
	}
	// Acknowledged at once; the answer follows from the pool.
	w.WriteHeader(http.StatusOK)
}

// event takes an authenticated Events API envelope (HTTP or Socket Mode):
// mentions and direct messages are answered once, later; the rest ignored.
func (h *Handler) event(ctx context.Context, in bot.Installation, env envelope) error {
	if env.Type != "event_callback" || env.EventID == "" {
		return nil
	}
	var ev event
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		return shifu.Errorf(shifu.ErrInvalid, "event is not a JSON object")
	}
	self := map[string]bool{}
	for _, a := range env.Authorizations {
		if a.IsBot {
			self[a.UserID] = true
		}
	}
	if !wanted(ev, self) {
		return nil
	}
	thread := ev.ThreadTS
	if thread == "" {
		thread = ev.TS
	}
	d := bot.Delivery{In: in, EventID: env.EventID, User: ev.User, Text: question(ev.Text),
		Thread: threadID(in.External, ev.Channel, thread)}
	if d.Text == "" {
		return nil
	}
	_, err := h.svc.Accept(ctx, d, func(ctx context.Context) { h.answer(ctx, d, ev.Channel, thread) })
	return err
}

// verifyURL answers Slack's url_verification. Its body names no team, so when
// the Request URL carries ?team=T… the signature is checked with that team's
// secret; without it the challenge (a plain token) is echoed and nothing else
// happens, which tells a caller nothing and changes nothing.
func (h *Handler) verifyURL(w http.ResponseWriter, r *http.Request, body []byte, env envelope) {
	if team := r.URL.Query().Get("team"); team != "" {
		if _, ok := h.authenticate(w, r, body, team); !ok {
			return
		}
	}
	if !challengeRE.MatchString(env.Challenge) {
		http.Error(w, "malformed challenge", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, env.Challenge)
}

// wanted says whether Shifu answers ev: mentions, and direct messages from
// people (not bots, not edits, joins or other subtypes, not itself).
func wanted(ev event, self map[string]bool) bool {
	if ev.BotID != "" || ev.User == "" || self[ev.User] || ev.Channel == "" {
		return false
	}
	switch ev.Type {
	case "app_mention":
		return ev.SubType == ""
	case "message":
		return ev.ChannelType == "im" && ev.SubType == ""
	}
	return false
}

// threadID is a Slack thread as its conversation records it
// (shifu.Question.External): team, channel and the thread's first ts.
func threadID(team, channel, ts string) string { return team + ":" + channel + ":" + ts }

// Thread reads a conversation's External back into team, channel and
// thread ts; false for anything else, such as a slash command's (which
// has no thread to post in).
func Thread(external string) (team, channel, ts string, ok bool) {
	p := strings.Split(external, ":")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return "", "", "", false
	}
	return p[0], p[1], p[2], true
}

var mentionRE = regexp.MustCompile(`<@[A-Z0-9]+(?:\|[^>]*)?>`)

// question is the message text without the bot's mention.
func question(text string) string {
	return strings.TrimSpace(mentionRE.ReplaceAllString(text, " "))
}

func (h *Handler) client(in bot.Installation) *slack.Client {
	return slack.New(in.Token, slack.OptionAPIURL(h.c.APIURL), slack.OptionHTTPClient(h.c.HTTPClient))
}

// answer asks and posts the answer in the thread.
func (h *Handler) answer(ctx context.Context, d bot.Delivery, channel, thread string) {
	ctx, cancel := context.WithTimeout(ctx, h.c.AnswerTimeout)
	defer cancel()
	opts := []slack.MsgOption{slack.MsgOptionTS(thread), slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl()}
	a, err := h.svc.Ask(ctx, d)
	if err != nil {
		h.svc.Logger().Warn("slack answer", "tenant", d.In.Tenant, "err", err)
		opts = append(opts, slack.MsgOptionText(Escape(bot.Reply(d.Text, err)), false))
	} else {
		opts = append(opts, slack.MsgOptionText(Fallback(a), false), slack.MsgOptionBlocks(Blocks(a, h.svc.PublicURL())...))
	}
	// Posting gets its own time: an answer that used up its budget, or a
	// shutdown, still leaves room to say so in the thread.
	if err := h.post(context.WithoutCancel(ctx), d.In, channel, opts...); err != nil {
		h.svc.Logger().Error("slack chat.postMessage", "tenant", d.In.Tenant, "err", err)
	}
}

// post is chat.postMessage with the installation's bot token, within
// postTimeout. Its errors name Slack's reason, never the token (sent in
// the body, not the URL).
func (h *Handler) post(ctx context.Context, in bot.Installation, channel string, opts ...slack.MsgOption) error {
	ctx, cancel := context.WithTimeout(ctx, postTimeout)
	defer cancel()
	_, _, err := h.client(in).PostMessageContext(ctx, channel, opts...)
	return err
}

// Post says text (mrkdwn, made safe by the caller: Escape) in a thread of
// the installation's workspace, unfurling nothing.
func (h *Handler) Post(ctx context.Context, in bot.Installation, channel, thread, text string) error {
	return h.post(ctx, in, channel, slack.MsgOptionTS(thread), slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(), slack.MsgOptionText(text, false))
}

// Retryable says whether a failed post may succeed later: a rate limit, a
// server error, no answer; not what Slack refused for good (a revoked token,
// a channel the bot left or that was archived, a deleted thread).
func Retryable(err error) bool {
	var api slack.SlackErrorResponse
	if errors.As(err, &api) {
		switch api.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return true
		}
		return false
	}
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		return status.Retryable()
	}
	return true
}

// Commands is POST /bots/slack/commands: `/shifu QUESTION`.
func (h *Handler) Commands(w http.ResponseWriter, r *http.Request) {
	body, ok := read(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "body is not form-encoded", http.StatusBadRequest)
		return
	}
	in, ok := h.authenticate(w, r, body, form.Get("team_id"))
	if !ok {
		return
	}
	c := Command{TeamID: form.Get("team_id"), ChannelID: form.Get("channel_id"), UserID: form.Get("user_id"),
		UserName: form.Get("user_name"), Command: form.Get("command"), Text: form.Get("text"),
		ResponseURL: form.Get("response_url"), TriggerID: form.Get("trigger_id")}
	if c.TriggerID == "" {
		c.TriggerID = Sign(in.Secret, r.Header.Get("X-Slack-Request-Timestamp"), body)
	}
	ack, err := h.command(r.Context(), in, c)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ack)
}

// Command is a slash command's fields, as form values (HTTP) or JSON (Socket Mode).
type Command struct {
	TeamID      string `json:"team_id"`
	ChannelID   string `json:"channel_id"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	ResponseURL string `json:"response_url"`
	TriggerID   string `json:"trigger_id"`
}

// command takes an authenticated slash command and returns the immediate
// acknowledgement; the answer follows through response_url.
func (h *Handler) command(ctx context.Context, in bot.Installation, c Command) (map[string]string, error) {
	text := strings.TrimSpace(c.Text)
	if text == "" {
		return map[string]string{"response_type": "ephemeral",
			"text": "Ask a question about your manuals, e.g. `" + Escape(c.Command) + " how do I reset the spindle alarm?`"}, nil
	}
	if !h.hook(c.ResponseURL) {
		return nil, shifu.Errorf(shifu.ErrInvalid, "response_url is not a Slack hook")
	}
	d := bot.Delivery{In: in, EventID: "command:" + c.TriggerID, User: c.UserID, UserName: c.UserName,
		// Each slash command stands alone: no thread to follow up in.
		Text: text, Thread: in.External + ":" + c.ChannelID + ":command:" + c.TriggerID}
	if _, err := h.svc.Accept(ctx, d, func(ctx context.Context) { h.respond(ctx, d, c.ResponseURL) }); err != nil {
		return nil, err
	}
	// in_channel shows the question to the channel; the answer follows.
	return map[string]string{"response_type": "in_channel"}, nil
}

func (h *Handler) hook(u string) bool {
	for _, p := range h.c.HookURLs {
		if strings.HasPrefix(u, p) {
			return true
		}
	}
	return false
}

// respond answers a slash command through its response_url.
func (h *Handler) respond(ctx context.Context, d bot.Delivery, respURL string) {
	ctx, cancel := context.WithTimeout(ctx, h.c.AnswerTimeout)
	defer cancel()
	msg := &slack.WebhookMessage{ResponseType: slack.ResponseTypeInChannel}
	no := false
	msg.UnfurlLinks, msg.UnfurlMedia = &no, &no
	a, err := h.svc.Ask(ctx, d)
	if err != nil {
		h.svc.Logger().Warn("slack command answer", "tenant", d.In.Tenant, "err", err)
		msg.ResponseType, msg.Text = slack.ResponseTypeEphemeral, Escape(bot.Reply(d.Text, err))
	} else {
		msg.Text = Fallback(a)
		msg.Blocks = &slack.Blocks{BlockSet: Blocks(a, h.svc.PublicURL())}
	}
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), postTimeout)
	defer pcancel()
	if err := slack.PostWebhookCustomHTTPContext(pctx, respURL, h.c.HTTPClient, msg); err != nil {
		h.svc.Logger().Error("slack response_url", "tenant", d.In.Tenant, "err", bot.Redact(err, respURL))
	}
}

// Interactions is POST /bots/slack/interactions: the feedback buttons.
func (h *Handler) Interactions(w http.ResponseWriter, r *http.Request) {
	body, ok := read(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "body is not form-encoded", http.StatusBadRequest)
		return
	}
	var cb slack.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "payload is not an interaction JSON object", http.StatusBadRequest)
		return
	}
	in, ok := h.authenticate(w, r, body, cb.Team.ID)
	if !ok {
		return
	}
	if err := h.interaction(r.Context(), in, cb); err != nil {
		h.refuse(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// interaction records the feedback buttons' ratings of an authenticated
// interaction. Recording a rating is one short transaction, done before the ack.
func (h *Handler) interaction(ctx context.Context, in bot.Installation, cb slack.InteractionCallback) error {
	for _, a := range cb.ActionCallback.BlockActions {
		rating := map[string]int{ActionUp: 1, ActionDown: -1}[a.ActionID]
		if rating == 0 {
			continue
		}
		id, err := strconv.ParseInt(a.Value, 10, 64)
		if err != nil || id <= 0 {
			return shifu.Errorf(shifu.ErrInvalid, "feedback button value is not a message id")
		}
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = h.svc.Feedback(fctx, in, cb.User.ID, cb.User.Name, id, rating)
		cancel()
		if errors.Is(err, shifu.ErrNotFound) {
			// Another tenant's message id, or a deleted one: nothing to rate.
			h.svc.Logger().Warn("slack feedback", "tenant", in.Tenant, "err", err)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
