package parse

import (
	"archive/zip"
	"bytes"
	"image"
	"io"
	"path/filepath"
	"strings"
	"unicode"
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
func sniffImage(name, what string, data io.Reader) (Format, error) {
	if _, _, err := image.DecodeConfig(data); err != nil {
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
	var s Sniffer
	_, _ = s.Write(data)
	return s.Format(name, bytes.NewReader(data))
}

// sniffHead is how much of the start Sniff looks at (a UTF-8 BOM aside):
// the Markdown heading search reads the first 64 KiB.
const sniffHead = 64<<10 + 3

// Sniffer is Sniff for a file that streams in: Write it the bytes as they
// arrive (it keeps the first 64 KiB and what the text checks need, not the
// file), then ask Format with the whole file at hand for the formats read
// from their end (zip's directory, TIFF's).
type Sniffer struct {
	head    []byte
	size    int64
	ctrl    int64  // control bytes that text does not hold
	nul     bool   // a NUL byte: binary
	invalid bool   // not UTF-8
	partial []byte // the start of a character cut by the end of a Write
	printed bool   // a character that is not white space (the BOM aside)
}

// Write takes the next bytes of the file; it never fails.
func (s *Sniffer) Write(p []byte) (int, error) {
	if len(s.head) < sniffHead {
		s.head = append(s.head, p[:min(len(p), sniffHead-len(s.head))]...)
	}
	start := s.size
	s.size += int64(len(p))
	if s.nul || s.invalid {
		return len(p), nil // binary already: nothing more to learn
	}
	for _, c := range p {
		if c == 0 {
			s.nul = true
			return len(p), nil
		}
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != '\v' && c != 0x1b {
			s.ctrl++
		}
	}
	b := p
	if len(s.partial) > 0 {
		// Complete the character the last Write cut.
		need := min(len(p), utf8.UTFMax-len(s.partial))
		joined := append(s.partial, p[:need]...)
		if !utf8.FullRune(joined) {
			s.partial = joined
			return len(p), nil
		}
		r, n := utf8.DecodeRune(joined)
		if r == utf8.RuneError && n <= 1 {
			s.invalid = true
			return len(p), nil
		}
		s.see(r, start-int64(len(s.partial)))
		b = p[n-len(s.partial):]
		start += int64(n - len(s.partial))
		s.partial = nil
	}
	// Leave a character cut at the end for the next Write.
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(b[:cut]) {
		s.invalid = true
		return len(p), nil
	}
	s.partial = append(s.partial[:0], b[cut:]...)
	if !s.printed {
		for i, r := range string(b[:cut]) {
			s.see(r, start+int64(i))
			if s.printed {
				break
			}
		}
	}
	return len(p), nil
}

// see notes a character at offset off of the file.
func (s *Sniffer) see(r rune, off int64) {
	if !unicode.IsSpace(r) && !(off == 0 && r == '\uFEFF') {
		s.printed = true
	}
}

// Format decides what Sniff would of the bytes written; file reads the
// whole file, for zip archives and images.
func (s *Sniffer) Format(name string, file io.ReaderAt) (Format, error) {
	if s.size == 0 {
		return "", shifu.Errorf(shifu.ErrInvalid, "%s: the file is empty; %s", name, accepted)
	}
	data := s.head
	head := data[:min(len(data), 1024)]
	// PDF readers accept junk before the header, so look in the first KiB.
	if bytes.Contains(head, []byte("%PDF-")) {
		return PDF, nil
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")) {
		return sniffZip(name, file, s.size)
	}
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) {
		return "", unsupported(name, "UTF-16 text; save it as UTF-8")
	}
	for _, m := range magic {
		if m.what != "" && bytes.HasPrefix(data, []byte(m.sig)) {
			if ocrImage[m.what] {
				return sniffImage(name, m.what, io.NewSectionReader(file, 0, s.size))
			}
			return "", unsupported(name, m.what)
		}
	}
	bom := bytes.HasPrefix(data, []byte("\xef\xbb\xbf"))
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	length := s.size
	if bom {
		length -= 3
	}
	if s.nul || s.invalid || len(s.partial) > 0 || s.ctrl*100 > length {
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
	if !s.printed {
		return "", shifu.Errorf(shifu.ErrInvalid, "%s: the file holds only whitespace; %s", name, accepted)
	}
	return Text, nil
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

func sniffZip(name string, data io.ReaderAt, size int64) (Format, error) {
	zr, err := zip.NewReader(data, size)
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

// Head is the start of the file (its first 64 KiB), for content types.
func (s *Sniffer) Head() []byte { return s.head }
