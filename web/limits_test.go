package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shifu-factory/shifu/internal/limit"
)

// TestAnswerLimits: a user over the answers-a-minute limit gets 429 with
// Retry-After on the web chat and on /v1, before any stream starts; other
// users are not held back.
func TestAnswerLimits(t *testing.T) {
	w := newWorld(t, worldOpts{limits: limit.NewAnswers(limit.Config{UserPerMinute: 1, TenantPerMinute: 100,
		UserTokensPerDay: 1e9, TenantTokensPerDay: 1e9})})
	worker := w.session("worker")
	if code, evs := worker.chat("How do I reset the spindle?"); code != http.StatusOK {
		t.Fatalf("first question: %d %s", code, evs[0].data)
	}
	code, evs := worker.chat("And the coolant?")
	if code != http.StatusTooManyRequests || !strings.Contains(string(evs[0].data), "a minute") {
		t.Fatalf("second question in a minute: %d %s, want 429 naming the limit", code, evs[0].data)
	}
	v1 := func(c *client) *http.Response {
		b, _ := json.Marshal(map[string]any{"model": "shifu", "messages": []map[string]string{{"role": "user", "content": "spindle?"}}})
		return c.do("POST", "/v1/chat/completions", bytes.NewReader(b), "application/json")
	}
	sup := w.token("supervisor")
	if r := v1(sup); r.StatusCode != http.StatusOK {
		t.Fatalf("another user's /v1 question: %d %s", r.StatusCode, readBody(t, r))
	}
	r := v1(sup)
	body := readBody(t, r)
	if secs, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.StatusCode != http.StatusTooManyRequests || secs <= 0 ||
		!strings.Contains(body, "rate_limit_error") {
		t.Fatalf("/v1 over the limit: %d, Retry-After %q, %s", r.StatusCode, r.Header.Get("Retry-After"), body)
	}
}

// TestLoginFlood: many parallel bad logins from one address are cut off by
// the per-address limit (429 with Retry-After) rather than each running a
// 64 MiB password check; none fails with 500.
func TestLoginFlood(t *testing.T) {
	w := newWorld(t, worldOpts{login: [2]int{1, 5}})
	c := w.anon()
	resp := c.do("GET", "/login", nil, "")
	m := csrfInput.FindStringSubmatch(readBody(t, resp))
	form := url.Values{"tenant": {"acme"}, "login": {"worker"}, "password": {"wrong password!"}, "csrf": {m[1]}}.Encode()
	const n = 24
	codes := make([]int, n)
	retry := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := c.do("POST", "/login", strings.NewReader(form), "application/x-www-form-urlencoded")
			r.Body.Close()
			codes[i], retry[i] = r.StatusCode, r.Header.Get("Retry-After")
		})
	}
	wg.Wait()
	refused := 0
	for i, code := range codes {
		switch code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
			if retry[i] == "" {
				t.Errorf("429 without Retry-After")
			}
		default:
			t.Errorf("bad login %d: status %d", i, code)
		}
	}
	if refused < n-5 {
		t.Fatalf("%d of %d parallel logins refused; the address may try 5 a minute", refused, n)
	}
}
