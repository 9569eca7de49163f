package parse

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
)

const docxBody = `<?xml version="1.0" encoding="UTF-8"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>Spindle Manual</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Safety</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Stop the </w:t></w:r><w:r><w:t>spindle first.</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="1"/></w:pPr><w:r><w:t>主轴</w:t></w:r></w:p>
<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/></w:numPr></w:pPr><w:r><w:t>Check fan</w:t></w:r></w:p>
<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/></w:numPr></w:pPr><w:r><w:t>Check belt</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Axis</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Scale</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>X</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>1000</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:pPr><w:pStyle w:val="Heading2"/></w:pPr><w:r><w:t>Wiring</w:t></w:r></w:p>
<w:p><w:r><w:t>Use</w:t></w:r><w:r><w:tab/><w:t>shielded cable.</w:t></w:r></w:p>
</w:body></w:document>`

const docxStyles = `<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:style w:styleId="1"><w:name w:val="heading 3"/></w:style></w:styles>`

func TestDOCX(t *testing.T) {
	data := zipOf(t, map[string]string{
		"word/document.xml": docxBody,
		"word/styles.xml":   docxStyles,
		"docProps/core.xml": `<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Core Title</dc:title></cp:coreProperties>`,
	})
	d, err := lite().Parse(context.Background(), "m.docx", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Format != DOCX || d.Title != "Core Title" || d.Lang != "en" {
		t.Errorf("format %q title %q lang %q", d.Format, d.Title, d.Lang)
	}
	want := []Block{
		{Kind: Heading, Level: 1, Text: "Spindle Manual"},
		{Kind: Heading, Level: 1, Text: "Safety"},
		{Kind: Paragraph, Text: "Stop the spindle first."},
		{Kind: Heading, Level: 3, Text: "主轴"},
		{Kind: List, Text: "Check fan\nCheck belt"},
		{Kind: Table, Text: "Axis | Scale\nX | 1000"},
		{Kind: Heading, Level: 2, Text: "Wiring"},
		{Kind: Paragraph, Text: "Use shielded cable."},
	}
	if len(d.Blocks) != len(want) {
		t.Fatalf("got %d blocks: %+v", len(d.Blocks), d.Blocks)
	}
	for i := range want {
		if d.Blocks[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, d.Blocks[i], want[i])
		}
	}
	// Without core.xml the first heading is the title.
	d2, err := parseDOCX("m.docx", zipOf(t, map[string]string{"word/document.xml": docxBody}), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	finish(d2)
	if d2.Title != "Spindle Manual" {
		t.Errorf("title %q", d2.Title)
	}
}

func TestDOCXBad(t *testing.T) {
	_, err := parseDOCX("bad.docx", zipOf(t, map[string]string{"word/document.xml": "<w:p><w:t>x</w:p>"}), 1<<20)
	wantInvalid(t, err, "bad.docx", "corrupt DOCX")
	_, err = parseDOCX("none.docx", zipOf(t, map[string]string{"word/other.xml": "<x/>"}), 1<<20)
	wantInvalid(t, err, "none.docx", "no word/document.xml")
}

func TestDOCXZipBomb(t *testing.T) {
	// 64 MiB of zeros compresses to about 64 KiB: ratio ~1000.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("word/document.xml")
	w.Write([]byte("<w:document>"))
	zero := make([]byte, 1<<20)
	for range 64 {
		w.Write(zero)
	}
	zw.Close()
	_, err := parseDOCX("bomb.docx", buf.Bytes(), 200<<20)
	wantInvalid(t, err, "bomb.docx", "zip bomb")

	// A directory that lies about sizes is still stopped by the budget.
	_, err = parseDOCX("bomb.docx", buf.Bytes(), 1<<20)
	wantInvalid(t, err, "bomb.docx", "zip bomb")
}

const htmlDoc = `<!DOCTYPE html><html><head><title>KiCad PCB</title><style>p{}</style><script>var x=1</script></head>
<body><nav><a href="#">Home</a></nav><div id="toc"><ul><li>TOC entry</li></ul></div>
<div id="header"><h1>PCB 编辑器</h1></div>
<div class="sect1"><h2 id="_简介">1. 简介</h2>
<p>Pcbnew 是一个<b>电路板</b>编辑器。</p>
<h3><a id="perf"></a>1.1 性能</h3><p>Up to 32 copper layers.</p>
<ul><li>First item</li><li>Second <em>item</em></li></ul>
<pre>setp x 1
  indented</pre>
<section id="wiring"><h3>Wiring</h3><table><tr><th>Pin</th><th>Signal</th></tr><tr><td>1</td><td>GND</td></tr></table></section>
<h4>No id</h4><p>Orphan.</p>
</div><footer>Copyright</footer></body></html>`

func TestHTML(t *testing.T) {
	d, err := lite().Parse(context.Background(), "k.html", []byte(htmlDoc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Title != "KiCad PCB" || d.Format != HTML || d.Lang != "en" { // more Latin words than Han characters
		t.Errorf("title %q format %q lang %q", d.Title, d.Format, d.Lang)
	}
	want := []Block{
		{Kind: Heading, Level: 1, Text: "PCB 编辑器", Anchor: "header"},
		{Kind: Heading, Level: 2, Text: "1. 简介", Anchor: "_简介"},
		{Kind: Paragraph, Text: "Pcbnew 是一个电路板编辑器。", Anchor: "_简介"},
		{Kind: Heading, Level: 3, Text: "1.1 性能", Anchor: "perf"},
		{Kind: Paragraph, Text: "Up to 32 copper layers.", Anchor: "perf"},
		{Kind: List, Text: "First item\nSecond item", Anchor: "perf"},
		{Kind: Code, Text: "setp x 1\n  indented", Anchor: "perf"},
		{Kind: Heading, Level: 3, Text: "Wiring", Anchor: "wiring"},
		{Kind: Table, Text: "Pin | Signal\n1 | GND", Anchor: "wiring"},
		{Kind: Heading, Level: 4, Text: "No id", Anchor: ""},
		{Kind: Paragraph, Text: "Orphan.", Anchor: ""},
	}
	if len(d.Blocks) != len(want) {
		t.Fatalf("got %d blocks: %+v", len(d.Blocks), d.Blocks)
	}
	for i := range want {
		if d.Blocks[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, d.Blocks[i], want[i])
		}
	}
}

func TestHTMLTableSections(t *testing.T) {
	src := `<html><body><table id="ref1"><caption>Quick Reference</caption>
<tr><th>Code</th><th>Description</th></tr>
<tr><th>Motion</th><td>(all axes)</td></tr><tr><td>G0</td><td>Rapid Move</td></tr>
<tr><th>Tool Length Offset</th></tr><tr><td>G43</td><td>Tool Length Offset</td></tr></table></body></html>`
	d, err := parseHTML("q.html", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: Heading, Level: 1, Text: "Quick Reference", Anchor: "ref1"},
		{Kind: Heading, Level: 2, Text: "Motion", Anchor: "ref1"},
		{Kind: Table, Text: "Code | Description\n(all axes)\nG0 | Rapid Move", Anchor: "ref1"},
		{Kind: Heading, Level: 2, Text: "Tool Length Offset", Anchor: "ref1"},
		{Kind: Table, Text: "Code | Description\nG43 | Tool Length Offset", Anchor: "ref1"},
	}
	if len(d.Blocks) != len(want) {
		t.Fatalf("got %+v", d.Blocks)
	}
	for i := range want {
		if d.Blocks[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, d.Blocks[i], want[i])
		}
	}
}

