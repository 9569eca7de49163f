package parse

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/shifu-factory/shifu"
)

// noteField maps accepted column names and Markdown labels (English and
// Chinese, lower-cased) to Note fields.
var noteField = map[string]string{
	"title": "title", "标题": "title",
	"equipment": "equipment", "设备": "equipment",
	"symptom": "symptom", "症状": "symptom", "现象": "symptom",
	"cause": "cause", "原因": "cause",
	"fix": "fix", "处理": "fix", "解决": "fix", "解决方法": "fix", "处理方法": "fix",
	"author": "author", "作者": "author",
}

func setNote(n *shifu.Note, field, v string) {
	v = strings.TrimSpace(v)
	switch field {
	case "title":
		n.Title = v
	case "equipment":
		n.Equipment = v
	case "symptom":
		n.Symptom = v
	case "cause":
		n.Cause = v
	case "fix":
		n.Fix = v
	case "author":
		n.Author = v
	}
}

// ParseNotesCSV reads technician notes from a CSV with a header row naming
// the columns title, equipment, symptom, cause, fix, author (or 标题, 设备,
// 症状, 原因, 处理/解决, 作者). Title and fix are required in every row.
func ParseNotesCSV(name string, r io.Reader) ([]shifu.Note, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: no header row; expected columns title, equipment, symptom, cause, fix, author", name)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		cols[i] = noteField[h]
		seen[cols[i]] = true
	}
	for _, need := range []string{"title", "fix"} {
		if !seen[need] {
			return nil, shifu.Errorf(shifu.ErrInvalid, "%s: header has no %q column; expected columns title, equipment, symptom, cause, fix, author", name, need)
		}
	}
	var notes []shifu.Note
	for row := 2; ; row++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, shifu.Errorf(shifu.ErrInvalid, "%s: row %d: malformed CSV (%v)", name, pe.StartLine, pe.Err)
			}
			return nil, shifu.Errorf(shifu.ErrInvalid, "%s: row %d: unreadable CSV", name, row)
		}
		if strings.TrimSpace(strings.Join(rec, "")) == "" {
			continue // blank line
		}
		var n shifu.Note
		for i, v := range rec {
			if i < len(cols) {
				setNote(&n, cols[i], v)
			}
		}
		if err := checkNote(name, fmt.Sprintf("row %d", row), `column "title"`, `column "fix"`, n); err != nil {
			return nil, err
		}
		notes = append(notes, n)
	}
	if len(notes) == 0 {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: no notes found below the header row", name)
	}
	return notes, nil
}

// checkNote requires a title and a fix; where names the row or section.
func checkNote(name, where, title, fix string, n shifu.Note) error {
	switch {
	case n.Title == "":
		return shifu.Errorf(shifu.ErrInvalid, "%s: %s: %s is empty; every note needs a title and a fix", name, where, title)
	case n.Fix == "":
		return shifu.Errorf(shifu.ErrInvalid, "%s: %s: %s is empty; every note needs a title and a fix", name, where, fix)
	}
	return nil
}

// ParseNotesMarkdown reads one note per "## Title" section, with lines like
// "- Equipment: …", "- Symptom: …", "- Cause: …", "- Fix: …", "- Author: …"
// (or 设备/症状/原因/处理/作者, with ":" or "："). A line without a label continues
// the previous field.
func ParseNotesMarkdown(name string, data []byte) ([]shifu.Note, error) {
	var notes []shifu.Note
	var cur *shifu.Note
	var at, line int
	last := ""
	done := func() error {
		if cur == nil {
			return nil
		}
		where := fmt.Sprintf("note %q at line %d", cur.Title, at)
		if err := checkNote(name, where, "the \"## Title\" heading", "the \"- Fix:\" line", *cur); err != nil {
			return err
		}
		notes = append(notes, *cur)
		return nil
	}
	for l := range strings.SplitSeq(normText(string(data)), "\n") {
		line++
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "## ") && !strings.HasPrefix(t, "### ") {
			if err := done(); err != nil {
				return nil, err
			}
			cur, at, last = &shifu.Note{Title: strings.TrimSpace(t[3:])}, line, ""
			continue
		}
		if cur == nil || t == "" {
			continue
		}
		item := strings.TrimSpace(strings.TrimLeft(t, "-*+ "))
		label, val, ok := cutLabel(item)
		if f := noteField[strings.ToLower(label)]; ok && f != "" && f != "title" {
			setNote(cur, f, val)
			last = f
			continue
		}
		if last != "" { // continuation of the previous field
			setNote(cur, last, noteValue(cur, last)+" "+item)
		}
	}
	if err := done(); err != nil {
		return nil, err
	}
	if len(notes) == 0 {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: no notes found; write one \"## Title\" section per note with \"- Fix: …\" lines", name)
	}
	return notes, nil
}

func cutLabel(s string) (label, val string, ok bool) {
	i := strings.IndexAny(s, ":：")
	if i <= 0 {
		return "", "", false
	}
	label = strings.Trim(strings.TrimSpace(s[:i]), "*_")
	_, size := decodeRune(s[i:])
	return label, strings.TrimSpace(strings.TrimLeft(s[i+size:], "*_ ")), true
}

func decodeRune(s string) (rune, int) {
	for _, r := range s {
		return r, len(string(r))
	}
	return 0, 0
}

func noteValue(n *shifu.Note, f string) string {
	switch f {
	case "equipment":
		return n.Equipment
	case "symptom":
		return n.Symptom
	case "cause":
		return n.Cause
	case "fix":
		return n.Fix
	case "author":
		return n.Author
	}
	return n.Title
}

// noteLabels returns the labels to render a note with, in its language.
func noteLabels(n shifu.Note) [5]string {
	if shifu.Lang(n.Title, n.Symptom, n.Cause, n.Fix) == "zh" {
		return [5]string{"设备", "症状", "原因", "处理", "作者"}
	}
	return [5]string{"Equipment", "Symptom", "Cause", "Fix", "Author"}
}

// NoteText renders a note as the text to index: title, then labelled fields.
func NoteText(n shifu.Note) string {
	l := noteLabels(n)
	var b strings.Builder
	b.WriteString(n.Title)
	for i, v := range []string{n.Equipment, n.Symptom, n.Cause, n.Fix} {
		if v != "" {
			b.WriteString("\n" + l[i] + ": " + v)
		}
	}
	return b.String()
}

// NoteDoc turns a note into a Doc (a heading and one paragraph per field) so
// notes are chunked like any document.
func NoteDoc(n shifu.Note) *Doc {
	l := noteLabels(n)
	d := &Doc{Format: Markdown, Title: n.Title}
	d.Blocks = append(d.Blocks, Block{Kind: Heading, Level: 1, Text: n.Title})
	for i, v := range []string{n.Equipment, n.Symptom, n.Cause, n.Fix} {
		if v != "" {
			d.Blocks = append(d.Blocks, Block{Kind: Paragraph, Text: l[i] + ": " + v})
		}
	}
	d.Lang = shifu.Lang(n.Title, n.Symptom, n.Cause, n.Fix)
	return d
}
