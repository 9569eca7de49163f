package chunk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/parse"
)

func h(level int, text string, page int, anchor string) parse.Block {
	return parse.Block{Kind: parse.Heading, Level: level, Text: text, Page: page, Anchor: anchor}
}

func para(text string, page int) parse.Block {
	return parse.Block{Kind: parse.Paragraph, Text: text, Page: page}
}

func enSentences(n int, tag string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Sentence %s %d says the spindle must stop before the tool changes. ", tag, i)
	}
	return strings.TrimSpace(b.String())
}

func zhSentences(n int, tag string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "第%d句%s说明远程登录工控机以后应当先检查硬盘空间再运行长任务。", i, tag)
	}
	return b.String()
}

func TestStructure(t *testing.T) {
	doc := &parse.Doc{Title: "Manual", Blocks: []parse.Block{
		h(1, "Spindle", 3, "_spindle"),
		para(enSentences(8, "a"), 3),
		h(2, "Speed", 4, "_speed"),
		para(enSentences(8, "b"), 4),
		para(enSentences(8, "c"), 5),
		h(1, "Coolant", 6, "_coolant"),
		para(enSentences(8, "d"), 6),
	}}
	cs := Split(doc, Options{})
	if len(cs) != 3 {
		t.Fatalf("got %d chunks, want 3: %+v", len(cs), cs)
	}
	want := []struct {
		heading, anchor string
		start, end      int
	}{
		{"Spindle", "_spindle", 3, 3},
		{"Spindle > Speed", "_speed", 4, 5},
		{"Coolant", "_coolant", 6, 6},
	}
	for i, w := range want {
		c := cs[i]
		if c.Ord != i || c.Heading != w.heading || c.Anchor != w.anchor || c.PageStart != w.start || c.PageEnd != w.end {
			t.Errorf("chunk %d = ord %d %q %q pages %d-%d, want %+v", i, c.Ord, c.Heading, c.Anchor, c.PageStart, c.PageEnd, w)
		}
		if !strings.HasPrefix(c.Text, w.heading+"\n") {
			t.Errorf("chunk %d text does not start with heading path: %q", i, c.Text[:40])
		}
		if c.Language != "en" || c.Tokens != shifu.Tokens(c.Text) {
			t.Errorf("chunk %d language %q tokens %d", i, c.Language, c.Tokens)
		}
	}
	if strings.Contains(cs[0].Text, "Sentence b") || strings.Contains(cs[1].Text, "Sentence a") {
		t.Error("a heading boundary did not start a new chunk")
	}
}

func TestLongSectionCutAtSentencesWithOverlap(t *testing.T) {
	body := zhSentences(120, "甲")
	doc := &parse.Doc{Blocks: []parse.Block{h(1, "远程登录", 10, ""), para(body, 10), para(enSentences(40, "x"), 11)}}
	o := Options{}.withDefaults()
	cs := Split(doc, Options{})
	if len(cs) < 3 {
		t.Fatalf("only %d chunks for a long section", len(cs))
	}
	overlaps := 0
	for i, c := range cs {
		if c.Tokens > o.MaxTokens {
			t.Errorf("chunk %d has %d tokens > max %d", i, c.Tokens, o.MaxTokens)
		}
		if c.Language == "" {
			t.Errorf("chunk %d has no language", i)
		}
		b := strings.TrimPrefix(c.Text, "远程登录\n")
		last := []rune(b)[len([]rune(b))-1]
		if last != '。' && last != '.' {
			t.Errorf("chunk %d does not end at a sentence end: …%q", i, string([]rune(b)[max(0, len([]rune(b))-20):]))
		}
		if i > 0 {
			prev := cs[i-1].Text
			first := strings.SplitAfter(b, "。")[0]
			if strings.Contains(prev, first) {
				overlaps++
			}
		}
	}
	if overlaps == 0 {
		t.Error("no chunk repeats the previous chunk's last sentence")
	}
	// every sentence is somewhere
	all := ""
	for _, c := range cs {
		all += c.Text
	}
	for _, s := range strings.SplitAfter(body, "。") {
		if s != "" && !strings.Contains(all, s) {
			t.Fatalf("sentence %q lost", s)
		}
	}
}

