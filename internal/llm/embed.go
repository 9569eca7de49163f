package llm

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/tmc/langchaingo/embeddings"
	"github.com/tmc/langchaingo/llms/openai"
)

// Providers.
const (
	Offline    = "offline"
	OpenAI     = "openai"
	DashScope  = "dashscope"
	Compatible = "compatible" // any other OpenAI-compatible server
)

// Default endpoints and models.
const (
	OpenAIBaseURL    = "https://api.openai.com/v1"
	DashScopeBaseURL = "https://dashscope.aliyuncs.com/compatible-mode/v1"

	OpenAIEmbedModel    = "text-embedding-3-small"
	DashScopeEmbedModel = "text-embedding-v3"
	OpenAIChatModel     = "gpt-4o-mini"
	DashScopeChatModel  = "qwen-plus"

	// dashScopeMaxBatch is DashScope's limit on inputs per embedding request;
	// over it the API answers 400 "batch size is invalid".
	dashScopeMaxBatch = 10
)

// EmbedConfig chooses and tunes an embedder. Zero fields take the provider's
// defaults.
type EmbedConfig struct {
	Provider string // offline (default), openai, dashscope, compatible
	BaseURL  string
	APIKey   string
	Model    string
	// Dim is the vector width. Hosted openai/dashscope models are asked for it
	// with the "dimensions" parameter; compatible servers are not (many reject
	// it) and must return it natively. Default 1024 (MaxDim), offline and hosted.
	Dim        int
	BatchSize  int           // inputs per request; dashscope is capped at 10
	Timeout    time.Duration // per HTTP attempt; default 30 s
	MaxRetries int           // attempts after the first on 429/5xx/network errors; default 4, negative: none
	Backoff    time.Duration // first backoff ceiling; default 250 ms
}

// NewEmbedder builds the embedder cfg describes. Configuration mistakes are
// shifu.ErrInvalid errors naming the field.
func NewEmbedder(cfg EmbedConfig) (Embedder, error) {
	cfg.Provider = strings.ToLower(strings.TrimSpace(cfg.Provider))
	switch cfg.Provider {
	case "", Offline:
		if cfg.Model != "" && cfg.Model != HashModel {
			return nil, shifu.Errorf(shifu.ErrInvalid, "embedding model %q is not available offline; leave it empty or use %s", cfg.Model, HashModel)
		}
		return NewOffline(cfg.Dim)
	case OpenAI:
		cfg.BaseURL = or(cfg.BaseURL, OpenAIBaseURL)
		cfg.Model = or(cfg.Model, OpenAIEmbedModel)
		return newHosted(cfg, true)
	case DashScope:
		cfg.BaseURL = or(cfg.BaseURL, DashScopeBaseURL)
		cfg.Model = or(cfg.Model, DashScopeEmbedModel)
		if cfg.BatchSize <= 0 || cfg.BatchSize > dashScopeMaxBatch {
			cfg.BatchSize = dashScopeMaxBatch
		}
		return newHosted(cfg, true)
	case Compatible:
		if cfg.BaseURL == "" || cfg.Model == "" || cfg.Dim <= 0 {
			return nil, shifu.Errorf(shifu.ErrInvalid, "a compatible embedding provider needs a base URL, a model name and its vector dimension")
		}
		return newHosted(cfg, false)
	}
	return nil, shifu.Errorf(shifu.ErrInvalid, "embedding provider %q is not known; use offline, openai, dashscope or compatible", cfg.Provider)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// hosted embeds through an OpenAI-compatible /embeddings endpoint, using
// langchaingo's client and batching.
type hosted struct {
	model string
	dim   int
	impl  *embeddings.EmbedderImpl
}

func newHosted(cfg EmbedConfig, sendDim bool) (*hosted, error) {
	if cfg.Dim == 0 {
		cfg.Dim = MaxDim
	}
	if cfg.Dim < 0 || cfg.Dim > MaxDim {
		return nil, shifu.Errorf(shifu.ErrInvalid, "embedding dimension %d is not supported; use 1 to %d", cfg.Dim, MaxDim)
	}
	if cfg.APIKey == "" && cfg.Provider != Compatible {
		return nil, shifu.Errorf(shifu.ErrInvalid, "the %s embedding provider needs an API key", cfg.Provider)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	}
	hc := &http.Client{Transport: newTransport(newPolicy(cfg.MaxRetries, cfg.Backoff), cfg.Timeout)}
	opts := []openai.Option{
		openai.WithToken(or(cfg.APIKey, "none")), // langchaingo refuses an empty token; local servers ignore it
		openai.WithBaseURL(strings.TrimRight(cfg.BaseURL, "/")),
		openai.WithEmbeddingModel(cfg.Model),
		openai.WithModel(cfg.Model), // keeps OPENAI_MODEL from the environment out
		openai.WithOrganization(""),
		openai.WithHTTPClient(hc),
	}
	if sendDim {
		opts = append(opts, openai.WithEmbeddingDimensions(cfg.Dim))
	}
	llm, err := openai.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedding client: %w", err)
	}
	// StripNewLines is off: it rewrites the caller's slice in place, and
	// current models do not need it.
	impl, err := embeddings.NewEmbedder(llm, embeddings.WithBatchSize(cfg.BatchSize), embeddings.WithStripNewLines(false))
	if err != nil {
		return nil, fmt.Errorf("embedding client: %w", err)
	}
	return &hosted{model: cfg.Model, dim: cfg.Dim, impl: impl}, nil
}

func (h *hosted) Model() string { return h.model }
func (h *hosted) Dim() int      { return h.dim }

func (h *hosted) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	p := &probe{}
	vecs, err := h.impl.EmbedDocuments(withProbe(ctx, p), texts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embed %d texts with %s: %w", len(texts), h.model, ctx.Err())
		}
		return nil, callError(fmt.Sprintf("embed %d texts with %s", len(texts), h.model), p, err)
	}
	if len(vecs) != len(texts) {
		return nil, unavailable("embed with "+h.model, fmt.Errorf("got %d vectors for %d texts", len(vecs), len(texts)))
	}
	for i, v := range vecs {
		if len(v) != h.dim {
			return nil, unavailable("embed with "+h.model, fmt.Errorf("vector %d has %d dimensions, want %d", i, len(v), h.dim))
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, unavailable("embed with "+h.model, fmt.Errorf("vector %d is not finite", i))
			}
		}
	}
	return vecs, nil
}
