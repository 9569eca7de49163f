package ingest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// pgScript drives a private cluster with scripts/pg.sh, the script `make run` uses.
func pgScript(t *testing.T, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("bash", append([]string{"../scripts/pg.sh"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// An upload that was acknowledged survives PostgreSQL crashing right after,
// with the settings of the cluster `make run` keeps manuals in (pg.sh
// durable): ten trials, one upload each, each followed at once by an
// immediate stop (no checkpoint, like a power cut) and a restart with crash
// recovery. SHIFU_CRASH_PG_MODE=fast runs the same trials on the test
// clusters' settings, to measure what those lose (the test then fails).
func TestAcknowledgedUploadSurvivesCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster of its own")
	}
	mode := cmp.Or(os.Getenv("SHIFU_CRASH_PG_MODE"), "durable")
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pg")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	start := func() string { return pgScript(t, "start", dir, port, mode) }
	admin := start()
	t.Cleanup(func() { exec.Command("bash", "../scripts/pg.sh", "stop", dir).Run() })
	owner := pgScript(t, "db", admin, "shifu")
	if _, err := postgres.Migrate(ctx, owner); err != nil {
		t.Fatal(err)
	}
	const appPassword = "crash-test-app"
	if err := postgres.SetAppPassword(ctx, owner, appPassword); err != nil {
		t.Fatal(err)
	}
	appURL, err := postgres.AppURL(owner, appPassword)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := keyring.ParseMaster(keyring.Generate())
	w, _ := m.NewDataKey("acme")
	tn, err := postgres.CreateTenant(ctx, owner, "acme", w)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := llm.NewOffline(256)
	if err != nil {
		t.Fatal(err)
	}

	// open connects as the server does and builds an insert-only pipeline
	// (no workers: the job must still be queued after the crash).
	open := func() (*postgres.DB, *Service) {
		db, err := postgres.Open(ctx, appURL, 4)
		if err != nil {
			t.Fatal(err)
		}
		ring := keyring.NewRing(m, func(ctx context.Context, id int64) (string, []byte, error) {
			tn, w, err := db.TenantByID(ctx, id)
			return tn.Name, w, err
		})
		svc, err := New(db, ring, testParser, testAnalyzer, emb, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db, svc
	}

	const trials = 10
	type upload struct {
		id   int64
		data []byte
	}
	var acked []upload
	lost := 0
	for i := range trials {
		db, svc := open()
		data := manual(fmt.Sprintf("Crash trial %d", i), 3)
		d, _, err := svc.Add(ctx, tn.ID, shifu.Upload{Name: fmt.Sprintf("trial-%d.md", i), Data: data})
		if err != nil {
			t.Fatalf("trial %d: upload: %v", i, err)
		}
		acked = append(acked, upload{d.VersionID, data})
		pgScript(t, "crash", dir) // at once after the acknowledgement
		db.Close()
		start()

		// Everything acknowledged so far is there: the document, its
		// original (decrypts to the uploaded bytes) and its job.
		db, svc = open()
		conn, err := pgx.Connect(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		for k, u := range acked {
			var docs, jobs int
			err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM documents WHERE id = $1),
				(SELECT count(*) FROM river_job WHERE (args->>'document')::bigint = $1)`, u.id).Scan(&docs, &jobs)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := svc.Original(ctx, tn.ID, u.id)
			if docs != 1 || jobs != 1 || err != nil || !bytes.Equal(orig, u.data) {
				if k == len(acked)-1 {
					lost++ // this trial's own upload
				}
				t.Errorf("trial %d: document %d after the crash: %d document rows, %d jobs, original %d bytes (%v), want 1, 1, %d",
					i, u.id, docs, jobs, len(orig), err, len(u.data))
			}
		}
		conn.Close(ctx)
		db.Close()
	}
	t.Logf("%s settings: %d of %d acknowledged uploads lost", mode, lost, trials)
}
