package parse

import (
	"context"
	"os/exec"
	"reflect"
	"testing"

	"github.com/shifu-factory/shifu/internal/testenv"
)

// popplerParser is a Parser reading PDFs with poppler, its PDFium pool its
// own (so a test can see whether it started), or skips.
func popplerParser(t *testing.T) *Parser {
	t.Helper()
	exe, err := exec.LookPath("pdftotext")
	testenv.Need(t, err == nil, "pdftotext is not installed (poppler-utils)")
	p, err := New(context.Background(), Options{PDFToText: exe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPopplerSameAsPDFium: poppler's page count, title, outline and text
// are what the PDFium path gives (PDFium's outline and metadata beside
// pdftotext's text), on the sample and the corpus PDFs (one with an
// outline 2,084 entries deep, one without, one in Chinese); and reading a
// PDF with a text layer starts no PDFium.
func TestPopplerSameAsPDFium(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{"sample.pdf": "testdata/sample.pdf"}
	if !testing.Short() {
		for _, n := range []string{"LinuxCNC_Documentation.pdf", "LinuxCNC_Manual_Pages.pdf", "debian-reference.zh-cn.pdf"} {
			files[n] = corpus(t, n)
		}
	}
	for name, path := range files {
		data := readFile(t, path)
		p := popplerParser(t)
		d, raw, marks, err := p.readPoppler(ctx, name, data, nil)
		if err != nil || d == nil {
			t.Fatalf("%s: poppler did not read it: %v", name, err)
		}
		if p.pool.started {
			t.Errorf("%s: PDFium started for a PDF poppler read", name)
		}
		wd, wraw, wmarks, err := p.readPDFium(ctx, name, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Pages != wd.Pages || d.Title != wd.Title || !reflect.DeepEqual(raw, wraw) {
			t.Errorf("%s: poppler pages %d title %q, PDFium %d %q (same text: %v)", name, d.Pages, d.Title, wd.Pages, wd.Title, reflect.DeepEqual(raw, wraw))
		}
		if !reflect.DeepEqual(marks, wmarks) {
			t.Errorf("%s: %d outline entries, PDFium %d", name, len(marks), len(wmarks))
			for i := range min(len(marks), len(wmarks)) {
				if marks[i] != wmarks[i] {
					t.Fatalf("entry %d: %+v, PDFium %+v", i, marks[i], wmarks[i])
				}
			}
		}
		if name == "sample.pdf" && len(marks) == 0 {
			t.Errorf("sample.pdf: no outline read")
		}
	}
}

// TestPopplerFallsBack: a file poppler cannot read goes to PDFium, which
// names the problem as before; an encrypted PDF says so.
func TestPopplerFallsBack(t *testing.T) {
	p := popplerParser(t)
	ctx := context.Background()
	_, err := p.Parse(ctx, "locked.pdf", readFile(t, "testdata/encrypted.pdf"), nil)
	wantInvalid(t, err, "locked.pdf", "encrypted (password protected)", "unprotected copy")
	_, err = p.Parse(ctx, "broken.pdf", []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage"), nil)
	wantInvalid(t, err, "broken.pdf", "corrupt or unreadable PDF")
}

func TestPDFInfo(t *testing.T) {
	out := "Title:           Spindle\nDrive Manual\nAuthor:          x\nPages:           12\nEncrypted:       no\n"
	if n, title, err := pdfInfo(out); err != nil || n != 12 || title != "Spindle\nDrive Manual" {
		t.Errorf("pdfInfo: %d %q %v", n, title, err)
	}
	if _, _, err := pdfInfo("Title: x\n"); err == nil {
		t.Error("no page count accepted")
	}
}

func TestXMLOutline(t *testing.T) {
	out := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<pdf2xml producer="poppler" version="22.12.0">
<page number="1"><text>a &lt;outline&gt; in the text</text></page>
<outline>
<item page="2">Setup &amp; wiring</item>
<outline>
<item>No destination</item>
<outline>
<item page="3">Deep</item>
</outline>
<item page="9">Past the end</item>
</outline>
<item page="4">  </item>
<item page="4">Wiring</item>
</outline>
</pdf2xml>
`)
	got, err := xmlOutline(out, 5)
	want := []mark{{title: "Setup & wiring", level: 1, page: 1}, {title: "Deep", level: 3, page: 2}, {title: "Wiring", level: 1, page: 3}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("xmlOutline: %+v %v", got, err)
	}
	if m, err := xmlOutline([]byte("<pdf2xml>\n<page/>\n</pdf2xml>\n"), 5); err != nil || m != nil {
		t.Errorf("no outline: %+v %v", m, err)
	}
	if _, err := xmlOutline([]byte("<pdf2xml>\n<page"), 5); err == nil {
		t.Error("cut output accepted")
	}
}
