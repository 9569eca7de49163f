// Package ingest takes uploads and technician notes into Shifu: it stores
// the sealed original and a queued document in one transaction with its job,
// and the job (run by River workers, resumable) parses, cleans, chunks,
// indexes and embeds the document, then publishes it atomically.
package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest/chunk"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// Parser turns bytes into a structured document.
type Parser interface {
	Parse(ctx context.Context, name string, data []byte, progress func(done, total int)) (*parse.Doc, error)
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
	batch    int
	log      *slog.Logger
	river    *river.Client[pgx.Tx]
}

// Options tune the pipeline.
type Options struct {
	MaxBytes   int64 // largest accepted upload
	Workers    int   // ingest jobs at once in this process; 0 = insert-only (no worker)
	EmbedBatch int   // texts per Embed call
	Chunking   chunk.Options
	Logger     *slog.Logger
}

// New builds the pipeline. Call Start to run workers in this process.
func New(db *postgres.DB, keys Keys, p Parser, a Analyzer, e Embedder, o Options) (*Service, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 200 << 20
	}
	if o.EmbedBatch <= 0 {
		o.EmbedBatch = 64
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Service{db: db, keys: keys, parser: p, analyzer: a, embedder: e, chunking: o.Chunking,
		maxBytes: o.MaxBytes, batch: o.EmbedBatch, log: o.Logger}
	cfg := &river.Config{
		Logger:      o.Logger,
		MaxAttempts: 5,
		// Parsing a 1,000-page manual takes seconds; the generous timeout is
		// for slow hosted embedding. A job whose process died is picked up
		// again after RescueStuckJobsAfter and resumes where it stopped.
		JobTimeout:           20 * time.Minute,
		RescueStuckJobsAfter: 21 * time.Minute,
		FetchPollInterval:    200 * time.Millisecond,
	}
	if o.Workers > 0 {
		workers := river.NewWorkers()
		river.AddWorker(workers, &worker{s: s})
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}}
	}
	c, err := river.NewClient(riverpgxv5.New(db.Pool()), cfg)
	if err != nil {
		return nil, fmt.Errorf("ingest: job queue: %w", err)
	}
	s.river = c
	return s, nil
}

// Start runs the workers until ctx ends or Stop is called.
func (s *Service) Start(ctx context.Context) error { return s.river.Start(ctx) }

// Stop waits for running jobs to finish (or ctx to end).
func (s *Service) Stop(ctx context.Context) error { return s.river.Stop(ctx) }

// Upload is one file to ingest.
type Upload struct {
	Name      string // file name as uploaded
	Data      []byte
	Kind      shifu.DocKind // manual (default) or note
	Title     string
	Revision  string
	Equipment string
	UserID    int64
	UserName  string
}

// Add stores an upload and queues its ingest. Bad input is refused here, before
// anything is stored, with an error naming the file, what is wrong and what is
// accepted. The same bytes again return the stored document and dup = true.
func (s *Service) Add(ctx context.Context, tenant int64, u Upload) (doc shifu.Document, dup bool, err error) {
	name := filepath.Base(strings.TrimSpace(u.Name))
	if name == "" || name == "." || name == "/" {
		return doc, false, shifu.Errorf(shifu.ErrInvalid, "a file name is required")
	}
	if u.Kind == "" {
		u.Kind = shifu.KindManual
	}
	if !u.Kind.Valid() {
		return doc, false, shifu.Errorf(shifu.ErrInvalid, "%s: kind %q: accepted kinds are manual and note", name, u.Kind)
	}
	if len(u.Data) == 0 {
		return doc, false, shifu.Errorf(shifu.ErrInvalid, "%s: the file is empty", name)
	}
	if int64(len(u.Data)) > s.maxBytes {
		return doc, false, shifu.Errorf(shifu.ErrTooLarge, "%s: %d MB is over the upload limit of %d MB", name, len(u.Data)>>20, s.maxBytes>>20)
	}
	format, err := parse.Sniff(name, u.Data)
	if err != nil {
		return doc, false, err
	}
	sum := sha256.Sum256(u.Data)
	key, err := s.keys.TenantKey(ctx, tenant)
	if err != nil {
		return doc, false, err
	}
	return s.db.CreateDocument(ctx, tenant, postgres.NewDocument{
		Doc: shifu.Document{Name: name, Title: u.Title, Kind: u.Kind, SHA256: hex.EncodeToString(sum[:]),
			Size: int64(len(u.Data)), MIME: mimeOf(format, u.Data), Revision: u.Revision,
			UploadedBy: u.UserName, Equipment: u.Equipment},
		Uploader: u.UserID,
		Seal:     func(id int64) ([]byte, error) { return key.Seal(u.Data, sealContext(tenant, id)) },
		Enqueue:  s.enqueue,
	})
}

// AddNote stores a technician's note as a document of kind note, attributed
// to its author.
func (s *Service) AddNote(ctx context.Context, tenant int64, n shifu.Note, userID int64) (shifu.Document, bool, error) {
	n.Title = strings.TrimSpace(n.Title)
	if n.Title == "" || strings.TrimSpace(n.Fix) == "" {
		return shifu.Document{}, false, shifu.Errorf(shifu.ErrInvalid, "a note needs at least a title and a fix")
	}
	if strings.TrimSpace(n.Author) == "" {
		return shifu.Document{}, false, shifu.Errorf(shifu.ErrInvalid, "note %q: the author is required (notes are cited with their author's name)", n.Title)
	}
	return s.Add(ctx, tenant, Upload{
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

// Reingest queues a stored document's ingest again (after a parser or
// embedder change).
func (s *Service) Reingest(ctx context.Context, tenant, id int64) error {
	return s.db.Requeue(ctx, tenant, id, s.enqueue)
}

// Original returns a document's decrypted original bytes.
func (s *Service) Original(ctx context.Context, tenant, id int64) ([]byte, error) {
	sealed, err := s.db.Original(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	key, err := s.keys.TenantKey(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return key.Open(sealed, sealContext(tenant, id))
}

func sealContext(tenant, doc int64) string { return fmt.Sprintf("original:%d:%d", tenant, doc) }

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

// Wait polls the documents until each is ready or failed, calling update on
// every change it sees, and returns their final state.
func (s *Service) Wait(ctx context.Context, tenant int64, ids []int64, update func(shifu.Document)) ([]shifu.Document, error) {
	last := map[int64]shifu.Document{}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		done := 0
		for _, id := range ids {
			d, err := s.db.Document(ctx, tenant, id)
			if err != nil {
				return nil, err
			}
			if p, ok := last[id]; !ok || p.Status != d.Status || p.Progress != d.Progress {
				last[id] = d
				if update != nil {
					update(d)
				}
			}
			if d.Status.Done() {
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
// error kind, or a plain sentence for anything internal.
func errText(err error) string {
	var e *shifu.Error
	if errors.As(err, &e) {
		return e.Msg
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "processing took too long and was stopped"
	}
	return "internal error while processing the file; it will be retried"
}