func TestTableRowsIntact(t *testing.T) {
	var rows []string
	for i := range 200 {
		rows = append(rows, fmt.Sprintf("G%d | motion mode %d | modal group %d", i, i, i%7))
	}
	table := strings.Join(rows, "\n")
	doc := &parse.Doc{Blocks: []parse.Block{h(1, "G-codes", 1, ""), {Kind: parse.Table, Text: table, Page: 1}}}
	cs := Split(doc, Options{})
	if len(cs) < 2 {
		t.Fatalf("a %d-token table was not split", shifu.Tokens(table))
	}
	seen := map[string]int{}
	for _, c := range cs {
		for _, l := range strings.Split(c.Text, "\n")[1:] {
			seen[l]++
		}
		if c.Tokens > 450 {
			t.Errorf("table chunk has %d tokens", c.Tokens)
		}
	}
	for _, r := range rows {
		if seen[r] != 1 {
			t.Errorf("row %q appears %d times as a whole line", r, seen[r])
		}
	}
}

func TestListKeptTogether(t *testing.T) {
	list := "1. Stop the spindle.\n2. Open the guard.\n3. Remove the tool.\n4. Insert the new tool."
	doc := &parse.Doc{Blocks: []parse.Block{
		h(1, "Tool change", 2, ""), para(enSentences(12, "p"), 2), {Kind: parse.List, Text: list, Page: 2},
	}}
	n := 0
	for _, c := range Split(doc, Options{}) {
		if strings.Contains(c.Text, list) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the numbered procedure is in %d chunks whole, want 1", n)
	}
}

func TestMergeTinySections(t *testing.T) {
	doc := &parse.Doc{Blocks: []parse.Block{
		h(1, "HAL", 5, "_hal"),
		h(2, "loadrt", 5, "_loadrt"), para("Loads a realtime component.", 5),
		h(2, "addf", 5, "_addf"), para("Adds a function to a thread.", 6),
		h(2, "net", 9, "_net"), para("Connects a signal to pins.", 9),
	}}
	cs := Split(doc, Options{})
	if len(cs) != 2 {
		t.Fatalf("got %d chunks, want tiny sections on pages 5-6 merged and page 9 apart: %+v", len(cs), cs)
	}
	c := cs[0]
	if c.PageStart != 5 || c.PageEnd != 6 || c.Anchor != "_hal" || !strings.Contains(c.Text, "addf\nAdds a function") {
		t.Errorf("merged chunk = %+v", c)
	}
	if cs[1].PageStart != 9 || cs[1].Anchor != "_net" {
		t.Errorf("second chunk = %+v", cs[1])
	}
}

func TestNoHeadingOnlyChunks(t *testing.T) {
	doc := &parse.Doc{Blocks: []parse.Block{
		h(1, "II Usage", 3, "_usage"),
		h(2, "G-code Programming", 3, "_gcode"),
		h(3, "G-code Overview", 3, "_overview"), para(enSentences(80, "ov"), 3),
		h(2, "Appendix", 9, "_appendix"),
		h(1, "III Tuning", 10, "_tuning"), para(enSentences(80, "tu"), 10),
	}}
	cs := Split(doc, Options{})
	for _, c := range cs {
		if c.Text == c.Heading || !strings.Contains(c.Text, "Sentence") {
			t.Errorf("chunk %d is a heading without a body: %q", c.Ord, c.Text)
		}
	}
	// The parents are in the first chunk's heading line; "Appendix" had no
	// body and is not a parent of what follows, so it leads the next chunk.
	if !strings.HasPrefix(cs[0].Text, "II Usage > G-code Programming > G-code Overview\n") || cs[0].Anchor != "_overview" {
		t.Errorf("first chunk = %q (anchor %q)", cs[0].Text[:60], cs[0].Anchor)
	}
	var tuning *shifu.Chunk
	for i := range cs {
		if strings.Contains(cs[i].Text, "Sentence tu 0 ") {
			tuning = &cs[i]
		}
	}
	if tuning == nil || !strings.Contains(tuning.Text, "III Tuning\nAppendix\n") {
		t.Errorf("the heading-only Appendix is not carried to the next chunk: %+v", tuning)
	}
	for i, c := range cs {
		if c.Ord != i {
			t.Errorf("ord %d at %d", c.Ord, i)
		}
	}
	// A document of headings alone keeps them.
	if cs := Split(&parse.Doc{Blocks: []parse.Block{h(1, "Only", 1, ""), h(2, "Titles", 1, "")}}, Options{}); len(cs) == 0 {
		t.Error("headings-only document lost all chunks")
	}
}

