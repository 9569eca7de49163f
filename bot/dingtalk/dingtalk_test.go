package dingtalk

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
)

func header(ts, sign string) http.Header {
	h := http.Header{}
	h.Set("timestamp", ts)
	h.Set("sign", sign)
	return h
}

func TestSignVector(t *testing.T) {
	const want = "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM="
	if got := Sign("this is secret", "1577262236757"); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	at := time.UnixMilli(1577262236757)
	if err := Verify(header("1577262236757", want), "this is secret", at.Add(59*time.Minute)); err != nil {
		t.Fatalf("documented example refused: %v", err)
	}
	for name, c := range map[string]struct {
		h      http.Header
		secret string
		now    time.Time
	}{
		"wrong secret":      {header("1577262236757", want), "this is secret!", at},
		"timestamp changed": {header("1577262236758", want), "this is secret", at},
		"61 minutes late":   {header("1577262236757", want), "this is secret", at.Add(61 * time.Minute)},
		"61 minutes early":  {header("1577262236757", want), "this is secret", at.Add(-61 * time.Minute)},
		"no sign":           {header("1577262236757", ""), "this is secret", at},
		"sign not base64":   {header("1577262236757", "%%%"), "this is secret", at},
		"url-encoded sign":  {header("1577262236757", "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"), "this is secret", at},
		"no timestamp":      {header("", want), "this is secret", at},
	} {
		if err := Verify(c.h, c.secret, c.now); !errors.Is(err, shifu.ErrUnauthorized) {
			t.Errorf("%s: Verify = %v, want ErrUnauthorized", name, err)
		}
	}
}

const public = "https://shifu.example.cn"

func TestMarkdownHostile(t *testing.T) {
	a := shifu.Answer{
		Text: "@all @所有人 click [reset guide](https://evil.test/phish) ![x](https://evil.test/t.png) <a href=\"https://evil.test\">here</a> " +
			"<font color=red>urgent</font> https://evil.test/a www.evil.test evil.com [x](javascript:alert(1)) " +
			"[a]<b>(https://evil.test) See [page 4](https://shifu.example.cn/documents/7#page=4) and reset [1].",
		Citations: []shifu.Citation{{N: 1, Document: "drive.pdf", Title: "Drive [manual](https://evil.test)", PageStart: 12, DocID: 7}},
	}
	got := Markdown(a, public)
	for _, bad := range []string{"@all", "@所有人", "evil.test/", "https://evil", "www.evil", "evil.com", "<a", "<font", "![", "javascript:"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q survived in %q", bad, got)
		}
	}
	if strings.Count(got, "](") != 2 {
		t.Errorf("want exactly 2 links (the page and the source) in %q", got)
	}
	for _, keep := range []string{"[page 4](https://shifu.example.cn/documents/7#page=4)", "reset guide", "reset [1].",
		"**Sources**", "- 1. Drive manual, p. 12 [open](https://shifu.example.cn/documents/7#page=12)"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%q missing from %q", keep, got)
		}
	}
	if strings.Contains(got, "|") {
		t.Errorf("DingTalk markdown has no tables: %q", got)
	}
	if ti := Title("[x](https://evil.test) @all how do I reset?"); strings.Contains(ti, "](") || strings.Contains(ti, "@all") {
		t.Errorf("title %q", ti)
	}
}

func TestTablesBecomeLists(t *testing.T) {
	got := Text("Codes:\n\n| Code | Meaning |\n|------|:-------:|\n| P-07 | reset |\n| P-08 | stop |\n\nDone.", public)
	want := "Codes:\n\n- Code · Meaning\n- P-07 · reset\n- P-08 · stop\n\nDone."
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
