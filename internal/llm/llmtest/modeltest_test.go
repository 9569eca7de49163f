package llmtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestNonStreamChat(t *testing.T) {
	s := NewServer(t, Options{ReplyFunc: func(c ChatRequest) string { return "echo: " + c.Messages[len(c.Messages)-1].Content }})
	resp := post(t, s.BaseURL()+"/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	var out struct {
		Choices []struct {
			Message      Message `json:"message"`
			FinishReason string  `json:"finish_reason"`
		} `json:"choices"`
		Usage Usage `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Choices) != 1 || out.Choices[0].Message.Content != "echo: hi" || out.Choices[0].FinishReason != "stop" || out.Usage.TotalTokens == 0 {
		t.Fatalf("%+v", out)
	}
	if r := s.Requests(); len(r) != 1 || r[0].Chat.Model != "m" || r[0].Chat.Stream {
		t.Fatalf("%+v", r)
	}
}

func TestStreamWireFormat(t *testing.T) {
	s := NewServer(t, Options{Reply: "abcdefg", Chunk: 3})
	resp := post(t, s.BaseURL()+"/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	// role chunk, 3 content chunks, finish chunk, usage chunk, [DONE]
	if len(lines) != 7 || lines[6] != "data: [DONE]" {
		t.Fatalf("lines %q", lines)
	}
	var content strings.Builder
	for _, l := range lines[:5] {
		var c struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		json.Unmarshal([]byte(strings.TrimPrefix(l, "data: ")), &c)
		content.WriteString(c.Choices[0].Delta.Content)
	}
	if content.String() != "abcdefg" {
		t.Fatalf("content %q", content.String())
	}
	var u struct {
		Choices []any `json:"choices"`
		Usage   Usage `json:"usage"`
	}
	json.Unmarshal([]byte(strings.TrimPrefix(lines[5], "data: ")), &u)
	if u.Choices == nil || len(u.Choices) != 0 || u.Usage.CompletionTokens != 3 {
		t.Fatalf("usage chunk %s", lines[5])
	}
}

func TestEmbeddingsAndScript(t *testing.T) {
	s := NewServer(t, Options{Dim: 8, MaxBatch: 2, Script: []Step{{Status: 429, RetryAfter: "2"}}})
	resp := post(t, s.BaseURL()+"/embeddings", `{"model":"e","input":["a"]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp = post(t, s.BaseURL()+"/embeddings", `{"model":"e","input":"single text"}`)
	var out struct {
		Data []struct {
			Embedding []float32 `json:"embedding"`
			Index     int       `json:"index"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if len(out.Data) != 1 || len(out.Data[0].Embedding) != 8 {
		t.Fatalf("%+v", out)
	}
	resp = post(t, s.BaseURL()+"/embeddings", `{"model":"e","input":["a","b","c"]}`)
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(buf.String(), "batch size is invalid, it should not be larger than 2") {
		t.Fatalf("%d %s", resp.StatusCode, buf.String())
	}
	if s.Count("/embeddings") != 3 {
		t.Fatalf("count %d", s.Count("/embeddings"))
	}
}

func TestHangReleasedAtCleanup(t *testing.T) {
	s := NewServer(t, Options{Script: []Step{{Hang: true}}})
	c := &http.Client{Timeout: 100 * time.Millisecond}
	_, err := c.Post(s.BaseURL()+"/chat/completions", "application/json", strings.NewReader(`{}`))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("hung request: %v, want the client's timeout", err)
	}
}

func TestHashVector(t *testing.T) {
	a, b, c := HashVector("pump pressure low", 64), HashVector("low pump pressure", 64), HashVector("belt", 64)
	dot := func(x, y []float32) (d float32) {
		for i := range x {
			d += x[i] * y[i]
		}
		return d
	}
	if d := dot(a, b); d < 0.999 {
		t.Fatalf("same words: %v", d)
	}
	if d := dot(a, c); d > 0.7 {
		t.Fatalf("different words: %v", d)
	}
}
