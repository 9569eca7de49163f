package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/chunk"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// jobArgs names the document to ingest. It carries ids only: the bytes stay
// sealed in the database.
type jobArgs struct {
	Tenant   int64 `json:"tenant"`
	Document int64 `json:"document"`
}

func (jobArgs) Kind() string { return "ingest" }

func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, doc int64) error {
	tenant, err := txTenant(ctx, tx)
	if err != nil {
		return err
	}
	_, err = s.river.InsertTx(ctx, tx, jobArgs{Tenant: tenant, Document: doc}, nil)
	return err
}

func txTenant(ctx context.Context, tx pgx.Tx) (int64, error) {
	var t int64
	err := tx.QueryRow(ctx, "SELECT app_tenant()").Scan(&t)
	return t, err
}

type stageTimes struct{ parse, index, store, embed time.Duration }

type worker struct {
	river.WorkerDefaults[jobArgs]
	s *Service
}

func (w *worker) Work(ctx context.Context, job *river.Job[jobArgs]) error {
	err := w.s.process(ctx, job.Args.Tenant, job.Args.Document)
	var e *shifu.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shifu.ErrNotFound):
		return river.JobCancel(err) // deleted while queued
	case errors.As(err, &e) || job.Attempt >= job.MaxAttempts:
		// Bad input will not get better on retry; the last attempt fails for good.
		_ = w.s.db.SetStatus(context.WithoutCancel(ctx), job.Args.Tenant, job.Args.Document, shifu.StatusFailed, errText(err), shifu.Progress{})
		w.s.log.Warn("ingest failed", "tenant", job.Args.Tenant, "document", job.Args.Document, "err", err)
		return river.JobCancel(err)
	}
	w.s.log.Warn("ingest attempt failed, will retry", "tenant", job.Args.Tenant, "document", job.Args.Document, "attempt", job.Attempt, "err", err)
	return err
}

// process runs one document through the pipeline. It is safe to run again
// after a crash: chunks are replaced in one transaction, and only chunks
// still missing a vector are embedded.
func (s *Service) process(ctx context.Context, tenant, id int64) error {
	doc, err := s.db.Document(ctx, tenant, id)
	if err != nil {
		return err
	}
	if doc.Status == shifu.StatusReady {
		return nil
	}
	prog := doc.Progress
	var timing stageTimes
	t0 := time.Now()
	defer func() {
		s.log.Info("ingest stages", "document", doc.Name, "parse", timing.parse, "index", timing.index,
			"store", timing.store, "embed", timing.embed, "total", time.Since(t0))
	}()
	if doc.Status != shifu.StatusEmbedding || doc.Chunks == 0 {
		if err := s.db.SetStatus(ctx, tenant, id, shifu.StatusParsing, "", shifu.Progress{}); err != nil {
			return err
		}
		data, err := s.Original(ctx, tenant, id)
		if err != nil {
			return err
		}
		var mu sync.Mutex // parsers may report from several goroutines
		var lastReport time.Time
		pd, err := s.parser.Parse(ctx, doc.Name, data, func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if done < prog.PagesParsed {
				return
			}
			prog.PagesParsed, prog.PagesTotal = done, total
			if time.Since(lastReport) > 300*time.Millisecond || done == total {
				lastReport = time.Now()
				_ = s.db.SetProgress(ctx, tenant, id, prog)
			}
		})
		if err != nil {
			return err
		}
		timing.parse = time.Since(t0)
		mark := time.Now()
		chunks := chunk.Split(pd, s.chunking)
		if len(chunks) == 0 {
			return shifu.Errorf(shifu.ErrInvalid, "%s: no text found, by text layer or OCR; accepted: documents with text, scans and photos of printed pages", doc.Name)
		}
		rows := make([]postgres.ChunkRow, len(chunks))
		for i, c := range chunks {
			rows[i] = postgres.ChunkRow{Chunk: c, Terms: s.analyzer.Terms(c.Text)}
		}
		timing.index = time.Since(mark)
		mark = time.Now()
		if err := s.db.StoreChunks(ctx, tenant, id, postgres.Meta{Title: pd.Title, Pages: pd.Pages, Language: pd.Lang, Analyzer: s.analyzer.Version(), OCR: pd.OCR}, rows); err != nil {
			return err
		}
		timing.store = time.Since(mark)
		prog = shifu.Progress{PagesParsed: pd.Pages, PagesTotal: pd.Pages, ChunksTotal: len(chunks)}
	}
	if err := s.db.SetStatus(ctx, tenant, id, shifu.StatusEmbedding, "", prog); err != nil {
		return err
	}
	ids, texts, err := s.db.Unembedded(ctx, tenant, id, s.embedder.Model())
	if err != nil {
		return err
	}
	if prog.ChunksTotal == 0 {
		prog.ChunksTotal = len(ids)
	}
	prog.ChunksEmbedded = prog.ChunksTotal - len(ids)
	mark := time.Now()
	defer func() { timing.embed = time.Since(mark) }()
	for start := 0; start < len(ids); start += s.batch {
		end := min(start+s.batch, len(ids))
		vecs, err := s.embedder.Embed(ctx, texts[start:end])
		if err != nil {
			return fmt.Errorf("embed chunks of %s: %w", doc.Name, err)
		}
		if err := s.db.StoreEmbeddings(ctx, tenant, s.embedder.Model(), ids[start:end], vecs); err != nil {
			return err
		}
		prog.ChunksEmbedded += end - start
		if end == len(ids) || (start/s.batch)%8 == 0 {
			if err := s.db.SetProgress(ctx, tenant, id, prog); err != nil {
				return err
			}
		}
	}
	if err := s.db.Publish(ctx, tenant, id); err != nil {
		return err
	}
	s.refreshStats(ctx, prog.ChunksTotal)
	return nil
}

// refreshStats refreshes the planner's statistics after n chunks were
// written: a large document changes the search tables enough to mislead the
// planner until autovacuum's next look. Failure costs only speed, so it is
// logged, not returned.
func (s *Service) refreshStats(ctx context.Context, n int) {
	if n < 200 {
		return
	}
	if err := s.db.RefreshStats(ctx); err != nil {
		s.log.Warn("refresh planner statistics", "err", err)
	}
}
