package retrieval

import (
	"context"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/prompts"
)

// rewriteTimeout bounds the model call that rewrites a question: search
// without rewrites is better than search that waits.
const rewriteTimeout = 8 * time.Second

// maxHistory is how many earlier turns a rewrite sees.
const maxHistory = 6

// Languages is the part of a store that says which languages a tenant's
// documents are in (postgres.DB does); a Store without it never has a first
// question translated by the model.
type Languages interface {
	Languages(ctx context.Context, tenant int64) ([]string, error)
}

// langsTTL is how long a tenant's document languages are reused: a first
// manual in a new language is translated towards within seconds, and a busy
// tenant's questions do not each read the documents table.
const langsTTL = 30 * time.Second

// maxTranslations bounds the cache of model translations of first
// questions (a few hundred bytes each).
const maxTranslations = 4096

// langCache caches each tenant's document languages for langsTTL.
type langCache struct {
	mu   sync.Mutex
	byID map[int64]cachedLangs
}

type cachedLangs struct {
	langs []string
	at    time.Time
}

// transKey is a first question as asked in one tenant.
type transKey struct {
	tenant   int64
	question string
}

// transCache holds the model's translations of first questions, so the
// same question asked again costs no model call: a line asks the same few
// things over and over. Oldest out first past maxTranslations.
type transCache struct {
	mu    sync.Mutex
	byKey map[transKey][]string
	order []transKey
}

func questionKey(tenant int64, q string) transKey {
	return transKey{tenant, strings.Join(strings.Fields(strings.ToLower(norm.NFKC.String(q))), " ")}
}

func (c *transCache) get(k transKey) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.byKey[k]
	return v, ok
}

func (c *transCache) put(k transKey, v []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byKey == nil {
		c.byKey = map[transKey][]string{}
	}
	if _, ok := c.byKey[k]; ok {
		return
	}
	if len(c.order) >= maxTranslations {
		delete(c.byKey, c.order[0])
		c.order = c.order[1:]
	}
	c.byKey[k] = v
	c.order = append(c.order, k)
}

// crossLingual says whether the tenant holds documents in a language other
// than the question's. A store that cannot say, or a failed read (logged),
// says no: the question is searched without the model's translation.
func (s *Searcher) crossLingual(ctx context.Context, tenant int64, question string) bool {
	lang := shifu.Lang(question)
	st, ok := s.store.(Languages)
	if lang == "" || !ok {
		return false
	}
	s.langs.mu.Lock()
	c, hit := s.langs.byID[tenant]
	s.langs.mu.Unlock()
	if !hit || time.Since(c.at) >= langsTTL {
		ls, err := st.Languages(ctx, tenant)
		if err != nil {
			s.opt.Logger.Warn("document languages unreadable; not translating the question", "tenant", tenant, "err", err)
			return false
		}
		c = cachedLangs{langs: ls, at: time.Now()}
		s.langs.mu.Lock()
		if s.langs.byID == nil {
			s.langs.byID = map[int64]cachedLangs{}
		}
		s.langs.byID[tenant] = c
		s.langs.mu.Unlock()
	}
	for _, l := range c.langs {
		if l != lang {
			return true
		}
	}
	return false
}

// rewrites are the model's versions of the question to search beside it: a
// follow-up's self-contained rewrite, or a first question's translation when
// the tenant holds documents in another language (from the cache when the
// tenant asked it before). One model call either way; none for a first
// question in a library of its own language alone.
func (s *Searcher) rewrites(ctx context.Context, tenant int64, question string, history []shifu.Turn) []string {
	if len(history) > 0 {
		return s.rewrite(ctx, question, history)
	}
	if !s.crossLingual(ctx, tenant, question) {
		return nil
	}
	k := questionKey(tenant, question)
	if v, ok := s.trans.get(k); ok {
		return v
	}
	v := s.rewrite(ctx, question, nil)
	if len(v) > 0 { // a failure is tried again next time
		s.trans.put(k, v)
	}
	return v
}

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
	reply, err := s.opt.Chat.Complete(ctx, llm.Request{
		Messages:    []llm.Message{{Role: "user", Content: p}},
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
