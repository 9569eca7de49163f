package wordnet

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func dir(t testing.TB) string {
	d := os.Getenv("SHIFU_WORDNET")
	if d == "" {
		d = DefaultDir
	}
	if _, err := os.Stat(filepath.Join(d, "data.noun")); err != nil {
		t.Skipf("WordNet missing in %s; run scripts/deps.sh (installs wordnet-base)", d)
	}
	return d
}

// TestOthers: everyday words, as written, get the other names of their
// frequent senses (a satellite adjective its head: enormous → large); rare
// words and words WordNet lacks get none.
func TestOthers(t *testing.T) {
	w, err := Load(dir(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ word, want string }{
		{"enormous", "large"},
		{"Tiny", "small"},
		{"speeds", "velocity"}, // an inflection, by morphy's rules
	} {
		if got := w.Others(c.word); !slices.Contains(got, c.want) {
			t.Errorf("Others(%q) = %v, want %q among them", c.word, got, c.want)
		}
	}
	for _, word := range []string{"nub", "halcmd", "enormous tiny"} {
		if got := w.Others(word); len(got) != 0 {
			t.Errorf("Others(%q) = %v, want none", word, got)
		}
	}
	for _, o := range w.Others("tiny") {
		if strings.ContainsAny(o, " -") || o == "tiny" {
			t.Errorf("Others(tiny) holds %q: phrases and the word itself are not other names", o)
		}
	}
	if len(w.Others("tiny")) > 8 {
		t.Errorf("Others(tiny) = %v, more than Max", w.Others("tiny"))
	}
}

// TestLoadErrors: a missing or damaged database is refused, naming the
// file and what was wrong.
func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := Load(empty, Options{}); err == nil || !strings.Contains(err.Error(), "cntlist.rev") {
		t.Errorf("empty dir: %v, want an error naming cntlist.rev", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "cntlist.rev"), []byte("large%3:00:00:: 1 many\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, Options{}); err == nil || !strings.Contains(err.Error(), "bad count line") {
		t.Errorf("damaged counts: %v, want a bad count line error", err)
	}
}

// BenchmarkLoad reports the cost of loading the database once per process
// (time, and heap kept).
func BenchmarkLoad(b *testing.B) {
	d := dir(b)
	var m0, m1 runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&m0)
		w, err := Load(d, Options{})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/1e6, "MB-kept")
		b.ReportMetric(float64(w.Len()), "words")
	}
}
