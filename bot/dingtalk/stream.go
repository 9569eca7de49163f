package dingtalk

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"

	"github.com/open-dingtalk/dingtalk-stream-sdk-go/chatbot"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/client"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/payload"
	"github.com/open-dingtalk/dingtalk-stream-sdk-go/utils"

	"github.com/shifu-factory/shifu/bot"
)

// Stream is DingTalk Stream mode for one installation, for factories without
// a public URL: the official SDK's websocket client, supervised. The SDK's
// own reconnect loop runs on a background context nobody can stop, so it is
// off; instead Run starts a fresh client whenever the connection is told to
// go (disconnect frame), falls silent (connections are reported to go quiet
// after a day or two), or has lived for Recycle.
type Stream struct {
	h  *Handler
	in bot.Installation
	// Silence is how long without any frame (DingTalk pings regularly) before
	// the connection is replaced; default 5 minutes.
	Silence time.Duration
	// Recycle replaces even a healthy connection this often; default 12 h.
	Recycle time.Duration

	last atomic.Int64 // unix nanoseconds of the last frame
}

// Stream returns the Stream-mode runner for an installation (from
// bot.Service.Installation).
func (h *Handler) Stream(in bot.Installation) *Stream {
	return &Stream{h: h, in: in, Silence: 5 * time.Minute, Recycle: 12 * time.Hour}
}

// SinceLastFrame is how long the connection has been quiet, for health checks.
func (s *Stream) SinceLastFrame() time.Duration {
	n := s.last.Load()
	if n == 0 {
		return 0
	}
	return time.Since(time.Unix(0, n))
}

func (s *Stream) touch() { s.last.Store(time.Now().UnixNano()) }

// OnMessage is the chatbot callback: the frame's message takes the same path
// as an HTTP callback (deduplicated on msgId, answered through its session
// webhook). The frame is acknowledged with no synchronous reply.
func (s *Stream) OnMessage(ctx context.Context, data *chatbot.BotCallbackDataModel) ([]byte, error) {
	s.touch()
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	var m Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if err := s.h.Receive(ctx, s.in, m); err != nil {
		s.h.svc.Logger().Warn("dingtalk stream message", "app", s.in.External, "err", err)
		return nil, err
	}
	return []byte{}, nil
}

// Run keeps a connection up until ctx ends.
func (s *Stream) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		gone := make(chan struct{}, 1)
		opts := []client.ClientOption{
			client.WithAppCredential(client.NewAppCredentialConfig(s.in.External, s.in.Secret)),
			client.WithAutoReconnect(false),
		}
		if s.h.c.OpenAPIHost != "" {
			opts = append(opts, client.WithOpenApiHost(s.h.c.OpenAPIHost))
		}
		cli := client.NewStreamClient(opts...)
		cli.RegisterChatBotCallbackRouter(s.OnMessage)
		cli.RegisterRouter(utils.SubscriptionTypeKSystem, "ping", func(c context.Context, df *payload.DataFrame) (*payload.DataFrameResponse, error) {
			s.touch()
			return cli.OnPing(c, df)
		})
		cli.RegisterRouter(utils.SubscriptionTypeKSystem, "disconnect", func(c context.Context, df *payload.DataFrame) (*payload.DataFrameResponse, error) {
			select {
			case gone <- struct{}{}:
			default:
			}
			return cli.OnDisconnect(c, df)
		})
		if err := cli.Start(ctx); err != nil {
			s.h.svc.Logger().Warn("dingtalk stream connect", "app", s.in.External, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		s.touch()
		s.supervise(ctx, gone)
		cli.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// supervise returns when the connection should be replaced or ctx ends.
func (s *Stream) supervise(ctx context.Context, gone <-chan struct{}) {
	born := time.Now()
	tick := time.NewTicker(min(s.Silence/4, 30*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gone:
			s.h.svc.Logger().Info("dingtalk stream: server asked to reconnect", "app", s.in.External)
			return
		case <-tick.C:
			if q := s.SinceLastFrame(); q > s.Silence {
				s.h.svc.Logger().Warn("dingtalk stream silent; reconnecting", "app", s.in.External, "quiet", q)
				return
			}
			if time.Since(born) > s.Recycle {
				return
			}
		}
	}
}
