package parse

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/shifu-factory/shifu"
)

// Zip-bomb guards for DOCX. Sizes in the zip directory can lie, so reads are
// also capped by io.LimitReader and counted.
const (
	maxZipFiles  = 10000
	maxZipRatio  = 200     // uncompressed/compressed for a single part
	maxZipTotal  = 1 << 30 // absolute cap on what we inflate
	minRatioSize = 1 << 20 // small parts may compress very well; only check big ones
)

var errBomb = errors.New("zip bomb")

type zipParts struct {
	files  map[string]*zip.File
	budget int64 // bytes still allowed to inflate
}

func openZip(name string, data []byte, maxBytes int64) (*zipParts, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: corrupt DOCX (not a readable zip archive)", name)
	}
	if len(zr.File) > maxZipFiles {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: DOCX has %d parts; at most %d are accepted", name, len(zr.File), maxZipFiles)
	}
	z := &zipParts{files: map[string]*zip.File{}, budget: min(10*maxBytes, maxZipTotal)}
	for _, f := range zr.File {
		z.files[f.Name] = f
	}
	return z, nil
}

// read inflates one part within the remaining budget.
func (z *zipParts) read(name, part string) ([]byte, error) {
	f := z.files[part]
	if f == nil {
		return nil, nil
	}
	if f.Flags&1 != 0 {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: DOCX is encrypted; upload an unprotected copy", name)
	}
	if f.UncompressedSize64 > minRatioSize && f.UncompressedSize64 > uint64(maxZipRatio)*max(f.CompressedSize64, 1) ||
		f.UncompressedSize64 > uint64(z.budget) {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: DOCX expands to too much data (%s is %d MiB); it looks like a zip bomb", name, part, f.UncompressedSize64>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: corrupt DOCX (%s unreadable)", name, part)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, z.budget+1))
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: corrupt DOCX (%s unreadable)", name, part)
	}
	if int64(len(b)) > z.budget || (len(b) > minRatioSize && uint64(len(b)) > uint64(maxZipRatio)*max(f.CompressedSize64, 1)) {
		return nil, fmt.Errorf("%w: %w", shifu.Errorf(shifu.ErrInvalid, "%s: DOCX expands to too much data; it looks like a zip bomb", name), errBomb)
	}
	z.budget -= int64(len(b))
	return b, nil
}

func parseDOCX(name string, data []byte, maxBytes int64) (*Doc, error) {
	z, err := openZip(name, data, maxBytes)
	if err != nil {
		return nil, err
	}
	body, err := z.read(name, "word/document.xml")
	if err != nil {
		return nil, err
	}
	if body == nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: DOCX has no word/document.xml", name)
	}
	styles := map[string]string{}
	if sb, err := z.read(name, "word/styles.xml"); err != nil {
		return nil, err
	} else if sb != nil {
		styles = styleNames(sb)
	}
	d := &Doc{}
	if cb, err := z.read(name, "docProps/core.xml"); err != nil {
		return nil, err
	} else if cb != nil {
		d.Title = coreTitle(cb)
	}
	blocks, err := docxBlocks(body, styles)
	if err != nil {
		return nil, shifu.Errorf(shifu.ErrInvalid, "%s: corrupt DOCX (document.xml is not valid XML)", name)
	}
	d.Blocks = blocks
	return d, nil
}

// styleNames maps style ids to their display names ("1" → "heading 1" in
// localised Word documents).
func styleNames(b []byte) map[string]string {
	out := map[string]string{}
	dec := xml.NewDecoder(bytes.NewReader(b))
	id := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "style":
				id = attr(se, "styleId")
			case "name":
				if id != "" {
					out[id] = attr(se, "val")
				}
			}
		}
	}
}

func coreTitle(b []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "title" {
			var s string
			if dec.DecodeElement(&s, &se) == nil {
				return CleanLine(s)
			}
			return ""
		}
	}
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// headingLevel reads a level from a style id or name: Heading1, heading 2,
// 标题 3, Title.
func headingLevel(style string) int {
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	switch {
	case s == "title" || s == "标题":
		return 1
	case strings.HasPrefix(s, "heading"):
		s = s[len("heading"):]
	case strings.HasPrefix(s, "标题"):
		s = s[len("标题"):]
	default:
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 9 {
		return 0
	}
	return min(n, 6)
}

// docxBlocks streams document.xml into blocks.
func docxBlocks(body []byte, styles map[string]string) ([]Block, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var (
		blocks  []Block
		text    strings.Builder // current paragraph
		style   string
		outline = -1
		list    bool
		tblDep  int
		rows    []string // current top-level table
		cells   []string // current row
		cell    []string // paragraphs of current cell
		inText  bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "p":
				text.Reset()
				style, outline, list = "", -1, false
			case "pStyle":
				style = attr(t, "val")
			case "outlineLvl":
				if n, err := strconv.Atoi(attr(t, "val")); err == nil {
					outline = n
				}
			case "numPr":
				list = true
			case "t":
				inText = true
			case "tab":
				text.WriteByte(' ')
			case "br", "cr":
				text.WriteByte(' ')
			case "tbl":
				tblDep++
				if tblDep == 1 {
					rows = nil
				}
			case "tr":
				if tblDep == 1 {
					cells = nil
				}
			case "tc":
				if tblDep == 1 {
					cell = nil
				}
			}
		case xml.CharData:
			if inText {
				text.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				s := CleanLine(text.String())
				if s == "" {
					continue
				}
				if tblDep > 0 {
					cell = append(cell, s)
					continue
				}
				lvl := headingLevel(style)
				if lvl == 0 {
					lvl = headingLevel(styles[style])
				}
				if lvl == 0 && outline >= 0 && outline < 9 {
					lvl = min(outline+1, 6)
				}
				switch {
				case lvl > 0:
					blocks = append(blocks, Block{Kind: Heading, Level: lvl, Text: s})
				case list || strings.Contains(strings.ToLower(style+styles[style]), "list"):
					// consecutive list paragraphs form one List block
					if n := len(blocks); n > 0 && blocks[n-1].Kind == List {
						blocks[n-1].Text += "\n" + s
					} else {
						blocks = append(blocks, Block{Kind: List, Text: s})
					}
				default:
					blocks = append(blocks, Block{Kind: Paragraph, Text: s})
				}
			case "tc":
				if tblDep == 1 {
					cells = append(cells, strings.Join(cell, " "))
				}
			case "tr":
				if tblDep == 1 {
					rows = append(rows, strings.Join(cells, " | "))
				}
			case "tbl":
				tblDep--
				if tblDep == 0 && len(rows) > 0 {
					blocks = append(blocks, Block{Kind: Table, Text: strings.Join(rows, "\n")})
				}
			}
		}
	}
	return blocks, nil
}
