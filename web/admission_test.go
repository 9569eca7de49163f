package web_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shifu-factory/shifu/internal/admit"
)

// A full server refuses answers at once with 503, Retry-After and code
// "busy", on the web chat and the OpenAI-compatible API alike; once a slot
// frees, questions are answered again.
func TestFullServerRefusesWithBusy(t *testing.T) {
	lim := admit.New(1, 0, time.Second)
	w := newWorld(t, worldOpts{admission: lim})
	hold, err := lim.Acquire(context.Background(), w.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := w.token("worker")
	for _, r := range []struct{ path, body string }{
		{"/api/chat", `{"question":"What does alarm E-101 mean?"}`},
		{"/v1/chat/completions", `{"model":"shifu","messages":[{"role":"user","content":"What does alarm E-101 mean?"}]}`},
	} {
		resp := c.do("POST", r.path, bytes.NewReader([]byte(r.body)), "application/json")
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !bytes.Contains(b.Bytes(), []byte("busy")) {
			t.Errorf("%s while full: %d Retry-After %q %s; want 503 busy with Retry-After", r.path, resp.StatusCode, resp.Header.Get("Retry-After"), b.String())
		}
	}
	hold()
	var out map[string]any
	if code := c.json("POST", "/v1/chat/completions", map[string]any{"model": "shifu",
		"messages": []map[string]string{{"role": "user", "content": "What does alarm E-101 mean?"}}}, &out); code != http.StatusOK {
		t.Fatalf("after the slot freed: %d %v", code, out)
	}
	if s := lim.Stats(); s.InFlight != 0 {
		t.Fatalf("slots not given back: %+v", s)
	}
}
