package dingtalk

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/internal/i18n"
)

// plainEscaper keeps a plain run from being read as markup: angle brackets
// (DingTalk renders some HTML: <font>, <a>, <img>) become look-alikes, and
// "](" is split so no markdown link can open. Replacing, never deleting,
// means no two pieces join into something new.
var plainEscaper = strings.NewReplacer("<", "‹", ">", "›", "](", "] (")

// mdEscaper also stops brackets, for text that must not open markdown syntax
// at all (titles, link labels).
var mdEscaper = strings.NewReplacer("[", "［", "]", "］", "<", "‹", ">", "›", "(", "（", ")", "）")

// Escape makes a plain run inert in DingTalk markdown and defuses @all.
func Escape(s string) string { return bot.Defuse(plainEscaper.Replace(s)) }

// inert is Escape for text that must not open markdown syntax at all (titles,
// link labels).
func inert(s string) string { return bot.Defuse(mdEscaper.Replace(s)) }

// Text turns model output into safe DingTalk markdown: links into the web app
// kept, other links reduced to their label, images and bare foreign URLs
// dropped.
func Text(text, public string) string {
	clean, links := bot.Clean(untable(text), public)
	return bot.Relink(Escape(clean), links, func(l bot.Segment) string {
		label := l.Text
		if label == "" {
			label = "link"
		}
		return "[" + inert(label) + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(l.URL) + ")"
	})
}

// Markdown renders an answer: its text, then the sources as a list (DingTalk
// markdown has no tables) with links to the pages in the web app.
func Markdown(a shifu.Answer, public string) string {
	var b strings.Builder
	b.WriteString(Text(a.Text, public))
	lang := shifu.Lang(a.Text) // the answer is in the question's language
	if len(a.Citations) > 0 {
		b.WriteString("\n\n**" + i18n.Text(lang, "chat.sources") + "**\n\n")
	}
	for _, c := range a.Citations {
		fmt.Fprintf(&b, "- %d. %s", c.N, inert(bot.Label(c.Name())))
		if p := i18n.Pages(lang, c.PageStart, c.PageEnd); p != "" {
			b.WriteString(", " + p)
		}
		if c.DocID > 0 && public != "" {
			fmt.Fprintf(&b, " [%s](%s)", i18n.Text(lang, "bot.open"), docURL(public, c))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func docURL(public string, c shifu.Citation) string {
	u := fmt.Sprintf("%s/documents/%d", strings.TrimRight(public, "/"), c.DocID)
	if c.Version > 0 {
		u += fmt.Sprintf("?v=%d", c.Version) // the version cited
	}
	if c.PageStart > 0 {
		u += fmt.Sprintf("#page=%d", c.PageStart)
	}
	return u
}

// Title is the message's title (shown in the chat list): the question, short.
func Title(q string) string {
	q = strings.Join(strings.Fields(inert(bot.Label(q))), " ")
	if r := []rune(q); len(r) > 40 {
		q = string(r[:40]) + "…"
	}
	if q == "" {
		return "Shifu"
	}
	return "Shifu: " + q
}

var (
	tableRowRE = regexp.MustCompile(`^\s*\|(.*)\|\s*$`)
	tableSepRE = regexp.MustCompile(`^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$`)
)

// untable turns Markdown table rows into list items, since DingTalk's
// markdown has no tables: "| P-07 | reset |" becomes "- P-07 · reset".
func untable(s string) string {
	if !strings.Contains(s, "|") {
		return s
	}
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if tableSepRE.MatchString(l) && strings.Contains(l, "-") {
			continue
		}
		if m := tableRowRE.FindStringSubmatch(l); m != nil {
			cells := strings.Split(m[1], "|")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			l = "- " + strings.Join(cells, " · ")
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
