package web

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/shifu-factory/shifu/answer"
	"github.com/shifu-factory/shifu/bot"
)

func TestRenderMarkdown(t *testing.T) {
	for in, want := range map[string]string{
		"Use **torque** 25 Nm [1].":       `<p>Use <strong>torque</strong> 25 Nm <sup class="ref">[1]</sup>.</p>`,
		"<script>alert(1)</script>\n\nok": "<p>ok</p>",
		"[x](javascript:alert(1))":        "<p>x</p>",
		`<img src=x onerror=alert(1)>`:    "",
		"| a | b |\n|---|---|\n| 1 | 2 |": "<table>",
		// Links and images from model output: only document links stay.
		"see https://example.com/manual.pdf now":    "<p>see https://example.com/manual.pdf now</p>",
		"see [the manual](https://evil.test/x) [1]": `<p>see the manual <sup class="ref">[1]</sup></p>`,
		"![tracker](https://evil.test/p.png) done":  "<p>tracker done</p>",
		"[![x](//evil.test/p.png)](//evil.test/)":   "<p>x</p>",
		"[a][r]\n\n[r]: //evil.test/\n":             "<p>a</p>",
		"<https://evil.test/x>":                     "<p>&lt;https://evil.test/x&gt;</p>",
		"open [p. 4](/documents/3?v=2#page=4)":      `<p>open <a href="/documents/3?v=2#page=4">p. 4</a></p>`,
		"[x](/documents/3/../../logout)":            "<p>x</p>",
		// An answer that starts with a tag is shown as typed, not dropped.
		"<b>Torque</b> 25 Nm [1].":       `<p>&lt;b&gt;Torque&lt;/b&gt; 25 Nm <sup class="ref">[1]</sup>.</p>`,
		"<div>\nCheck the seal.\n</div>": "<p>&lt;div&gt;\nCheck the seal.\n&lt;/div&gt;</p>",
		"`<config>` in `a.ini`":          "<p><code>&lt;config&gt;</code> in <code>a.ini</code></p>",
		"```ini\n[pump]\nrate=5\n```":    `<pre><code class="language-ini">[pump]`,
	} {
		got := renderMarkdown(in)
		if want == "" && strings.Contains(got, "<img") || want != "" && !strings.Contains(got, want) {
			t.Errorf("renderMarkdown(%q) = %q, want it to contain %q", in, got, want)
		}
	}
}

// Through the chat page's own rendering (renderAnswer, as the final event and
// the history give it), a model answer beginning with an HTML tag keeps its
// text, escaped.
func TestRenderAnswerStartingWithTag(t *testing.T) {
	got := renderAnswer("<p>Replace the seal MS-220 [1].</p>\n\nThen test.", false)
	if !strings.Contains(got, "&lt;p&gt;Replace the seal MS-220") || !strings.Contains(got, "<p>Then test.</p>") || unsafeHTML(got) != "" {
		t.Fatalf("renderAnswer = %q", got)
	}
}

// An extractive answer's gloss line is a note, escaped like the rest; the
// quote after it stays a quote.
func TestRenderPlainGloss(t *testing.T) {
	got := renderAnswer("手册原文（英文）：\n"+answer.GlossLead+"限位开关 = limit switch；<b> = x\n“Jog off the limit switch.” [1]", true)
	for _, want := range []string{`<p class="gloss">` + answer.GlossLead + "限位开关 = limit switch；&lt;b&gt; = x</p>", `<blockquote class="quoted">“Jog off the limit switch.” <sup class="ref">[1]</sup></blockquote>`} {
		if !strings.Contains(got, want) {
			t.Errorf("renderAnswer lacks %q:\n%s", want, got)
		}
	}
}

// Whatever a model or a manual says, the rendered answer cannot run script.
func FuzzRenderMarkdown(f *testing.F) {
	for _, s := range []string{"**x** [1]", "<script>alert(1)</script>", "[a](javascript:alert(1))", "<img src=x onerror=y>",
		"<a href=\"jav&#x09;ascript:alert(1)\">x</a>", "<svg onload=alert(1)>", "[a](JaVaScRiPt:alert(1))", "<iframe srcdoc='<script>'>",
		"```html\n<script>\n```", "<style>body{}</style>", "![a](//e.test/p.png)", "[a][r]\n\n[r]: //e.test", "<http://e.test>", "[x]( javascript:alert(1) )", "<a href='data:text/html,<script>'>d</a>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := renderMarkdown(in)
		if msg := unsafeHTML(out); msg != "" {
			t.Fatalf("renderMarkdown(%q) = %q: %s", in, out, msg)
		}
		if href := foreignHref(out); href != "" {
			t.Fatalf("renderMarkdown(%q) = %q: links to %q", in, out, href)
		}
	})
}

// foreignHref is the first link target in s that is not one of our document
// paths, or "".
func foreignHref(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			for _, a := range z.Token().Attr {
				if (a.Key == "href" || a.Key == "src") && !bot.DocPath.MatchString(a.Val) {
					return a.Val
				}
			}
		}
	}
}

