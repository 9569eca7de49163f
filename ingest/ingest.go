// Package ingest takes uploads and technician notes into Shifu: it stores
// the sealed original and a queued document in one transaction with its job,
// and the job (run by River workers, resumable) parses, cleans, chunks,
// indexes and embeds the document, then publishes it atomically.
package ingest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/chunk"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// Parser turns bytes into a structured document. ParseFirst may leave a
// PDF's figure pages unread by OCR (parse.Doc.Pending counts them), for
// ParseRest to read after the rest is published, from what first kept (nil
// first: the whole file again).
type Parser interface {
	ParseFirst(ctx context.Context, name string, data []byte, progress func(done, total int)) (*parse.Doc, error)
	ParseRest(ctx context.Context, name string, data []byte, first *parse.Doc, progress func(done, total int)) (*parse.Doc, error)
}

// Analyzer produces the lexical index terms of a text. Version names its
// analysis: postings of another version are rebuilt by Reindex.
type Analyzer interface {
	Terms(text string) []string
	Version() string
}

// Embedder turns texts into vectors.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Model() string
}

// LocalEmbedder is an Embedder that computes vectors in this process at no
// charge (the offline hashing embedder). Its vectors are made before the
// chunks are stored and go in with them: each chunk row is written once,
// instead of inserted and then updated (which writes the row again, and its
// text-search and HNSW index entries with it). A hosted embedder's vectors
// are paid for, so they are made after the chunks are safely stored, and a
// crash keeps those already stored.
type LocalEmbedder interface {
	Embedder
	Local()
}

// Keys opens a tenant's data key.
type Keys interface {
	TenantKey(ctx context.Context, tenant int64) (*keyring.Key, error)
}

// Service is the ingest pipeline.
type Service struct {
	db       *postgres.DB
	keys     Keys
	parser   Parser
	analyzer Analyzer
	embedder Embedder
	chunking chunk.Options
	maxBytes int64
	deadline time.Duration
	fair     *fairness
	batch    int
	log      *slog.Logger
	river    *river.Client[pgx.Tx]
	beat     time.Duration // heartbeat of running jobs; 0: no workers here
	rescuer  rescuer
	priority Priority // nil: full speed
}

// Options tune the pipeline.
type Options struct {
	MaxBytes   int64 // largest accepted upload
	Workers    int   // ingest jobs at once in this process; 0 = insert-only (no worker)
	EmbedBatch int   // texts per Embed call
	// Deadline bounds parsing, cleaning, chunking and term analysis of one
	// document together (default 5 min); a file that needs longer fails once.
	Deadline time.Duration
	Chunking chunk.Options
	Logger   *slog.Logger
	// Beat is how often a running job records that its process is alive;
	// a job silent for staleBeats beats is handed back (its process died).
	// Default 2 s.
	Beat time.Duration
	// JobTimeout bounds one job (default 20 min). A job whose process died
	// is taken up by heartbeat within seconds; River's own rescuer, the
	// backstop, JobTimeout/20 after the timeout.
	JobTimeout time.Duration
	// Priority paces jobs while answers are in flight (see Priority).
	Priority Priority
	// Jobs are other features' job workers (the bots' gap notices) that
	// this pipeline's queue client runs, each on a queue of its own (also
	// with Workers 0: no ingest here). One client per process knows every kind it runs: River's
	// maintenance leader discards a stuck job whose kind its client does not
	// know, so a second client would put each other's jobs at risk.
	Jobs []Jobs
}

// Jobs is one feature's job workers run by the pipeline's queue client.
type Jobs struct {
	Queue    string               // the queue they take jobs from (not River's default: ingest's)
	Workers  int                  // jobs of the queue at once
	Register func(*river.Workers) // adds the workers (river.AddWorker)
}

// clientID names this pipeline among the job queue's clients: host, pid and
// start time (a process, a test, may run several).
func clientID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", cmp.Or(host, "shifu"), os.Getpid(), strconv.FormatInt(time.Now().UnixNano(), 36))
}

