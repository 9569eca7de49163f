package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
	"github.com/shifu-factory/shifu/web"
)

// TestOpenAIOutputIsSafe: what /v1 sends a client, streamed or not, shows no
// image and links nowhere but to our documents, whatever the model wrote;
// the answer's text and the document link stay.
func TestOpenAIOutputIsSafe(t *testing.T) {
	if bad := web.ClientLinks(t, web.Poisoned); len(bad) < 2 {
		t.Fatalf("the client check sees only %v in the raw text", bad) // the check itself sees the attack
	}
	w := newWorld(t, worldOpts{model: llmtest.Options{Reply: web.Poisoned, Chunk: 2}})
	w.ingestReady(part{"file", "pump.md", []byte(manual)})
	cl := openai.NewClient(option.WithBaseURL(w.http.URL+"/v1/"), option.WithAPIKey(w.tokens["worker"]), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "shifu", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("How do I fix a seal leak on pump P-101?")}}
	resp, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	stream := cl.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"answer": resp.Choices[0].Message.Content, "streamed answer": acc.Choices[0].Message.Content} {
		if bad := web.ClientLinks(t, text); len(bad) > 0 {
			t.Errorf("%s shows %v: %q", name, bad, text)
		}
		for _, keep := range []string{"part MS-220 [1]", "the kit", "[the manual](/documents/1#page=1)", "**Sources**"} {
			if !strings.Contains(text, keep) {
				t.Errorf("%s lost %q: %q", name, keep, text)
			}
		}
	}
	if chunks < 10 {
		t.Errorf("the answer came in %d chunks: not streamed", chunks)
	}
}

// TestOpenAIManualTextIsSafe: with no model, the answer is the manual's own
// sentences and its title; a web.Poisoned manual's image and links do not reach
// the client either.
func TestOpenAIManualTextIsSafe(t *testing.T) {
	w := newWorld(t, worldOpts{noModel: true})
	doc := "# Pump P-101 seal ![t](https://evil.test/title.png)\n\n" +
		"If pump P-101 leaks at the shaft, replace the mechanical seal ![pixel](https://evil.test/p.png) as [the kit](//evil.test/kit) says.\n" +
		"Torque the gland bolts to 25 Nm <img src=//evil.test/q.png> in a cross pattern.\n"
	w.ingestReady(part{"file", "evil.md", []byte(doc)})
	cl := openai.NewClient(option.WithBaseURL(w.http.URL+"/v1/"), option.WithAPIKey(w.tokens["worker"]), option.WithMaxRetries(0))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{Model: "shifu", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What torque for the gland bolts on pump P-101?")}}
	resp, err := cl.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	stream := cl.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"answer": resp.Choices[0].Message.Content, "streamed answer": acc.Choices[0].Message.Content} {
		if !strings.Contains(text, "25 Nm") {
			t.Fatalf("%s does not quote the manual: %q", name, text)
		}
		if bad := web.ClientLinks(t, text); len(bad) > 0 {
			t.Errorf("%s shows %v: %q", name, bad, text)
		}
	}
}
