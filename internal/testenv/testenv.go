// Package testenv decides what a test does when something it needs from the
// machine is missing: on a developer's machine it skips with the reason; under
// CI (CI=true, as .ci/run is started) it fails, so a failed install or corpus
// fetch cannot turn the suite green by skipping what it was meant to check.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CI reports whether the tests run under continuous integration.
func CI() bool { return os.Getenv("CI") == "true" }

// Need skips t (fails it under CI) with why unless ok.
func Need(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("CI=true and %s", why)
	}
	t.Skip(why)
}

// Corpus returns the folder holding the evaluation corpus's seven documents
// (SHIFU_CORPUS/docs, by default ~/.cache/shifu-corpus/docs), or skips t (fails it
// under CI) when name is not in it.
func Corpus(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("SHIFU_CORPUS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "shifu-corpus")
	}
	docs := filepath.Join(dir, "docs")
	_, err := os.Stat(filepath.Join(docs, name))
	Need(t, err == nil, "corpus file "+filepath.Join(docs, name)+" is missing (../shared/eval/fetch-corpus.sh fetches it; make test runs it)")
	return docs
}

// Shared returns the path of a file under the project's shared folder
// (../shared beside the checkout; root is the test's path to the checkout),
// or skips t (fails it under CI) when it is missing.
func Shared(t testing.TB, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, "..", "shared", rel)
	_, err := os.Stat(p)
	Need(t, err == nil, p+" is missing")
	return p
}

// Tools skips t (fails it under CI) unless every named program is on PATH:
// scripts/deps.sh installs them, so under CI a missing one is a failed install.
func Tools(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		_, err := exec.LookPath(name)
		Need(t, err == nil, "needs "+name+" on PATH (scripts/deps.sh installs it)")
	}
}
