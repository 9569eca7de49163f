package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/llm/llmtest"
)

// ownerExec runs SQL as the database owner, as a crashed process would have
// left the job queue.
func ownerExec(t *testing.T, url, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// A job whose process died on its last attempt does not vanish: the document
// fails saying why, and uploading the same bytes again ingests it.
func TestExhaustedJobFailsThenRetries(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{Workers: 1, Beat: 100 * time.Millisecond})
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "lathe.md", Data: manual("Lathe", 2)})
	if err != nil {
		t.Fatal(err)
	}
	// What a process killed on the last attempt leaves behind.
	ownerExec(t, f.url, `UPDATE river_job SET state = 'running', attempt = max_attempts, attempted_at = now() - interval '1 hour'
		WHERE (args->>'document')::bigint = $1`, d.VersionID)
	ownerExec(t, f.url, `UPDATE documents SET status = 'parsing' WHERE id = $1`, d.VersionID)
	if err := f.svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.svc.Stop(context.Background()) })
	got, err := f.svc.Wait(ctx, f.tenant, []int64{d.VersionID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Status != shifu.StatusFailed || !strings.Contains(got[0].Error, "stopped") || strings.Contains(got[0].Error, "will be retried") {
		t.Fatalf("exhausted job left %s %q, want failed saying processing stopped", got[0].Status, got[0].Error)
	}
	again, dup, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "lathe.md", Data: manual("Lathe", 2)})
	if err != nil || dup || again.ID != d.ID {
		t.Fatalf("re-upload of a failed document: id %d dup %v err %v", again.ID, dup, err)
	}
	got, err = f.svc.Wait(ctx, f.tenant, []int64{d.VersionID}, nil)
	if err != nil || got[0].Status != shifu.StatusReady {
		t.Fatalf("after re-upload: %+v %v", got, err)
	}
}

// A document still "parsing" whose job is gone is queued again by the same
// upload, instead of being called unchanged.
func TestLostJobIsRequeuedByReupload(t *testing.T) {
	ctx := context.Background()
	f := setup(t, nil, Options{})
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.md", Data: manual("Press", 1)})
	if err != nil {
		t.Fatal(err)
	}
	ownerExec(t, f.url, `DELETE FROM river_job WHERE (args->>'document')::bigint = $1`, d.VersionID)
	ownerExec(t, f.url, `UPDATE documents SET status = 'parsing' WHERE id = $1`, d.VersionID)
	again, dup, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.md", Data: manual("Press", 1)})
	if err != nil || dup || again.Status != shifu.StatusQueued {
		t.Fatalf("re-upload of a document whose job was lost: %s dup %v err %v", again.Status, dup, err)
	}
	// And while a job is alive, the same bytes change nothing.
	if _, dup, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "press.md", Data: manual("Press", 1)}); err != nil || !dup {
		t.Fatalf("upload while queued: dup %v err %v", dup, err)
	}
}

func TestRetryDelaySpansAnOutage(t *testing.T) {
	var total time.Duration
	for n := 1; n < maxAttempts; n++ {
		total += retryDelay(n)
	}
	if total < time.Hour {
		t.Fatalf("%d attempts span %v: a short outage would fail documents for good", maxAttempts, total)
	}
}

// Stopping the workers mid-job (SIGTERM) hands the job back without
// spending one of its attempts.
func TestShutdownHandsJobBack(t *testing.T) {
	fake := llmtest.NewServer(t, llmtest.Options{Fail: func(int, llmtest.Request) *llmtest.Step {
		return &llmtest.Step{Hang: true}
	}})
	emb, err := llm.NewEmbedder(llm.EmbedConfig{Provider: llm.Compatible, BaseURL: fake.BaseURL(), Model: "fake", Dim: 1024})
	if err != nil {
		t.Fatal(err)
	}
	f := setup(t, emb, Options{Workers: 1})
	ctx := context.Background()
	d, _, err := f.svc.Add(ctx, f.tenant, shifu.Upload{Name: "lathe.md", Data: manual("Lathe", 2)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := f.svc.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	_, _ = f.svc.Wait(runCtx, f.tenant, []int64{d.VersionID}, func(doc shifu.Document) {
		if doc.Status == shifu.StatusEmbedding {
			cancel() // the signal arrives while the job runs
		}
	})
	_ = f.svc.Stop(ctx)
	var state string
	var attempt int
	conn, err := pgx.Connect(ctx, f.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT state, attempt FROM river_job WHERE (args->>'document')::bigint = $1`, d.VersionID).Scan(&state, &attempt); err != nil {
		t.Fatal(err)
	}
	doc, _ := f.db.Document(ctx, f.tenant, d.ID)
	if state != "available" || attempt != 0 || doc.Status != shifu.StatusQueued {
		t.Fatalf("after shutdown: job %s attempt %d, document %s; want available, 0 attempts spent, queued", state, attempt, doc.Status)
	}
}
