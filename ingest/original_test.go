package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/keyring"
)

// junkPDF is a reader of n bytes that sniff as a PDF: a header, then
// random bytes. fail, when set, is returned instead of the bytes past at.
type junkPDF struct {
	n, read, at int64
	seed        byte
	fail        error
	rng         *rand.ChaCha8
	during      func() // called once, half way
}

func newJunk(n int64, seed byte) *junkPDF {
	return &junkPDF{n: n, at: -1, seed: seed, rng: rand.NewChaCha8([32]byte{seed})}
}

func (j *junkPDF) Read(p []byte) (int, error) {
	if j.fail != nil && j.read >= j.at {
		return 0, j.fail
	}
	if j.read >= j.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), j.n-j.read)]
	_, _ = j.rng.Read(p)
	if j.read == 0 {
		copy(p, "%PDF-1.7\n")
	}
	if j.during != nil && j.read >= j.n/2 {
		j.during()
		j.during = nil
	}
	j.read += int64(len(p))
	return len(p), nil
}

func (j *junkPDF) bytes() []byte {
	b, _ := io.ReadAll(newJunk(j.n, j.seed))
	return b
}

// counts is the rows an upload may leave.
func counts(t *testing.T, f *fixture) (docs, segments int64) {
	t.Helper()
	err := f.db.InTenant(context.Background(), f.tenant, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM original_segments)`).Scan(&docs, &segments)
	})
	if err != nil {
		t.Fatal(err)
	}
	return docs, segments
}

// spoolDir points temporary files at a directory of the test's and
// returns a check that it holds nothing.
func spoolDir(t *testing.T) func(when string) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	return func(when string) {
		t.Helper()
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) > 0 {
			t.Errorf("%s: %d temporary files left, first %s", when, len(es), es[0].Name())
		}
	}
}

func TestOriginalIsSealedInSegments(t *testing.T) {
	ctx := context.Background()
	empty := spoolDir(t)
	f := setup(t, nil, Options{})
	size := int64(3*keyring.SegmentSize + 4321)
	data := newJunk(size, 0).bytes()
	src := newJunk(size, 0)
	src.during = func() { empty("while streaming in") } // the spool has no name
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.pdf", Body: src})
	if err != nil {
		t.Fatal(err)
	}
	empty("after the upload")
	if d.Size != size || d.MIME != "application/pdf" {
		t.Fatalf("stored %d bytes as %s, want %d as a PDF", d.Size, d.MIME, size)
	}
	if _, n := counts(t, f); n != 4 {
		t.Fatalf("%d segments stored, want 4", n)
	}
	for i := range int64(4) {
		seg, err := f.db.OriginalSegment(ctx, f.tenant, d.VersionID, i)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(seg, data[i*keyring.SegmentSize:i*keyring.SegmentSize+64]) {
			t.Fatalf("segment %d holds plain text", i)
		}
	}
	got, err := f.svc.Original(ctx, f.tenant, d.VersionID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Original: %d bytes, %v", len(got), err)
	}
	// A range, as a download with Range asks: only the segments it needs.
	r, err := f.svc.OpenOriginal(ctx, f.tenant, d.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(2*keyring.SegmentSize - 10)
	if _, err := r.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 20)
	if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, data[off:off+20]) {
		t.Fatalf("range read: %v", err)
	}
	// The same bytes again are the same document: hashed while streaming.
	if d2, dup, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.pdf", Body: newJunk(size, 0)}); err != nil || !dup || d2.VersionID != d.VersionID {
		t.Fatalf("same bytes again: dup %v, version %d (first %d), %v", dup, d2.VersionID, d.VersionID, err)
	}
}

// TestOverLimitRefusedMidStream: a file over the limit is refused as soon
// as it passes it, not read to its end, and leaves nothing.
func TestOverLimitRefusedMidStream(t *testing.T) {
	ctx := context.Background()
	empty := spoolDir(t)
	f := setup(t, nil, Options{MaxBytes: 2 << 20})
	src := newJunk(1<<40, 1) // a terabyte, were it read
	_, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "huge.pdf", Body: src})
	if !errors.Is(err, shifu.ErrTooLarge) || !strings.Contains(shifu.Message(err), "huge.pdf") || !strings.Contains(shifu.Message(err), "limit of 2 MB") {
		t.Fatalf("err %v (%q), want ErrTooLarge naming the file and the 2 MB limit", err, shifu.Message(err))
	}
	if src.read > 2<<20+64<<10 {
		t.Fatalf("read %d bytes of an over-limit file before refusing it", src.read)
	}
	if docs, segs := counts(t, f); docs != 0 || segs != 0 {
		t.Fatalf("refused upload left %d documents, %d segments", docs, segs)
	}
	empty("after refusing")
}

// TestInterruptedUploadLeavesNothing: a body that breaks off (the client
// went away) stores nothing and leaves no temporary file.
func TestInterruptedUploadLeavesNothing(t *testing.T) {
	ctx := context.Background()
	empty := spoolDir(t)
	f := setup(t, nil, Options{})
	src := newJunk(10<<20, 2)
	src.at, src.fail = 3<<20, io.ErrUnexpectedEOF
	_, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "cut.pdf", Body: src})
	if !errors.Is(err, shifu.ErrInvalid) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(shifu.Message(err), "could not be read completely") {
		t.Fatalf("err %v (%q), want ErrInvalid saying the file was not read completely", err, shifu.Message(err))
	}
	cctx, cancel := context.WithCancel(ctx)
	src = newJunk(10<<20, 3)
	src.during = cancel
	if _, _, err := f.svc.Add(cctx, f.tenant, shifu.Upload{Name: "cancelled.pdf", Body: src}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload: %v", err)
	}
	if docs, segs := counts(t, f); docs != 0 || segs != 0 {
		t.Fatalf("interrupted uploads left %d documents, %d segments", docs, segs)
	}
	empty("after interrupted uploads")
}

// TestTamperedSegmentsRefused: segments swapped, dropped, added or taken
// from another version of the tenant are refused on reading.
func TestTamperedSegmentsRefused(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	size := int64(3*keyring.SegmentSize + 10)
	a, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "a.pdf", Body: newJunk(size, 4)})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "b.pdf", Body: newJunk(size, 5)})
	if err != nil {
		t.Fatal(err)
	}
	owner, err := pgx.Connect(ctx, f.url) // the database's owner: no row security, no grants in the way
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	for _, c := range []struct{ name, sql string }{
		{"swapped", `UPDATE original_segments o SET sealed = x.sealed FROM original_segments x
			WHERE o.document_id = $1 AND x.document_id = $1 AND o.seq IN (0, 1) AND x.seq = 1 - o.seq`},
		{"from another version", `UPDATE original_segments o SET sealed = x.sealed FROM original_segments x
			WHERE o.document_id = $1 AND o.seq = 1 AND x.document_id = $2 AND x.seq = 1`},
		{"last dropped", `DELETE FROM original_segments WHERE document_id = $1 AND seq = 3`},
		{"one added", `INSERT INTO original_segments (document_id, tenant_id, seq, sealed)
			SELECT document_id, tenant_id, 4, sealed FROM original_segments WHERE document_id = $1 AND seq = 3`},
		{"size changed", `UPDATE documents SET size = size - 1 WHERE id = $1`},
	} {
		tx, err := owner.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		args := []any{a.VersionID}
		if strings.Contains(c.sql, "$2") {
			args = append(args, b.VersionID)
		}
		if _, err := tx.Exec(ctx, c.sql, args...); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Original(ctx, f.tenant, a.VersionID); err == nil {
			t.Errorf("%s: read without error", c.name)
		}
		// Put it back as stored for the next case.
		if _, err := owner.Exec(ctx, `DELETE FROM original_segments WHERE document_id = $1`, a.VersionID); err != nil {
			t.Fatal(err)
		}
		if _, err := owner.Exec(ctx, `UPDATE documents SET size = $2 WHERE id = $1`, a.VersionID, size); err != nil {
			t.Fatal(err)
		}
		key, _ := f.ring.TenantKey(ctx, f.tenant)
		seq := 0
		w := key.NewWriter(sealContext(f.tenant, a.VersionID), func(s []byte) error {
			_, err := owner.Exec(ctx, `INSERT INTO original_segments (document_id, tenant_id, seq, sealed) VALUES ($1, $2, $3, $4)`, a.VersionID, f.tenant, seq, s)
			seq++
			return err
		})
		if _, err := io.Copy(w, newJunk(size, 4)); err != nil || w.Close() != nil {
			t.Fatal(err)
		}
		if got, err := f.svc.Original(ctx, f.tenant, a.VersionID); err != nil || int64(len(got)) != size {
			t.Fatalf("restored after %s: %v", c.name, err)
		}
	}
}

// TestWholeOriginalsStillOpen: an original stored before segments (one
// sealed value in originals) still opens, streams and ingests.
func TestWholeOriginalsStillOpen(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	data := manual("Old press manual", 2)
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "old.md", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	// Store it as the code before migration 012 did.
	key, _ := f.ring.TenantKey(ctx, f.tenant)
	sealed, err := key.Seal(data, sealContext(f.tenant, d.VersionID))
	if err != nil {
		t.Fatal(err)
	}
	err = f.db.InTenant(ctx, f.tenant, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM original_segments WHERE document_id = $1`, d.VersionID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO originals (document_id, sealed) VALUES ($1, $2)`, d.VersionID, sealed)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.svc.OpenOriginal(ctx, f.tenant, d.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("streamed whole original: %v", err)
	}
	if err := f.svc.process(ctx, f.tenant, d.VersionID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.VersionRow(ctx, f.tenant, d.VersionID); got.Status != shifu.StatusReady || got.Chunks == 0 {
		t.Fatalf("old original ingested as %s with %d chunks", got.Status, got.Chunks)
	}
}
