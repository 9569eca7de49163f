package ingest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
)

// found is what a lexical search for term finds: the stored versions of the
// hits, and the documents and versions the hits name.
func found(t *testing.T, f *fixture, term string) (versions map[int64]bool, docs map[int64]int) {
	t.Helper()
	hits, _, err := f.db.Lexical(context.Background(), f.tenant, []string{term}, shifu.Filter{}, shifu.BM25{K1: 1.2, B: 0.75, MaxDF: 1}, 50)
	if err != nil {
		t.Fatal(err)
	}
	versions, docs = map[int64]bool{}, map[int64]int{}
	for _, h := range hits {
		versions[h.DocumentID] = true
		docs[h.DocID] = h.Version
	}
	return versions, docs
}

// count is how many rows of table belong to the tenant and match where.
func count(t *testing.T, f *fixture, sql string, args ...any) int {
	t.Helper()
	var n int
	err := f.db.InTenant(context.Background(), f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), sql, args...).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestVersionsRollbackDeleteRestorePurge(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	wang := shifu.Actor{Name: "Wang"} // at the command line
	v1, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "cnc-3000.md", Data: []byte("# CNC 3000\n\nThe lubricant is grade walrusoil.\n"), Revision: "A", UserName: "Wang"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.process(ctx, f.tenant, v1.VersionID); err != nil {
		t.Fatal(err)
	}
	// A new revision under another file name, of the same type: the same id.
	v2, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "cnc-3000-rev-b.md", Data: []byte("# CNC 3000\n\nThe lubricant is grade narwhaloil.\n"),
		Revision: "B", UserName: "Li", Of: v1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if v2.ID != v1.ID || v2.Version != 2 || v2.Name != "cnc-3000-rev-b.md" {
		t.Fatalf("revision: document %d version %d %q, want document %d version 2 under its own name", v2.ID, v2.Version, v2.Name, v1.ID)
	}
	if err := f.svc.process(ctx, f.tenant, v2.VersionID); err != nil {
		t.Fatal(err)
	}
	d, err := f.db.Document(ctx, f.tenant, v1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 2 || len(d.Versions) != 2 || d.Versions[0].Name != "cnc-3000.md" || d.Versions[0].UploadedBy != "Wang" ||
		d.Versions[0].Status != shifu.StatusArchived || d.Versions[1].Status != shifu.StatusReady || d.Versions[0].SHA256 == d.Versions[1].SHA256 {
		t.Fatalf("after the revision: %+v", d)
	}
	if _, docs := found(t, f, "narwhaloil"); docs[v1.ID] != 2 {
		t.Fatalf("the new version is not searched: %v", docs)
	}
	if vs, _ := found(t, f, "walrusoil"); len(vs) != 0 {
		t.Fatalf("the old version is still searched: %v", vs)
	}
	// Both originals are kept, each under its version.
	old, err := f.db.DocumentVersion(ctx, f.tenant, v1.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := f.svc.Original(ctx, f.tenant, old.VersionID); err != nil || !strings.Contains(string(b), "walrusoil") || old.Name != "cnc-3000.md" {
		t.Fatalf("version 1's original: %q %q, %v", old.Name, b, err)
	}

	// Rollback: version 1 is live again, in one step.
	if _, err := f.db.Revert(ctx, f.tenant, v1.ID, 1, wang); err != nil {
		t.Fatal(err)
	}
	if _, docs := found(t, f, "walrusoil"); docs[v1.ID] != 1 {
		t.Fatalf("after rollback version 1 is not searched: %v", docs)
	}
	if vs, _ := found(t, f, "narwhaloil"); len(vs) != 0 {
		t.Fatalf("after rollback version 2 is still searched: %v", vs)
	}
	if _, err := f.db.Revert(ctx, f.tenant, v1.ID, 7, wang); !errors.Is(err, shifu.ErrNotFound) || !strings.Contains(shifu.Message(err), "kept versions: 1, 2") {
		t.Fatalf("rollback to a missing version: %v", err)
	}

	// Soft delete hides at once; restore brings the live version back.
	if err := f.db.DeleteDocument(ctx, f.tenant, v1.ID, wang); err != nil {
		t.Fatal(err)
	}
	if vs, _ := found(t, f, "walrusoil"); len(vs) != 0 {
		t.Fatalf("a deleted document is still searched: %v", vs)
	}
	if live, _ := f.db.Documents(ctx, f.tenant, false); len(live) != 0 {
		t.Fatalf("a deleted document is still listed: %+v", live)
	}
	if gone, _ := f.db.Documents(ctx, f.tenant, true); len(gone) != 1 || gone[0].DeletedAt.IsZero() {
		t.Fatalf("deleted list: %+v", gone)
	}
	if _, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "x.md", Data: []byte("# x\n\nother\n"), Of: v1.ID}); !errors.Is(err, shifu.ErrConflict) {
		t.Fatalf("a revision of a deleted document: %v", err)
	}
	if err := f.db.Restore(ctx, f.tenant, v1.ID, wang); err != nil {
		t.Fatal(err)
	}
	if _, docs := found(t, f, "walrusoil"); docs[v1.ID] != 1 {
		t.Fatalf("after restore: %v", docs)
	}

	// Purge: versions past retention go; a live one never does.
	if p, err := f.db.Purge(ctx, f.tenant, time.Now().Add(-time.Hour), time.Now().Add(time.Second)); err != nil || p.Versions != 1 || len(p.Documents) != 0 {
		t.Fatalf("purge of old versions: %+v, %v", p, err)
	}
	if d, _ := f.db.Document(ctx, f.tenant, v1.ID); len(d.Versions) != 1 || d.Versions[0].Version != 1 {
		t.Fatalf("after the version purge: %+v", d.Versions)
	}
	// A deleted document past retention goes with every row and its originals.
	if err := f.db.DeleteDocument(ctx, f.tenant, v1.ID, wang); err != nil {
		t.Fatal(err)
	}
	if p, err := f.db.Purge(ctx, f.tenant, time.Now().Add(-time.Hour), time.Time{}); err != nil || len(p.Documents) != 0 {
		t.Fatalf("purge within retention: %+v, %v", p, err)
	}
	p, err := f.db.Purge(ctx, f.tenant, time.Now().Add(time.Second), time.Time{})
	if err != nil || len(p.Documents) != 1 || p.Documents[0] != v1.ID {
		t.Fatalf("purge past retention: %+v, %v", p, err)
	}
	for table, sql := range map[string]string{
		"document_heads": `SELECT count(*) FROM document_heads`,
		"documents":      `SELECT count(*) FROM documents`,
		"originals":      `SELECT count(*) FROM originals`,
		"chunks":         `SELECT count(*) FROM chunks`,
		"posting_lists":  `SELECT count(*) FROM posting_lists`,
	} {
		if n := count(t, f, sql); n != 0 {
			t.Errorf("after purge %d rows left in %s", n, table)
		}
	}
	if n := count(t, f, `SELECT count(*) FROM audit WHERE action IN ('document.purge', 'version.purge')`); n != 2 {
		t.Errorf("%d purges audited, want 2", n)
	}
	// Each change is audited in its own transaction (a failed revert not).
	if n := count(t, f, `SELECT count(*) FROM audit WHERE action = 'document.revert' AND detail->>'version' = '1'`); n != 1 {
		t.Errorf("%d reverts audited, want 1", n)
	}
	if n := count(t, f, `SELECT count(*) FROM audit WHERE action = 'document.delete' AND detail->>'name' = 'cnc-3000.md'`); n != 2 {
		t.Errorf("%d deletions audited, want 2", n)
	}
	if n := count(t, f, `SELECT count(*) FROM audit WHERE action = 'document.restore'`); n != 1 {
		t.Errorf("%d restores audited, want 1", n)
	}
}

