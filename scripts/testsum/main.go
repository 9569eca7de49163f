// Command testsum reads `go test -json` on standard input and prints what a
// reviewer needs from a run: each package's result line, the output of every
// failed test, every skipped test with its reason, and a closing count line
// ("N passed, N failed, N skipped"). It exits 1 when a test or a build failed.
// scripts/test.sh pipes the suite through it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	// ImportPath is set on build-output and build-fail events.
	ImportPath string
}

type tally struct {
	pass, fail, skip int
	failed           bool // a package or build failed
	skips            []string
}

func main() {
	t, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if t.failed || t.fail > 0 {
		os.Exit(1)
	}
}

func summarize(r io.Reader, w io.Writer) (tally, error) {
	var t tally
	out := map[string][]string{} // package + test → its output so far
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not JSON: something the go command printed itself.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Action == "build-fail":
			t.failed = true
		case e.Test == "" && e.Action == "output":
			// The package's own lines: "ok …", "FAIL …", panics outside a test.
			if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "--- ") && e.Output != "PASS\n" {
				fmt.Fprint(w, e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			t.failed = true
		case e.Test == "":
			// A package's start, pass or skip ("no test files").
		case e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") {
				out[key] = append(out[key], e.Output)
			}
		case e.Action == "pass":
			t.pass++
			delete(out, key)
		case e.Action == "fail":
			t.fail++
			fmt.Fprintf(w, "%s %s:\n%s", e.Package, e.Test, strings.Join(out[key], ""))
			delete(out, key)
		case e.Action == "skip":
			t.skip++
			t.skips = append(t.skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason(out[key])))
			delete(out, key)
		}
	}
	if err := sc.Err(); err != nil {
		return t, err
	}
	if len(t.skips) > 0 {
		sort.Strings(t.skips)
		fmt.Fprintf(w, "skipped tests (%d):\n", len(t.skips))
		for _, s := range t.skips {
			fmt.Fprintln(w, "  "+s)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", t.pass, t.fail, t.skip)
	return t, nil
}

// reason is the last line a skipped test printed before "--- SKIP".
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "--- SKIP") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason printed)"
}