func TestMarkdown(t *testing.T) {
	src := "Spindle Guide\n=============\n\nIntro line one\nline two.\n\n## Setup ##\n\n- fan\n- belt\n  continued\n\n" +
		"```sh\nhalcmd show\n\n  pins\n```\n\n| Axis | Scale |\n|---|--:|\n| X | 1000 |\n\nSub\n---\n1. one\n2. two\n"
	d, err := lite().Parse(context.Background(), "guide.md", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: Heading, Level: 1, Text: "Spindle Guide"},
		{Kind: Paragraph, Text: "Intro line one line two."},
		{Kind: Heading, Level: 2, Text: "Setup"},
		{Kind: List, Text: "- fan\n- belt continued"},
		{Kind: Code, Text: "halcmd show\n\n  pins"},
		{Kind: Table, Text: "Axis | Scale\nX | 1000"},
		{Kind: Heading, Level: 2, Text: "Sub"},
		{Kind: List, Text: "1. one\n2. two"},
	}
	if d.Title != "Spindle Guide" || d.Format != Markdown {
		t.Errorf("title %q format %q", d.Title, d.Format)
	}
	if len(d.Blocks) != len(want) {
		t.Fatalf("got %d blocks: %+v", len(d.Blocks), d.Blocks)
	}
	for i := range want {
		if d.Blocks[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, d.Blocks[i], want[i])
		}
	}
}

