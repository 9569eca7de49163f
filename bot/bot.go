// Package bot is what Shifu's Slack and DingTalk bots share: finding the
// installation (and so the tenant) an incoming message belongs to, opening its
// sealed secrets, mapping chat users to Shifu users, answering each delivery
// once, and a bounded pool that answers after the platform has been
// acknowledged. The platforms live in bot/slack and bot/dingtalk.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/admit"
	"github.com/shifu-factory/shifu/internal/i18n"
	"github.com/shifu-factory/shifu/internal/keyring"
)

// Platforms.
const (
	Slack    = "slack"
	DingTalk = "dingtalk"
)

// Asker answers a question: the answer service, as the web chat uses it.
type Asker interface {
	Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error)
}

// Store is the part of the database the bots use.
type Store interface {
	AddBot(ctx context.Context, tenant int64, b shifu.Bot, by shifu.Actor) (shifu.Bot, error)
	Bots(ctx context.Context, tenant int64) ([]shifu.Bot, error)
	RemoveBot(ctx context.Context, tenant int64, platform, externalID string, by shifu.Actor) error
	FindBots(ctx context.Context, platform, externalID string) ([]shifu.Bot, error)
	FirstBotEvent(ctx context.Context, tenant int64, platform, eventID string) (bool, error)
	BindBotEvent(ctx context.Context, tenant int64, platform, eventID, value string) (string, error)
	BotUser(ctx context.Context, tenant int64, external, name string) (shifu.User, error)
	AddFeedback(ctx context.Context, tenant int64, f shifu.Feedback) error
}

// Keys hands out tenants' data keys (a *keyring.Ring).
type Keys interface {
	TenantKey(ctx context.Context, tenant int64) (*keyring.Key, error)
}

// Installation is a bot installation with its secrets opened.
type Installation struct {
	ID       int64
	Tenant   int64
	Platform string
	External string // Slack team id, DingTalk app key
	Secret   string // Slack signing secret, DingTalk app secret
	Token    string // Slack bot token
}

// sealContext binds a sealed secret to its installation, so a sealed value
// copied to another row does not open.
func sealContext(platform, external, what string) string {
	return "bot:" + platform + ":" + external + ":" + what
}

// Service is the bots' shared core. It owns the answer pool: Close it.
type Service struct {
	store  Store
	keys   Keys
	asker  Asker
	pool   *Pool
	log    *slog.Logger
	public string
	// changed has a value after an installation is added or removed in this
	// process, so connections follow without waiting for the next listing.
	changed chan struct{}
}

// Options configure a Service.
type Options struct {
	PublicURL string // SHIFU_PUBLIC_URL: the only site bot messages may link to
	Workers   int    // answers in flight at once; default 8
	Backlog   int    // further deliveries waiting for a worker; default 64
	Logger    *slog.Logger
}

// Platform is what every platform's handler (slack, dingtalk) is given
// alike by its wiring.
type Platform struct {
	// HTTPClient posts to the platform; default one with a 20 s timeout.
	HTTPClient *http.Client
	// Now is the clock signatures and expiry are checked against; default
	// time.Now.
	Now func() time.Time
	// AnswerTimeout bounds one answer; default 2 minutes.
	AnswerTimeout time.Duration
}

