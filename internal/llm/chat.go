package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
	"github.com/tmc/langchaingo/llms"
	"github.com/tmc/langchaingo/llms/openai"
)

// ChatConfig chooses and tunes a chat model. Zero fields take defaults.
type ChatConfig struct {
	Provider string // openai, dashscope, compatible
	BaseURL  string
	APIKey   string
	Model    string // default gpt-4o-mini (openai), qwen-plus (dashscope)
	// MaxTokens caps the answer; default 800. DashScope gets it as max_tokens,
	// others as max_completion_tokens unless LegacyMaxTokens is set.
	MaxTokens       int
	LegacyMaxTokens bool
	// Temperature defaults to 0.2; negative asks for 0.
	Temperature float64
	// Deadlines keep a person waiting a bounded time before the answer or
	// the degraded one. Timeout bounds a whole Complete call, retries
	// included; default 20 s. FirstByteTimeout bounds the wait for the first
	// streamed chunk of each attempt: a server that accepted the request but
	// says nothing is cut off and, since nothing was delivered yet, tried
	// again; default 8 s. IdleTimeout bounds the silence between chunks once
	// the answer streams: a trickling or stalled model is cut off (and the
	// answer degrades after what was shown); default 5 s.
	Timeout          time.Duration
	FirstByteTimeout time.Duration
	IdleTimeout      time.Duration
	MaxRetries       int           // attempts after the first; default 2, negative: none
	Backoff          time.Duration // first backoff ceiling; default 250 ms
	// Breaker wraps the client so callers fail fast while the model is down.
	// Zero: 5 consecutive failures open it for 30 s. Failures < 0: no breaker.
	Breaker BreakerConfig
}

