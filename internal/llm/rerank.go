package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shifu-factory/shifu"
)

// Rerank providers and their default endpoints. langchaingo has no rerank
// client, so this is plain net/http.
const (
	Cohere = "cohere"
	Jina   = "jina"

	CohereRerankURL    = "https://api.cohere.com/v1/rerank"
	JinaRerankURL      = "https://api.jina.ai/v1/rerank"
	DashScopeRerankURL = "https://dashscope.aliyuncs.com/api/v1/services/rerank/text-rerank/text-rerank"

	CohereRerankModel    = "rerank-multilingual-v3.0"
	JinaRerankModel      = "jina-reranker-v2-base-multilingual"
	DashScopeRerankModel = "gte-rerank"
)

// RerankConfig chooses a reranker.
type RerankConfig struct {
	// Provider is cohere, jina, dashscope or compatible. All but dashscope speak
	// {model, query, documents, top_n} → results[{index, relevance_score}];
	// dashscope wraps it as input{query, documents}, parameters{top_n} →
	// output.results[].
	Provider   string
	URL        string // the full endpoint; defaults per provider
	APIKey     string
	Model      string
	Timeout    time.Duration // per HTTP attempt; default 15 s
	MaxRetries int           // default 3, negative: none
	Backoff    time.Duration
}

// NewReranker builds the reranker cfg describes.
func NewReranker(cfg RerankConfig) (Reranker, error) {
	cfg.Provider = strings.ToLower(strings.TrimSpace(cfg.Provider))
	switch cfg.Provider {
	case Cohere:
		cfg.URL, cfg.Model = or(cfg.URL, CohereRerankURL), or(cfg.Model, CohereRerankModel)
	case Jina:
		cfg.URL, cfg.Model = or(cfg.URL, JinaRerankURL), or(cfg.Model, JinaRerankModel)
	case DashScope:
		cfg.URL, cfg.Model = or(cfg.URL, DashScopeRerankURL), or(cfg.Model, DashScopeRerankModel)
	case Compatible:
		if cfg.URL == "" || cfg.Model == "" {
			return nil, shifu.Errorf(shifu.ErrInvalid, "a compatible rerank provider needs the endpoint URL and a model name")
		}
	default:
		return nil, shifu.Errorf(shifu.ErrInvalid, "rerank provider %q is not known; use cohere, jina, dashscope or compatible", cfg.Provider)
	}
	if cfg.APIKey == "" && cfg.Provider != Compatible {
		return nil, shifu.Errorf(shifu.ErrInvalid, "the %s rerank provider needs an API key", cfg.Provider)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	return &reranker{cfg: cfg, hc: &http.Client{Transport: newTransport(newPolicy(cfg.MaxRetries, cfg.Backoff), cfg.Timeout)}}, nil
}

type reranker struct {
	cfg RerankConfig
	hc  *http.Client
}

type rerankResult struct {
	Index          int     `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
}

func (r *reranker) Rerank(ctx context.Context, query string, docs []string, topN int) ([]Ranked, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	if topN <= 0 || topN > len(docs) {
		topN = len(docs)
	}
	var body any
	if r.cfg.Provider == DashScope {
		body = map[string]any{
			"model":      r.cfg.Model,
			"input":      map[string]any{"query": query, "documents": docs},
			"parameters": map[string]any{"top_n": topN, "return_documents": false},
		}
	} else {
		body = map[string]any{"model": r.cfg.Model, "query": query, "documents": docs, "top_n": topN, "return_documents": false}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("rerank: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if r.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.cfg.APIKey)
	}
	what := "rerank with " + r.cfg.Model
	resp, err := r.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return nil, unavailable(what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return nil, unavailable(what, &HTTPError{Status: resp.StatusCode, Body: strings.TrimSpace(string(msg))})
	}
	var out struct {
		Results []rerankResult `json:"results"`
		Output  struct {
			Results []rerankResult `json:"results"`
		} `json:"output"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&out); err != nil {
		return nil, unavailable(what, fmt.Errorf("decode response: %w", err))
	}
	res := out.Results
	if r.cfg.Provider == DashScope || len(res) == 0 {
		res = append(res, out.Output.Results...)
	}
	ranked := make([]Ranked, 0, len(res))
	seen := make(map[int]bool, len(res))
	for _, x := range res {
		if x.Index < 0 || x.Index >= len(docs) || seen[x.Index] {
			return nil, unavailable(what, fmt.Errorf("result index %d is out of range or repeated for %d documents", x.Index, len(docs)))
		}
		seen[x.Index] = true
		ranked = append(ranked, Ranked{Index: x.Index, Score: x.RelevanceScore})
	}
	// Servers return results best first, but the contract should not depend on it.
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].Score > ranked[j].Score })
	if len(ranked) > topN {
		ranked = ranked[:topN]
	}
	return ranked, nil
}
