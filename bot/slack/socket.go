package slack

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
)

// AppTokenPrefix starts an app-level token. An installation whose secret is
// one uses Socket Mode: the websocket is authenticated by the token, there is
// no signing secret, and its HTTP requests are refused.
const AppTokenPrefix = "xapp-"

// SocketMode reports whether the installation connects over Socket Mode.
func SocketMode(in bot.Installation) bool { return strings.HasPrefix(in.Secret, AppTokenPrefix) }

// Socket is Socket Mode for one installation, for factories without a public
// URL. Slack pushes the same envelopes as over HTTP through a websocket the
// app opens; each is acknowledged over it, then taken the same way.
type Socket struct {
	h    *Handler
	in   bot.Installation
	last atomic.Int64 // unix nanoseconds of the last envelope or connect
}

// Socket returns the Socket Mode runner of an installation whose secret is
// an app-level token (xapp-…).
func (h *Handler) Socket(in bot.Installation) (*Socket, error) {
	if !SocketMode(in) {
		return nil, shifu.Errorf(shifu.ErrInvalid, "slack installation %s has no app-level token (xapp-…): add it with --app-token for Socket Mode", in.External)
	}
	return &Socket{h: h, in: in}, nil
}

// SinceLastFrame is how long the connection has been quiet, for health checks.
func (s *Socket) SinceLastFrame() time.Duration {
	if n := s.last.Load(); n != 0 {
		return time.Since(time.Unix(0, n))
	}
	return 0
}

// Run keeps the connection up until ctx ends. slack-go reconnects when Slack
// asks it to; when connecting itself fails, Run retries with backoff.
func (s *Socket) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		api := slack.New(s.in.Token, slack.OptionAppLevelToken(s.in.Secret),
			slack.OptionAPIURL(s.h.c.APIURL), slack.OptionHTTPClient(s.h.c.HTTPClient))
		sm := socketmode.New(api)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- sm.RunContext(runCtx) }()
		err := s.loop(runCtx, sm, done)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.h.svc.Logger().Warn("slack socket mode", "team", s.in.External, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// loop reads the client's events until it stops. Events must be read for the
// client to make progress.
func (s *Socket) loop(ctx context.Context, sm *socketmode.Client, done <-chan error) error {
	for {
		select {
		case err := <-done:
			return err
		case evt, ok := <-sm.Events:
			if !ok {
				return <-done
			}
			s.handle(ctx, sm, evt)
		}
	}
}

func (s *Socket) handle(ctx context.Context, sm *socketmode.Client, evt socketmode.Event) {
	if evt.Type == socketmode.EventTypeConnected {
		s.last.Store(time.Now().UnixNano())
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	s.last.Store(time.Now().UnixNano())
	var ack map[string]string
	var err error
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		var env envelope
		if err = json.Unmarshal(evt.Request.Payload, &env); err == nil {
			err = s.mine(env.TeamID)
		}
		if err == nil {
			err = s.h.event(ctx, s.in, env)
		}
	case socketmode.EventTypeSlashCommand:
		var c Command
		if err = json.Unmarshal(evt.Request.Payload, &c); err == nil {
			err = s.mine(c.TeamID)
		}
		if err == nil {
			ack, err = s.h.command(ctx, s.in, c)
		}
	case socketmode.EventTypeInteractive:
		cb, _ := evt.Data.(slack.InteractionCallback)
		if err = s.mine(cb.Team.ID); err == nil {
			err = s.h.interaction(ctx, s.in, cb)
		}
	}
	if err != nil {
		s.h.svc.Logger().Warn("slack socket mode envelope", "team", s.in.External, "type", evt.Type, "err", err)
	}
	// Acknowledge even a refused envelope, so Slack does not redeliver it;
	// a busy one is left unacknowledged and is redelivered.
	if errors.Is(err, shifu.ErrUnavailable) {
		return
	}
	var payload any // an untyped nil, so no payload is sent
	if ack != nil {
		payload = ack
	}
	if err := sm.AckCtx(ctx, evt.Request.EnvelopeID, payload); err != nil {
		s.h.svc.Logger().Warn("slack socket mode ack", "team", s.in.External, "err", err)
	}
}

// mine refuses an envelope for another team than the connection's.
func (s *Socket) mine(team string) error {
	if team != "" && team != s.in.External {
		return shifu.Errorf(shifu.ErrUnauthorized, "envelope for team %s on %s's connection", team, s.in.External)
	}
	return nil
}
