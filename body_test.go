package shifu

import "testing"

func TestChunkBody(t *testing.T) {
	for _, c := range []struct {
		chunk Chunk
		want  string
	}{
		{Chunk{Text: "Pump > Seal\nReplace the seal.", Heading: "Pump > Seal"}, "Replace the seal."},
		{Chunk{Text: "Seal\nReplace the seal.", Heading: "Pump > Seal"}, "Replace the seal."}, // the last level is enough
		{Chunk{Text: "Pump > Seal\n  ", Heading: "Pump > Seal"}, "Pump > Seal\n  "},           // only its heading: kept
		{Chunk{Text: "Replace the seal.\nThen test.", Heading: "Pump > Seal"}, "Replace the seal.\nThen test."},
		{Chunk{Text: "Seal\nReplace the seal."}, "Seal\nReplace the seal."}, // no heading, nothing to strip
	} {
		if got := c.chunk.Body(); got != c.want {
			t.Errorf("Body of %q = %q, want %q", c.chunk.Text, got, c.want)
		}
	}
}

func TestCitationLabel(t *testing.T) {
	for _, c := range []struct {
		c    Citation
		want string
	}{
		{Citation{Document: "m.pdf", Title: "Mill manual", PageStart: 3, PageEnd: 5}, "Mill manual, pp. 3–5"},
		{Citation{Document: "m.pdf", Title: "Mill manual", PageStart: 3, PageEnd: 3}, "Mill manual, p. 3"},
		{Citation{Document: "notes.md"}, "notes.md"}, // no title, no pages
	} {
		if got := c.c.Label(); got != c.want {
			t.Errorf("Label of %+v = %q, want %q", c.c, got, c.want)
		}
	}
}

// TestChunkPages: a span names the pages it lies on by the chunk's breaks;
// breaks that do not match the chunk's pages, or a span outside the text,
// give the chunk's range.
func TestChunkPages(t *testing.T) {
	c := Chunk{Text: "aaaa bbbb cccc", PageStart: 4, PageEnd: 6, Breaks: []int{5, 10}}
	for _, tc := range []struct{ from, to, first, last int }{
		{0, 4, 4, 4}, {5, 9, 5, 5}, {10, 14, 6, 6}, {3, 6, 4, 5}, {0, 14, 4, 6},
		{9, 10, 5, 5}, // the byte before a break is on the page before
		{-1, 3, 4, 6}, {10, 15, 4, 6}, {7, 7, 4, 6},
	} {
		if a, b := c.Pages(tc.from, tc.to); a != tc.first || b != tc.last {
			t.Errorf("Pages(%d, %d) = %d-%d, want %d-%d", tc.from, tc.to, a, b, tc.first, tc.last)
		}
	}
	c.Breaks = []int{5} // one break for three pages: not trusted
	if a, b := c.Pages(10, 14); a != 4 || b != 6 {
		t.Errorf("with breaks for the wrong pages: %d-%d, want 4-6", a, b)
	}
}
