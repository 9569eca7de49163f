package parse

import (
	"strings"
)

// parseMarkdown is a line-level Markdown reader: it keeps the structure the
// chunker needs (headings, lists, fenced code, pipe tables) and leaves inline
// markup as written, since it reads fine as text.
func parseMarkdown(data []byte) (*Doc, error) {
	s := strings.TrimPrefix(normText(string(data)), "\ufeff")
	lines := strings.Split(s, "\n")
	d := &Doc{}
	var para []string
	flush := func() {
		if t := JoinLines(para); t != "" {
			d.Blocks = append(d.Blocks, Block{Kind: Paragraph, Text: t})
		}
		para = para[:0]
	}
	for i := 0; i < len(lines); i++ {
		raw := lines[i]
		l := strings.TrimSpace(raw)
		switch {
		case l == "":
			flush()
		case fence(l) != "":
			flush()
			f := fence(l)
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), f); i++ {
				code = append(code, strings.TrimRight(lines[i], " \t"))
			}
			if t := strings.Trim(strings.Join(code, "\n"), "\n"); t != "" {
				d.Blocks = append(d.Blocks, Block{Kind: Code, Text: t})
			}
		case atxLevel(l) > 0:
			flush()
			lvl := atxLevel(l)
			t := strings.TrimSpace(strings.TrimLeft(l, "#"))
			// Cleaning can empty a title made of control characters: test after.
			if t = CleanLine(strings.TrimSpace(strings.TrimRight(t, "#"))); t != "" {
				d.Blocks = append(d.Blocks, Block{Kind: Heading, Level: lvl, Text: t})
			}
		case len(para) == 1 && setext(l) > 0:
			// the paragraph so far is one line: it is a setext heading
			t := CleanLine(para[0])
			para = para[:0]
			if t != "" {
				d.Blocks = append(d.Blocks, Block{Kind: Heading, Level: setext(l), Text: t})
			}
		case strings.HasPrefix(l, "|") && i+1 < len(lines) && tableSep(lines[i+1]):
			flush()
			var rows []string
			add := func(l string) {
				if r := tableRow(l); strings.Trim(r, " |") != "" {
					rows = append(rows, r)
				}
			}
			add(l)
			for i += 2; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				add(lines[i])
			}
			i--
			if len(rows) > 0 {
				d.Blocks = append(d.Blocks, Block{Kind: Table, Text: strings.Join(rows, "\n")})
			}
		case mdItem(l) && len(para) == 0:
			var items []string
			for ; i < len(lines); i++ {
				t := strings.TrimSpace(lines[i])
				if t == "" || atxLevel(t) > 0 || fence(t) != "" {
					break
				}
				c := CleanLine(t)
				switch {
				case c == "":
				case mdItem(t) || len(items) == 0:
					items = append(items, c)
				default: // continuation line of the item
					items[len(items)-1] += " " + c
				}
			}
			i--
			if len(items) > 0 {
				d.Blocks = append(d.Blocks, Block{Kind: List, Text: strings.Join(items, "\n")})
			}
		default:
			para = append(para, CleanLine(l))
		}
	}
	flush()
	return d, nil
}

// atxLevel returns 1..6 for "# Title" … "###### Title", else 0.
func atxLevel(l string) int {
	n := 0
	for n < len(l) && l[n] == '#' {
		n++
	}
	if n == 0 || n > 6 {
		return 0
	}
	if n < len(l) && l[n] != ' ' && l[n] != '\t' {
		return 0
	}
	if strings.TrimSpace(l[n:]) == "" {
		return 0
	}
	return n
}

func setext(l string) int {
	switch {
	case len(l) >= 2 && strings.Trim(l, "=") == "":
		return 1
	case len(l) >= 2 && strings.Trim(l, "-") == "":
		return 2
	}
	return 0
}

func fence(l string) string {
	for _, f := range []string{"```", "~~~"} {
		if strings.HasPrefix(l, f) {
			return f
		}
	}
	return ""
}

func tableSep(l string) bool {
	l = strings.TrimSpace(l)
	return strings.Contains(l, "-") && strings.Trim(l, "|-: ") == ""
}

func tableRow(l string) string {
	l = strings.TrimSpace(l)
	l = strings.TrimPrefix(l, "|")
	l = strings.TrimSuffix(l, "|")
	cells := strings.Split(l, "|")
	for i, c := range cells {
		cells[i] = CleanLine(c)
	}
	return strings.Join(cells, " | ")
}

func mdItem(l string) bool {
	if len(l) >= 2 && strings.ContainsRune("-*+", rune(l[0])) && l[1] == ' ' {
		return true
	}
	k := strings.TrimLeft(l, "0123456789")
	return len(k) < len(l) && len(l)-len(k) <= 9 && (strings.HasPrefix(k, ". ") || strings.HasPrefix(k, ") "))
}
