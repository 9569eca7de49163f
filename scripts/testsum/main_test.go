package main

import (
	"os"
	"strings"
	"testing"
)

// testdata/run.json is what `go test -json ./...` printed (times taken out)
// for a package with a passing, a skipped, a failing and a subtest-skipping
// test, beside a package that does not build.
func TestSummarize(t *testing.T) {
	f, err := os.Open("testdata/run.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	tally, err := summarize(f, &out)
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if tally.pass != 2 || tally.fail != 1 || tally.skip != 2 || !tally.failed {
		t.Errorf("tally %+v, want 2 passed, 1 failed, 2 skipped and a failed build", tally)
	}
	for _, want := range []string{
		"undefined: undefinedThing",                                      // the build's own error
		"ts TestBad:\n    a_test.go:5: got 1\n    a_test.go:5: want 2\n", // a failed test's whole output
		"skipped tests (2):\n  ts TestSkip: a_test.go:4: corpus file x is missing\n  ts TestSub/inner: a_test.go:6: inner reason\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasSuffix(got, "2 passed, 1 failed, 2 skipped\n") {
		t.Errorf("summary does not end with the count line:\n%s", got)
	}
	if strings.Contains(got, "=== RUN") || strings.Contains(got, "TestOK") {
		t.Errorf("a passing test's lines are printed:\n%s", got)
	}
}
