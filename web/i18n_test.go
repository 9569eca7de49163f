package web_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestErrorsInTheReadersLanguage: the 403 page and the API's error messages
// follow Accept-Language (zh or en); /v1 stays English for OpenAI clients.
func TestErrorsInTheReadersLanguage(t *testing.T) {
	w := newWorld(t, worldOpts{})
	worker := w.session("worker")
	get := func(path, lang, accept string) (int, string) {
		req, _ := http.NewRequest("GET", w.http.URL+path, nil)
		req.Header.Set("Accept-Language", lang)
		req.Header.Set("Accept", accept)
		resp, err := worker.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readBody(t, resp)
	}
	for _, c := range []struct{ lang, title, msg string }{
		{"zh-CN,zh;q=0.9", "错误 403", "此操作需要管理员角色；你的角色是工人"},
		{"en-GB,en;q=0.8", "Error 403", "this needs the admin role; you are worker"},
	} {
		code, body := get("/admin", c.lang, "text/html")
		if code != 403 || !strings.Contains(body, c.title) || !strings.Contains(body, c.msg) {
			t.Errorf("%s: 403 page %d %s", c.lang, code, body)
		}
	}
	for _, c := range []struct{ lang, msg string }{{"zh", "问题是空的"}, {"en", "the question is empty"}} {
		req, _ := http.NewRequest("POST", w.http.URL+"/api/chat", bytes.NewReader([]byte(`{"question":"  "}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Language", c.lang)
		req.Header.Set("X-CSRF-Token", worker.csrf)
		resp, err := worker.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); resp.StatusCode != 400 || !strings.Contains(body, c.msg) {
			t.Errorf("%s: %d %s", c.lang, resp.StatusCode, body)
		}
	}
	if code, body := get("/api/gaps", "zh", "application/json"); code != 403 || !strings.Contains(body, "主管") {
		t.Errorf("zh API 403: %d %s", code, body)
	}
}
