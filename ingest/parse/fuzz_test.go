package parse

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
)

// checkDoc holds for every parsed document: blocks have text, headings have
// a level in 1..6, others have none, and text is valid UTF-8.
func checkDoc(t *testing.T, d *Doc) {
	t.Helper()
	for i, b := range d.Blocks {
		if strings.TrimSpace(b.Text) == "" {
			t.Fatalf("block %d is empty: %+v", i, b)
		}
		if !utf8.ValidString(b.Text) {
			t.Fatalf("block %d is not UTF-8: %q", i, b.Text)
		}
		if (b.Kind == Heading) != (b.Level >= 1 && b.Level <= 6) {
			t.Fatalf("block %d has level %d for kind %d", i, b.Level, b.Kind)
		}
	}
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{"%PDF-1.4", "PK\x03\x04", "<!doctype html>", "# t", "text", "\x89PNG\r\n\x1a\n", "\xff\xfe", ""} {
		f.Add("a.md", []byte(s))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		fm, err := Sniff(name, data)
		if err != nil {
			if !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(shifu.Message(err), "accepted:") {
				t.Fatalf("error %v is not a user-facing ErrInvalid", err)
			}
			return
		}
		if (fm == Text || fm == Markdown || fm == HTML) && !utf8.Valid(data) {
			t.Fatalf("invalid UTF-8 let through as %s", fm)
		}
	})
}

func FuzzHTML(f *testing.F) {
	f.Add([]byte(htmlDoc))
	f.Add([]byte("<table><tr><th>a<table><tr><td>b</td></tr></table></th></tr></table><h7>x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		d, err := parseHTML("f.html", data)
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, d)
	})
}

func FuzzMarkdown(f *testing.F) {
	f.Add([]byte("# T\n\n- a\n- b\n\n```\ncode\n```\n| a | b |\n|---|---|\n| 1 | 2 |\n"))
	f.Add([]byte("x\n===\n```"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		d, err := parseMarkdown(data)
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, d)
	})
}

func FuzzText(f *testing.F) {
	f.Add([]byte("SAFETY\n\n3.2 Spindle\nbody text.\n\n- a\n- b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return
		}
		d, err := parseText(data)
		if err != nil {
			t.Fatal(err)
		}
		checkDoc(t, d)
	})
}

func FuzzDOCX(f *testing.F) {
	f.Add([]byte(docxBody))
	f.Add([]byte("<w:tbl><w:tr><w:tc><w:tbl><w:tr><w:tc><w:p><w:t>x</w:t></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>"))
	f.Fuzz(func(t *testing.T, xmlBody []byte) {
		data := zipOf(t, map[string]string{"word/document.xml": string(xmlBody)})
		d, err := parseDOCX("f.docx", data, 1<<20)
		if err != nil {
			if !errors.Is(err, shifu.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		checkDoc(t, d)
	})
}

func FuzzClean(f *testing.F) {
	f.Add("Header\nbody-\nword\n\nPage 1", "Header\n中文\n文本\nPage 2", "Header\nx\nPage 3")
	f.Add("AXIS(1) GUI AXIS(1)\nNAME\n4 2007 Docs", "AXIS(1)\nGUI\nAXIS(1)\nx\nDocs 2007 5", "LS(1) LS(1)\ny")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := [][]string{strings.Split(a, "\n"), strings.Split(b, "\n"), strings.Split(c, "\n")}
		out := Clean(in)
		if len(out) != len(in) {
			t.Fatalf("%d pages in, %d out", len(in), len(out))
		}
		for _, p := range out {
			for _, l := range p {
				if strings.ContainsAny(l, "\x00\r\t\n") || strings.Contains(l, "  ") {
					t.Fatalf("line not normalised: %q", l)
				}
			}
			blocks := paragraphs(p, 1)
			for _, bl := range blocks {
				if strings.TrimSpace(bl.Text) == "" {
					t.Fatalf("empty block from %q", p)
				}
			}
			_ = JoinLines(p)
		}
		// Page titles: one per page, each a line the page had at its top.
		before := make([][]string, len(out))
		for i, p := range out {
			before[i] = slices.Clone(p)
		}
		titles := Titles(out)
		if len(titles) != len(out) {
			t.Fatalf("%d titles for %d pages", len(titles), len(out))
		}
		for i, ti := range titles {
			if ti != "" && !slices.ContainsFunc(before[i], func(l string) bool { return strings.Contains(l, ti) }) {
				t.Fatalf("title %q is not on page %d: %q", ti, i+1, before[i])
			}
			if ti == "" && !slices.Equal(before[i], out[i]) {
				t.Fatalf("page %d without a title changed: %q → %q", i+1, before[i], out[i])
			}
		}
	})
}

// FuzzSnifferSplit: a file written to a Sniffer in pieces of any size is
// judged as the same file written at once, and as the rules say of it whole.
func FuzzSnifferSplit(f *testing.F) {
	for _, s := range []string{"plain text é 中文", "\xef\xbb\xbf  \u00a0\u3000\n", "# 标题\n正文", "ok\xe4\xb8", "a\x00b", "\x01\x02\x03abc", " \u2028 x"} {
		f.Add("a.txt", []byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, name string, data []byte, piece uint8) {
		n := int(piece%7) + 1
		var s Sniffer
		for rest := data; len(rest) > 0; rest = rest[min(n, len(rest)):] {
			_, _ = s.Write(rest[:min(n, len(rest))])
		}
		got, gerr := s.Format(name, bytes.NewReader(data))
		want, werr := Sniff(name, data)
		if got != want || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("in pieces of %d: %q, %v; whole: %q, %v", n, got, gerr, want, werr)
		}
		body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		switch {
		case gerr != nil && strings.Contains(gerr.Error(), "only whitespace"):
			if len(bytes.TrimSpace(body)) != 0 {
				t.Fatalf("%q called whitespace only", data)
			}
		case got == Text || got == Markdown || got == HTML:
			if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 || len(bytes.TrimSpace(body)) == 0 {
				t.Fatalf("%q let through as %s", data, got)
			}
		}
	})
}
