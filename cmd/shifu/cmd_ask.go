package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/retrieval"
)

// askJSON is what `shifu ask --json` prints.
type askJSON struct {
	Answer        string           `json:"answer"`
	Citations     []shifu.Citation `json:"citations"`
	Abstained     bool             `json:"abstained"`
	Degraded      bool             `json:"degraded"`
	Model         string           `json:"model"`
	PromptVersion string           `json:"prompt_version"`
	Usage         shifu.Usage      `json:"usage"`
	LatencyMS     int64            `json:"latency_ms"`
	Conversation  int64            `json:"conversation_id"`
	Message       int64            `json:"message_id"`
}

// cmdAsk answers a question from the tenant's manuals, streaming the answer.
func cmdAsk(ctx context.Context, e *env, args []string) error {
	fs := flags(e, "ask")
	tenantName := fs.String("tenant", "", "tenant name")
	asJSON := fs.Bool("json", false, "print the answer as JSON when it is done")
	conv := fs.Int64("conversation", 0, "continue this conversation (a follow-up question)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	question := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if question == "" {
		return shifu.Errorf(shifu.ErrInvalid, "usage: shifu ask --tenant NAME [--json] QUESTION")
	}
	e.warmAnalyzer() // while the database and tenant are looked up
	t, err := e.tenant(ctx, *tenantName)
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	chat, err := e.chat()
	if err != nil {
		return err
	}
	s, err := e.searcher(ctx, retrieval.Options{Chat: chat})
	if err != nil {
		return err
	}
	svc := answer.New(db, s, chat, answer.Options{Logger: e.logger()})
	var onDelta func(string)
	if !*asJSON {
		onDelta = func(d string) { fmt.Fprint(e.stdout, d) }
	}
	a, err := svc.Ask(ctx, shifu.Question{Tenant: t.ID, Text: question, Channel: "cli", ConversationID: *conv}, onDelta)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(askJSON{Answer: a.Text, Citations: a.Citations, Abstained: a.Abstained, Degraded: a.Degraded,
			Model: a.Model, PromptVersion: a.PromptVersion, Usage: a.Usage, LatencyMS: a.LatencyMS,
			Conversation: a.ConversationID, Message: a.MessageID})
	}
	fmt.Fprintln(e.stdout)
	if len(a.Citations) > 0 && !a.Degraded {
		fmt.Fprintln(e.stdout, "\nSources:")
		for _, c := range a.Citations {
			flag := ""
			if !c.Verified {
				flag = "  (quote not found in the passage)"
			}
			fmt.Fprintf(e.stdout, "[%d] %s%s\n", c.N, citePlace(c), flag)
		}
	}
	fmt.Fprintf(e.stdout, "\n(conversation %d; continue with --conversation %d)\n", a.ConversationID, a.ConversationID)
	return nil
}

func citePlace(c shifu.Citation) string {
	if c.PageStart == 0 && c.Anchor != "" {
		return c.Label() + " #" + c.Anchor
	}
	return c.Label()
}