// WithDefaults is p with its zero fields set to their defaults.
func (p Platform) WithDefaults() Platform {
	if p.HTTPClient == nil {
		p.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.AnswerTimeout <= 0 {
		p.AnswerTimeout = 2 * time.Minute
	}
	return p
}

// New returns the bots' core. Close stops it.
func New(store Store, keys Keys, asker Asker, o Options) *Service {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Backlog < 0 {
		o.Backlog = 0
	} else if o.Backlog == 0 {
		o.Backlog = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{store: store, keys: keys, asker: asker, log: o.Logger,
		pool: NewPool(o.Workers, o.Backlog), public: o.PublicURL, changed: make(chan struct{}, 1)}
}

// Changed receives after an installation was added or removed through this
// Service (the desk, in shifu serve). Others (`shifu bot add` in another
// process) are seen only by listing again.
func (s *Service) Changed() <-chan struct{} { return s.changed }

func (s *Service) notify() {
	select {
	case s.changed <- struct{}{}:
	default: // one pending signal covers any number of changes
	}
}

// Close stops taking deliveries and waits for answers in flight until ctx ends,
// then cancels them.
func (s *Service) Close(ctx context.Context) error { return s.pool.Close(ctx) }

// Logger is the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// PublicURL is the web app's address, for links in answers.
func (s *Service) PublicURL() string { return s.public }

// Install checks the credentials (Credentials.Check), seals the secrets and
// stores a new installation for the tenant, audited as by.
func (s *Service) Install(ctx context.Context, tenant int64, c Credentials, by shifu.Actor) (shifu.Bot, error) {
	if err := c.Check(); err != nil {
		return shifu.Bot{}, err
	}
	platform, external, secret, token := c.Platform, c.External, c.Secret, c.Token
	k, err := s.keys.TenantKey(ctx, tenant)
	if err != nil {
		return shifu.Bot{}, err
	}
	b := shifu.Bot{Platform: platform, ExternalID: external}
	if b.Secret, err = k.Seal([]byte(secret), sealContext(platform, external, "secret")); err != nil {
		return b, err
	}
	if token != "" {
		if b.Token, err = k.Seal([]byte(token), sealContext(platform, external, "token")); err != nil {
			return b, err
		}
	}
	b, err = s.store.AddBot(ctx, tenant, b, by)
	if err == nil {
		s.notify()
	}
	return b, err
}

// Installations lists the tenant's bots (secrets stay sealed).
func (s *Service) Installations(ctx context.Context, tenant int64) ([]shifu.Bot, error) {
	return s.store.Bots(ctx, tenant)
}

// Uninstall removes an installation, audited as by.
func (s *Service) Uninstall(ctx context.Context, tenant int64, platform, external string, by shifu.Actor) error {
	err := s.store.RemoveBot(ctx, tenant, platform, external, by)
	if err == nil {
		s.notify()
	}
	return err
}

// Installation finds the one installation of a team or app and opens its
// secrets, for a connection named by its id alone (`shifu bot connect`). An
// unknown team or app is ErrUnauthorized; one installed by several tenants is
// ErrConflict (deliveries tell those apart with Authenticate).
func (s *Service) Installation(ctx context.Context, platform, external string) (Installation, error) {
	if external == "" {
		return Installation{}, shifu.Errorf(shifu.ErrUnauthorized, "the %s request names no installation", platform)
	}
	bs, err := s.store.FindBots(ctx, platform, external)
	if err != nil {
		return Installation{}, err
	}
	if len(bs) > 1 {
		return Installation{}, shifu.Errorf(shifu.ErrConflict, "%s %q is installed in %d tenants; its connection is made for each by shifu serve", platform, external, len(bs))
	}
	return s.Open(ctx, bs[0])
}

// Authenticate finds the installation a delivery comes from: among the
// tenants' installations of the team or app (oldest first), the first whose
// opened secrets pass check (the platform's signature check). So a tenant that
// installs another's team or app with a secret of its own gets none of its
// deliveries, and tenants sharing a secret (one app installed twice) get them
// in the first installation. No match is ErrUnauthorized, with the first
// candidate's reason for the log; the caller answers every refusal alike.
func (s *Service) Authenticate(ctx context.Context, platform, external string, check func(Installation) error) (Installation, error) {
	if external == "" {
		return Installation{}, shifu.Errorf(shifu.ErrUnauthorized, "the %s request names no installation", platform)
	}
	bs, err := s.store.FindBots(ctx, platform, external)
	if err != nil {
		return Installation{}, err
	}
	var first error
	for _, b := range bs {
		in, err := s.Open(ctx, b)
		if err == nil {
			if err = check(in); err == nil {
				return in, nil
			}
		}
		if first == nil {
			first = err
		}
	}
	if !errors.Is(first, shifu.ErrUnauthorized) {
		// A secret that does not open is the server's problem, logged as
		// such, but the caller is still refused as unauthenticated.
		s.log.Error("bot installation", "platform", platform, "err", first)
		first = shifu.Errorf(shifu.ErrUnauthorized, "no %s installation verified the request", platform)
	}
	return Installation{}, first
}

// Open opens a stored installation's secrets.
func (s *Service) Open(ctx context.Context, b shifu.Bot) (Installation, error) {
	k, err := s.keys.TenantKey(ctx, b.TenantID)
	if err != nil {
		return Installation{}, err
	}
	in := Installation{ID: b.ID, Tenant: b.TenantID, Platform: b.Platform, External: b.ExternalID}
	sec, err := k.Open(b.Secret, sealContext(b.Platform, b.ExternalID, "secret"))
	if err != nil {
		return in, fmt.Errorf("bot %d: %w", b.ID, err)
	}
	in.Secret = string(sec)
	if len(b.Token) > 0 {
		tok, err := k.Open(b.Token, sealContext(b.Platform, b.ExternalID, "token"))
		if err != nil {
			return in, fmt.Errorf("bot %d: %w", b.ID, err)
		}
		in.Token = string(tok)
	}
	return in, nil
}

// Delivery is one incoming message that passed its platform's signature check.
type Delivery struct {
	In       Installation
	EventID  string // platform's id of this delivery, for answering it once
	User     string // platform's user id, unique within the installation
	UserName string
	Text     string
	Thread   string // the conversation's thread on the platform (shifu.Question.External)
}

// Accept records the delivery and hands run to the pool. It returns false,
// nil for a delivery already seen (a retry or a replay: ignore it), and
// ErrUnavailable when every worker and backlog slot is taken (tell the
// platform to retry later: the slot is taken before the delivery is recorded,
// so the retry is answered).
func (s *Service) Accept(ctx context.Context, d Delivery, run func(ctx context.Context)) (bool, error) {
	slot, ok := s.pool.Reserve()
	if !ok {
		return false, shifu.Errorf(shifu.ErrUnavailable, "Shifu is busy; try again in a minute")
	}
	first, err := s.store.FirstBotEvent(ctx, d.In.Tenant, d.In.Platform, d.EventID)
	if err != nil || !first {
		slot.Cancel()
		return false, err
	}
	slot.Go(run)
	return true, nil
}

// Bind ties a one-use credential of a delivery (key: DingTalk's signed
// timestamp) to the delivery's id: true the first time, and for the same
// delivery again (a redelivery, which Accept then drops); false when key came
// before with another delivery (a replay with a changed body).
func (s *Service) Bind(ctx context.Context, in Installation, key, eventID string) (bool, error) {
	// Its own namespace, so no delivery id can take a key's place.
	bound, err := s.store.BindBotEvent(ctx, in.Tenant, in.Platform+":bind", key, eventID)
	return err == nil && bound == eventID, err
}

// Ask maps the chat user to a Shifu user of the installation's tenant and asks.
func (s *Service) Ask(ctx context.Context, d Delivery) (shifu.Answer, error) {
	if d.User == "" {
		return shifu.Answer{}, shifu.Errorf(shifu.ErrInvalid, "the message names no sender")
	}
	u, err := s.store.BotUser(ctx, d.In.Tenant, d.In.Platform+":"+d.In.External+":"+d.User, d.UserName)
	if err != nil {
		return shifu.Answer{}, err
	}
	return s.asker.Ask(ctx, shifu.Question{
		Tenant: d.In.Tenant, UserID: u.ID, Text: d.Text,
		Channel: d.In.Platform, External: d.Thread,
	}, nil)
}

// Feedback records a chat user's rating of an answer.
func (s *Service) Feedback(ctx context.Context, in Installation, user, userName string, messageID int64, rating int) error {
	u, err := s.store.BotUser(ctx, in.Tenant, in.Platform+":"+in.External+":"+user, userName)
	if err != nil {
		return err
	}
	return s.store.AddFeedback(ctx, in.Tenant, shifu.Feedback{MessageID: messageID, UserID: u.ID, Rating: rating})
}

// Reply is what a bot says back when asking question failed, in the
// question's language: the client-safe message, never internal detail.
func Reply(question string, err error) string {
	lang := shifu.Lang(question)
	switch {
	case errors.Is(err, admit.ErrBusy):
		return i18n.Text(lang, "bot.busy")
	case errors.Is(err, shifu.ErrUnavailable):
		return i18n.Text(lang, "bot.unavailable")
	case errors.Is(err, context.DeadlineExceeded):
		return i18n.Text(lang, "bot.timeout")
	}
	return i18n.Text(lang, "bot.failed") + i18n.Error(lang, err)
}
