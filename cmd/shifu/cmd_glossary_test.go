package main

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/postgres/pgtest"
)

// TestCLIGlossary: `shifu glossary add|list|remove` keeps a tenant's own
// words as the desk does, refuses what is wrong saying what is accepted,
// and audits each change as the operator's (via cli), as the desk audits a
// supervisor's.
func TestCLIGlossary(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	out := sh.must("glossary", "add", "--tenant", "acme", "对刀", "tool touch-off")
	if !strings.Contains(out, "对刀\ttool touch-off") {
		t.Fatalf("add printed %q", out)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"glossary", "add", "--tenant", "acme", "对刀", "tool touch-off"}, "already says"},
		{[]string{"glossary", "add", "--tenant", "acme", "对刀"}, "the term and what it means"},
		{[]string{"glossary", "add", "--tenant", "acme", "对刀", strings.Repeat("x", 201)}, "200"},
		{[]string{"glossary", "remove", "--tenant", "acme", "x"}, "entry's id"},
		{[]string{"glossary", "rename", "--tenant", "acme"}, "want add, list or remove"},
	} {
		if out, err := sh.run(bad.args...); err == nil || !strings.Contains(err.Error()+out, bad.want) {
			t.Errorf("shifu %s: %v %q; want an error naming %q", strings.Join(bad.args, " "), err, out, bad.want)
		}
	}
	var gs []shifu.GlossaryEntry
	if err := json.Unmarshal([]byte(sh.must("glossary", "list", "--tenant", "acme", "--json")), &gs); err != nil || len(gs) != 1 ||
		gs[0].Term != "对刀" || gs[0].AddedBy != "cli" {
		t.Fatalf("list: %+v %v", gs, err)
	}
	sh.must("glossary", "remove", "--tenant", "acme", strconv.FormatInt(gs[0].ID, 10))
	if _, err := sh.run("glossary", "remove", "--tenant", "acme", strconv.FormatInt(gs[0].ID, 10)); !errors.Is(err, shifu.ErrNotFound) {
		t.Errorf("removed twice: %v", err)
	}

	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.AppURL(t, sh.env["DATABASE_URL"]), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn, _, err := db.Tenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	log, err := db.AuditLog(ctx, tn.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range log {
		var d map[string]any
		if json.Unmarshal(e.Detail, &d) == nil && d["via"] == "cli" && d["term"] == "对刀" {
			seen[e.Action] = true
		}
	}
	if !seen["glossary.add"] || !seen["glossary.remove"] {
		t.Errorf("audit %+v; want glossary.add and glossary.remove via cli naming the term", log)
	}
}