func TestText(t *testing.T) {
	src := "SAFETY NOTES\r\n\r\nAlways stop the\r\nspindle first.\r\n\r\n3.2 Spindle Wiring\r\nUse shielded cable.\r\n\r\n- one\r\n- two\r\n\r\nNote: 3 items.\r\n"
	d, err := lite().Parse(context.Background(), "notes.txt", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: Heading, Level: 1, Text: "SAFETY NOTES"},
		{Kind: Paragraph, Text: "Always stop the spindle first."},
		{Kind: Heading, Level: 2, Text: "3.2 Spindle Wiring"},
		{Kind: Paragraph, Text: "Use shielded cable."},
		{Kind: List, Text: "- one\n- two"},
		{Kind: Paragraph, Text: "Note: 3 items."},
	}
	if d.Format != Text || len(d.Blocks) != len(want) {
		t.Fatalf("format %q blocks %+v", d.Format, d.Blocks)
	}
	for i := range want {
		if d.Blocks[i] != want[i] {
			t.Errorf("block %d = %+v, want %+v", i, d.Blocks[i], want[i])
		}
	}
}

func TestParseLimits(t *testing.T) {
	p := lite()
	small := &Parser{opts: Options{MaxBytes: 10, Timeout: time.Minute}}
	_, err := small.Parse(context.Background(), "big.txt", []byte(strings.Repeat("a", 11)), nil)
	if !errors.Is(err, shifu.ErrTooLarge) || !strings.Contains(shifu.Message(err), "big.txt") {
		t.Errorf("err = %v, want ErrTooLarge naming the file", err)
	}
	_, err = p.Parse(context.Background(), "x.png", []byte("\x89PNG\r\n\x1a\n"), nil)
	wantInvalid(t, err, "x.png", "PNG")
}

