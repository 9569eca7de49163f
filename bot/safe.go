package bot

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Model output is untrusted: a poisoned manual page can make the model write
// "@channel" or a phishing link. Before posting, each platform splits the text
// into plain runs and links, escapes the runs its own way, and keeps only
// links to Shifu's web app.

// Segment is a run of plain text or a link found in model output.
type Segment struct {
	Text  string // plain text, or the link's label
	URL   string // "" for plain text
	Image bool   // ![alt](url)
}

// linkRE finds markdown images and links, Slack-style <url|label> links and
// bare URLs (with a scheme, or starting with www.).
var linkRE = regexp.MustCompile(`!\[([^\]\n]*)\]\(\s*<?([^()\s<>]*)>?(?:\s+"[^"\n]*")?\s*\)` +
	`|\[([^\]\n]*)\]\(\s*<?([^()\s<>]*)>?(?:\s+"[^"\n]*")?\s*\)` +
	`|<((?i:[a-z][a-z0-9+.-]*:)[^|>\s]*)(?:\|([^>\n]*))?>` +
	`|((?i:(?:https?|ftp|file|javascript|data|mailto|tel|xmpp|dingtalk|slack):)[^\s<>()\[\]"'` + "`" + `]+|(?i:www\.)[^\s<>()\[\]"'` + "`" + `]+)`)

// Split cuts s into plain text and links.
func Split(s string) []Segment {
	var out []Segment
	last := 0
	for _, m := range linkRE.FindAllStringSubmatchIndex(s, -1) {
		if m[0] > last {
			out = append(out, Segment{Text: s[last:m[0]]})
		}
		sub := func(i int) string {
			if m[2*i] < 0 {
				return ""
			}
			return s[m[2*i]:m[2*i+1]]
		}
		switch {
		case m[2] >= 0 || m[4] >= 0:
			out = append(out, Segment{Text: sub(1), URL: sub(2), Image: true})
		case m[6] >= 0 || m[8] >= 0:
			out = append(out, Segment{Text: sub(3), URL: sub(4)})
		case m[10] >= 0:
			out = append(out, Segment{Text: sub(6), URL: sub(5)})
		default:
			u := strings.TrimRight(sub(7), ".,;:!?")
			out = append(out, Segment{URL: u})
			m[1] = m[14] + len(u)
		}
		last = m[1]
	}
	if last < len(s) {
		out = append(out, Segment{Text: s[last:]})
	}
	return out
}

// DocPath matches a relative link to one of our documents, as a citation
// spells it: /documents/N, optionally ?v=N (the version cited) and a page or
// anchor fragment. It is the only relative link kept, since a client resolves
// it against its own origin.
var DocPath = regexp.MustCompile(`^/documents/[0-9]{1,19}(\?v=[0-9]{1,9})?(#[A-Za-z0-9._=-]{0,200})?$`)

// Own reports whether u points into the web app at public (scheme, host and
// port equal, path under it) or is a relative link to a document (DocPath):
// the only links model output may keep. It returns u spelled with public's
// scheme and host (hosts compare case-insensitively) and the root spelled "/",
// so every absolute link starts with the configured address and a path; a
// document path is made absolute under public, or stays relative when public
// is "" (where no address is known, as for /v1 clients).
func Own(u, public string) (string, bool) {
	if DocPath.MatchString(u) {
		if public == "" {
			return u, true
		}
		u = strings.TrimRight(public, "/") + u
	}
	if public == "" || u == "" {
		return "", false
	}
	p, err := url.Parse(public)
	if err != nil || p.Host == "" {
		return "", false
	}
	v, err := url.Parse(u)
	if err != nil || v.User != nil || v.Opaque != "" {
		return "", false
	}
	if !strings.EqualFold(v.Scheme, p.Scheme) || !strings.EqualFold(v.Host, p.Host) {
		return "", false
	}
	base := strings.TrimRight(p.Path, "/")
	if base != "" && v.Path != base && !strings.HasPrefix(v.Path, base+"/") {
		return "", false
	}
	v.Scheme, v.Host = p.Scheme, p.Host
	if v.Path == "" {
		v.Path, v.RawPath = "/", ""
	}
	return v.String(), true
}

// broadcastRE finds words that notify whole channels on either platform.
var broadcastRE = regexp.MustCompile(`(?i)[@＠](channel|here|everyone|all)\b|[@＠]所有人`)

