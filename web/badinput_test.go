package web_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// TestNULAndControlCharacters: a NUL byte in a question (web chat, /v1) or in
// a file name is a clear 400 naming it, not a 500 from PostgreSQL.
func TestNULAndControlCharacters(t *testing.T) {
	w := newWorld(t, worldOpts{})
	code, evs := w.session("worker").chat("spindle\x00alarm")
	if code != http.StatusBadRequest || !strings.Contains(string(evs[0].data), "NUL") {
		t.Fatalf("question with NUL: %d %s", code, evs[0].data)
	}
	b, _ := json.Marshal(map[string]any{"model": "shifu", "messages": []map[string]string{{"role": "user", "content": "a\x00b"}}})
	r := w.token("worker").do("POST", "/v1/chat/completions", bytes.NewReader(b), "application/json")
	if body := readBody(t, r); r.StatusCode != http.StatusBadRequest || !strings.Contains(body, "NUL") {
		t.Fatalf("/v1 question with NUL: %d %s", r.StatusCode, body)
	}
	// The NUL comes percent-encoded (RFC 2231), as a raw one breaks the
	// multipart header itself.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename*=UTF-8''pump%00.md`)
	pw, _ := mw.CreatePart(h)
	pw.Write([]byte("# Pump\n\nCheck the seal.\n"))
	mw.Close()
	r = w.token("supervisor").do("POST", "/api/documents", &body, mw.FormDataContentType())
	code = r.StatusCode
	var out map[string]any
	_ = json.Unmarshal([]byte(readBody(t, r)), &out)
	files, _ := out["files"].([]any)
	if code != http.StatusBadRequest || len(files) != 1 || !strings.Contains(files[0].(map[string]any)["error"].(string), "NUL") {
		t.Fatalf("file name with NUL: %d %v", code, out)
	}
}

// TestLoginNextStaysOnSite: after login, next may only be a path of this
// site; "/\t/host" is "//host" to a browser and is dropped.
func TestLoginNextStaysOnSite(t *testing.T) {
	w := newWorld(t, worldOpts{})
	for next, want := range map[string]string{
		"/\t/evil.example": "/", "/\\evil.example": "/", "//evil.example": "/", "/\n/evil.example": "/",
		"https://evil.example": "/", "/desk?x=1": "/desk?x=1",
	} {
		c := w.anon()
		m := csrfInput.FindStringSubmatch(readBody(t, c.do("GET", "/login", nil, "")))
		form := url.Values{"tenant": {"acme"}, "login": {"worker"}, "password": {password}, "csrf": {m[1]}, "next": {next}}
		r := c.do("POST", "/login", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
		r.Body.Close()
		if got := r.Header.Get("Location"); r.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("next %q: %d to %q, want %q", next, r.StatusCode, got, want)
		}
	}
}
