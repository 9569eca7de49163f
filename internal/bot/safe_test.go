package bot

import (
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

// allowed is own's verdict alone.
func allowed(u, public string) bool {
	_, ok := own(u, public)
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
		"/documents/1":                                false,
		"javascript:alert(1)":                         false,
		"":                                            false,
	} {
		if got := allowed(u, public); got != want {
			t.Errorf("own(%q) = %v, want %v", u, got, want)
		}
	}
	if !allowed("https://x.test/shifu/documents/1", "https://x.test/shifu") || allowed("https://x.test/shifu2/a", "https://x.test/shifu") {
		t.Error("public URL with a path: only paths under it are allowed")
	}
	if allowed("https://shifu.example.cn/", "") {
		t.Error("no public URL: nothing is allowed")
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