func TestRevisionChecks(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	m, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "cnc-3000-maintenance.md", Data: manual("CNC 3000", 1)})
	if err != nil {
		t.Fatal(err)
	}
	note, _, err := f.svc.AddNote(ctx, f.tenant, shifu.Note{Title: "Coolant foams", Fix: "Use 5% concentrate", Author: "Li"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A change of kind is refused, naming both kinds.
	_, _, err = f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "coolant.md", Data: manual("Coolant", 1), Of: note.ID, Confirm: true})
	if !errors.Is(err, shifu.ErrInvalid) || !strings.Contains(shifu.Message(err), "note") || !strings.Contains(shifu.Message(err), "manual") {
		t.Fatalf("manual as a note's revision: %v", err)
	}
	// Another type of file looks like a different manual: refused until confirmed.
	pdf := []byte("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")
	_, _, err = f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "LinuxCNC_Integrator.pdf", Data: pdf, Of: m.ID})
	if !errors.Is(err, shifu.ErrConflict) || !strings.Contains(shifu.Message(err), "different manual") || !strings.Contains(shifu.Message(err), "confirm") {
		t.Fatalf("a PDF as the revision of a Markdown manual: %v", err)
	}
	// So does a name sharing no word with the old one.
	_, _, err = f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "forklift.md", Data: manual("Forklift", 1), Of: m.ID})
	if !errors.Is(err, shifu.ErrConflict) {
		t.Fatalf("an unrelated name: %v", err)
	}
	if d, _ := f.db.Document(ctx, f.tenant, m.ID); len(d.Versions) != 1 {
		t.Fatalf("refused revisions were stored: %+v", d.Versions)
	}
	v2, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "forklift.md", Data: manual("Forklift", 1), Of: m.ID, Confirm: true})
	if err != nil || v2.ID != m.ID || v2.Version != 2 {
		t.Fatalf("confirmed revision: %+v, %v", v2, err)
	}
	if _, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "a.md", Data: manual("A", 1), Of: 999999}); !errors.Is(err, shifu.ErrNotFound) {
		t.Fatalf("revision of a missing document: %v", err)
	}
}
