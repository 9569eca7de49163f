package parse

import (
	"archive/zip"
	"bytes"
	"image"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/shifu-factory/shifu"
)

// accepted is appended to every "unsupported" message so the uploader knows
// what to send instead.
const accepted = "accepted: PDF, DOCX, HTML, Markdown, plain text, images of pages (JPEG, PNG, TIFF)"

// magic maps well-known file signatures to a human name, only to make the
// rejection message useful.
var magic = []struct {
	sig  string
	what string
}{
	{"\x89PNG\r\n\x1a\n", "PNG image"},
	{"\xff\xd8\xff", "JPEG image"},
	{"GIF8", "GIF image"},
	{"RIFF", "RIFF media (WebP/WAV/AVI)"},
	{"\x7fELF", "ELF executable"},
	{"MZ", "Windows executable"},
	{"\x1f\x8b", "gzip archive"},
	{"BZh", "bzip2 archive"},
	{"\xfd7zXZ\x00", "xz archive"},
	{"7z\xbc\xaf\x27\x1c", "7-Zip archive"},
	{"Rar!", "RAR archive"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy or encrypted Office file (.doc/.xls/.ppt)"},
	{"{\\rtf", "RTF document"},
	{"II*\x00", "TIFF image"},
	{"MM\x00*", "TIFF image"},
	{"\x00\x00\x01\x00", "icon"},
	{"\xef\xbb\xbf", ""}, // UTF-8 BOM: not binary, handled below
}

// ocrImage are the images read by OCR as one-page documents.
var ocrImage = map[string]bool{"PNG image": true, "JPEG image": true, "TIFF image": true}

// sniffImage accepts an image whose header decodes, so a truncated or
// mislabelled file is refused at upload rather than failing in the job.
func sniffImage(name, what string, data []byte) (Format, error) {
	if _, _, err := image.DecodeConfig(bytes.NewReader(data)); err != nil {
		return "", shifu.Errorf(shifu.ErrInvalid, "%s: corrupt or truncated %s; %s", name, what, accepted)
	}
	return Image, nil
}

func unsupported(name, what string) error {
	return shifu.Errorf(shifu.ErrInvalid, "%s: unsupported file type (%s); %s", name, what, accepted)
}

// Sniff decides the format from the content. The extension only chooses
// between Markdown and plain text; it never lets binary data through.
func Sniff(name string, data []byte) (Format, error) {
	if len(data) == 0 {
		return "", shifu.Errorf(shifu.ErrInvalid, "%s: the file is empty; %s", name, accepted)
	}
	head := data[:min(len(data), 1024)]
	// PDF readers accept junk before the header, so look in the first KiB.
	if bytes.Contains(head, []byte("%PDF-")) {
		return PDF, nil
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")) {
		return sniffZip(name, data)
	}
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		return "", unsupported(name, "UTF-16 text; save it as UTF-8")
	}
	for _, m := range magic {
		if m.what != "" && bytes.HasPrefix(data, []byte(m.sig)) {
			if ocrImage[m.what] {
				return sniffImage(name, m.what, data)
			}
			return "", unsupported(name, m.what)
		}
	}
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) || binaryish(body) {
		return "", unsupported(name, "binary data or text that is not UTF-8")
	}
	if looksHTML(body) {
		return HTML, nil
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".md", ".markdown", ".mdown", ".mkd":
		return Markdown, nil
	}
	if hasMarkdownHeading(body) {
		return Markdown, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", shifu.Errorf(shifu.ErrInvalid, "%s: the file holds only whitespace; %s", name, accepted)
	}
	return Text, nil
}

// binaryish reports NULs or a high share of control characters, which valid
// UTF-8 can still contain.
func binaryish(b []byte) bool {
	ctrl := 0
	for _, c := range b {
		if c == 0 {
			return true
		}
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v' && c != 0x1b {
			ctrl++
		}
	}
	return ctrl*100 > len(b) // more than 1 %
}

func looksHTML(b []byte) bool {
	s := bytes.TrimLeft(b[:min(len(b), 2048)], " \t\r\n\f")
	if len(s) == 0 || s[0] != '<' {
		return false
	}
	l := bytes.ToLower(s)
	for _, t := range []string{"<!doctype html", "<html", "<head", "<body", "<meta", "<title", "<!--"} {
		if bytes.HasPrefix(l, []byte(t)) {
			if t == "<!--" { // a comment first: the document must still look like HTML
				return bytes.Contains(l, []byte("<html")) || bytes.Contains(l, []byte("<body")) || bytes.Contains(l, []byte("<!doctype html"))
			}
			return true
		}
	}
	// XHTML starts with an XML declaration.
	if bytes.HasPrefix(l, []byte("<?xml")) {
		return bytes.Contains(l, []byte("<html")) || bytes.Contains(l, []byte("<!doctype html"))
	}
	return false
}

func hasMarkdownHeading(b []byte) bool {
	for line := range bytes.Lines(b[:min(len(b), 64<<10)]) {
		line = bytes.TrimRight(line, "\r\n")
		if n := atxLevel(string(line)); n > 0 {
			return true
		}
	}
	return false
}

func sniffZip(name string, data []byte) (Format, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", unsupported(name, "corrupt zip archive")
	}
	var doc, xl, ppt, odf bool
	for _, f := range zr.File {
		switch {
		case f.Name == "word/document.xml":
			if f.Flags&1 != 0 {
				return "", unsupported(name, "encrypted DOCX")
			}
			doc = true
		case strings.HasPrefix(f.Name, "xl/"):
			xl = true
		case strings.HasPrefix(f.Name, "ppt/"):
			ppt = true
		case f.Name == "mimetype":
			odf = true
		}
	}
	switch {
	case doc:
		return DOCX, nil
	case xl:
		return "", unsupported(name, "Excel spreadsheet")
	case ppt:
		return "", unsupported(name, "PowerPoint presentation")
	case odf:
		return "", unsupported(name, "OpenDocument file")
	}
	return "", unsupported(name, "zip archive")
}
