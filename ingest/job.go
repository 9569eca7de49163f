package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/chunk"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// maxAttempts is how many times a document's ingest is tried. With
// retryDelay the attempts span about two hours, so an outage of the embedding
// service or the database shorter than that costs a delay, not the document.
const maxAttempts = 8

// retryDelay is the wait before attempt n+1: 10 s, tripling, at most an hour.
func retryDelay(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 3
	}
	return min(d, time.Hour)
}

// staleBeats is how many heartbeats a running job may miss before another
// process takes it for dead: enough to ride out a slow database, few enough
// that a killed ingest resumes within seconds.
const staleBeats = 6

// errLost ends a job's work when its row says another process has taken it
// over (its heartbeats were missed long enough to be taken for dead).
var errLost = errors.New("the job was taken over by another worker")

type worker struct {
	river.WorkerDefaults[postgres.IngestJob]
	s *Service
}

func (w *worker) NextRetry(job *river.Job[postgres.IngestJob]) time.Time {
	return time.Now().Add(retryDelay(job.Attempt))
}

func (w *worker) Work(ctx context.Context, job *river.Job[postgres.IngestJob]) error {
	if !w.s.fair.enter(job.Args.Tenant, func() bool {
		waiting, err := w.s.db.OthersWaiting(ctx, postgres.IngestJobKind, job.Args.Tenant)
		return err != nil || waiting // unsure: leave the worker to the others
	}) {
		// This tenant holds its share of the workers already and another
		// tenant's document waits: let it have the worker. Snoozing does not
		// count as an attempt.
		return river.JobSnooze(time.Second)
	}
	defer w.s.fair.leave(job.Args.Tenant)
	parent := ctx
	ctx, stop := w.s.heartbeat(ctx, job.ID, job.Attempt)
	err := w.s.process(ctx, job.Args.Tenant, job.Args.Document)
	stop()
	var e *shifu.Error
	var fe *figuresError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return w.figuresFailed(ctx, parent, job, fe)
	case errors.Is(context.Cause(ctx), errLost):
		return err // another worker has it; what we return changes nothing
	case errors.Is(parent.Err(), context.Canceled):
		// Shutdown: hand the job back without spending an attempt, and say
		// so on the document until a worker picks it up again.
		_ = w.s.db.SetStatus(context.WithoutCancel(ctx), job.Args.Tenant, job.Args.Document, shifu.StatusQueued, "", shifu.Progress{})
		return river.JobSnooze(0)
	case errors.Is(err, shifu.ErrNotFound):
		return river.JobCancel(err) // deleted while queued
	case errors.As(err, &e) || job.Attempt >= job.MaxAttempts:
		// Bad input will not get better on retry; the last attempt fails for
		// good, saying why, until the file is uploaded or ingested again.
		msg := errText(err)
		if e == nil {
			msg = fmt.Sprintf("%s (%d attempts); upload the file again or run shifu ingest to retry", msg, job.Attempt)
		}
		_ = w.s.db.SetStatus(context.WithoutCancel(ctx), job.Args.Tenant, job.Args.Document, shifu.StatusFailed, msg, shifu.Progress{})
		w.s.log.Warn("ingest failed", "tenant", job.Args.Tenant, "document", job.Args.Document, "attempt", job.Attempt, "err", err)
		return river.JobCancel(err)
	}
	w.s.log.Warn("ingest attempt failed, will retry", "tenant", job.Args.Tenant, "document", job.Args.Document,
		"attempt", job.Attempt, "next", retryDelay(job.Attempt), "err", err)
	return err
}