// New builds the pipeline. Call Start to run workers in this process.
func New(db *postgres.DB, keys Keys, p Parser, a Analyzer, e Embedder, o Options) (*Service, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 200 << 20
	}
	if o.EmbedBatch <= 0 {
		o.EmbedBatch = 64
	}
	if o.Deadline <= 0 {
		o.Deadline = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = 20 * time.Minute
	}
	s := &Service{db: db, keys: keys, parser: p, analyzer: a, embedder: e, chunking: o.Chunking,
		maxBytes: o.MaxBytes, deadline: o.Deadline, fair: newFairness(o.Workers), batch: o.EmbedBatch, log: o.Logger,
		priority: o.Priority}
	cfg := &river.Config{
		Logger:      o.Logger,
		MaxAttempts: maxAttempts,
		// Parsing a 1,000-page manual takes seconds; the generous timeout is
		// for slow hosted embedding. A job whose process died is not left to
		// River's rescuer (RescueStuckJobsAfter, which must exceed the
		// timeout): heartbeats find it within seconds (see rescue).
		JobTimeout:           o.JobTimeout,
		RescueStuckJobsAfter: o.JobTimeout + o.JobTimeout/20,
		FetchPollInterval:    200 * time.Millisecond,
		// Named by host and process, so a job's attempted_by says which
		// process of several ran it.
		ID: clientID(),
	}
	if o.Workers > 0 || len(o.Jobs) > 0 {
		// The ingest worker is known even where ingest is not worked here,
		// so this client, as River's leader, rescues stuck ingest jobs
		// rather than discard them.
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker{s: s})
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{}
		if o.Workers > 0 {
			cfg.Queues[river.QueueDefault] = river.QueueConfig{MaxWorkers: o.Workers}
			s.beat = o.Beat
			if s.beat <= 0 {
				s.beat = 2 * time.Second
			}
		}
		for _, j := range o.Jobs {
			if j.Queue == river.QueueDefault || j.Workers <= 0 || j.Register == nil {
				return nil, fmt.Errorf("ingest: jobs of queue %q: need a queue of their own, workers and a Register", j.Queue)
			}
			j.Register(workers)
			cfg.Queues[j.Queue] = river.QueueConfig{MaxWorkers: j.Workers}
		}
	}
	c, err := river.NewClient(riverpgxv5.New(db.Pool()), cfg)
	if err != nil {
		return nil, fmt.Errorf("ingest: job queue: %w", err)
	}
	s.river = c
	return s, nil
}

// Start runs the workers, and the rescue of jobs whose process died, until
// ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) error {
	if err := s.river.Start(ctx); err != nil {
		return err
	}
	if s.beat > 0 {
		s.rescuer.start(ctx, s)
	}
	return nil
}

// Stop waits for running jobs to finish (or ctx to end).
func (s *Service) Stop(ctx context.Context) error {
	s.rescuer.stop()
	return s.river.Stop(ctx)
}

// Add stores an upload and queues its ingest. Bad input is refused here, before
// anything is stored, with an error naming the file, what is wrong and what is
// accepted. The same bytes again return the stored document and dup = true.
// Every upload is audited as u.UserID's (0: the CLI), whichever channel sent it.
func (s *Service) Add(ctx context.Context, tenant int64, u shifu.Upload) (doc shifu.Document, dup bool, err error) {
	name := filepath.Base(strings.TrimSpace(u.Name))
	if name == "" || name == "." || name == "/" {
		return doc, false, shifu.Errorf(shifu.ErrInvalid, "a file name is required")
	}
	if err := shifu.CheckText("the file name "+strconv.QuoteToASCII(name), name); err != nil {
		return doc, false, err
	}
	if err := shifu.CheckText("the title or revision", u.Title+u.Revision+u.Equipment); err != nil {
		return doc, false, err
	}
	if u.Kind == "" {
		u.Kind = shifu.KindManual
	}
	if !u.Kind.Valid() {
		return doc, false, shifu.Errorf(shifu.ErrInvalid, "%s: kind %q: accepted kinds are manual and note", name, u.Kind)
	}
	body := u.Body
	if body == nil {
		body = bytes.NewReader(u.Data)
	}
	// Streamed to a spool, so an upload costs bounded memory however large.
	sp, err := newSpool(ctx, name, body, s.maxBytes)
	if err != nil {
		return doc, false, err
	}
	defer sp.close()
	if sp.size == 0 {
		return doc, false, shifu.Errorf(shifu.ErrInvalid, "%s: the file is empty", name)
	}
	format, err := sp.sniff.Format(name, sp.stream())
	if err != nil {
		return doc, false, err
	}
	key, err := s.keys.TenantKey(ctx, tenant)
	if err != nil {
		return doc, false, err
	}
	mt := mimeOf(format, sp.sniff.Head())
	var check func(shifu.Document) error
	if u.Of > 0 && !u.Confirm {
		check = func(prev shifu.Document) error { return sameManual(prev, name, mt) }
	}
	return s.db.CreateDocument(ctx, tenant, postgres.NewDocument{
		Doc: shifu.Document{Name: name, Title: u.Title, Kind: u.Kind, SHA256: hex.EncodeToString(sp.sum[:]),
			Size: sp.size, MIME: mt, Revision: u.Revision,
			UploadedBy: u.UserName, Equipment: u.Equipment},
		Uploader: u.UserID,
		Of:       u.Of,
		Check:    check,
		Original: func(id int64, put func([]byte) error) error { return sp.seal(key, sealContext(tenant, id), put) },
		Jobs:     s.river,
	})
}

