package parse

import (
	"bytes"
	"io"
	"strings"

	"github.com/shifu-factory/shifu"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// parseHTML walks the DOM: headings carry their id as Anchor, and every block
// after a heading carries that heading's anchor, so a hit can link to the
// section. Navigation, scripts and page chrome are dropped.
func parseHTML(name string, data []byte) (*Doc, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	root, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		// x/net/html accepts nearly anything but elements nested over 512
		// deep: such a file is read flat, token by token, rather than failed.
		return parseHTMLFlat(name, data)
	}
	w := &htmlWalker{}
	w.walk(root)
	w.flush()
	return &Doc{Title: w.title, Blocks: w.blocks}, nil
}

type htmlWalker struct {
	blocks []Block
	buf    strings.Builder
	anchor string
	title  string
}

// noise are elements whose text is never document content.
var noise = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Nav: true, atom.Header: true, atom.Footer: true,
	atom.Noscript: true, atom.Template: true, atom.Svg: true, atom.Iframe: true, atom.Button: true,
	atom.Select: true, atom.Head: false,
}

// blockish elements end the current paragraph.
var blockish = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true, atom.Aside: true,
	atom.Blockquote: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Figure: true, atom.Figcaption: true,
	atom.Caption: true, atom.Address: true, atom.Hr: true, atom.Form: true, atom.Fieldset: true, atom.Body: true,
	atom.Center: true, atom.Details: true, atom.Summary: true,
}

func (w *htmlWalker) add(k BlockKind, level int, text string) {
	if strings.TrimSpace(text) == "" {
		return
	}
	w.blocks = append(w.blocks, Block{Kind: k, Level: level, Text: text, Anchor: w.anchor})
}

func (w *htmlWalker) flush() {
	w.add(Paragraph, 0, CleanLine(w.buf.String()))
	w.buf.Reset()
}

func (w *htmlWalker) walk(n *html.Node) {
	switch n.Type {
	case html.TextNode:
		w.buf.WriteString(n.Data)
		return
	case html.ElementNode:
	default:
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			w.walk(c)
		}
		return
	}
	if noise[n.DataAtom] || isTOC(n) {
		return
	}
	switch n.DataAtom {
	case atom.Title:
		if w.title == "" {
			w.title = CleanLine(textOf(n))
		}
		return
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		w.flush()
		w.anchor = headingAnchor(n)
		lvl := int(n.Data[1] - '0')
		t := CleanLine(textOf(n))
		w.add(Heading, lvl, t)
		if lvl == 1 && w.title == "" {
			w.title = t
		}
		return
	case atom.Pre:
		w.flush()
		w.add(Code, 0, strings.Trim(normText(textOf(n)), "\n"))
		return
	case atom.Table:
		w.flush()
		w.table(n)
		return
	case atom.Ul, atom.Ol:
		w.flush()
		var items []string
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.DataAtom == atom.Li {
				if t := CleanLine(textOf(c)); t != "" {
					items = append(items, t)
				}
			}
		}
		w.add(List, 0, strings.Join(items, "\n"))
		return
	case atom.Br:
		w.buf.WriteByte(' ')
		return
	}
	block := blockish[n.DataAtom] || n.DataAtom == atom.Li
	if block {
		w.flush()
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		w.walk(c)
	}
	if block {
		w.flush()
	}
}

// table emits a table as Table blocks. A row that is only a <th> label
// after the first row ("Motion", "Tool Length Offset" in a quick reference)
// opens a new section: it becomes a heading and the column header row is
// repeated in the next block so every part keeps its column names. Without
// a preceding heading the table's own id is the anchor.
func (w *htmlWalker) table(t *html.Node) {
	if w.anchor == "" {
		w.anchor = getAttr(t, "id")
	}
	level := 1
	for i := len(w.blocks) - 1; i >= 0; i-- {
		if w.blocks[i].Kind == Heading {
			level = min(w.blocks[i].Level+1, 6)
			break
		}
	}
	if c := firstChildAtom(t, atom.Caption); c != nil {
		w.add(Heading, level, CleanLine(textOf(c)))
		level = min(level+1, 6)
	}
	var head string
	var rows []string
	n := 0
	eachRow(t, func(tr *html.Node) {
		n++
		var cells []string
		section := ""
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.DataAtom == atom.Td || c.DataAtom == atom.Th {
				txt := CleanLine(textOf(c))
				if len(cells) == 0 && section == "" && c.DataAtom == atom.Th && n > 1 {
					section = txt
					continue
				}
				cells = append(cells, txt)
			}
		}
		r := strings.Join(cells, " | ")
		if strings.Trim(r, " |") == "" {
			r = ""
		}
		if n == 1 && allTH(tr) {
			head = r
		}
		if section != "" {
			if len(rows) > 0 && (len(rows) > 1 || rows[0] != head) {
				w.add(Table, 0, strings.Join(rows, "\n"))
			}
			w.add(Heading, level, section)
			rows = nil
			if head != "" {
				rows = append(rows, head)
			}
		}
		if r != "" {
			rows = append(rows, r)
		}
	})
	if len(rows) > 0 && (len(rows) > 1 || rows[0] != head) {
		w.add(Table, 0, strings.Join(rows, "\n"))
	}
}

