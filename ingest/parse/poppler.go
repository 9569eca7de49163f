package parse

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// popplerMeta reads what parsePDF needs besides the text, page count, title
// and outline, with poppler's pdfinfo and pdftohtml (installed with
// pdftotext, poppler-utils), so that a PDF with a text layer is read without
// starting PDFium at all: its start costs a process ~1 s of CPU with the
// compilation cache (~5 s without) and ~100 MB, and its outline walk ~1 s
// more on the 1,335-page manual. Any failure returns an error and the caller
// reads the file with PDFium, which also names what is wrong with a file
// (encrypted, corrupt) as it always did.
func (p *Parser) popplerMeta(ctx context.Context, data []byte) (pages int, title string, err error) {
	cmd := exec.CommandContext(ctx, popplerTool(p.opts.PDFToText, "pdfinfo"), "-enc", "UTF-8", "-")
	cmd.Stdin = bytes.NewReader(data)
	out, err := outputLow(cmd)
	if err != nil {
		return 0, "", fmt.Errorf("pdfinfo: %w", err)
	}
	return pdfInfo(string(out))
}

// popplerTool is the path of poppler's tool next to pdftotext.
func popplerTool(pdftotext, tool string) string {
	return filepath.Join(filepath.Dir(pdftotext), tool)
}

// infoKeys are the fields pdfinfo prints after Title, which end a title
// that runs over several lines.
var infoKeys = []string{"Subject:", "Keywords:", "Author:", "Creator:", "Producer:", "CreationDate:", "ModDate:",
	"Custom Metadata:", "Metadata Stream:", "Tagged:", "UserProperties:", "Suspects:", "Form:", "JavaScript:", "Pages:"}

// pdfInfo takes the page count and title from pdfinfo's output.
func pdfInfo(out string) (pages int, title string, err error) {
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if v, ok := strings.CutPrefix(l, "Pages:"); ok {
			if pages, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || pages <= 0 {
				return 0, "", fmt.Errorf("pdfinfo: pages %q", strings.TrimSpace(v))
			}
		}
		if v, ok := strings.CutPrefix(l, "Title:"); ok && title == "" {
			parts := []string{strings.TrimLeft(v, " ")}
			for i+1 < len(lines) && !infoKey(lines[i+1]) {
				i++
				parts = append(parts, lines[i])
			}
			title = strings.Join(parts, "\n")
		}
	}
	if pages == 0 {
		return 0, "", errors.New("pdfinfo: no page count")
	}
	return pages, title, nil
}

func infoKey(l string) bool {
	for _, k := range infoKeys {
		if strings.HasPrefix(l, k) {
			return true
		}
	}
	return false
}

// popplerOutline reads a PDF's outline with pdftohtml, giving the marks
// PDFium's GetBookmarks gives (flattenMarks): the same titles, levels and
// pages, entries without a destination page left out but their children
// kept. pdftohtml reads a file it can seek in, not a pipe, so data goes in
// by an anonymous in-memory file (memFile): nothing of the upload is
// written to disk.
func (p *Parser) popplerOutline(ctx context.Context, data []byte, pages int) ([]mark, error) {
	f, err := memFile(data)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Page 1 only: the outline comes whole whatever the range, and the
	// pages' own text (pdftotext reads it) would cost as much again.
	cmd := exec.CommandContext(ctx, popplerTool(p.opts.PDFToText, "pdftohtml"),
		"-q", "-xml", "-i", "-stdout", "-f", "1", "-l", "1", "/dev/stdin")
	cmd.Stdin = f
	out, err := outputLow(cmd)
	if err != nil {
		return nil, fmt.Errorf("pdftohtml: %w", err)
	}
	return xmlOutline(out, pages)
}

// xmlOutline reads the <outline> of pdftohtml's XML: nested outline
// elements of items, each item's page 1-based.
func xmlOutline(out []byte, pages int) ([]mark, error) {
	at := bytes.Index(out, []byte("\n<outline>"))
	if at < 0 {
		if !bytes.Contains(out, []byte("</pdf2xml>")) {
			return nil, errors.New("pdftohtml: output ended early")
		}
		return nil, nil // no outline
	}
	dec := xml.NewDecoder(bytes.NewReader(out[at:]))
	var marks []mark
	level := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("pdftohtml outline: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "outline":
				level++
			case "item":
				var it struct {
					Page  string `xml:"page,attr"`
					Title string `xml:",chardata"`
				}
				if err := dec.DecodeElement(&it, &t); err != nil {
					return nil, fmt.Errorf("pdftohtml outline: %w", err)
				}
				page, err := strconv.Atoi(it.Page)
				if ti := CleanLine(it.Title); ti != "" && err == nil && page >= 1 && page <= pages {
					marks = append(marks, mark{title: ti, level: min(level, 6), page: page - 1})
				}
			}
		case xml.EndElement:
			if t.Name.Local == "outline" {
				if level--; level == 0 {
					return marks, nil
				}
			}
		}
	}
}
