package retrieval

import (
	"context"
	"strings"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/model"
	"github.com/shifu-factory/shifu/prompts"
)

// rewriteTimeout bounds the model call that rewrites a question: search
// without rewrites is better than search that waits.
const rewriteTimeout = 8 * time.Second

// maxHistory is how many earlier turns a rewrite sees.
const maxHistory = 6

// rewrite asks the chat model for self-contained English and Chinese versions
// of the question (a follow-up resolved against the conversation; a Chinese
// question about English manuals translated). Failures return nothing: the
// original question is always searched.
func (s *Searcher) rewrite(ctx context.Context, question string, history []shifu.Turn) []string {
	data := prompts.Rewrite{Question: question}
	if len(history) > maxHistory {
		history = history[len(history)-maxHistory:]
	}
	for _, t := range history {
		c := t.Content
		if r := []rune(c); len(r) > 600 {
			c = string(r[:600]) + "…"
		}
		data.History = append(data.History, prompts.Turn{Role: t.Role, Content: c})
	}
	p, err := prompts.Render("rewrite", "", data)
	if err != nil {
		s.opt.Logger.Warn("rewrite prompt", "err", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, rewriteTimeout)
	defer cancel()
	reply, err := s.opt.Chat.Complete(ctx, model.Request{
		Messages:    []model.Message{{Role: "user", Content: p}},
		MaxTokens:   200,
		Temperature: -1,
	}, nil)
	if err != nil {
		s.opt.Logger.Warn("query rewrite failed; searching the question as asked", "err", err)
		return nil
	}
	return parseRewrite(reply.Text, question)
}

// parseRewrite reads the "EN: …" and "ZH: …" lines of a rewrite reply,
// skipping empty ones and repeats of the question.
func parseRewrite(text, question string) []string {
	var out []string
	seen := map[string]bool{strings.ToLower(strings.TrimSpace(question)): true}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		for _, p := range []string{"EN:", "ZH:", "EN：", "ZH："} {
			if rest, ok := strings.CutPrefix(line, p); ok {
				q := strings.TrimSpace(rest)
				if r := []rune(q); len(r) > 300 {
					q = string(r[:300])
				}
				if q != "" && !seen[strings.ToLower(q)] {
					seen[strings.ToLower(q)] = true
					out = append(out, q)
				}
			}
		}
	}
	return out
}
