// Package gateway puts Shifu's bots together: one plain net/http handler for
// every /bots/ route (Slack and DingTalk), over one shared core whose answer
// pool it owns. The web app mounts it; it knows nothing of the web framework.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shifu-factory/shifu/internal/bot"
	"github.com/shifu-factory/shifu/internal/bot/dingtalk"
	"github.com/shifu-factory/shifu/internal/bot/slack"
)

// Config is what the bots need beyond the database, keys and answer service.
type Config struct {
	PublicURL   string // SHIFU_PUBLIC_URL: citations link here, and only here
	SlackAPIURL string // SHIFU_SLACK_API_URL; "" for Slack itself
	// DingTalkAPIURL is where DingTalk Stream mode opens its connection
	// (SHIFU_DINGTALK_API_URL); "" for DingTalk itself.
	DingTalkAPIURL string
	// SlackHookURLs and DingTalkWebhookURLs widen where replies may be posted
	// (tests point them at fake servers); defaults are Slack's and DingTalk's.
	SlackHookURLs       []string
	DingTalkWebhookURLs []string
	Workers             int // answers in flight; default 8
	Backlog             int // deliveries waiting for a worker; default 64
	HTTPClient          *http.Client
	Now                 func() time.Time
	Logger              *slog.Logger
}

// Gateway is the bots' HTTP handler. Close it to drain answers in flight.
type Gateway struct {
	Core     *bot.Service
	Slack    *slack.Handler
	DingTalk *dingtalk.Handler
	mux      *http.ServeMux
}

// New wires the bots. When SlackAPIURL points somewhere other than Slack, its
// host is also accepted for slash commands' response_url, so a fake Slack can
// receive them.
func New(store bot.Store, keys bot.Keys, asker bot.Asker, c Config) *Gateway {
	core := bot.New(store, keys, asker, bot.Options{PublicURL: c.PublicURL, Workers: c.Workers, Backlog: c.Backlog, Logger: c.Logger})
	hooks := c.SlackHookURLs
	if c.SlackAPIURL != "" && len(hooks) == 0 {
		hooks = []string{"https://hooks.slack.com/"}
		if u, err := url.Parse(c.SlackAPIURL); err == nil && u.Host != "" && !strings.HasSuffix(u.Host, "slack.com") {
			hooks = append(hooks, u.Scheme+"://"+u.Host+"/")
		}
	}
	g := &Gateway{
		Core:     core,
		Slack:    slack.New(core, slack.Config{APIURL: c.SlackAPIURL, HookURLs: hooks, HTTPClient: c.HTTPClient, Now: c.Now}),
		DingTalk: dingtalk.New(core, dingtalk.Config{WebhookURLs: c.DingTalkWebhookURLs, HTTPClient: c.HTTPClient, Now: c.Now, OpenAPIHost: c.DingTalkAPIURL}),
		mux:      http.NewServeMux(),
	}
	g.Slack.Register(g.mux)
	g.DingTalk.Register(g.mux)
	return g
}

// ServeHTTP serves POST /bots/slack/{events,interactions,commands} and
// POST /bots/dingtalk/{appKey}/callback.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// Close stops taking messages and waits for answers in flight until ctx ends.
func (g *Gateway) Close(ctx context.Context) error { return g.Core.Close(ctx) }

// Connections lists what shifu serve connects itself, among the tenants'
// installations: the Slack teams that use Socket Mode (an app-level token in
// place of a signing secret, so Slack cannot reach them over HTTP), and,
// when dingtalkStream is set, every DingTalk app (an installation does not
// record the mode its app is set to; the operator says it for the server).
func (g *Gateway) Connections(ctx context.Context, tenants []int64, dingtalkStream bool) (slackTeams, dingtalkApps []string, err error) {
	for _, t := range tenants {
		bs, err := g.Core.Installations(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range bs {
			switch b.Platform {
			case bot.DingTalk:
				if dingtalkStream {
					dingtalkApps = append(dingtalkApps, b.ExternalID)
				}
			case bot.Slack:
				in, err := g.Core.Installation(ctx, bot.Slack, b.ExternalID)
				if err != nil {
					// One installation whose secret does not open must not
					// keep the server, or the other bots, from starting.
					g.Core.Logger().Error("slack installation", "team", b.ExternalID, "err", err)
					continue
				}
				if slack.SocketMode(in) {
					slackTeams = append(slackTeams, b.ExternalID)
				}
			}
		}
	}
	return slackTeams, dingtalkApps, nil
}

// Connect runs Socket Mode for the named Slack teams and Stream mode for the
// named DingTalk app keys (installations that have no public URL), each
// reconnecting on its own, until ctx ends. The installations must exist
// (`shifu bot add …`); Slack ones need an app-level token. It returns when
// every runner has stopped.
func (g *Gateway) Connect(ctx context.Context, slackTeams, dingtalkApps []string) error {
	type runner interface{ Run(context.Context) error }
	var rs []runner
	for _, team := range slackTeams {
		in, err := g.Core.Installation(ctx, bot.Slack, team)
		if err != nil {
			return fmt.Errorf("slack socket mode %s: %w", team, err)
		}
		s, err := g.Slack.Socket(in)
		if err != nil {
			return err
		}
		rs = append(rs, s)
	}
	for _, app := range dingtalkApps {
		in, err := g.Core.Installation(ctx, bot.DingTalk, app)
		if err != nil {
			return fmt.Errorf("dingtalk stream %s: %w", app, err)
		}
		rs = append(rs, g.DingTalk.Stream(in))
	}
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { _ = r.Run(ctx) })
	}
	wg.Wait()
	return ctx.Err()
}