// figuresFailed decides what a failed figures pass does to its job; the
// version stays live whatever happens. A shutdown hands the job back (the
// next process reads the figures); a lost job is another's; bad input or
// a last attempt gives up the figures, keeping the text-layer version,
// and clears OCRPending so nobody waits for them; else the job retries.
func (w *worker) figuresFailed(ctx, parent context.Context, job *river.Job[postgres.IngestJob], fe *figuresError) error {
	var e *shifu.Error
	switch {
	case errors.Is(context.Cause(ctx), errLost):
		return fe
	case errors.Is(parent.Err(), context.Canceled):
		return river.JobSnooze(0)
	case errors.Is(fe, shifu.ErrNotFound):
		return river.JobCancel(fe)
	case errors.As(fe, &e) || job.Attempt >= job.MaxAttempts:
		w.s.log.Warn("figure pages not read; the document stays searchable by its text layer", "tenant", job.Args.Tenant,
			"document", job.Args.Document, "attempt", job.Attempt, "err", fe)
		// A local embedder's first pass stored no vectors (see read):
		// they are made now, so the version is not left to its words.
		c := context.WithoutCancel(ctx)
		if d, err := w.s.db.VersionRow(c, job.Args.Tenant, job.Args.Document); err == nil && d.Progress.OCRPending > 0 {
			d.Progress.OCRPending = 0
			// vectorsLeft records the progress; if it fails, it is recorded
			// here, so the pages do not stay pending.
			if err := w.s.vectorsLeft(c, job.Args.Tenant, job.Args.Document, d.Name, w.s.pacer(), &d.Progress); err != nil {
				w.s.log.Warn("embed a version whose figure pages were given up", "document", job.Args.Document, "err", err)
				_ = w.s.db.SetProgress(c, job.Args.Tenant, job.Args.Document, d.Progress)
			}
		}
		return river.JobCancel(fe)
	}
	w.s.log.Warn("figure pages: attempt failed, will retry", "tenant", job.Args.Tenant, "document", job.Args.Document,
		"attempt", job.Attempt, "err", fe)
	return fe
}

// fairness caps the ingest jobs one tenant runs at once in this process while
// other tenants' documents wait, so a tenant's slow or hostile files leave a
// worker for everyone else.
type fairness struct {
	share int // jobs per tenant: the workers less one, at least one
	mu    sync.Mutex
	run   map[int64]int
}

func newFairness(workers int) *fairness {
	return &fairness{share: max(workers-1, 1), run: map[int64]int{}}
}

// enter takes a worker for tenant unless it holds its share already and
// othersWait says another tenant's job is waiting: a tenant alone in the
// queue uses every worker.
func (f *fairness) enter(tenant int64, othersWait func() bool) bool {
	f.mu.Lock()
	over := f.run[tenant] >= f.share
	f.mu.Unlock()
	if over && othersWait() {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.run[tenant]++
	return true
}

func (f *fairness) leave(tenant int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.run[tenant]--; f.run[tenant] <= 0 {
		delete(f.run, tenant)
	}
}

// heartbeat records every beat that this attempt is alive, and ends the
// returned context with errLost when the job's row says it is no longer
// this attempt's (a missed heartbeat let another process rescue it).
func (s *Service) heartbeat(ctx context.Context, job int64, attempt int) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.beat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			ok, err := s.db.Beat(ctx, job, attempt)
			if err == nil && !ok {
				cancel(errLost)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil); <-done }
}