// Defuse breaks broadcast mentions (@channel, @here, @everyone, @all, @所有人)
// with an invisible word joiner, and puts a zero-width space after the dots of
// bare domain names, so the platform neither notifies nor auto-links them.
func Defuse(s string) string {
	s = broadcastRE.ReplaceAllStringFunc(s, func(m string) string {
		_, size := utf8.DecodeRuneInString(m)
		return m[:size] + "\u2060" + m[size:]
	})
	return domainRE.ReplaceAllStringFunc(s, func(m string) string {
		return strings.ReplaceAll(m, ".", ".\u200b")
	})
}

// domainRE matches host names ending in a top-level domain that chat clients
// auto-link. File names like config.yaml or main.c are left alone.
var domainRE = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|net|org|io|cn|co|me|info|biz|ru|de|uk|jp|app|dev|xyz|top|ly|gl|gg|sh|link|site|online|club|shop|vip|cc|tv|ai|us|eu|hk|tw|in|to|ws|tk|ml|ga|cf|gq|pw|su|icu|buzz|live|click|fun|store|tech|space|website|cloud|work|life|page|zip|mov)\b`)

// Label is link text made link-free: a label may itself hold a URL or a
// nested link, which would otherwise be auto-linked once posted. Every pass
// that finds a link shortens s, so the loop ends.
func Label(s string) string {
	for {
		var b strings.Builder
		found := false
		for _, seg := range Split(s) {
			if seg.URL != "" {
				found = true
			}
			b.WriteString(seg.Text)
		}
		s = b.String()
		if !found {
			return s
		}
	}
}

// mark is the first of the private-use runes that hold allowed links' places
// in cleaned text.
const mark = '\uE000'

// Clean reduces every link in model output to its label and drops bare URLs,
// except links into the web app at public: those are returned, and the text
// holds a placeholder rune where each goes (see Relink). Joining the pieces
// cannot form a new link: the result is cleaned until none is left.
func Clean(s, public string) (string, []Segment) {
	s = strings.Map(func(r rune) rune {
		if r >= mark && r <= '\uF8FF' {
			return -1
		}
		return r
	}, s)
	var links []Segment
	var b strings.Builder
	for _, seg := range Split(s) {
		if u, ok := Own(seg.URL, public); ok && !seg.Image && len(links) < 0x1000 {
			seg.URL, seg.Text = u, Label(seg.Text)
			links = append(links, seg)
			b.WriteRune(mark + rune(len(links)-1))
			continue
		}
		b.WriteString(seg.Text)
	}
	return Label(b.String()), links
}

// Relink puts links back into cleaned (and by then escaped) text, each
// rendered by the platform's link function.
func Relink(s string, links []Segment, link func(Segment) string) string {
	if len(links) == 0 {
		return s
	}
	return strings.NewReplacer(relinkPairs(links, link)...).Replace(s)
}

func relinkPairs(links []Segment, link func(Segment) string) []string {
	pairs := make([]string, 0, 2*len(links))
	for i, l := range links {
		pairs = append(pairs, string(mark+rune(i)), link(l))
	}
	return pairs
}

// Markdown makes model output or manual text safe for a client that renders
// CommonMark or GitHub Markdown (the /v1 API's chat clients), the way Escape
// does for each bot platform: links reduced to their label and bare URLs
// dropped (Clean), except links into the app at public and relative document
// links (Own); mentions and bare domains defused; and what Clean's patterns do
// not read as a link cannot become one: "](" and "]:" are split (no inline
// link, image or reference definition can form) and "<" before a letter, "/",
// "!" or "?" is written &lt; (no raw HTML, no <scheme:...> autolink; an entity,
// unlike a backslash, cannot be escaped away by a preceding "\"). Emphasis,
// lists, tables and code are kept.
func Markdown(s, public string) string {
	clean, links := Clean(s, public)
	return Relink(mdText(Defuse(clean)), links, func(l Segment) string {
		label := l.Text
		if label == "" {
			label = "link"
		}
		return "[" + mdLabel.Replace(label) + "](" + mdURL.Replace(l.URL) + ")"
	})
}

var (
	mdSplit = strings.NewReplacer("](", "] (", "]:", "] :")
	mdTagRE = regexp.MustCompile(`<([A-Za-z/!?])`)
	// mdLabel keeps a label inside its brackets: nothing in it can close
	// the label early or open markup.
	mdLabel = strings.NewReplacer("\\", "\\\\", "[", "\\[", "]", "\\]", "<", "&lt;", "\n", " ")
	mdURL   = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E")
)

func mdText(s string) string {
	return mdTagRE.ReplaceAllString(mdSplit.Replace(s), "&lt;$1")
}
