package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchIngestProfile: bench ingest of a small file reports its ingest
// and, with --cpuprofile, writes a whole gzipped profile, as pprof reads; a
// bad flag is a usage error.
func TestBenchIngestProfile(t *testing.T) {
	sh := newShell(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "press.md")
	if err := os.WriteFile(doc, []byte("# Press\n\n## Clamp\n\nTighten the clamp bolts to 40 Nm before each shift.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(dir, "cpu.pprof")
	out := sh.must("bench", "ingest", "--cpuprofile", prof, doc)
	if !strings.Contains(out, "ingest ") || !strings.Contains(out, "1 chunks") {
		t.Errorf("output does not report the ingest:\n%s", out)
	}
	// A profile is gzipped protocol buffers; gzip checks its own CRC.
	f, err := os.Open(prof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the CPU profile is not gzip: %v", err)
	}
	if b, err := io.ReadAll(z); err != nil || len(b) == 0 {
		t.Errorf("the CPU profile: %d bytes, %v", len(b), err)
	}
	if out, err := sh.run("bench", "ingest", "--nope", doc); err == nil || !strings.Contains(errMessage(err), "usage") {
		t.Errorf("bad flag: %v %s", err, out)
	}
}
