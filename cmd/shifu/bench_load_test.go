package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchLoad runs `shifu bench load` against url and returns what it printed.
func benchLoad(t *testing.T, url string, clients string) string {
	t.Helper()
	var out, errb bytes.Buffer
	args := []string{"bench", "load", "--url", url, "--token", "t", "--duration", "300ms", "--clients", clients}
	if err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("bench load: %v (stdout %q, stderr %q)", err, out.String(), errb.String())
	}
	return out.String()
}

// TestBenchLoadCountsRefusals: a server that takes two answers at a time and
// refuses the rest with 503 is measured as such: the level over its capacity
// shows refusals, the summary names saturation and the refusal latency.
func TestBenchLoadCountsRefusals(t *testing.T) {
	var inFlight atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "wrong request", http.StatusBadRequest)
			return
		}
		if inFlight.Add(1) > 2 {
			inFlight.Add(-1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		defer inFlight.Add(-1)
		time.Sleep(20 * time.Millisecond) // the answer's work
		w.Write([]byte(`{"choices":[]}`))
	}))
	defer srv.Close()
	out := benchLoad(t, srv.URL, "1,8")
	lines := strings.Split(out, "\n")
	var row8 []string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "8" {
			row8 = f
		}
	}
	if len(row8) != 8 || row8[5] == "0.0%" || row8[7] != "0" {
		t.Fatalf("the 8-client row should show refusals and no errors: %q\n%s", row8, out)
	}
	if !strings.Contains(out, "saturation at") || !strings.Contains(out, "refusals p99") {
		t.Errorf("summary missing saturation or refusal latency:\n%s", out)
	}
}

// TestBenchLoadExplainsRateLimits: answers refused with 429 are errors, not
// refusals, and the bench says which server settings cause them.
func TestBenchLoadExplainsRateLimits(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 3 {
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"choices":[]}`))
	}))
	defer srv.Close()
	out := benchLoad(t, srv.URL, "1")
	if !strings.Contains(out, "HTTP 429") || !strings.Contains(out, "SHIFU_RATE_USER") {
		t.Errorf("a 429 should be reported with the rate-limit settings:\n%s", out)
	}
}