// AddNote stores a technician's note as a document of kind note, attributed
// to its author, and audits it (note.add).
func (s *Service) AddNote(ctx context.Context, tenant int64, n shifu.Note, userID int64) (shifu.Document, bool, error) {
	n.Title = strings.TrimSpace(n.Title)
	if n.Title == "" || strings.TrimSpace(n.Fix) == "" {
		return shifu.Document{}, false, shifu.Errorf(shifu.ErrInvalid, "a note needs at least a title and a fix")
	}
	if strings.TrimSpace(n.Author) == "" {
		return shifu.Document{}, false, shifu.Errorf(shifu.ErrInvalid, "note %q: the author is required (notes are cited with their author's name)", n.Title)
	}
	return s.Add(ctx, tenant, shifu.Upload{
		Name: noteName(n.Title), Data: []byte(parse.NoteText(n)), Kind: shifu.KindNote, Title: n.Title,
		Equipment: n.Equipment, UserID: userID, UserName: n.Author,
	})
}

// noteName is the stored name of a note: its title as a Markdown file name,
// so a note with the same title is a new revision of it.
func noteName(title string) string {
	r := strings.NewReplacer("/", "-", "\\", "-", "\n", " ")
	t := r.Replace(title)
	if len([]rune(t)) > 100 {
		t = string([]rune(t)[:100])
	}
	return t + ".md"
}

// sameManual refuses, until confirmed, a revision whose file looks like a
// different manual from the version it follows: another type of file, or a
// name sharing no word with the old one.
func sameManual(prev shifu.Document, name, mimeType string) error {
	base := func(m string) string { b, _, _ := strings.Cut(m, ";"); return strings.TrimSpace(b) }
	switch {
	case base(prev.MIME) != base(mimeType):
		return shifu.Errorf(shifu.ErrConflict, "%s (%s) looks like a different manual from version %d, %s (%s): confirm to add it as the next version anyway",
			name, base(mimeType), prev.Version, prev.Name, base(prev.MIME))
	case !shareWord(prev.Name, name):
		return shifu.Errorf(shifu.ErrConflict, "%s shares no word with the name of version %d, %s, so it looks like a different manual: confirm to add it as the next version anyway",
			name, prev.Version, prev.Name)
	}
	return nil
}

// shareWord reports whether two file names (without extension) have a word
// of two or more letters or digits in common, ignoring case.
func shareWord(a, b string) bool {
	words := func(s string) []string {
		s = strings.TrimSuffix(s, filepath.Ext(s))
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x2e7f)
		})
	}
	seen := map[string]bool{}
	for _, w := range words(a) {
		if len([]rune(w)) >= 2 {
			seen[w] = true
		}
	}
	for _, w := range words(b) {
		if seen[w] {
			return true
		}
	}
	return false
}

// Reingest queues the ingest of a document's live version again (after a
// parser or embedder change), audited as by.
func (s *Service) Reingest(ctx context.Context, tenant, id int64, by shifu.Actor) error {
	d, err := s.db.Document(ctx, tenant, id)
	if err != nil {
		return err
	}
	return s.db.Requeue(ctx, tenant, d.VersionID, s.river, by)
}

// sealContext binds a sealed original to its tenant and stored version (the
// documents row, whose id was the document's before versions).
func sealContext(tenant, version int64) string { return fmt.Sprintf("original:%d:%d", tenant, version) }

func mimeOf(f parse.Format, data []byte) string {
	switch f {
	case parse.PDF:
		return "application/pdf"
	case parse.DOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case parse.HTML:
		return "text/html; charset=utf-8"
	case parse.Markdown:
		return "text/markdown; charset=utf-8"
	case parse.Image:
		if bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")) {
			return "image/tiff" // DetectContentType does not know TIFF
		}
	}
	return http.DetectContentType(data)
}

// Wait polls stored versions (Document.VersionID, as Add returns them)
// until each is ingested or failed, calling update on every change it sees,
// and returns their final state. A version ready while its figure pages are
// still being read (Progress.OCRPending) is searchable but not finished.
func (s *Service) Wait(ctx context.Context, tenant int64, ids []int64, update func(shifu.Document)) ([]shifu.Document, error) {
	last := map[int64]shifu.Document{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		done := 0
		for _, id := range ids {
			d, err := s.db.VersionRow(ctx, tenant, id)
			if err != nil {
				return nil, err
			}
			if p, ok := last[id]; !ok || p.Status != d.Status || p.Progress != d.Progress {
				last[id] = d
				if update != nil {
					update(d)
				}
			}
			if d.Status.Done() && (d.Status == shifu.StatusFailed || d.Progress.OCRPending == 0) {
				done++
			}
		}
		if done == len(ids) {
			out := make([]shifu.Document, len(ids))
			for i, id := range ids {
				out[i] = last[id]
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// errText is what a failed document shows: the safe message of a known
// error kind, or a plain sentence naming which part failed.
func errText(err error) string {
	var e *shifu.Error
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &e):
		return e.Msg
	case errors.Is(err, context.DeadlineExceeded):
		return "processing took too long and was stopped"
	case errors.Is(err, shifu.ErrUnavailable):
		return "the embedding service did not answer"
	case errors.As(err, &pe):
		return fmt.Sprintf("the database refused to store it (SQLSTATE %s)", pe.Code)
	case pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, pgx.ErrTxClosed):
		return "the database was unavailable"
	}
	return "internal error while processing the file"
}
