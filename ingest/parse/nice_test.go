//go:build linux

package parse

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The parse's child processes run niced; output and errors come back as
// cmd.Output gives them.
func TestChildrenRunNiced(t *testing.T) {
	self, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The child reads its niceness a moment after starting, by when runLow
	// has lowered it (right after the start).
	out, err := outputLow(exec.Command("sh", "-c", "sleep 1; cut -d' ' -f19 /proc/$$/stat"))
	if err != nil {
		t.Fatal(err)
	}
	// Getpriority returns 20 - nice on Linux.
	if got, want := strings.TrimSpace(string(out)), strconv.Itoa(max(20-self, childNice)); got != want {
		t.Fatalf("child niceness %s, want %s (ours %d)", got, want, 20-self)
	}
	_, err = outputLow(exec.Command("sh", "-c", "echo bad page >&2; exit 3"))
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(ee.Stderr), "bad page") {
		t.Fatalf("failing child: %v", err)
	}
}

// A child that prints without end is cut off at maxToolOutput and named as
// the error, not kept in memory.
func TestChildOutputCapped(t *testing.T) {
	out, err := outputLow(exec.Command("head", "-c", strconv.Itoa(maxToolOutput+1), "/dev/zero"))
	if err == nil || !strings.Contains(err.Error(), "printed more than 64 MiB") {
		t.Fatalf("err = %v, want the cap named", err)
	}
	if len(out) > maxToolOutput {
		t.Fatalf("kept %d bytes, more than the cap %d", len(out), maxToolOutput)
	}
	out, err = outputLow(exec.Command("head", "-c", strconv.Itoa(maxToolOutput), "/dev/zero"))
	if err != nil || len(out) != maxToolOutput {
		t.Fatalf("output at the cap: %d bytes, %v", len(out), err)
	}
}
