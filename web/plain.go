package web

import (
	"html"
	"strings"

	"github.com/shifu-factory/shifu/answer"
)

// renderAnswer turns an answer's text into safe HTML: a model's answer is
// Markdown (renderMarkdown); an extractive one (degraded: the manuals' own
// sentences) is plain text and is rendered escaped, so manual text keeps
// every character as printed ("~/.ssh/", "*.ini" are not Markdown).
func renderAnswer(text string, degraded bool) string {
	if degraded {
		return renderPlain(text)
	}
	return renderMarkdown(text)
}

// renderPlain renders the plain text of answer's extractive
// answers: blocks separated by blank lines; a block of "| … |" lines is a
// table (header row, separator row, rows); a line in “quotation marks” is a
// quote; a gloss line (answer.GlossLead) a note; [n] becomes a citation
// mark. Everything else is a paragraph. All text is escaped; only digits
// are captured for [n].
func renderPlain(text string) string {
	var b strings.Builder
	for _, block := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		lines := strings.Split(strings.Trim(block, "\n"), "\n")
		if len(lines) == 0 || strings.TrimSpace(block) == "" {
			continue
		}
		var rows []string
		for len(lines) > 0 && strings.HasPrefix(lines[0], "| ") {
			rows, lines = append(rows, lines[0]), lines[1:]
		}
		if len(rows) > 0 {
			b.WriteString(`<table class="quoted">`)
			for i, r := range rows {
				if i == 1 && strings.Trim(r, "|- ") == "" {
					continue // the separator row
				}
				tag := "td"
				if i == 0 {
					tag = "th"
					b.WriteString("<thead>")
				}
				b.WriteString("<tr>")
				for _, c := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(r, "| "), " |"), " | ") {
					b.WriteString("<" + tag + ">" + html.EscapeString(c) + "</" + tag + ">")
				}
				b.WriteString("</tr>")
				if i == 0 {
					b.WriteString("</thead>")
				}
			}
			b.WriteString("</table>")
		}
		for _, l := range lines {
			esc := citeRef.ReplaceAllString(html.EscapeString(l), `<sup class="ref">[$1]</sup>`)
			switch {
			case strings.HasPrefix(l, "“"):
				b.WriteString(`<blockquote class="quoted">` + esc + "</blockquote>")
			case strings.HasPrefix(l, answer.GlossLead):
				b.WriteString(`<p class="gloss">` + esc + "</p>")
			case strings.TrimSpace(l) != "":
				b.WriteString("<p>" + esc + "</p>")
			}
		}
	}
	return b.String()
}
