package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu/internal/postgres"
)

// A streamed /v1 answer whose database is unreachable fails before its
// first token: the client gets a plain 503 with Retry-After in OpenAI's
// error shape, not a 200 event stream that carries the error inside. The
// same request with a working database streams (TestOpenAICompatible).
func TestOpenAIStreamFailsWithStatusBeforeFirstToken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused, as when PostgreSQL is down
	down, err := postgres.OpenReplica(context.Background(), "postgres://shifu_app@"+dead+"/shifu?sslmode=disable&connect_timeout=2", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	w := newWorld(t, worldOpts{answerDB: down})
	c := w.token("worker")
	for _, stream := range []bool{true, false} {
		body, _ := json.Marshal(map[string]any{"model": "shifu", "stream": stream,
			"messages": []map[string]string{{"role": "user", "content": "How do I fix a seal leak on pump P-101?"}}})
		resp := c.do("POST", "/v1/chat/completions", strings.NewReader(string(body)), "application/json")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Message, Type string }
		}
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") ||
			json.Unmarshal(b, &e) != nil || e.Error.Type != "server_error" || e.Error.Message == "" {
			t.Errorf("stream=%v, database down: %d %q Retry-After %q %s; want 503 with Retry-After and an OpenAI error body",
				stream, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), b)
		}
	}
}