// unsafeHTML reads HTML as a browser would and names the first thing in it
// that could run script or load active content, or returns "".
func unsafeHTML(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "svg", "math", "style", "img", "object", "embed", "form", "input", "link", "meta", "base", "frame":
				return "tag " + tok.Data
			}
			for _, a := range tok.Attr {
				k := strings.ToLower(a.Key)
				if strings.HasPrefix(k, "on") || k == "style" || k == "srcdoc" {
					return "attribute " + k
				}
				v := strings.ToLower(strings.Map(func(r rune) rune {
					if r <= ' ' {
						return -1 // browsers ignore control characters and spaces in schemes
					}
					return r
				}, a.Val))
				if (k == "href" || k == "src" || k == "action" || k == "formaction" || k == "xlink:href") &&
					(strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "vbscript:")) {
					return k + "=" + a.Val
				}
			}
		}
	}
}

func TestPageCacheBound(t *testing.T) {
	c := newPageCache(1000)
	for i := 0; i < 10; i++ {
		c.put(pageKey{tenant: 1, doc: 1, page: i}, make([]byte, 200), i)
	}
	if c.size > 1000 || len(c.items) != 5 {
		t.Fatalf("size %d, %d items", c.size, len(c.items))
	}
	if _, _, ok := c.get(pageKey{tenant: 1, doc: 1, page: 0}); ok {
		t.Fatal("oldest page kept")
	}
	if _, shown, ok := c.get(pageKey{tenant: 1, doc: 1, page: 9}); !ok || shown != 9 {
		t.Fatal("newest page lost")
	}
	c.put(pageKey{tenant: 2, doc: 1, page: 1}, make([]byte, 100), 1)
	c.dropDoc(1, 1)
	if len(c.items) != 1 || c.size != 100 {
		t.Fatalf("after dropDoc: %d items, %d bytes", len(c.items), c.size)
	}
	c.put(pageKey{tenant: 3}, make([]byte, 600), 1) // over a quarter of the budget: not cached
	if _, _, ok := c.get(pageKey{tenant: 3}); ok {
		t.Fatal("huge page cached")
	}
}

func TestThrottle(t *testing.T) {
	th := newThrottle(3, time.Minute)
	defer th.Close()
	now := time.Unix(1000, 0)
	th.now = func() time.Time { return now }
	for i := 0; i < 2; i++ {
		th.fail("k")
	}
	if th.blocked("k") != 0 {
		t.Fatal("blocked before the limit")
	}
	th.fail("k")
	if d := th.blocked("k"); d != 30*time.Second {
		t.Fatalf("first block %s", d)
	}
	th.fail("k")
	if d := th.blocked("k"); d != time.Minute {
		t.Fatalf("second block %s, want doubled", d)
	}
	if th.blocked("other") != 0 {
		t.Fatal("another key blocked")
	}
	now = now.Add(2 * time.Minute)
	if th.blocked("k") != 0 {
		t.Fatal("still blocked after the block")
	}
	th.reset("k")
	if len(th.seen) != 0 {
		t.Fatal("reset kept the key")
	}
	th.Close() // twice is fine
}

func TestHighlightPNG(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	out, err := highlightPNG(b.Bytes(), []Rect{{X: .1, Y: .1, W: .2, H: .1}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	in := color.RGBAModel.Convert(got.At(20, 15)).(color.RGBA)
	outside := color.RGBAModel.Convert(got.At(80, 80)).(color.RGBA)
	if in.B >= 250 || outside != (color.RGBA{255, 255, 255, 255}) {
		t.Fatalf("inside %v, outside %v", in, outside)
	}
	if same, _ := highlightPNG(b.Bytes(), nil); !bytes.Equal(same, b.Bytes()) {
		t.Fatal("no rects changed the image")
	}
}

// TestThrottleFailsClosed: with the table full, a login not tracked yet is
// refused (it used to be let through untracked, without limit).
func TestThrottleFailsClosed(t *testing.T) {
	th := newThrottle(3, time.Minute)
	defer th.Close()
	for i := range maxThrottleKeys {
		th.fail(itoa(i))
	}
	if th.blocked("new") <= 0 {
		t.Fatal("a new key got through a full throttle: it fails open")
	}
	th.fail("new")
	if len(th.seen) > maxThrottleKeys {
		t.Fatalf("%d keys tracked, over %d", len(th.seen), maxThrottleKeys)
	}
}

// The login's next= goes only to a path of this site: anything a browser
// would read as another host, after dropping tabs and line ends and reading
// \ as /, is refused.
func TestSafeNext(t *testing.T) {
	for _, bad := range []string{"//evil.test", "/\\evil.test", "/\t/evil.test", "/\n/evil.test", "/\r/evil.test",
		"\t//evil.test", " /x", "/\x00/evil.test", "/\x7f/evil.test", "/ /evil.test", "https://evil.test/", "evil.test",
		"\\\\evil.test", "/\\/evil.test", "javascript:alert(1)", "", "/x\t"} {
		if got := safeNext(bad); got != "" {
			t.Errorf("safeNext(%q) = %q, want refused", bad, got)
		}
	}
	for _, good := range []string{"/", "/desk", "/documents/3?v=2#page=4", "/chat?q=%2F%2Fx"} {
		if got := safeNext(good); got != good {
			t.Errorf("safeNext(%q) = %q, want kept", good, got)
		}
	}
}
