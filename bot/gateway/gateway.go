// Package gateway puts Shifu's bots together: one plain net/http handler for
// every /bots/ route (Slack and DingTalk), over one shared core whose answer
// pool it owns. The web app mounts it; it knows nothing of the web framework.
package gateway

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/bot/dingtalk"
	"github.com/shifu-factory/shifu/bot/slack"
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
	platform := bot.Platform{HTTPClient: c.HTTPClient, Now: c.Now}
	g := &Gateway{
		Core:     core,
		Slack:    slack.New(core, slack.Config{APIURL: c.SlackAPIURL, HookURLs: hooks, Platform: platform}),
		DingTalk: dingtalk.New(core, dingtalk.Config{WebhookURLs: c.DingTalkWebhookURLs, OpenAPIHost: c.DingTalkAPIURL, Platform: platform}),
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

// connections lists, among the tenants' installations, those shifu serve
// connects itself (opened): the Slack teams that use Socket Mode (an
// app-level token in place of a signing secret, so Slack cannot reach them
// over HTTP), and, when dingtalkStream is set, every DingTalk app (an
// installation does not record the mode its app is set to; the operator
// says it for the server).
func (g *Gateway) connections(ctx context.Context, tenants []int64, dingtalkStream bool) ([]bot.Installation, error) {
	var out []bot.Installation
	for _, t := range tenants {
		bs, err := g.Core.Installations(ctx, t)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.Platform == bot.DingTalk && !dingtalkStream || b.Platform != bot.DingTalk && b.Platform != bot.Slack {
				continue
			}
			in, err := g.Core.Open(ctx, b)
			if err != nil {
				// One installation whose secret does not open must not
				// keep the server, or the other bots, from starting.
				g.Core.Logger().Error("bot installation", "platform", b.Platform, "id", b.ExternalID, "err", err)
				continue
			}
			if b.Platform == bot.DingTalk || slack.SocketMode(in) {
				out = append(out, in)
			}
		}
	}
	return out, nil
}

// Supervise runs the connections of the installations that need one (see
// connections), of the tenants that tenants returns, until ctx ends, and
// keeps them in step with the installations: it lists them again every
// interval, and at once after an installation is added or removed on the
// desk, then starts the new ones and stops those removed. An installation
// given new credentials is stopped and started anew. A failed listing is
// logged and the running connections kept. It returns when every connection
// has stopped.
func (g *Gateway) Supervise(ctx context.Context, tenants func(context.Context) ([]int64, error), dingtalkStream bool, every time.Duration) error {
	type conn struct {
		print string // the credentials' fingerprint: a change restarts the runner
		stop  context.CancelFunc
		done  chan struct{}
	}
	running := map[string]*conn{}
	stop := func(name string, c *conn) {
		c.stop()
		<-c.done
		delete(running, name)
	}
	defer func() {
		for name, c := range running {
			stop(name, c)
		}
	}()
	log := g.Core.Logger()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ids, err := tenants(ctx)
		var ins []bot.Installation
		if err == nil {
			ins, err = g.connections(ctx, ids, dingtalkStream)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			log.Error("bot connections: listing installations; keeping those running", "err", err)
		} else {
			want := map[string]bot.Installation{}
			for _, in := range ins {
				// Keyed by installation too: two tenants may install one team.
				want[in.Platform+":"+in.External+"#"+strconv.FormatInt(in.ID, 10)] = in
			}
			for name, c := range running {
				if in, ok := want[name]; !ok || fingerprint(in) != c.print {
					log.Info("bot disconnecting", "bot", name)
					stop(name, c)
				}
			}
			for name, in := range want {
				if running[name] != nil {
					continue
				}
				r, err := g.runner(in)
				if err != nil {
					log.Error("bot connection", "bot", name, "err", err)
					continue
				}
				rctx, cancel := context.WithCancel(ctx)
				c := &conn{print: fingerprint(in), stop: cancel, done: make(chan struct{})}
				running[name] = c
				log.Info("bot connecting", "bot", name)
				go func() {
					defer close(c.done)
					if err := r.Run(rctx); err != nil && rctx.Err() == nil {
						log.Error("bot connection stopped", "bot", name, "err", err)
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-g.Core.Changed():
		}
	}
}

// fingerprint hashes an installation's credentials, so a changed token is
// noticed without keeping or logging it.
func fingerprint(in bot.Installation) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00%s", in.ID, in.Secret, in.Token)
	return string(h.Sum(nil))
}

type runner interface{ Run(context.Context) error }

// runner is the connection of one installation: Socket Mode for Slack,
// Stream mode for DingTalk.
func (g *Gateway) runner(in bot.Installation) (runner, error) {
	if in.Platform == bot.Slack {
		return g.Slack.Socket(in)
	}
	return g.DingTalk.Stream(in), nil
}

// Connect runs Socket Mode for the named Slack teams and Stream mode for the
// named DingTalk app keys (installations that have no public URL), each
// reconnecting on its own, until ctx ends. The installations must exist
// (`shifu bot add …`); Slack ones need an app-level token. It returns when
// every runner has stopped.
func (g *Gateway) Connect(ctx context.Context, slackTeams, dingtalkApps []string) error {
	var rs []runner
	open := func(platform, id string) error {
		in, err := g.Core.Installation(ctx, platform, id)
		if err != nil {
			return fmt.Errorf("%s connection %s: %w", platform, id, err)
		}
		r, err := g.runner(in)
		if err == nil {
			rs = append(rs, r)
		}
		return err
	}
	for _, team := range slackTeams {
		if err := open(bot.Slack, team); err != nil {
			return err
		}
	}
	for _, app := range dingtalkApps {
		if err := open(bot.DingTalk, app); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { _ = r.Run(ctx) })
	}
	wg.Wait()
	return ctx.Err()
}
