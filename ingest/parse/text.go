package parse

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// parseText splits plain text into paragraphs on blank lines. A lone short
// line that looks like a heading ("3.2 Spindle", "SAFETY") becomes one.
func parseText(data []byte) (*Doc, error) {
	s := normText(string(data))
	s = strings.TrimPrefix(s, "\ufeff")
	d := &Doc{}
	for _, para := range splitParas(s) {
		if len(para) == 1 {
			if lvl := textHeading(para[0]); lvl > 0 {
				d.Blocks = append(d.Blocks, Block{Kind: Heading, Level: lvl, Text: para[0]})
				continue
			}
		}
		// A heading line directly above its paragraph, without a blank line.
		if len(para) > 1 {
			if lvl := textHeading(para[0]); lvl > 0 {
				d.Blocks = append(d.Blocks, Block{Kind: Heading, Level: lvl, Text: para[0]})
				para = para[1:]
			}
		}
		kind := Paragraph
		text := JoinLines(para)
		if len(para) > 1 && bullets(para)*2 >= len(para) {
			kind, text = List, strings.Join(para, "\n")
		}
		if text != "" {
			d.Blocks = append(d.Blocks, Block{Kind: kind, Text: text})
		}
	}
	return d, nil
}

// splitParas returns the cleaned non-empty lines of each blank-line separated
// paragraph.
func splitParas(s string) [][]string {
	var out [][]string
	var cur []string
	for line := range strings.SplitSeq(s, "\n") {
		l := CleanLine(line)
		if l == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, l)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// textHeading returns a level for lines that look like headings: numbered
// ("3", "3.2 Title" → level by depth) or short ALL-CAPS lines (level 1).
func textHeading(l string) int {
	n := utf8.RuneCountInString(l)
	if n == 0 || n > 80 || endsSentence(l) && !strings.HasSuffix(l, ":") || strings.HasSuffix(l, ":") {
		return 0
	}
	// numbered: digits and dots, then a space and a capitalised word
	num, rest, ok := strings.Cut(l, " ")
	if ok && num != "" && strings.Trim(num, "0123456789.") == "" && num[0] != '.' && !strings.Contains(num, "..") {
		r, _ := utf8.DecodeRuneInString(rest)
		if unicode.IsUpper(r) || unicode.Is(unicode.Han, r) {
			depth := strings.Count(strings.TrimSuffix(num, "."), ".") + 1
			if strings.Trim(num, ".") != "" && depth <= 6 && len(strings.Fields(rest)) <= 10 {
				return depth
			}
		}
	}
	letters, upper := 0, 0
	for _, r := range l {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters >= 3 && upper == letters && len(strings.Fields(l)) <= 8 {
		return 1
	}
	return 0
}