// rescuer hands back jobs of processes that died (their heartbeat stopped),
// in every process that runs workers, so whichever is up resumes them.
type rescuer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (r *rescuer) start(ctx context.Context, s *Service) {
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(s.beat)
		defer t.Stop()
		for {
			s.rescue(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

func (r *rescuer) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

// rescue makes the jobs whose process stopped beating available again; a job
// that was on its last attempt fails its document, saying why.
func (s *Service) rescue(ctx context.Context) {
	n, exhausted, err := s.db.RescueJobs(ctx, postgres.IngestJobKind, staleBeats*s.beat)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("rescue ingest jobs", "err", err)
		}
		return
	}
	if n > 0 {
		s.log.Info("resumed ingest jobs whose process stopped", "jobs", n)
	}
	for _, j := range exhausted {
		msg := fmt.Sprintf("processing stopped %d times before finishing (the worker process ended each time); upload the file again or run shifu ingest to retry", j.Attempt)
		if err := s.db.SetStatus(ctx, j.Tenant, j.Document, shifu.StatusFailed, msg, shifu.Progress{}); err != nil {
			s.log.Warn("mark interrupted document failed", "document", j.Document, "err", err)
		}
	}
}

// process runs one document through the pipeline. It is safe to run again
// after a crash: StoreChunks replaces the version's chunks whole (a store
// cut short left rows no search reads, cleared first), and only chunks
// still missing a vector are embedded.
func (s *Service) process(ctx context.Context, tenant, id int64) error {
	doc, err := s.db.VersionRow(ctx, tenant, id)
	if err != nil {
		return err
	}
	if doc.Status == shifu.StatusReady || doc.Status == shifu.StatusArchived {
		if doc.Progress.OCRPending > 0 {
			return s.figures(ctx, tenant, id, doc.Name, doc.Progress, nil) // a pass after publish cut short
		}
		return nil
	}
	prog := doc.Progress
	pace := s.pacer()
	t0 := time.Now()
	var first *parse.Doc // what the figures pass need not read again
	defer func() {
		s.log.Info("ingest stages", "document", doc.Name, "stages", prog.Stages.String(), "total", time.Since(t0))
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
		var st shifu.Stages
		var lastReport time.Time
		rows, meta, pd, err := s.read(ctx, doc.Name, data, s.parser.ParseFirst, true, func(done, total int) {
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
		}, pace, &st)
		if err != nil {
			return err
		}
		mark := time.Now()
		if err := s.db.StoreChunks(ctx, tenant, id, meta, rows); err != nil {
			return err
		}
		st.Store = since(mark)
		prog = shifu.Progress{PagesParsed: meta.Pages, PagesTotal: meta.Pages, ChunksTotal: len(rows), OCRPending: pd.Pending, Stages: st}
		first = pd
	}
	if err := s.db.SetStatus(ctx, tenant, id, shifu.StatusEmbedding, "", prog); err != nil {
		return err
	}
	if _, local := s.embedder.(LocalEmbedder); !local || prog.OCRPending == 0 {
		if err := s.vectorsLeft(ctx, tenant, id, doc.Name, pace, &prog); err != nil {
			return err
		}
	}
	mark := time.Now()
	// Publish records its own time in the progress, in its transaction, so
	// whoever sees the document ready sees every stage.
	if err := s.db.Publish(ctx, tenant, id); err != nil {
		return err
	}
	prog.Stages.Publish = max(since(mark), 1)
	s.refreshStats(ctx, prog.ChunksTotal)
	if prog.OCRPending > 0 {
		return s.figures(ctx, tenant, id, doc.Name, prog, first)
	}
	return nil
}

// vectorsLeft embeds the version's chunks that have no vector of the
// embedder's model yet, counting them in prog.
func (s *Service) vectorsLeft(ctx context.Context, tenant, id int64, name string, pace Pace, prog *shifu.Progress) error {
	ids, texts, err := s.db.Unembedded(ctx, tenant, id, s.embedder.Model())
	if err != nil {
		return err
	}
	if prog.ChunksTotal == 0 {
		prog.ChunksTotal = len(ids)
	}
	prog.ChunksEmbedded = prog.ChunksTotal - len(ids)
	return s.embed(ctx, tenant, id, name, ids, texts, pace, prog)
}

// figures is the pass after publish for a PDF whose figure pages the first
// pass left unread (Parser.ParseFirst): the version is searchable by its
// text layer meanwhile (by its words alone with a local embedder: see
// read). It reads the figure pages with OCR (the text layer as first read
// it, when the first pass ran in this process; else the whole file again),
// chunks it all, and swaps the version's chunks for these in one transaction
// (ReplaceChunks): searches see the version without its figures' text or
// with it, never without the version. A hosted embedder's vectors of
// unchanged chunk texts are kept and only the others embedded, before the
// swap, so no chunk is searched without its vector; the swap's progress
// says the pass is done. A local embedder's vectors are stored after the
// swap, over several backends (embed; in the swap's one transaction they
// took the LinuxCNC manual 4.5-4.9 s), and the pages count as pending
// until they are: a pass cut short in between is run again whole. An
// error comes back as a figuresError (see Work).
func (s *Service) figures(ctx context.Context, tenant, id int64, name string, prog shifu.Progress, first *parse.Doc) error {
	mark := time.Now()
	err := func() error {
		data, err := s.Original(ctx, tenant, id)
		if err != nil {
			return err
		}
		pace := s.pacer()
		var st shifu.Stages
		rest := func(ctx context.Context, name string, data []byte, progress func(done, total int)) (*parse.Doc, error) {
			return s.parser.ParseRest(ctx, name, data, first, progress)
		}
		rows, meta, _, err := s.read(ctx, name, data, rest, false, func(int, int) {}, pace, &st)
		if err != nil {
			return err
		}
		_, local := s.embedder.(LocalEmbedder)
		prog.ChunksTotal, prog.ChunksEmbedded = len(rows), 0
		if !local {
			if err := s.keepVectors(ctx, tenant, id, name, rows, pace); err != nil {
				return err
			}
			meta.EmbedModel = s.embedder.Model()
			prog.OCRPending, prog.ChunksEmbedded = 0, len(rows)
		}
		prog.Stages.Figures = max(since(mark), 1)
		replaced, err := s.db.ReplaceChunks(ctx, tenant, id, meta, rows, prog)
		if err != nil || !replaced {
			return err
		}
		if local {
			if err := s.vectorsLeft(ctx, tenant, id, name, pace, &prog); err != nil {
				return err
			}
			prog.OCRPending, prog.Stages.Figures = 0, max(since(mark), 1)
			if err := s.db.SetProgress(ctx, tenant, id, prog); err != nil {
				return err
			}
		}
		s.refreshStats(ctx, len(rows))
		return nil
	}()
	if err != nil {
		return &figuresError{err}
	}
	return nil
}

// keepVectors gives rows the vectors the version's chunks of the same text
// have, and embeds the rest.
func (s *Service) keepVectors(ctx context.Context, tenant, id int64, name string, rows []shifu.IndexedChunk, pace Pace) error {
	old, err := s.db.Vectors(ctx, tenant, id, s.embedder.Model())
	if err != nil {
		return err
	}
	var at []int
	var texts []string
	for i := range rows {
		if v, ok := old[rows[i].Text]; ok {
			rows[i].Embedding = v
		} else {
			at, texts = append(at, i), append(texts, rows[i].Text)
		}
	}
	return s.batches(ctx, name, texts, pace, func(start, _ int, vecs [][]float32) error {
		for k, v := range vecs {
			rows[at[start+k]].Embedding = v
		}
		return nil
	})
}

// figuresError is an error of the figures pass: the version is live, so
// neither a shutdown nor a last failed attempt may change its status.
type figuresError struct{ err error }

func (e *figuresError) Error() string { return "read figure pages: " + e.err.Error() }
func (e *figuresError) Unwrap() error { return e.err }

// embed embeds texts in batches and stores each batch's vectors under ids,
// the next batch embedded while others are stored: a bounded pipeline, its
// goroutines ended before embed returns. A failed embedding does not cancel
// the store of batches already embedded: those vectors are paid for, and
// kept, so a retry embeds only what is still missing. A failed store stops
// the embedding. prog counts what is stored, and its Embed stage adds this
// run's wall time to what a resumed job spent before.
func (s *Service) embed(ctx context.Context, tenant, id int64, name string, ids []int64, texts []string, pace Pace, prog *shifu.Progress) error {
	type batch struct {
		ids  []int64
		vecs [][]float32
	}
	if len(ids) == 0 {
		// Embedded already (a local embedder's vectors came with the
		// chunks, or a resumed job had stored them all): say so.
		return s.db.SetProgress(ctx, tenant, id, *prog)
	}
	mark := time.Now()
	embedded := prog.Stages.Embed
	// One goroutine embeds, batch by batch, while postgres.Writers store
	// the vectors, each batch in its own transaction: a backend inserts
	// into the HNSW graph on one core, and that is the store's whole cost
	// with the local embedder (the LinuxCNC manual's 2,454 rows: 3.2-5.0 s
	// in one, 1.5-2.9 s in two). The stores use ctx, not gctx, so a failed
	// embedding still stores what came before it.
	g, gctx := errgroup.WithContext(ctx)
	ready := make(chan batch) // unbuffered: a batch is embedded while others are stored
	g.Go(func() error {
		defer close(ready)
		return s.batches(gctx, name, texts, pace, func(start, end int, vecs [][]float32) error {
			select {
			case ready <- batch{ids[start:end], vecs}:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	var mu sync.Mutex // prog
	n := 0
	for range postgres.Writers() {
		g.Go(func() error {
			for b := range ready {
				if err := s.db.StoreEmbeddings(ctx, tenant, s.embedder.Model(), b.ids, b.vecs); err != nil {
					return err
				}
				mu.Lock()
				prog.ChunksEmbedded += len(b.ids)
				prog.Stages.Embed = embedded + since(mark)
				n++
				var err error
				if n%8 == 1 {
					err = s.db.SetProgress(ctx, tenant, id, *prog)
				}
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return s.db.SetProgress(ctx, tenant, id, *prog)
}

// batches embeds texts s.batch at a time, pacing before each, and hands
// each batch's vectors (texts[start:end]'s) to each; the first error ends it.
func (s *Service) batches(ctx context.Context, name string, texts []string, pace Pace, each func(start, end int, vecs [][]float32) error) error {
	for start := 0; start < len(texts); start += s.batch {
		if err := pace.Wait(ctx); err != nil {
			return err
		}
		end := min(start+s.batch, len(texts))
		vecs, err := s.embedder.Embed(ctx, texts[start:end])
		if err != nil {
			return fmt.Errorf("embed chunks of %s: %w", name, err)
		}
		if err := each(start, end, vecs); err != nil {
			return err
		}
	}
	return nil
}

// read parses, cleans, chunks and analyses a document (and, with a
// LocalEmbedder, embeds its chunks) under one deadline
// (Options.Deadline): every stage is CPU spent on the upload's bytes, so
// none may run unbounded. Running out of time is the file's fault and fails
// it once, with the reason; a retry would only spend the time again.
//
// parseDoc is the Parser's ParseFirst, which may leave a PDF's figure pages
// unread (pd.Pending counts them), or its ParseRest. vectors: a local
// embedder's vectors are made here, unless pages are left pending.
func (s *Service) read(ctx context.Context, name string, data []byte, parseDoc parseFunc, vectors bool, progress func(done, total int), pace Pace, st *shifu.Stages) (rows []shifu.IndexedChunk, meta shifu.DocMeta, pd *parse.Doc, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.deadline)
	defer cancel()
	late := func(err error) error {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return shifu.Errorf(shifu.ErrInvalid, "%s: reading the file (parse, chunk and index) took longer than %s; split the file or upload a smaller one", name, s.deadline)
		}
		return err
	}
	t0 := time.Now()
	pd, err = parseDoc(ctx, name, data, func(done, total int) {
		progress(done, total)
		_ = pace.Wait(ctx) // the parser sees ctx end itself
	})
	if err != nil {
		return nil, shifu.DocMeta{}, nil, late(err)
	}
	st.Parse = since(t0)
	mark := time.Now()
	chunks, err := chunk.SplitContext(ctx, pd, s.chunking)
	if err != nil {
		return nil, shifu.DocMeta{}, nil, late(err)
	}
	if len(chunks) == 0 {
		return nil, shifu.DocMeta{}, nil, shifu.Errorf(shifu.ErrInvalid, "%s: no text found, by text layer or OCR; accepted: documents with text, scans and photos of printed pages", name)
	}
	st.Chunk = since(mark)
	mark = time.Now()
	rows = make([]shifu.IndexedChunk, len(chunks))
	for i, c := range chunks {
		if i%termsPerPace == 0 {
			if err := pace.Wait(ctx); err != nil {
				return nil, shifu.DocMeta{}, nil, late(err)
			}
		} else if err := ctx.Err(); err != nil {
			return nil, shifu.DocMeta{}, nil, late(err)
		}
		rows[i] = shifu.IndexedChunk{Chunk: c, Terms: s.analyzer.Terms(c.Text)}
	}
	st.Terms = since(mark)
	meta = shifu.DocMeta{Title: pd.Title, Pages: pd.Pages, Language: pd.Lang, Analyzer: s.analyzer.Version(), OCR: pd.OCR}
	// A first pass that leaves pages to read (pending) makes no local
	// vectors: the figures pass replaces its rows within seconds, and the
	// graph insert of each row's vector is most of a store's time (the
	// LinuxCNC manual: 1.7-3 s of 2-3.4), paid again then. Meanwhile the
	// version is found by its words, which the offline embedder's vectors
	// only hash. Nor does the figures pass make them here (vectors false):
	// it stores them after its swap (figures). A hosted embedder's vectors
	// mean more, and are kept by the figures pass: it embeds before publish
	// as always.
	if emb, ok := s.embedder.(LocalEmbedder); ok && vectors && pd.Pending == 0 {
		// Its vectors go in with the chunks (LocalEmbedder says why).
		mark = time.Now()
		texts := make([]string, len(rows))
		for i, r := range rows {
			texts[i] = r.Text
		}
		err := s.batches(ctx, name, texts, pace, func(start, _ int, vecs [][]float32) error {
			for i, v := range vecs {
				rows[start+i].Embedding = v
			}
			return nil
		})
		if err != nil {
			return nil, shifu.DocMeta{}, nil, late(err)
		}
		meta.EmbedModel = emb.Model()
		st.Embed = since(mark)
	}
	return rows, meta, pd, nil
}

// parseFunc is one of a Parser's ways to read a file.
type parseFunc func(ctx context.Context, name string, data []byte, progress func(done, total int)) (*parse.Doc, error)

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

// since is the milliseconds since t, for shifu.Stages.
func since(t time.Time) int64 { return time.Since(t).Milliseconds() }
