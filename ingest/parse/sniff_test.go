package parse

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"testing"
)

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSniff(t *testing.T) {
	rnd := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	docx := zipOf(t, map[string]string{"word/document.xml": "<w:document/>"})
	xlsx := zipOf(t, map[string]string{"xl/workbook.xml": "<workbook/>"})
	tests := []struct {
		name string
		data []byte
		want Format
		what string // part of the rejection message; "" when accepted
	}{
		{"a.pdf", []byte("%PDF-1.7\n..."), PDF, ""},
		{"weird.bin", []byte("junk\n%PDF-1.4\n"), PDF, ""},
		{"a.docx", docx, DOCX, ""},
		{"renamed.txt", docx, DOCX, ""},
		{"a.html", []byte("\ufeff  \n<!DOCTYPE html><html><body>x</body></html>"), HTML, ""},
		{"a.htm", []byte("<html lang=en><p>hi"), HTML, ""},
		{"x.xhtml", []byte("<?xml version=\"1.0\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0\"><html>"), HTML, ""},
		{"frag.txt", []byte("<body><p>x</p></body>"), HTML, ""},
		{"a.md", []byte("just words"), Markdown, ""},
		{"notes.txt", []byte("intro\n\n## Spindle\ntext"), Markdown, ""},
		{"a.txt", []byte("Spindle runs hot.\nCheck the fan."), Text, ""},
		{"中文.txt", []byte("主轴过热，检查风扇。"), Text, ""},
		{"a.md", []byte("#hashtag only"), Markdown, ""},
		{"a.txt", []byte("#hashtag only\n<b>bold</b>"), Text, ""},
		{"empty.pdf", nil, "", "empty"},
		{"blank.txt", []byte(" \n\t\n"), "", "whitespace"},
		{"img.pdf", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "", "PNG image"},
		{"prog.md", []byte("\x7fELF\x02\x01\x01\x00\x00\x00"), "", "ELF executable"},
		{"setup.txt", []byte("MZ\x90\x00\x03\x00\x00\x00"), "", "Windows executable"},
		{"sheet.docx", xlsx, "", "Excel spreadsheet"},
		{"junk.zip", zipOf(t, map[string]string{"a.txt": "x"}), "", "zip archive"},
		{"broken.docx", []byte("PK\x03\x04garbage"), "", "corrupt zip"},
		{"random.md", rnd, "", "binary"},
		{"nul.txt", []byte("text\x00with nul"), "", "binary"},
		{"latin1.txt", []byte("caf\xe9 cr\xe8me"), "", "not UTF-8"},
		{"u16.txt", []byte("\xff\xfeh\x00i\x00"), "", "UTF-16"},
		{"old.doc", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00"), "", "legacy or encrypted Office"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.name, tt.data)
			if tt.what != "" {
				wantInvalid(t, err, tt.name, tt.what, "accepted: PDF, DOCX, HTML, Markdown, plain text")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Sniff = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSniffEncryptedDOCX(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "word/document.xml", Flags: 1})
	w.Write([]byte("<x/>"))
	zw.Close()
	_, err := Sniff("secret.docx", buf.Bytes())
	wantInvalid(t, err, "secret.docx", "encrypted DOCX")
}
