package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

type versionedDoc struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Version  int    `json:"version"`
	SHA256   string `json:"sha256"`
	Chunks   int    `json:"chunks"`
	Versions []struct {
		Version int    `json:"version"`
		Name    string `json:"name"`
		SHA256  string `json:"sha256"`
		Status  string `json:"status"`
	} `json:"versions"`
}

func (s *shell) versioned(tenant string) []versionedDoc {
	s.t.Helper()
	var docs []versionedDoc
	if err := json.Unmarshal([]byte(s.must("docs", "--tenant", tenant, "--json")), &docs); err != nil {
		s.t.Fatal(err)
	}
	return docs
}

// TestCLIVersions follows the command-line contract: a revision
// keeps the id, docs --json lists the versions, revert, delete and restore.
func TestCLIVersions(t *testing.T) {
	sh := newShell(t)
	sh.must("tenant", "create", "acme")
	dir := t.TempDir()
	v1 := filepath.Join(dir, "press-manual.md")
	v2 := filepath.Join(dir, "press-manual-rev-b.md")
	os.WriteFile(v1, []byte("# Press\n\n## Clamp\n\nTighten the clamp bolts to 40 Nm before each shift.\n"), 0o644)
	os.WriteFile(v2, []byte("# Press\n\n## Clamp\n\nTighten the clamp bolts to 55 Nm before each shift.\n"), 0o644)
	sh.must("ingest", "--tenant", "acme", v1)
	docs := sh.versioned("acme")
	if len(docs) != 1 || docs[0].ID == 0 || docs[0].Version != 1 || len(docs[0].Versions) != 1 || docs[0].Versions[0].SHA256 != docs[0].SHA256 {
		t.Fatalf("docs after one upload: %+v", docs)
	}
	id := strconv.FormatInt(docs[0].ID, 10)

	out := sh.must("ingest", "--tenant", "acme", "--revision-of", id, v2)
	if !strings.Contains(out, "document "+id+" version 2") {
		t.Errorf("ingest --revision-of says:\n%s", out)
	}
	docs = sh.versioned("acme")
	if len(docs) != 1 || docs[0].ID != mustInt(t, id) || docs[0].Version != 2 || docs[0].Name != "press-manual-rev-b.md" || len(docs[0].Versions) != 2 ||
		docs[0].Versions[0].Name != "press-manual.md" || docs[0].Versions[0].Status != "archived" || docs[0].Versions[1].Status != "ready" {
		t.Fatalf("docs after the revision: %+v", docs)
	}
	if out := sh.must("search", "--tenant", "acme", "--json", "clamp bolts torque"); !strings.Contains(out, "55 Nm") || strings.Contains(out, "40 Nm") {
		t.Fatalf("search after the revision:\n%s", out)
	}

	sh.must("revert", "--tenant", "acme", "--doc", id, "--version", "1")
	if docs = sh.versioned("acme"); docs[0].Version != 1 || docs[0].Status != "ready" {
		t.Fatalf("after revert: %+v", docs)
	}
	if out := sh.must("search", "--tenant", "acme", "--json", "clamp bolts torque"); !strings.Contains(out, "40 Nm") || strings.Contains(out, "55 Nm") {
		t.Fatalf("search after revert:\n%s", out)
	}
	if _, err := sh.run("revert", "--tenant", "acme", "--doc", id, "--version", "5"); err == nil || !strings.Contains(errMessage(err), "kept versions: 1, 2") {
		t.Fatalf("revert to a missing version: %v", err)
	}

	sh.must("delete", "--tenant", "acme", "--doc", id)
	if docs = sh.versioned("acme"); len(docs) != 0 {
		t.Fatalf("after delete: %+v", docs)
	}
	if out := sh.must("search", "--tenant", "acme", "--json", "clamp bolts torque"); strings.Contains(out, "Nm") {
		t.Fatalf("search finds a deleted document:\n%s", out)
	}
	if out := sh.must("docs", "--tenant", "acme", "--deleted"); !strings.Contains(out, "press-manual.md") || !strings.Contains(out, "deleted") {
		t.Fatalf("docs --deleted:\n%s", out)
	}
	sh.must("restore", "--tenant", "acme", "--doc", id)
	if docs = sh.versioned("acme"); len(docs) != 1 || docs[0].Version != 1 || docs[0].Status != "ready" {
		t.Fatalf("after restore: %+v", docs)
	}
	if _, err := sh.run("restore", "--tenant", "acme", "--doc", id); err == nil || !strings.Contains(errMessage(err), "not deleted") {
		t.Fatalf("restore of a live document: %v", err)
	}
	// Purge: within retention nothing goes; past it, the document and its
	// versions are gone for good.
	sh.must("delete", "--tenant", "acme", "--doc", id)
	if out := sh.must("purge", "--tenant", "acme"); !strings.Contains(out, "acme: 0 deleted documents and 0 old versions purged") {
		t.Fatalf("purge within retention:\n%s", out)
	}
	sh.env["SHIFU_DELETE_RETENTION"] = "1ns"
	if out := sh.must("purge"); !strings.Contains(out, "acme: 1 deleted documents") {
		t.Fatalf("purge past retention:\n%s", out)
	}
	if out := sh.must("docs", "--tenant", "acme", "--deleted", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("purged document still listed: %s", out)
	}
	if _, err := sh.run("restore", "--tenant", "acme", "--doc", id); err == nil || !strings.Contains(errMessage(err), "not found") {
		t.Fatalf("restore after purge: %v", err)
	}
	// Each step is audited as a web user's would be, marked as the CLI's.
	conn, err := pgx.Connect(context.Background(), sh.env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT action || ' ' || coalesce(detail->>'via', '-') || ' ' || (user_id IS NULL)::text FROM audit ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"document.upload cli true", "document.upload cli true", "document.revert cli true", "document.delete cli true",
		"document.restore cli true", "document.delete cli true", "document.purge - true"}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range [][]string{
		{"revert", "--tenant", "acme", "--doc", id},
		{"delete", "--tenant", "acme"},
		{"ingest", "--tenant", "acme", "--revision-of", id, v1, v2},
	} {
		if _, err := sh.run(bad...); err == nil || !strings.Contains(errMessage(err), "--") {
			t.Errorf("shifu %s: %v", strings.Join(bad, " "), err)
		}
	}
}

func mustInt(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDocsTableAligns: the table has a header and its columns line up on a
// terminal, where Chinese characters take two cells.
func TestDocsTableAligns(t *testing.T) {
	var b strings.Builder
	table(&b, [][]string{{"ID", "NAME", "STATUS"}, {"1", "数控机床维护手册.pdf", "ready"}, {"12", "a-very-long-english-manual-name.pdf", "failed"}}, map[int]bool{0: true})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("table:\n%s", b.String())
	}
	col := func(line, word string) int { return cells(line[:strings.Index(line, word)]) }
	if a, c, d := col(lines[0], "STATUS"), col(lines[1], "ready"), col(lines[2], "failed"); a != c || c != d {
		t.Fatalf("STATUS column at cells %d, %d, %d:\n%s", a, c, d, b.String())
	}
	if cells("数控") != 4 || cells("ab") != 2 {
		t.Fatalf("cells: %d %d", cells("数控"), cells("ab"))
	}
}
