package main

import (
	"context"
	"log/slog"

	"github.com/shifu-factory/shifu/internal/answer"
	"github.com/shifu-factory/shifu/retrieval"
	"github.com/shifu-factory/shifu/web"
)

// asker builds the answer service the server, the API and the bots share.
// Without a configured model it still answers, degraded (quoted passages).
func (e *env) asker(ctx context.Context, log *slog.Logger) (web.Asker, error) {
	db, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	chat, err := e.chat()
	if err != nil {
		return nil, err
	}
	s, err := e.searcher(ctx, retrieval.Options{Chat: chat})
	if err != nil {
		return nil, err
	}
	return answer.New(db, s, chat, answer.Options{Logger: log}), nil
}