func TestDeterministic(t *testing.T) {
	doc := synthetic(30, 1)
	a, b := Split(doc, Options{}), Split(doc, Options{})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two splits of the same doc differ")
	}
}

func TestSyntheticSizes(t *testing.T) {
	cs := Split(synthetic(100, 2), Options{})
	var sizes []int
	for _, c := range cs {
		sizes = append(sizes, len(c.Text))
		if c.PageEnd-c.PageStart > 2 {
			t.Errorf("chunk %d spans pages %d-%d", c.Ord, c.PageStart, c.PageEnd)
		}
	}
	med := median(sizes)
	if med > 1500 || med < 200 {
		t.Errorf("median chunk %d chars", med)
	}
	t.Logf("%d chunks, median %d chars", len(cs), med)
}

func median(xs []int) int {
	s := append([]int(nil), xs...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// synthetic makes a manual of n pages: chapters, sections, prose in both
// languages, tables and lists.
func synthetic(pages int, seed uint64) *parse.Doc {
	r := rand.New(rand.NewPCG(seed, 7))
	doc := &parse.Doc{Title: "Synthetic", Pages: pages}
	for p := 1; p <= pages; p++ {
		if p%20 == 1 {
			doc.Blocks = append(doc.Blocks, h(1, fmt.Sprintf("Chapter %d", p/20+1), p, fmt.Sprintf("c%d", p)))
		}
		for s := range 1 + r.IntN(3) {
			doc.Blocks = append(doc.Blocks, h(2, fmt.Sprintf("Section %d.%d", p, s), p, fmt.Sprintf("s%d_%d", p, s)))
			for range 1 + r.IntN(3) {
				switch r.IntN(5) {
				case 0:
					doc.Blocks = append(doc.Blocks, para(zhSentences(1+r.IntN(12), "段"), p))
				case 1:
					doc.Blocks = append(doc.Blocks, parse.Block{Kind: parse.Table, Text: "a | b\n1 | 2\n3 | 4", Page: p})
				case 2:
					doc.Blocks = append(doc.Blocks, parse.Block{Kind: parse.List, Text: "- one\n- two\n- three", Page: p})
				default:
					doc.Blocks = append(doc.Blocks, para(enSentences(1+r.IntN(10), "en"), p))
				}
			}
		}
	}
	return doc
}

func checkInvariants(t *testing.T, doc *parse.Doc, cs []shifu.Chunk, o Options) {
	o = o.withDefaults()
	all := strings.Builder{}
	for i, c := range cs {
		if c.Ord != i {
			t.Fatalf("ord %d at %d", c.Ord, i)
		}
		if c.Tokens > o.MaxTokens {
			t.Fatalf("chunk %d: %d tokens > %d: %q", i, c.Tokens, o.MaxTokens, c.Text)
		}
		if c.PageStart > c.PageEnd {
			t.Fatalf("chunk %d pages %d-%d", i, c.PageStart, c.PageEnd)
		}
		// Pages run forward in these documents, so every chunk over pages
		// knows where each begins.
		if len(c.Breaks) != c.PageEnd-c.PageStart {
			t.Fatalf("chunk %d over pages %d-%d has breaks %v", i, c.PageStart, c.PageEnd, c.Breaks)
		}
		for k, b := range c.Breaks {
			if b <= 0 || b >= len(c.Text) || k > 0 && b < c.Breaks[k-1] {
				t.Fatalf("chunk %d (%d bytes): breaks %v", i, len(c.Text), c.Breaks)
			}
		}
		all.WriteString(c.Text)
		all.WriteByte('\n')
	}
	text := strings.Join(strings.Fields(all.String()), "")
	for _, b := range doc.Blocks {
		for _, f := range strings.Fields(b.Text) {
			if len([]rune(f)) <= 8 && !strings.Contains(text, f) {
				t.Fatalf("block text %q not covered", f)
			}
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add(uint64(1), "Hello world. 你好。", uint8(3))
	f.Add(uint64(2), "a | b\nc | d", uint8(40))
	f.Fuzz(func(t *testing.T, seed uint64, text string, n uint8) {
		text = strings.ToValidUTF8(text, "") // parse.Doc text is cleaned UTF-8
		r := rand.New(rand.NewPCG(seed, 1))
		doc := &parse.Doc{}
		page := 1
		for i := 0; i < int(n%64); i++ {
			rs := []rune(text)
			a, b := 0, len(rs)
			if b > 0 {
				a = r.IntN(b)
				b = a + r.IntN(b-a+1)
			}
			s := strings.Repeat(string(rs[a:b])+" ", 1+r.IntN(30))
			page += r.IntN(2)
			doc.Blocks = append(doc.Blocks, parse.Block{Kind: parse.BlockKind(r.IntN(5)), Level: r.IntN(8), Text: s, Page: page})
		}
		o := Options{TargetTokens: 20 + int(seed%300)}
		cs := Split(doc, o)
		checkInvariants(t, doc, cs, o)
	})
}

func BenchmarkSplit(b *testing.B) {
	doc := synthetic(1000, 3)
	size := 0
	for _, bl := range doc.Blocks {
		size += len(bl.Text)
	}
	b.SetBytes(int64(size))
	var n int
	for b.Loop() {
		n = len(Split(doc, Options{}))
	}
	b.ReportMetric(float64(n), "chunks")
}

// longLines are one-line texts without sentence ends, of the kinds a hostile
// or broken upload holds: one endless "word", words, Han characters.
func longLines(n int) map[string]string {
	return map[string]string{
		"word":  strings.Repeat("x", n),
		"words": strings.Repeat("spindle ", n/8),
		"han":   strings.Repeat("主轴", n/6),
		"mixed": strings.Repeat("M6T1,", n/5),
	}
}

// TestLongLines cuts single lines of megabytes into chunks within budget in
// runes as in tokens, keeping every character (outside the spaces cut at).
func TestLongLines(t *testing.T) {
	for name, line := range longLines(2 << 20) {
		t.Run(name, func(t *testing.T) {
			doc := &parse.Doc{Blocks: []parse.Block{para(line, 1)}}
			o := Options{}.withDefaults()
			cs, err := SplitContext(t.Context(), doc, o)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, c := range cs {
				if n := len([]rune(c.Text)); n > 2*maxRunes(o.MaxTokens) {
					t.Fatalf("chunk %d is %d runes, over %d", c.Ord, n, 2*maxRunes(o.MaxTokens))
				}
				got.WriteString(c.Text)
			}
			strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if strip(got.String()) != strip(line) {
				t.Fatalf("%d chunks lost or changed text: %d bytes in, %d out", len(cs), len(strip(line)), len(strip(got.String())))
			}
			checkInvariants(t, doc, cs, o)
		})
	}
}

// TestSplitStopsWithContext: an ended context stops chunking with its error,
// so the ingest deadline covers this stage.
func TestSplitStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	doc := &parse.Doc{Blocks: []parse.Block{para(strings.Repeat("a ", 1000), 1)}}
	if _, err := SplitContext(ctx, doc, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// FuzzLongLine repeats a fuzzed fragment into one long line: whatever it is,
// the chunks keep the budget and the text.
func FuzzLongLine(f *testing.F) {
	f.Add("x", uint16(5000))
	f.Add("主轴 ", uint16(3000))
	f.Add("a,b、c，", uint16(9000))
	f.Fuzz(func(t *testing.T, frag string, n uint16) {
		frag = strings.ToValidUTF8(frag, "")
		if frag == "" {
			return
		}
		line := strings.Repeat(frag, 1+int(n)%(1<<16/max(1, len(frag))))
		doc := &parse.Doc{Blocks: []parse.Block{para(line, 1)}}
		o := Options{TargetTokens: 100}
		cs := Split(doc, o)
		checkInvariants(t, doc, cs, o)
	})
}

// BenchmarkLongLine shows chunking cost linear in line length (ns/op over
// MB/s stays flat from 400 kB to 8 MB; it was quadratic: 1.6 MB took 20 s).
func BenchmarkLongLine(b *testing.B) {
	for _, size := range []int{400 << 10, 1600 << 10, 8 << 20} {
		for name, line := range longLines(size) {
			b.Run(fmt.Sprintf("%s/%dkB", name, size>>10), func(b *testing.B) {
				doc := &parse.Doc{Blocks: []parse.Block{para(line, 1)}}
				b.SetBytes(int64(len(line)))
				for b.Loop() {
					Split(doc, Options{})
				}
			})
		}
	}
}

// marker finds the page markers the page tests write into their text:
// "p36s2" (page 36, sentence 2) and "第37页第2句".
var marker = regexp.MustCompile(`p(\d+)s\d+|第(\d+)页第\d+句`)

// checkPages asserts each marker in each chunk is on its page by
// Chunk.Pages, and returns how many markers it checked.
func checkPages(t *testing.T, cs []shifu.Chunk) int {
	t.Helper()
	n := 0
	for _, c := range cs {
		for _, m := range marker.FindAllStringSubmatchIndex(c.Text, -1) {
			want := 0
			for g := 2; g+1 < len(m); g += 2 {
				if m[g] >= 0 {
					want, _ = strconv.Atoi(c.Text[m[g]:m[g+1]])
				}
			}
			if a, b := c.Pages(m[0], m[1]); a != want || b != want {
				t.Errorf("chunk %d (pp. %d-%d, breaks %v): %q is on pages %d-%d, want %d\n%s",
					c.Ord, c.PageStart, c.PageEnd, c.Breaks, c.Text[m[0]:m[1]], a, b, want, c.Text)
			}
			n++
		}
	}
	return n
}

// TestPageBreaks: a chunk over pages 36 and 37 records where page 37 begins,
// for English and Chinese text, so a sentence cites its own page and a span
// over the break cites both.
func TestPageBreaks(t *testing.T) {
	doc := &parse.Doc{Title: "Manual", Blocks: []parse.Block{
		h(1, "Homing", 36, "_homing"),
		para("p36s1 Power the machine on. p36s2 Check the air pressure before homing.", 36),
		para("第37页第1句按下回零键，机床依次回零。第37页第2句回零完成后指示灯亮。", 37),
		para("p37s3 The Home-All command homes every axis.", 37),
	}}
	cs := Split(doc, Options{})
	if len(cs) != 1 {
		t.Fatalf("got %d chunks, want 1: %+v", len(cs), cs)
	}
	c := cs[0]
	if c.PageStart != 36 || c.PageEnd != 37 {
		t.Fatalf("pages %d-%d, want 36-37", c.PageStart, c.PageEnd)
	}
	if at := strings.Index(c.Text, "第37页"); !reflect.DeepEqual(c.Breaks, []int{at}) {
		t.Fatalf("breaks %v, want [%d] (where page 37's text begins)\n%s", c.Breaks, at, c.Text)
	}
	if n := checkPages(t, cs); n != 5 {
		t.Errorf("checked %d markers, want 5", n)
	}
	from := strings.Index(c.Text, "Check the air")
	to := strings.Index(c.Text, "指示灯亮") + len("指示灯亮")
	if a, b := c.Pages(from, to); a != 36 || b != 37 {
		t.Errorf("a span over the break is on pages %d-%d, want 36-37", a, b)
	}
	// Not a span of the text: the chunk's range.
	if a, b := c.Pages(0, len(c.Text)+1); a != 36 || b != 37 {
		t.Errorf("a span past the text gives %d-%d, want 36-37", a, b)
	}
	// Stored before breaks were recorded: the chunk's range.
	old := c
	old.Breaks = nil
	if a, b := old.Pages(from, from+5); a != 36 || b != 37 {
		t.Errorf("a chunk without breaks gives %d-%d, want 36-37", a, b)
	}
}

// TestPageBreaksSkippedPage: a page without text (a figure) begins where the
// next page does, one break per page.
func TestPageBreaksSkippedPage(t *testing.T) {
	doc := &parse.Doc{Blocks: []parse.Block{
		para("p36s1 Loosen the clamp.", 36),
		para("p37s1 Lift the cover.", 37),
		para("p39s1 Fit the new belt.", 39),
	}}
	cs := Split(doc, Options{})
	if len(cs) != 1 || cs[0].PageStart != 36 || cs[0].PageEnd != 39 {
		t.Fatalf("got %+v, want one chunk over pp. 36-39", cs)
	}
	c := cs[0]
	p37, p39 := strings.Index(c.Text, "p37s1"), strings.Index(c.Text, "p39s1")
	if !reflect.DeepEqual(c.Breaks, []int{p37, p39, p39}) {
		t.Fatalf("breaks %v, want [%d %d %d]", c.Breaks, p37, p39, p39)
	}
	if n := checkPages(t, cs); n != 3 {
		t.Errorf("checked %d markers, want 3", n)
	}
}

// TestPageBreaksAcrossCuts: a chunk starts on page 36 and ends inside a
// sentence of page 37 that hardSplit cut, Chinese as English, and a section
// merged in from the next page brings its heading: every sentence cites its
// own page in whichever chunk it lands.
func TestPageBreaksAcrossCuts(t *testing.T) {
	var long strings.Builder // one "sentence" of 120 words: hardSplit cuts it
	for i := range 120 {
		fmt.Fprintf(&long, "p37s%d spindle ", i)
	}
	var zh strings.Builder // one Chinese sentence, cut at its commas
	for i := range 30 {
		fmt.Fprintf(&zh, "第38页第%d句主轴每运转两千小时润滑，", i)
	}
	doc := &parse.Doc{Title: "Manual", Blocks: []parse.Block{
		h(1, "Lubrication", 36, "_lube"),
		para("p36s1 Oil the way.", 36),
		para(strings.TrimSpace(long.String()), 37),
		h(1, "主轴", 37, "_spindle"),
		para("第37页第1句检查油位。", 37),
		para(zh.String()+"完毕。", 38),
		h(2, "Grease", 38, "_grease"),
		para("p38s900 Grease the ball screw.", 38),
		h(2, "Belt", 39, "_belt"),
		para("p39s1 Check the belt.", 39),
	}}
	o := Options{TargetTokens: 60}
	cs := Split(doc, o)
	checkInvariants(t, doc, cs, o)
	var over []string // the page spans of chunks over two pages
	for _, c := range cs {
		if c.PageEnd > c.PageStart {
			over = append(over, fmt.Sprintf("%d-%d", c.PageStart, c.PageEnd))
		}
	}
	if !reflect.DeepEqual(over, []string{"36-37", "37-38", "38-39"}) {
		for _, c := range cs {
			t.Logf("chunk %d pp. %d-%d %v %q", c.Ord, c.PageStart, c.PageEnd, c.Breaks, c.Text)
		}
		t.Fatalf("chunks over two pages: %v, want 36-37 (into the cut sentence), 37-38 (into the cut Chinese one), 38-39 (merged)", over)
	}
	// The heading of a section merged in heads its page.
	last := cs[len(cs)-1]
	if at := strings.Index(last.Text, "\nBelt\n") + 1; at == 0 {
		t.Errorf("the Belt section was not merged into the last chunk: %q", last.Text)
	} else if a, b := last.Pages(at, at+len("Belt")); a != 39 || b != 39 {
		t.Errorf("the merged heading Belt is on pages %d-%d, want 39 (breaks %v)", a, b, last.Breaks)
	}
	if n := checkPages(t, cs); n < 120+30 {
		t.Errorf("checked %d markers, want at least the 150 of the long sentences", n)
	}
}