// NewChat builds the chat client cfg describes, wrapped in a circuit breaker.
func NewChat(cfg ChatConfig) (Chat, error) {
	c, err := newChat(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Breaker.Failures < 0 {
		return c, nil
	}
	return NewBreaker(c, cfg.Breaker), nil
}

func newChat(cfg ChatConfig) (*chat, error) {
	cfg.Provider = strings.ToLower(strings.TrimSpace(cfg.Provider))
	switch cfg.Provider {
	case OpenAI:
		cfg.BaseURL = or(cfg.BaseURL, OpenAIBaseURL)
		cfg.Model = or(cfg.Model, OpenAIChatModel)
	case DashScope:
		cfg.BaseURL = or(cfg.BaseURL, DashScopeBaseURL)
		cfg.Model = or(cfg.Model, DashScopeChatModel)
		cfg.LegacyMaxTokens = true // DashScope documents max_tokens
	case Compatible:
		if cfg.BaseURL == "" || cfg.Model == "" {
			return nil, shifu.Errorf(shifu.ErrInvalid, "a compatible chat provider needs a base URL and a model name")
		}
	default:
		return nil, shifu.Errorf(shifu.ErrInvalid, "chat provider %q is not known; use openai, dashscope or compatible", cfg.Provider)
	}
	if cfg.APIKey == "" && cfg.Provider != Compatible {
		return nil, shifu.Errorf(shifu.ErrInvalid, "the %s chat provider needs an API key", cfg.Provider)
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 800
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = 0.2
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.FirstByteTimeout <= 0 {
		cfg.FirstByteTimeout = 8 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 2
	}
	c := &chat{cfg: cfg, policy: newPolicy(cfg.MaxRetries, cfg.Backoff)}
	// The transport only records statuses here: Complete owns the retry loop,
	// because only it knows whether anything was streamed yet.
	hc := &http.Client{Transport: newTransport(newPolicy(0, 0), 0)}
	llm, err := openai.New(
		openai.WithToken(or(cfg.APIKey, "none")),
		openai.WithBaseURL(strings.TrimRight(cfg.BaseURL, "/")),
		openai.WithModel(cfg.Model),
		openai.WithOrganization(""),
		openai.WithHTTPClient(hc),
	)
	if err != nil {
		return nil, fmt.Errorf("chat client: %w", err)
	}
	c.llm = llm
	return c, nil
}

type chat struct {
	cfg    ChatConfig
	policy retryPolicy
	llm    *openai.LLM
}

func (c *chat) Model() string { return c.cfg.Model }

var (
	errFirstByte = errors.New("no response before the first-byte timeout")
	errIdle      = errors.New("the answer stopped streaming (idle timeout)")
	errEmpty     = errors.New("the model's answer has no text")
)

func (c *chat) Complete(ctx context.Context, req Request, onDelta func(string)) (Reply, error) {
	if len(req.Messages) == 0 {
		return Reply{}, shifu.Errorf(shifu.ErrInvalid, "a chat request needs at least one message")
	}
	msgs := make([]llms.MessageContent, 0, len(req.Messages))
	for _, m := range req.Messages {
		var role llms.ChatMessageType
		switch m.Role {
		case "system":
			role = llms.ChatMessageTypeSystem
		case "user":
			role = llms.ChatMessageTypeHuman
		case "assistant":
			role = llms.ChatMessageTypeAI
		default:
			return Reply{}, shifu.Errorf(shifu.ErrInvalid, "chat message role %q is not known; use system, user or assistant", m.Role)
		}
		msgs = append(msgs, llms.TextParts(role, m.Content))
	}
	maxTok := req.MaxTokens
	if maxTok <= 0 {
		maxTok = c.cfg.MaxTokens
	}
	temp := req.Temperature
	if temp == 0 {
		temp = c.cfg.Temperature
	}
	temp = max(temp, 0)

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var delivered bool
	for n := 0; ; n++ {
		reply, err := c.attempt(ctx, msgs, maxTok, temp, start, onDelta, &delivered)
		if err == nil && strings.TrimSpace(reply.Text) == "" {
			// An empty or malformed stream is a failed answer, for the
			// caller (degrade) and for the breaker alike.
			err = unavailable("chat with "+c.cfg.Model, errEmpty)
		}
		if err == nil {
			if reply.Usage.TotalTokens == 0 && reply.Usage.PromptTokens == 0 && reply.Usage.CompletionTokens == 0 {
				reply.Usage = estimateUsage(req.Messages, reply.Text)
				reply.UsageEstimated = true
			}
			return reply, nil
		}
		var herr *HTTPError
		retry := !delivered && ctx.Err() == nil && n < c.policy.Retries
		wait := c.policy.delay(n, 0)
		if errors.As(err, &herr) {
			retry = retry && retryable(herr.Status) && herr.RetryAfter <= c.policy.MaxRetryAfter
			wait = c.policy.delay(n, herr.RetryAfter)
		}
		if !retry {
			return Reply{}, err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return Reply{}, err // no time left to wait for another go
		}
		if sleep(ctx, wait) != nil {
			return Reply{}, err
		}
	}
}

// attempt makes one streaming request. It sets *delivered once a content
// fragment has been passed to onDelta.
func (c *chat) attempt(ctx context.Context, msgs []llms.MessageContent, maxTok int, temp float64,
	start time.Time, onDelta func(string), delivered *bool) (Reply, error) {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// One timer: first the first-byte deadline, which the first chunk of any
	// kind (a role header, reasoning) meets — the server is alive — then,
	// re-armed by every chunk, the idle deadline.
	var mu sync.Mutex
	alive := false
	timer := time.AfterFunc(c.cfg.FirstByteTimeout, func() {
		mu.Lock()
		defer mu.Unlock()
		if alive {
			cancel(errIdle)
		} else {
			cancel(errFirstByte)
		}
	})
	defer timer.Stop()

	var text strings.Builder
	var first time.Duration
	stream := func(_ context.Context, chunk []byte) error {
		mu.Lock()
		ok := actx.Err() == nil
		alive = alive || ok
		if ok {
			timer.Reset(c.cfg.IdleTimeout)
		}
		mu.Unlock()
		if !ok {
			return context.Cause(actx)
		}
		if len(chunk) == 0 {
			return nil
		}
		if !*delivered {
			first = time.Since(start)
			*delivered = true
		}
		text.Write(chunk)
		if onDelta != nil {
			onDelta(string(chunk))
		}
		return nil
	}
	opts := []llms.CallOption{
		llms.WithModel(c.cfg.Model),
		llms.WithMaxTokens(maxTok),
		llms.WithTemperature(temp),
		llms.WithStreamingFunc(stream),
	}
	if c.cfg.LegacyMaxTokens {
		opts = append(opts, openai.WithLegacyMaxTokensField())
	}
	p := &probe{}
	resp, err := c.llm.GenerateContent(withProbe(actx, p), msgs, opts...)
	what := "chat with " + c.cfg.Model
	if err == nil && actx.Err() != nil && (len(resp.Choices) == 0 || resp.Choices[0].StopReason == "") {
		// langchaingo's stream reader stops quietly when the context ends and
		// returns the partial text as a success: an answer cut before its
		// finish_reason is not one.
		err = context.Cause(actx)
	}
	if err != nil {
		switch cause := context.Cause(actx); {
		case errors.Is(cause, errFirstByte):
			return Reply{}, unavailable(what, fmt.Errorf("%w (%v)", errFirstByte, c.cfg.FirstByteTimeout))
		case errors.Is(cause, errIdle):
			return Reply{}, unavailable(what, fmt.Errorf("%w: silent for %v", errIdle, c.cfg.IdleTimeout))
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// Our Timeout or the caller's deadline: either way the model was too slow.
			return Reply{}, unavailable(what, fmt.Errorf("no complete answer in time: %w", ctx.Err()))
		case ctx.Err() != nil:
			return Reply{}, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return Reply{}, callError(what, p, err)
	}
	r := Reply{Text: text.String(), Model: c.cfg.Model, FirstByte: first}
	if len(resp.Choices) > 0 {
		ch := resp.Choices[0]
		if r.Text == "" {
			r.Text = ch.Content // a server that ignored stream:true
		}
		r.Finish = ch.StopReason
		r.Usage = shifu.Usage{
			PromptTokens:     intInfo(ch.GenerationInfo, "PromptTokens"),
			CompletionTokens: intInfo(ch.GenerationInfo, "CompletionTokens"),
			TotalTokens:      intInfo(ch.GenerationInfo, "TotalTokens"),
		}
		if r.Usage.TotalTokens == 0 {
			r.Usage.TotalTokens = r.Usage.PromptTokens + r.Usage.CompletionTokens
		}
	}
	return r, nil
}

// intInfo reads a token count from langchaingo's GenerationInfo, which is a
// map[string]any whose value types are not part of its API.
func intInfo(m map[string]any, key string) int {
	switch v := m[key].(type) {
	case int:
		return v
	case int32:
		return int(v)
	case int64:
		return int(v)
	case float64:
		return int(v)
	case float32:
		return int(v)
	}
	return 0
}

// estimateUsage guesses token counts when the server reported none: about four
// bytes per token for Latin text and one token per Han character, plus a few
// tokens of framing per message. It errs high, which is the safe side for
// budgets.
func estimateUsage(msgs []Message, answer string) shifu.Usage {
	var prompt int
	for _, m := range msgs {
		prompt += estimateTokens(m.Content) + 4
	}
	completion := estimateTokens(answer)
	return shifu.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

func estimateTokens(s string) int {
	var other, cjk int
	for _, r := range s {
		if r >= 0x2E80 && isCJK(r) {
			cjk++
		} else {
			other += utf8.RuneLen(r)
		}
	}
	return cjk + (other+3)/4
}
