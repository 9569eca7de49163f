package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// commands is every subcommand run dispatches.
var commands = []string{"serve", "migrate", "keygen", "tenant", "ingest", "note", "docs", "revert", "delete", "restore",
	"purge", "reindex", "search", "ask", "eval", "user", "token", "bot", "bench", "glossary"}

// TestHelpExitsZero: `shifu CMD --help`, `-h` and `shifu help CMD` print the
// command's usage on stdout and succeed, for every subcommand, without
// touching a database.
func TestHelpExitsZero(t *testing.T) {
	for _, cmd := range commands {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}, {cmd, "create", "--tenant", "x", "--help"}} {
			var out, errb bytes.Buffer
			err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
			if err != nil || !strings.Contains(out.String(), "usage: shifu "+cmd) {
				t.Errorf("shifu %s: err %v, stdout %q, stderr %q", strings.Join(args, " "), err, out.String(), errb.String())
			}
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"help", "nope"}, func(string) string { return "" }, strings.NewReader(""), &out, &errb); err == nil {
		t.Errorf("help for an unknown command succeeded: %q", out.String())
	}
}
