package retrieval

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/shifu-factory/shifu"
)

func TestCollapse(t *testing.T) {
	para := "Before each shift check the way oil level and top up to the max mark. The pump runs every 30 minutes."
	mk := func(id int64, heading, text string) *fused {
		return &fused{hit: shifu.Hit{Chunk: shifu.Chunk{ID: id, Heading: heading, Text: heading + "\n" + text}}}
	}
	fs := []*fused{
		mk(1, "Mill > Lubrication", para),
		// The same paragraph reproduced in another manual, under its own
		// heading, with other spacing and case.
		mk(2, "Lathe Manual > Daily Checks", "BEFORE each shift check the  way oil level\nand top up to the max mark. The pump runs every 30 minutes."),
		mk(3, "Mill > Coolant", "Top up the coolant to the max mark and check the concentration with the refractometer every week."),
		mk(4, "Mill > Spindle", "Let the spindle warm up for ten minutes at 1000 rpm before cutting."),
	}
	got := collapse(fs, 0.8, 10)
	if len(got) != 3 || got[0].hit.ID != 1 || got[1].hit.ID != 3 || got[2].hit.ID != 4 {
		t.Fatalf("kept %v", ids(got))
	}
	if got := collapse(fs, 0.8, 2); len(got) != 2 || got[1].hit.ID != 3 {
		t.Fatalf("keep 2: %v", ids(got))
	}
	if got := collapse(fs, 1, 3); len(got) != 3 || got[1].hit.ID != 2 {
		t.Fatalf("off: %v", ids(got))
	}
	a, b := shingles(para), shingles("Mill > Spindle warm up")
	if jaccard(a, a) != 1 || jaccard(a, b) != 0 || jaccard(a, nil) != 0 {
		t.Fatalf("jaccard: self %v, other %v", jaccard(a, a), jaccard(a, b))
	}
	if s := shingles("主轴 急停"); len(s) != 2 { // Han characters are words: 主轴急, 轴急停
		t.Fatalf("Han shingles: %d", len(s))
	}
}

func ids(fs []*fused) []int64 {
	var out []int64
	for _, f := range fs {
		out = append(out, f.hit.ID)
	}
	return out
}

// shinglesByWords is shingles as first written, with a string per word: the
// byte-range version must hash the same triples.
func shinglesByWords(text string) []uint64 {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.Is(unicode.Han, r):
			flush()
			words = append(words, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	var out []uint64
	for i := 0; i+3 <= len(words) || (i == 0 && len(words) > 0); i++ {
		h := uint64(fnvOffset)
		for _, w := range words[i:min(i+3, len(words))] {
			for j := 0; j < len(w); j++ {
				h = (h ^ uint64(w[j])) * fnvPrime
			}
			h *= fnvPrime
		}
		out = append(out, h)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func FuzzShingles(f *testing.F) {
	for _, s := range []string{"", "a", "Spindle Speed 1200 RPM", "主轴转速 过高时 请检查 M3", "x\xffy 温度", "ÄÖ İstanbul ǅ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := shingles(s), shinglesByWords(s); !slices.Equal(got, want) {
			t.Fatalf("shingles(%q) = %v, want %v", s, got, want)
		}
	})
}