func allTH(tr *html.Node) bool {
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.DataAtom == atom.Td {
			return false
		}
	}
	return true
}

func firstChildAtom(n *html.Node, a atom.Atom) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.DataAtom == a {
			return c
		}
	}
	return nil
}

// eachRow calls f for the rows of table t, not of tables nested in it.
func eachRow(t *html.Node, f func(*html.Node)) {
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.DataAtom {
			case atom.Tr:
				f(c)
			case atom.Thead, atom.Tbody, atom.Tfoot:
				visit(c)
			}
		}
	}
	visit(t)
}

// isTOC reports a generated table of contents (asciidoc #toc, role=navigation).
func isTOC(n *html.Node) bool {
	id, class, role := getAttr(n, "id"), getAttr(n, "class"), getAttr(n, "role")
	return id == "toc" || id == "TOC" || role == "navigation" || class == "toc" || strings.HasPrefix(class, "toc ") || class == "toc2"
}

func getAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// headingAnchor is the heading's id, else the id or name of an anchor inside
// it, else the id of the section that the heading opens.
func headingAnchor(h *html.Node) string {
	if id := getAttr(h, "id"); id != "" {
		return id
	}
	var found string
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil && found == ""; c = c.NextSibling {
			if c.Type == html.ElementNode {
				if id := getAttr(c, "id"); id != "" {
					found = id
				} else if c.DataAtom == atom.A && getAttr(c, "name") != "" {
					found = getAttr(c, "name")
				} else {
					visit(c)
				}
			}
		}
	}
	visit(h)
	if found != "" {
		return found
	}
	// an <a id> or <a name> right before the heading (old-style anchors)
	for s := h.PrevSibling; s != nil; s = s.PrevSibling {
		if s.Type == html.TextNode && strings.TrimSpace(s.Data) == "" {
			continue
		}
		if s.Type == html.ElementNode && s.DataAtom == atom.A && s.FirstChild == nil {
			if id := getAttr(s, "id"); id != "" {
				return id
			}
			return getAttr(s, "name")
		}
		break
	}
	for p := h.Parent; p != nil && p.Type == html.ElementNode; p = p.Parent {
		if p.DataAtom != atom.Section && p.DataAtom != atom.Div && p.DataAtom != atom.Article {
			break
		}
		if id := getAttr(p, "id"); id != "" {
			return id
		}
		if firstElement(p) != h {
			break
		}
	}
	return ""
}

func firstElement(n *html.Node) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode {
			return c
		}
	}
	return nil
}

// textOf concatenates the text under n, skipping noise elements. Block
// children are separated by a newline so words do not run together.
func textOf(n *html.Node) string {
	var b strings.Builder
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case html.TextNode:
				b.WriteString(c.Data)
			case html.ElementNode:
				if noise[c.DataAtom] {
					continue
				}
				if c.DataAtom == atom.Br {
					b.WriteByte('\n')
					continue
				}
				block := blockish[c.DataAtom] || c.DataAtom == atom.Li || c.DataAtom == atom.Tr
				if block && b.Len() > 0 {
					b.WriteByte('\n')
				}
				visit(c)
				if c.DataAtom == atom.Td || c.DataAtom == atom.Th {
					b.WriteByte(' ')
				}
				if block {
					b.WriteByte('\n')
				}
			default:
				visit(c)
			}
		}
	}
	visit(n)
	return b.String()
}

// parseHTMLFlat reads HTML with the tokenizer alone, for documents the tree
// parser refuses (nesting over 512): headings stay headings, block elements
// end paragraphs, noise elements are skipped, at any depth in linear time.
func parseHTMLFlat(name string, data []byte) (*Doc, error) {
	z := html.NewTokenizer(bytes.NewReader(data))
	w := &htmlWalker{}
	skip := 0    // depth inside noise elements
	heading := 0 // level of the heading being read, 0 outside
	var title strings.Builder
	inTitle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); err != nil && err != io.EOF {
				return nil, shifu.Errorf(shifu.ErrInvalid, "%s: unreadable HTML: %v", name, err)
			}
			w.flush()
			if w.title == "" {
				w.title = CleanLine(title.String())
			}
			return &Doc{Title: w.title, Blocks: w.blocks}, nil
		case html.TextToken:
			switch {
			case skip > 0:
			case inTitle:
				title.Write(z.Text())
			default:
				w.buf.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			tn, _ := z.TagName()
			a := atom.Lookup(tn)
			start := tt == html.StartTagToken
			switch {
			case noise[a]:
				if start {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case a == atom.Title:
				inTitle = start
			case isHeading(a):
				if start {
					w.flush()
					heading = int(a.String()[1] - '0')
				} else if heading > 0 {
					t := CleanLine(w.buf.String())
					w.buf.Reset()
					w.add(Heading, heading, t)
					if heading == 1 && w.title == "" {
						w.title = t
					}
					heading = 0
				}
			case a == atom.Br:
				w.buf.WriteByte(' ')
			case blockish[a] || a == atom.Li || a == atom.Tr || a == atom.Pre || a == atom.Table:
				if heading == 0 {
					w.flush()
				}
			}
		}
	}
}

func isHeading(a atom.Atom) bool {
	switch a {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	return false
}
