package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// child starts this test binary as `shifu args...` in its own process, with
// the shell's environment.
func (s *shell) child(args ...string) (*exec.Cmd, *bytes.Buffer) {
	s.t.Helper()
	cmd := exec.Command(osArgs0(), args...)
	cmd.Env = s.childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out
}

func osArgs0() string     { return os.Args[0] }
func osEnviron() []string { return os.Environ() }

// waitFor polls the tenant's documents until ok holds for them.
func (s *shell) waitFor(tenant string, ok func([]docLine) bool) []docLine {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range tick.C {
		docs := s.docs(tenant)
		if ok(docs) {
			return docs
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("documents never got there: %+v", docs)
		}
	}
	return nil
}

// TestKilledIngestResumes kills `shifu ingest` (kill -9) while its documents
// are being embedded, then runs `shifu ingest` on the same files again: it
// must resume them (not call them unchanged) and finish within a minute,
// not after River's 21-minute stuck-job rescue.
func TestKilledIngestResumes(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	fake := llmtest.NewServer(t, llmtest.Options{Fail: func(int, llmtest.Request) *llmtest.Step {
		if down.Load() {
			return &llmtest.Step{Hang: true}
		}
		return nil
	}})
	sh := newShell(t)
	sh.env["SHIFU_EMBED_BASE_URL"] = fake.BaseURL()
	sh.env["SHIFU_EMBED_MODEL"] = "fake-embed"
	sh.env["SHIFU_EMBED_DIM"] = "1024"
	sh.must("tenant", "create", "acme")
	dir := t.TempDir()
	const files = 3
	for i := range files {
		text := fmt.Sprintf("# Press %d\n\n## Clamp\n\nTighten clamp %d to %d Nm before each shift.\n", i, i, 40+i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("press-%d.md", i)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	first, out := sh.child("ingest", "--tenant", "acme", dir)
	sh.waitFor("acme", func(docs []docLine) bool {
		n := 0
		for _, d := range docs {
			if d.Status == "embedding" {
				n++
			}
		}
		return n == files-1 || n == files // two workers: one may still be queued
	})
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	t.Logf("killed ingest said:\n%s", out)
	down.Store(false)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"ingest", "--tenant", "acme", dir}, func(k string) string { return sh.env[k] },
		strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("second ingest: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), fmt.Sprintf("%d ready, 0 failed, 0 unchanged", files)) {
		t.Errorf("second ingest did not finish every file:\n%s", stdout.String())
	}
	for _, d := range sh.docs("acme") {
		if d.Status != "ready" || d.Chunks == 0 {
			t.Errorf("%s: %s with %d chunks (%s)", d.Name, d.Status, d.Chunks, d.Error)
		}
	}
}
