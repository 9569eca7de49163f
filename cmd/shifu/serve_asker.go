package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/retrieval"
	"github.com/shifu-factory/shifu/web"
)

// asker builds the answer service the server, the API and the bots share.
// Without a configured model it still answers, degraded (quoted passages).
func (e *env) asker(ctx context.Context, log *slog.Logger) (web.Asker, error) {
	return e.timedAsker(ctx, log, nil)
}

// timedAsker is asker timing its retrieval and model calls into m (nil: not timed).
func (e *env) timedAsker(ctx context.Context, log *slog.Logger, m *web.Metrics) (web.Asker, error) {
	db, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	chat, err := e.chat()
	if err != nil {
		return nil, err
	}
	if chat != nil && m != nil {
		chat = timedChat{Chat: chat, h: m.Model}
	}
	s, err := e.searcher(ctx, retrieval.Options{Chat: chat})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return answer.New(db, s, chat, answer.Options{Logger: log}), nil
	}
	return answer.New(db, timedSearch{s: s, h: m.Retrieval}, chat, answer.Options{Logger: log}), nil
}

// timedChat observes how long each model call takes.
type timedChat struct {
	llm.Chat
	h prometheus.Histogram
}

func (c timedChat) Complete(ctx context.Context, req llm.Request, onDelta func(string)) (llm.Reply, error) {
	start := time.Now()
	defer func() { c.h.Observe(time.Since(start).Seconds()) }()
	return c.Chat.Complete(ctx, req, onDelta)
}

// timedSearch observes how long each retrieval takes.
type timedSearch struct {
	s *retrieval.Searcher
	h prometheus.Histogram
}

func (t timedSearch) Retrieve(ctx context.Context, tenant int64, q retrieval.Query) (retrieval.Result, error) {
	start := time.Now()
	defer func() { t.h.Observe(time.Since(start).Seconds()) }()
	return t.s.Retrieve(ctx, tenant, q)
}