func TestNotesCSV(t *testing.T) {
	src := "\ufeffTitle,Equipment,Symptom,Cause,Fix,Author\n" +
		"Spindle overheats,Mill 3,Hot after 10 min,Fan clogged,Clean the fan,Li\n" +
		"\n" +
		"\"Axis drift, X\",Lathe,Position drifts,,\"Re-home; then check the \"\"encoder\"\"\",Wang\n"
	notes, err := ParseNotesCSV("n.csv", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []shifu.Note{
		{Title: "Spindle overheats", Equipment: "Mill 3", Symptom: "Hot after 10 min", Cause: "Fan clogged", Fix: "Clean the fan", Author: "Li"},
		{Title: "Axis drift, X", Equipment: "Lathe", Symptom: "Position drifts", Fix: `Re-home; then check the "encoder"`, Author: "Wang"},
	}
	if len(notes) != 2 || notes[0] != want[0] || notes[1] != want[1] {
		t.Fatalf("notes = %+v", notes)
	}
	zh := "标题,设备,症状,原因,解决,作者\n主轴过热,3号铣床,运行十分钟后发烫,风扇堵塞,清理风扇,李工\n"
	notes, err = ParseNotesCSV("zh.csv", strings.NewReader(zh))
	if err != nil || len(notes) != 1 || notes[0].Fix != "清理风扇" || notes[0].Author != "李工" {
		t.Fatalf("zh notes = %+v, %v", notes, err)
	}
	_, err = ParseNotesCSV("m.csv", strings.NewReader("title,fix\nA,do it\nB,\n"))
	wantInvalid(t, err, "m.csv", "row 3", `"fix"`)
	_, err = ParseNotesCSV("h.csv", strings.NewReader("name,remedy\nA,B\n"))
	wantInvalid(t, err, "h.csv", `"title"`)
	_, err = ParseNotesCSV("q.csv", strings.NewReader("title,fix\n\"A,b\n"))
	wantInvalid(t, err, "q.csv", "malformed CSV")
}

func TestNotesMarkdown(t *testing.T) {
	src := "# Tips\n\n## Spindle overheats\n- Equipment: Mill 3\n- Symptom: Hot after 10 min\n- Cause: Fan clogged\n- Fix: Clean the fan\n  and the filter.\n- Author: Li\n\n" +
		"## 主轴异响\n- 设备：2号车床\n- 症状：高速时异响\n- 处理：更换轴承\n- 作者：王工\n"
	notes, err := ParseNotesMarkdown("tips.md", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []shifu.Note{
		{Title: "Spindle overheats", Equipment: "Mill 3", Symptom: "Hot after 10 min", Cause: "Fan clogged", Fix: "Clean the fan and the filter.", Author: "Li"},
		{Title: "主轴异响", Equipment: "2号车床", Symptom: "高速时异响", Fix: "更换轴承", Author: "王工"},
	}
	if len(notes) != 2 || notes[0] != want[0] || notes[1] != want[1] {
		t.Fatalf("notes = %+v", notes)
	}
	_, err = ParseNotesMarkdown("bad.md", []byte("## A\n- Fix: x\n\n## B\n- Cause: y\n"))
	wantInvalid(t, err, "bad.md", `"B"`, "line 4", "Fix")
	_, err = ParseNotesMarkdown("none.md", []byte("just text"))
	wantInvalid(t, err, "none.md", "no notes")

	if got := NoteText(want[0]); got != "Spindle overheats\nEquipment: Mill 3\nSymptom: Hot after 10 min\nCause: Fan clogged\nFix: Clean the fan and the filter." {
		t.Errorf("NoteText = %q", got)
	}
	d := NoteDoc(want[1])
	if d.Lang != "zh" || d.Blocks[0] != (Block{Kind: Heading, Level: 1, Text: "主轴异响"}) || findBlock(d, Paragraph, "处理: 更换轴承") == nil {
		t.Errorf("NoteDoc = %+v", d)
	}
}

// TestHTMLNestedDeep: HTML nested past the tree parser's 512 is read flat
// instead of failing the document: headings, text and no scripts.
func TestHTMLNestedDeep(t *testing.T) {
	src := "<html><head><title>Deep manual</title></head><body><h2>Coolant</h2>" + strings.Repeat("<div>", 700) +
		"Check the pump<script>alert(1)</script> relay." + strings.Repeat("</div>", 700) + "<p>Then restart.</p></body></html>"
	d, err := parseHTML("deep.html", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Kind: Heading, Level: 2, Text: "Coolant"},
		{Kind: Paragraph, Text: "Check the pump relay."},
		{Kind: Paragraph, Text: "Then restart."},
	}
	if d.Title != "Deep manual" || !slices.Equal(d.Blocks, want) {
		t.Fatalf("title %q, blocks %+v", d.Title, d.Blocks)
	}
}
