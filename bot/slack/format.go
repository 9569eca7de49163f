package slack

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/internal/i18n"
)

// Feedback button action ids; the button's value is the answer's message id.
const (
	ActionUp   = "shifu_feedback_up"
	ActionDown = "shifu_feedback_down"
)

// sectionMax is Slack's limit on a section's text.
const sectionMax = 3000

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes text inert in mrkdwn: &, < and > escaped (so <!channel>,
// <!subteam^…> and <@U…> cannot mention anyone) and broadcast words defused.
func Escape(s string) string { return bot.Defuse(escaper.Replace(s)) }

var (
	boldRE    = regexp.MustCompile(`\*\*([^*\n]+)\*\*`)
	headingRE = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+)$`)
)

// Mrkdwn turns model output (Markdown) into safe Slack mrkdwn: text escaped,
// links to the web app kept as <url|label>, every other link reduced to its
// label and bare foreign URLs dropped.
func Mrkdwn(text, public string) string {
	clean, links := bot.Clean(text, public)
	s := bot.Relink(Escape(clean), links, func(l bot.Segment) string {
		label := l.Text
		if label == "" {
			label = "link"
		}
		return "<" + escaper.Replace(l.URL) + "|" + strings.ReplaceAll(Escape(label), "|", "¦") + ">"
	})
	s = boldRE.ReplaceAllString(s, "*$1*")
	return headingRE.ReplaceAllString(s, "*$1*")
}

// DocURL is the web app's page for a citation: the version cited.
func DocURL(public string, c shifu.Citation) string {
	u := fmt.Sprintf("%s/documents/%d", strings.TrimRight(public, "/"), c.DocID)
	if c.Version > 0 {
		u += "?v=" + strconv.Itoa(c.Version)
	}
	switch {
	case c.PageStart > 0:
		u += "#page=" + strconv.Itoa(c.PageStart)
	case c.Anchor != "":
		u += "#" + escapeFragment(c.Anchor)
	}
	return u
}

func escapeFragment(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Blocks renders an answer: its text, one context block per citation
// (document, page, link into the web app) and feedback buttons.
func Blocks(a shifu.Answer, public string) []slack.Block {
	var blocks []slack.Block
	for _, part := range split(Mrkdwn(a.Text, public), sectionMax) {
		// verbatim: Slack must not auto-link or auto-mention anything in it.
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, part, false, true), nil, nil))
	}
	lang := shifu.Lang(a.Text) // the answer is in the question's language
	for _, c := range a.Citations {
		label := c.Name()
		if p := i18n.Pages(lang, c.PageStart, c.PageEnd); p != "" {
			label += ", " + p
		}
		line := fmt.Sprintf("[%d] *%s*", c.N, Escape(bot.Label(label)))
		if c.DocID > 0 && public != "" {
			line += fmt.Sprintf(" · <%s|%s>", escaper.Replace(DocURL(public, c)), i18n.Text(lang, "bot.open"))
		}
		if !c.Verified {
			line += " · _" + i18n.Text(lang, "bot.unverified") + "_"
		}
		blocks = append(blocks, slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType, line, false, true)))
	}
	if a.MessageID > 0 {
		id := strconv.FormatInt(a.MessageID, 10)
		up := slack.NewButtonBlockElement(ActionUp, id, slack.NewTextBlockObject(slack.PlainTextType, i18n.Text(lang, "bot.helpful"), true, false))
		down := slack.NewButtonBlockElement(ActionDown, id, slack.NewTextBlockObject(slack.PlainTextType, i18n.Text(lang, "bot.unhelpful"), true, false))
		blocks = append(blocks, slack.NewActionBlock("shifu_feedback", up, down))
	}
	return blocks
}

// Fallback is the message's plain text, shown in notifications: no links at
// all, escaped.
func Fallback(a shifu.Answer) string {
	s := bot.Label(a.Text)
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return Escape(s)
}

// split cuts s into pieces of at most max bytes, at line ends when it can.
func split(s string, max int) []string {
	var out []string
	for len(s) > max {
		cut := strings.LastIndex(s[:max], "\n")
		if cut <= 0 {
			cut = max
			for cut > 0 && !isRuneStart(s[cut]) {
				cut--
			}
		}
		out = append(out, s[:cut])
		s = strings.TrimLeft(s[cut:], "\n")
	}
	if s != "" || len(out) == 0 {
		out = append(out, s)
	}
	return out
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// userRE is a Slack user id (U… or W…), the only thing put in a mention.
var userRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// Answered is the notice said in the Slack thread where a question was
// asked, once a technician's note answers it: the askers mentioned (users:
// Slack user ids), in the question's language, and a link to the note in
// the web app (none without public). The question and title are people's
// text: escaped, links reduced to their labels.
func Answered(question, title string, users []string, public string, note int64) string {
	lang := shifu.Lang(question)
	var b strings.Builder
	for _, u := range users {
		if userRE.MatchString(u) {
			b.WriteString("<@" + u + "> ")
		}
	}
	q := bot.Label(question)
	if r := []rune(q); len(r) > 200 {
		q = string(r[:200]) + "…"
	}
	key := "bot.answered_titled"
	if t := strings.TrimSpace(title); t == "" || t == strings.TrimSpace(question) {
		key = "bot.answered" // a note titled by the question it answers (the gaps page's default)
	}
	b.WriteString(strings.NewReplacer("{question}", Escape(q), "{note}", Escape(bot.Label(title))).
		Replace(i18n.Text(lang, key)))
	if public != "" && note > 0 {
		b.WriteString(" <" + escaper.Replace(DocURL(public, shifu.Citation{DocID: note})) + "|" + i18n.Text(lang, "answered.open") + ">")
	}
	return b.String()
}
