package terms

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ego/gse"
)

// gseLoaded is the dictionary as gse's own LoadDictEmbed builds it, glossary
// added the same way: what loadDict must equal.
func gseLoaded(t testing.TB) *dict {
	t.Helper()
	seg := &gse.Segmenter{SkipLog: true, NotLoadHMM: true}
	if err := seg.LoadDictEmbed("zh_s"); err != nil {
		t.Fatal(err)
	}
	d, err := withGlossary(seg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDictionaryCuts: the embedded copy read by loadDict holds the same words
// with the same frequencies as gse's, so Chinese is cut the same way.
func TestDictionaryCuts(t *testing.T) {
	ours, err := dictionary()
	if err != nil {
		t.Fatal(err)
	}
	theirs := gseLoaded(t)
	if a, b := ours.seg.Dict.NumTokens(), theirs.seg.Dict.NumTokens(); a != b || a < 300000 {
		t.Fatalf("tokens: ours %d, gse's %d", a, b)
	}
	if a, b := ours.seg.Dict.TotalFreq(), theirs.seg.Dict.TotalFreq(); a != b {
		t.Fatalf("total frequency: ours %v, gse's %v", a, b)
	}
	if !maps.Equal(ours.added, theirs.added) {
		t.Fatalf("glossary words added: ours %v, gse's %v", ours.added, theirs.added)
	}
	texts := []string{"工控机能够连接伺服驱动器的报警代码，数控机床主轴转速不稳", "网断了怎么办，拔电重启工控机"}
	if b, err := os.ReadFile(filepath.Join(os.Getenv("SHIFU_CORPUS"), "docs", "pcbnew.html")); err == nil {
		texts = append(texts, string(b[:min(len(b), 200000)]))
	}
	for _, s := range texts {
		for _, run := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x3400 }) {
			if a, b := ours.seg.CutSearch(run, false), theirs.seg.CutSearch(run, false); !slices.Equal(a, b) {
				t.Fatalf("cut of %q: ours %q, gse's %q", run, a, b)
			}
		}
	}
}

// BenchmarkDictionary compares loading the dictionary with gse's loader
// (which computes the words' parts, then again after the glossary) and with
// loadDict (once).
func BenchmarkDictionary(b *testing.B) {
	b.Run("gse", func(b *testing.B) {
		for b.Loop() {
			seg := &gse.Segmenter{SkipLog: true}
			if err := seg.LoadDictEmbed("zh_s"); err != nil {
				b.Fatal(err)
			}
			if _, err := withGlossary(seg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("embedded", func(b *testing.B) {
		for b.Loop() {
			seg := &gse.Segmenter{SkipLog: true, NotLoadHMM: true}
			if err := loadDict(seg, zhDict); err != nil {
				b.Fatal(err)
			}
			if _, err := withGlossary(seg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
