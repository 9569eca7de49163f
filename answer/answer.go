// Package answer turns a question into a cited answer: it searches the
// tenant's manuals, abstains (and records a knowledge gap) when nothing
// relevant is found, asks the chat model to answer only from numbered
// passages, streams the answer, checks every citation against the passages
// actually sent, and stores the exchange. Without a working model it still
// answers, with the best passages quoted and cited, marked degraded.
package answer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/prompts"
	"github.com/shifu-factory/shifu/retrieval"
)

// Searcher finds passages.
type Searcher interface {
	Retrieve(ctx context.Context, tenant int64, q retrieval.Query) (retrieval.Result, error)
}

// Store keeps conversations.
type Store interface {
	CreateConversation(ctx context.Context, tenant int64, c shifu.Conversation) (int64, error)
	ConversationByExternal(ctx context.Context, tenant int64, channel, external string) (int64, error)
	History(ctx context.Context, tenant, userID, conversation int64, limit int) ([]shifu.Turn, error)
	// Exchange stores the question and answer, and the gap (a reason, or
	// "": none) in the same transaction.
	Exchange(ctx context.Context, tenant, conversation, userID int64, question string, a shifu.Answer, gap string) (int64, error)
}

// Options tune the service. Zero fields take defaults.
type Options struct {
	Passages        int // passages searched for; default 6
	Neighbours      int // of the first this many hits, add adjacent chunks; default 2
	MaxPassages     int // passages sent to the model, neighbours included; default 8
	MaxPassageChars int // longer passages are cut; default 2,000
	MaxTokens       int // answer length cap; default 800
	HistoryTurns    int // earlier messages used for follow-ups; default 6
	Timeout         time.Duration
	Logger          *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Passages <= 0 {
		o.Passages = 6
	}
	if o.Neighbours < 0 {
		o.Neighbours = 0
	} else if o.Neighbours == 0 {
		o.Neighbours = 2
	}
	if o.MaxPassages <= 0 {
		o.MaxPassages = 8
	}
	if o.MaxPassageChars <= 0 {
		o.MaxPassageChars = 2000
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = 800
	}
	if o.HistoryTurns <= 0 {
		o.HistoryTurns = 6
	}
	if o.Timeout <= 0 {
		o.Timeout = 90 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// MaxQuestion is the longest question accepted, in characters. This is the
// one limit: the web page, /api/chat, /v1, the bots and the CLI all ask
// through CheckQuestion.
const MaxQuestion = 2000

// CheckQuestion returns the question trimmed, or why it is refused.
func CheckQuestion(text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return "", shifu.Errorf(shifu.ErrInvalid, "the question is empty")
	}
	if n := len([]rune(text)); n > MaxQuestion {
		return "", shifu.Errorf(shifu.ErrTooLarge, "the question is %d characters long; at most %d are accepted", n, MaxQuestion)
	}
	if err := shifu.CheckText("the question", text); err != nil {
		return "", err
	}
	return text, nil
}

// Service answers questions. It is safe for concurrent use.
type Service struct {
	store  Store
	search Searcher
	chat   llm.Chat // nil: always degraded
	opt    Options
}

// New returns a Service; chat may be nil (no model configured).
func New(store Store, search Searcher, chat llm.Chat, o Options) *Service {
	return &Service{store: store, search: search, chat: chat, opt: o.withDefaults()}
}

// Ask answers q, streaming the answer's text to onDelta (which may be nil) as
// it is written, and stores the exchange.
func (s *Service) Ask(ctx context.Context, q shifu.Question, onDelta func(string)) (shifu.Answer, error) {
	start := time.Now()
	text, err := CheckQuestion(q.Text)
	if err != nil {
		return shifu.Answer{}, err
	}
	if onDelta == nil {
		onDelta = func(string) {}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()

	conv, history, err := s.conversation(ctx, q, text)
	if err != nil {
		return shifu.Answer{}, err
	}
	lang := shifu.Lang(text)
	if lang == "" {
		lang = q.Lang
	}
	res, err := s.search.Retrieve(ctx, q.Tenant, retrieval.Query{
		Text: text, K: s.opt.Passages, History: history, Neighbours: s.opt.Neighbours,
	})
	if err != nil {
		return shifu.Answer{}, err
	}
	var a shifu.Answer
	switch {
	case res.Abstain:
		a = abstain(lang)
		onDelta(a.Text)
	default:
		a, err = s.answer(ctx, text, lang, history, res.Weigh, s.passages(res.Hits), onDelta)
		if err != nil {
			return shifu.Answer{}, err
		}
	}
	a.Hits = res.Hits
	a.KeywordOnly = res.KeywordOnly
	a.ConversationID = conv
	a.LatencyMS = time.Since(start).Milliseconds()
	// An abstention is a knowledge gap: the supervisors' desk lists it until
	// a note answers it.
	gap := ""
	if a.Abstained {
		gap = "abstained"
	}
	// Store even if the caller went away mid-answer: the exchange happened.
	id, err := s.store.Exchange(context.WithoutCancel(ctx), q.Tenant, conv, q.UserID, text, a, gap)
	if err != nil {
		return a, err
	}
	a.MessageID = id
	return a, nil
}

func (s *Service) conversation(ctx context.Context, q shifu.Question, text string) (int64, []shifu.Turn, error) {
	conv := q.ConversationID
	// A conversation id from the client must be the asker's own; a channel
	// thread (found by External) is shared by whoever writes in it.
	owner := q.UserID
	if conv == 0 && q.External != "" {
		id, err := s.store.ConversationByExternal(ctx, q.Tenant, q.Channel, q.External)
		if err != nil {
			return 0, nil, err
		}
		conv, owner = id, 0
	}
	if conv == 0 {
		id, err := s.store.CreateConversation(ctx, q.Tenant, shifu.Conversation{
			UserID: q.UserID, Channel: q.Channel, External: q.External, Title: text,
		})
		return id, s.clientHistory(q.History), err
	}
	h, err := s.store.History(ctx, q.Tenant, owner, conv, s.opt.HistoryTurns)
	return conv, h, err
}

// clientHistory keeps the last HistoryTurns user and assistant turns a client
// sent, each cut to maxTurnChars; anything else (system, tool) is dropped.
func (s *Service) clientHistory(h []shifu.Turn) []shifu.Turn {
	var out []shifu.Turn
	for _, t := range h {
		c := strings.TrimSpace(t.Content)
		if (t.Role != "user" && t.Role != "assistant") || c == "" {
			continue
		}
		if r := []rune(c); len(r) > maxTurnChars {
			c = string(r[:maxTurnChars]) + "…"
		}
		out = append(out, shifu.Turn{Role: t.Role, Content: c})
	}
	if len(out) > s.opt.HistoryTurns {
		out = out[len(out)-s.opt.HistoryTurns:]
	}
	return out
}

// maxTurnChars bounds one earlier turn sent to the model.
const maxTurnChars = 1500

// passage is a hit as numbered for the model.
type passage struct {
	n   int
	hit shifu.Hit
}

func (s *Service) passages(hits []shifu.Hit) []passage {
	out := make([]passage, 0, min(len(hits), s.opt.MaxPassages))
	for _, h := range hits {
		if len(out) == s.opt.MaxPassages {
			break
		}
		if r := []rune(h.Text); len(r) > s.opt.MaxPassageChars {
			h.Text = string(r[:s.opt.MaxPassageChars]) + "…"
		}
		out = append(out, passage{n: len(out) + 1, hit: h})
	}
	return out
}

// source names where a passage is from, for the model and the reader.
func source(h shifu.Hit) string {
	name := h.Title
	if name == "" {
		name = h.Document
	}
	if p := shifu.Pages(h.PageStart, h.PageEnd); p != "" {
		name += ", " + p
	} else if h.Heading != "" {
		name += ", " + h.Heading
	}
	if h.Author != "" {
		name += " (note by " + h.Author + ")"
	}
	return name
}

// fence returns a marker line found in none of the passages, so passage text
// cannot close the data block and speak as the prompt.
func fence(ps []passage) string {
	for {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		f := "=====PASSAGES-" + hex.EncodeToString(b) + "====="
		clash := false
		for _, p := range ps {
			if strings.Contains(p.hit.Text, f) {
				clash = true
			}
		}
		if !clash {
			return f
		}
	}
}

// Messages builds the model request for a question: the system prompt, the
// earlier turns, and the question with its fenced, numbered passages.
func messages(question, lang string, history []shifu.Turn, ps []passage) ([]llm.Message, error) {
	sys, err := prompts.Render("system", lang, nil)
	if err != nil {
		return nil, err
	}
	data := prompts.Answer{Question: question, Fence: fence(ps)}
	for _, p := range ps {
		data.Passages = append(data.Passages, prompts.Passage{N: p.n, Source: source(p.hit), Text: p.hit.Text})
	}
	user, err := prompts.Render("question", lang, data)
	if err != nil {
		return nil, err
	}
	msgs := []llm.Message{{Role: "system", Content: sys}}
	for _, t := range history {
		c := t.Content
		if r := []rune(c); len(r) > maxTurnChars {
			c = string(r[:maxTurnChars]) + "…"
		}
		if t.Role == "user" || t.Role == "assistant" {
			msgs = append(msgs, llm.Message{Role: t.Role, Content: c})
		}
	}
	return append(msgs, llm.Message{Role: "user", Content: user}), nil
}

func (s *Service) answer(ctx context.Context, question, lang string, history []shifu.Turn, w *retrieval.Weigher, ps []passage, onDelta func(string)) (shifu.Answer, error) {
	if s.chat == nil {
		a := degraded(question, lang, w, ps, noModel)
		onDelta(a.Text)
		return a, nil
	}
	msgs, err := messages(question, lang, history, ps)
	if err != nil {
		return shifu.Answer{}, err
	}
	streamed := false
	reply, err := s.chat.Complete(ctx, llm.Request{Messages: msgs, MaxTokens: s.opt.MaxTokens}, func(d string) {
		streamed = true
		onDelta(d)
	})
	if err != nil {
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return shifu.Answer{}, ctx.Err() // the caller left
		}
		s.opt.Logger.Warn("chat model failed; answering with passages", "err", err)
		cause := modelFailed
		if streamed {
			cause = cutOff
		}
		a := degraded(question, lang, w, ps, cause)
		if streamed {
			onDelta("\n\n")
		}
		onDelta(a.Text)
		return a, nil
	}
	a := shifu.Answer{Model: reply.Model, PromptVersion: prompts.Version, Usage: reply.Usage}
	if a.Model == "" {
		a.Model = s.chat.Model()
	}
	if a.Usage.TotalTokens == 0 {
		a.Usage.TotalTokens = a.Usage.PromptTokens + a.Usage.CompletionTokens
	}
	a.Text, a.Citations = verify(reply.Text, question, ps, lang)
	if len(a.Citations) == 0 && saysNotCovered(a.Text) {
		a.Abstained = true
	}
	return a, nil
}

var notCovered = []string{"do not cover", "don't cover", "does not cover", "not covered", "没有涉及", "未涉及", "没有提到", "没有相关"}

func saysNotCovered(text string) bool {
	l := strings.ToLower(text)
	for _, p := range notCovered {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}

// abstain is the answer when nothing relevant was found.
func abstain(lang string) shifu.Answer {
	t := "The manuals do not cover this. I have noted the question for your supervisor, so the answer can be added."
	if lang == "zh" {
		t = "手册中没有涉及这个问题。已将问题记录给主管，以便补充答案。"
	}
	return shifu.Answer{Text: t, Abstained: true, PromptVersion: prompts.Version, Citations: []shifu.Citation{}}
}

// excerpt is the start of a passage's body (without its heading line), at
// most n characters, cut at a word or sentence end when one is near.
func excerpt(h shifu.Hit, n int) string {
	return cut(strings.Join(strings.Fields(h.Body()), " "), n, " 。，")
}

// citation cites passage p with quote. A verified citation names the pages
// of what the answer quotes from the passage (shown, in reading order; the
// quote when nil): the page its sentences are on, or the narrower range they
// span, so the chip and links open where the sentence is. A quote not
// verified, or text not found in the passage, or a passage that does not
// know where its pages begin (stored before it recorded them), cites the
// passage's range.
func citation(p passage, quote string, verified bool, shown ...string) shifu.Citation {
	h := p.hit
	first, last := h.PageStart, h.PageEnd
	if verified && last > first {
		if shown == nil {
			shown = []string{quote}
		}
		// Looked for in the body first: a sentence that repeats the heading
		// is the one quoted, not the heading line.
		at := len(h.Text) - len(h.Body())
		if from, to, ok := span(h.Text[at:], shown); ok {
			first, last = h.Pages(at+from, at+to)
		} else if from, to, ok := span(h.Text, shown); ok {
			first, last = h.Pages(from, to)
		}
	}
	return shifu.Citation{N: p.n, Document: h.Document, Title: h.Title, PageStart: first, PageEnd: last,
		Anchor: h.Anchor, Quote: quote, ChunkID: h.ID, DocID: h.DocID, Version: h.Version, Author: h.Author, Verified: verified}
}

// span finds quotes in text, in order, each after the one before, and
// returns the bytes of text from the first's start to the last's end. A
// quote is compared as quoted() compares it: NFKC, case-folded, white space
// ignored (PDF text spaces Han characters unpredictably, and a sentence is
// quoted with its white space folded); an ellipsis stands for omitted text.
func span(text string, quotes []string) (from, to int, ok bool) {
	flat, starts, ends := flatten(text)
	at, from, to := 0, -1, -1
	for _, q := range quotes {
		for _, part := range strings.FieldsFunc(strings.ReplaceAll(q, "...", "…"), func(r rune) bool { return r == '…' }) {
			fq, _, _ := flatten(part)
			if fq == "" {
				continue
			}
			i := strings.Index(flat[at:], fq)
			if i < 0 {
				return 0, 0, false
			}
			i += at
			at = i + len(fq)
			if from < 0 {
				from = starts[i]
			}
			to = ends[at-1]
		}
	}
	return from, to, from >= 0
}

// flatten is s normalised for span, without white space; starts[i] and
// ends[i] are where in s the character holding flattened byte i begins and
// ends.
func flatten(s string) (flat string, starts, ends []int) {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsSpace(r) {
			continue
		}
		n := len(string(r))
		var f string
		if r < utf8.RuneSelf {
			f = string(unicode.ToLower(r))
		} else {
			f = strings.Join(strings.Fields(retrieval.Normalize(string(r))), "")
		}
		b.WriteString(f)
		for range len(f) {
			starts, ends = append(starts, i), append(ends, i+n)
		}
	}
	return b.String(), starts, ends
}
