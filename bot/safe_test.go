package bot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

const public = "https://shifu.example.cn"

func TestSplit(t *testing.T) {
	got := Split(`see [manual](https://shifu.example.cn/documents/3#page=2) and ![x](http://evil.test/a.png), <https://evil.test|docs> or https://evil.test/p?q=1. done`)
	want := []Segment{
		{Text: "see "},
		{Text: "manual", URL: "https://shifu.example.cn/documents/3#page=2"},
		{Text: " and "},
		{Text: "x", URL: "http://evil.test/a.png", Image: true},
		{Text: ", "},
		{Text: "docs", URL: "https://evil.test"},
		{Text: " or "},
		{URL: "https://evil.test/p?q=1"},
		{Text: ". done"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d segments %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// allowed is Own's verdict alone.
func allowed(u, public string) bool {
	_, ok := Own(u, public)
	return ok
}

func TestAllowed(t *testing.T) {
	for u, want := range map[string]bool{
		"https://shifu.example.cn/documents/3#page=2": true,
		"https://SHIFU.example.cn/":                   true,
		"http://shifu.example.cn/documents/3":         false, // scheme differs
		"https://shifu.example.cn.evil.test/":         false,
		"https://shifu.example.cn@evil.test/":         false,
		"https://user@shifu.example.cn/":              false,
		"https://shifu.example.cn:8443/":              false,
		"//shifu.example.cn/documents/1":              false,
		"/documents/1":                                true, // a citation's relative link, made absolute
		"/documents/1?v=2#page=3":                     true,
		"/documents/1/../../logout":                   false,
		"/\\evil.test/documents/1":                    false,
		"/api/logout":                                 false,
		"javascript:alert(1)":                         false,
		"":                                            false,
	} {
		if got := allowed(u, public); got != want {
			t.Errorf("Own(%q) = %v, want %v", u, got, want)
		}
	}
	if !allowed("https://x.test/shifu/documents/1", "https://x.test/shifu") || allowed("https://x.test/shifu2/a", "https://x.test/shifu") {
		t.Error("public URL with a path: only paths under it are allowed")
	}
	if allowed("https://shifu.example.cn/", "") {
		t.Error("no public URL: no absolute link is allowed")
	}
	if u, ok := Own("/documents/4#page=2", ""); !ok || u != "/documents/4#page=2" {
		t.Errorf("no public URL: a document link stays relative, got %q %v", u, ok)
	}
	if u, ok := Own("/documents/4#page=2", public); !ok || u != public+"/documents/4#page=2" {
		t.Errorf("a document link is made absolute under the public URL, got %q %v", u, ok)
	}
}

func TestDefuse(t *testing.T) {
	got := Defuse("@channel @Here @everyone @all @所有人 ＠all ask at evil.com or mail me; config.yaml stays, main.c stays")
	for _, bad := range []string{"@channel", "@Here", "@everyone", "@all", "@所有人", "＠all", "evil.com"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q survived: %q", bad, got)
		}
	}
	for _, keep := range []string{"config.yaml", "main.c"} {
		if !strings.Contains(got, keep) {
			t.Errorf("%q was changed: %q", keep, got)
		}
	}
	if strings.ReplaceAll(strings.ReplaceAll(got, "\u2060", ""), "\u200b", "") != "@channel @Here @everyone @all @所有人 ＠all ask at evil.com or mail me; config.yaml stays, main.c stays" {
		t.Errorf("defusing changed visible text: %q", got)
	}
}

// foreignURL matches a URL that is not the public one.
var foreignURL = regexp.MustCompile(`(?i)(https?|ftp|javascript|data|file)://|www\.`)

func TestClean(t *testing.T) {
	text, links := Clean("Open [the manual](https://shifu.example.cn/documents/7#page=4) not [this](https://evil.test/x) "+
		"nor http:[//evil.test](https://evil.test) nor ![px](https://shifu.example.cn/t.png) nor [https://evil.test](https://shifu.example.cn/d) \uE000", public)
	if len(links) != 2 || links[0].URL != "https://shifu.example.cn/documents/7#page=4" || links[0].Text != "the manual" {
		t.Fatalf("links = %+v", links)
	}
	if links[1].Text != "" {
		t.Errorf("a URL in an allowed link's label must go: %+v", links[1])
	}
	if foreignURL.MatchString(text) || strings.Contains(text, "evil.test/") {
		t.Errorf("foreign link survived: %q", text)
	}
	if strings.Count(text, "\uE000") != 1 || strings.Count(text, "\uE001") != 1 {
		t.Errorf("placeholders: %q (a placeholder rune in the input must be dropped)", text)
	}
	out := Relink(text, links, func(s Segment) string { return "{" + s.URL + "}" })
	if !strings.Contains(out, "Open {https://shifu.example.cn/documents/7#page=4} not this") {
		t.Errorf("relinked: %q", out)
	}
}

// A link into the app whose host is spelled in another case is still ours,
// and is posted with the configured spelling.
func TestCleanOwnSpelling(t *testing.T) {
	_, links := Clean("see HTTPS://Shifu.Example.CN/documents/3 and https://shifu.eXAmple.Cn#top", public)
	if len(links) != 2 || links[0].URL != public+"/documents/3" || links[1].URL != public+"/#top" {
		t.Fatalf("links = %+v", links)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"[a](https://evil.test) <https://x.test|y> www.evil.test http://a.b/c",
		"htt[x](y)p://evil.test", "[[a](b)](https://shifu.example.cn/d)", "![a](javascript:x)",
		"<!channel> <@U1> @here", "\uE000\uE001", "ｈttp://x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		text, links := Clean(s, public)
		if loc := linkRE.FindStringIndex(text); loc != nil {
			t.Fatalf("link left in %q: %q", text, text[loc[0]:loc[1]])
		}
		for _, l := range links {
			if !allowed(l.URL, public) {
				t.Fatalf("foreign link kept: %+v", l)
			}
			if linkRE.MatchString(l.Text) {
				t.Fatalf("link in label: %+v", l)
			}
		}
		if strings.Count(text, string(mark)) > 1 {
			t.Fatalf("placeholder repeated: %q", text)
		}
	})
}

// A poisoned manual or a model's answer sent to a Markdown client: nothing in
// it may make the client show an image or a link elsewhere, however it is
// spelled; the answer's own formatting and document links stay.
func TestMarkdown(t *testing.T) {
	for _, bad := range []string{
		"![px](https://evil.test/p.png)",
		"![px](//evil.test/p.png)",
		"![px](<//evil.test/p q.png>)",
		"![px](//evil.test/(p).png)",
		"![multi\nline](//evil.test/p.png)",
		"![px][r]\n\n[r]: //evil.test/p.png",
		"![px]\n\n[px]:\n//evil.test/p.png",
		"[click](https://evil.test/x)",
		"[click](//evil.test/x)",
		"<https://evil.test/x>",
		"<img src=//evil.test/p.png>",
		"\\<img src=//evil.test/p.png>",
		"<IMG SRC=//evil.test/p.png>",
		"<a href=//evil.test>x</a>",
		"<!-- x --><iframe src=//evil.test>",
		"see https://evil.test/x and www.evil.test/y",
		"xmpp:evil@evil.test",
		"[a](/documents/1/../../api/logout)",
	} {
		got := Markdown(bad, "")
		if img, link := mdLinks(got); img != "" || link != "" {
			t.Errorf("Markdown(%q) = %q: a client renders image %q, link %q", bad, got, img, link)
		}
	}
	got := Markdown("**Torque** the bolts to 25 Nm [1], see [the manual](/documents/3?v=2#page=4).\n\n- one\n- `<two>`\n\n| a | b |\n|---|---|\n| 1 | 2 |", "")
	for _, keep := range []string{"**Torque**", "25 Nm [1]", "[the manual](/documents/3?v=2#page=4)", "\n- one\n", "| a | b |\n|---|---|"} {
		if !strings.Contains(got, keep) {
			t.Errorf("Markdown lost %q: %q", keep, got)
		}
	}
	if got := Markdown("[doc](https://SHIFU.example.cn/documents/3)", public); got != "[doc](https://shifu.example.cn/documents/3)" {
		t.Errorf("own absolute link: %q", got)
	}
}

// mdLinks reads s the way CommonMark and GitHub's autolinks do, roughly but
// generously: an inline image or link whose target is not a document path, a
// reference definition (without one, ![a][r] is text), raw HTML that loads
// or links, an autolink.
func mdLinks(s string) (img, link string) {
	if m := regexp.MustCompile(`!\[[^\]]*\]\(|<(?i:img|iframe|image|video|audio|source|object|embed)`).FindString(s); m != "" {
		return m, ""
	}
	for _, m := range regexp.MustCompile(`\]\(\s*<?([^)\s>]*)`).FindAllStringSubmatch(s, -1) {
		if !DocPath.MatchString(m[1]) {
			return "", m[0]
		}
	}
	if m := regexp.MustCompile(`(?m)^ {0,3}\[[^\]]*\]:|\]:|<(?i:a\b|[a-z][a-z0-9+.-]*:)|(?i:https?://|www\.|xmpp:|mailto:)`).FindString(s); m != "" {
		return "", m
	}
	return "", ""
}

func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"![a](//e.test/p.png)", "[a](/documents/1) <b>x</b>", "[r]: //e.test", "\\<img src=x>", "](:", "<<img"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		got := Markdown(s, "")
		if img, link := mdLinks(got); img != "" || link != "" {
			t.Fatalf("Markdown(%q) = %q: image %q, link %q", s, got, img, link)
		}
	})
}

func TestRedact(t *testing.T) {
	addr := "https://oapi.dingtalk.com/robot/sendBySession?session=s3cret"
	inner := &url.Error{Op: "Post", URL: addr, Err: context.DeadlineExceeded}
	err := Redact(fmt.Errorf("post to session webhook: %w", inner), addr)
	if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "https://oapi.dingtalk.com/[redacted]") {
		t.Errorf("redacted: %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(inner.Error(), "s3cret") {
		t.Errorf("causes: %v; url.Error %v", err, inner)
	}
	// Re-spelled by a library (host case, escaping): still cut.
	if s := RedactString(`Post "HTTPS://OAPI.dingtalk.com/robot/sendBySession?session=s3%63ret": EOF`, addr); strings.Contains(s, "s3") {
		t.Errorf("re-spelled: %s", s)
	}
	if Redact(nil, addr) != nil {
		t.Error("Redact(nil) is not nil")
	}
}
