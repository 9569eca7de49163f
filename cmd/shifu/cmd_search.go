package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/retrieval"
)

// searcher builds the hybrid searcher from the configuration: the configured
// embedder, and the chat model (query rewrites) and reranker when set.
func (e *env) searcher(ctx context.Context, o retrieval.Options) (*retrieval.Searcher, error) {
	store, err := e.searchStore(ctx)
	if err != nil {
		return nil, err
	}
	a, err := e.analyzer()
	if err != nil {
		return nil, err
	}
	emb, err := e.embedder()
	if err != nil {
		return nil, err
	}
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	if o.Alpha == 0 {
		o.Alpha = c.Embed.Fusion // 0: the offline embedder's default
	}
	if o.Chat == nil && c.LLM.Provider != "" {
		if o.Chat, err = e.chat(); err != nil {
			return nil, err
		}
	}
	if o.Reranker == nil && c.Rerank.Provider != "" {
		o.Reranker, err = llm.NewReranker(llm.RerankConfig{
			Provider: c.Rerank.Provider, URL: c.Rerank.BaseURL, APIKey: c.Rerank.APIKey.Value(),
			Model: c.Rerank.Model, Timeout: c.Rerank.Timeout,
		})
		if err != nil {
			return nil, err
		}
	}
	if o.Logger == nil {
		o.Logger = e.logger()
	}
	if d := e.dictionary(); o.Dict == nil && d != nil {
		o.Dict = d // a nil *dict.Dict in the interface would not read as none
	}
	if w := e.thesaurus(); o.Thesaurus == nil && w != nil {
		o.Thesaurus = w
	}
	if c.Embed.Provider != llm.Offline {
		// A hosted embedder must not hold questions up: a short budget and
		// a breaker, then keyword search alone.
		emb = llm.NewEmbedBreaker(emb, c.Limits.EmbedQuery, llm.BreakerConfig{})
	}
	return retrieval.New(store, a, emb, o), nil
}

// searchStore is where searches read: the primary, or with
// SHIFU_REPLICA_DATABASE_URL a streaming replica once it is current.
func (e *env) searchStore(ctx context.Context) (retrieval.Store, error) {
	db, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	c, err := e.config()
	if err != nil || c.ReplicaURL == "" {
		return db, err
	}
	if e.replicated == nil {
		rep, err := postgres.OpenReplica(ctx, c.ReplicaURL.Value(), int32(8+2*c.Workers))
		if err != nil {
			return nil, fmt.Errorf("SHIFU_REPLICA_DATABASE_URL: %w", err)
		}
		e.closers = append(e.closers, rep.Close)
		e.replicated = &postgres.Replicated{Primary: db, Replica: rep, Wait: c.ReplicaWait, Log: e.logger()}
	}
	return e.replicated, nil
}

// chat builds the configured chat model (nil, nil when none is configured).
func (e *env) chat() (llm.Chat, error) {
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	if c.LLM.Provider == "" {
		return nil, nil
	}
	return llm.NewChat(llm.ChatConfig{
		Provider: c.LLM.Provider, BaseURL: c.LLM.BaseURL, APIKey: c.LLM.APIKey.Value(),
		Model: c.LLM.Model, Timeout: c.LLM.Timeout,
		FirstByteTimeout: c.Limits.LLMFirstToken, IdleTimeout: c.Limits.LLMIdle,
	})
}

// cmdSearch prints the best passages for a question.
func cmdSearch(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "search")
	tenantName := fs.String("tenant", "", "tenant name")
	k := fs.Int("k", 5, "number of hits")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu search --tenant NAME [--k N] [--json] QUESTION")
	}
	if *k < 1 || *k > 100 {
		return shifu.Errorf(shifu.ErrInvalid, "--k %d: use 1 to 100", *k)
	}
	e.warmAnalyzer() // while the database and tenant are looked up
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	s, err := e.searcher(ctx, retrieval.Options{})
	if err != nil {
		return err
	}
	r, err := s.Retrieve(ctx, t.ID, retrieval.Query{Text: question, K: *k})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(nonNil(r.Hits))
	}
	if r.Abstain {
		fmt.Fprintf(e.stdout, "(low confidence %.2f: the manuals may not cover this)\n\n", r.Confidence)
	}
	for i, h := range r.Hits {
		fmt.Fprintf(e.stdout, "%d. %s — %s  (score %.3f)\n", i+1, h.Document, place(h), h.Score)
		if h.Heading != "" {
			fmt.Fprintf(e.stdout, "   %s\n", h.Heading)
		}
		fmt.Fprintf(e.stdout, "   %s\n\n", snippet(h.Text, 300))
	}
	if len(r.Hits) == 0 {
		fmt.Fprintln(e.stdout, "no passages found")
	}
	return nil
}

// place is where a hit is: its page span or its section anchor.
func place(h shifu.Hit) string {
	switch p := shifu.Pages(h.PageStart, h.PageEnd); {
	case p != "":
		return p
	case h.Anchor != "":
		return "#" + h.Anchor
	}
	return "(no page)"
}

func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// nonNil prints no hits as [] rather than null.
func nonNil(hits []shifu.Hit) []shifu.Hit {
	if hits == nil {
		return []shifu.Hit{}
	}
	return hits
}
