package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/admit"
	"github.com/shifu-factory/shifu/internal/config"
	"github.com/shifu-factory/shifu/internal/dict"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/llm"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/terms"
	"github.com/shifu-factory/shifu/internal/wordnet"
)

// env builds each part once, on first use, so a command pays only for what it
// needs (the PDF engine and the Chinese dictionary take seconds to load).
type env struct {
	command        string // the subcommand, for application_name
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	conf     *config.Config
	database *postgres.DB
	ring     *keyring.Ring
	pdf      *parse.Parser
	lex      func() (*terms.Analyzer, error) // the process's one analyzer, made at first use
	lexWarm  sync.Once
	emb      llm.Embedder
	// replicated routes searches to SHIFU_REPLICA_DATABASE_URL (searchStore).
	replicated *postgres.Replicated
	lexicon    func() (*dict.Dict, error)
	wordnet    func() *wordnet.WordNet
	closers    []func()
	admission  *admit.Limiter
}

func (e *env) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

func (e *env) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: e.logLevel()}))
}

func (e *env) config() (*config.Config, error) {
	if e.conf == nil {
		c, err := config.Load(e.getenv)
		if err != nil {
			return nil, err
		}
		e.conf = &c
	}
	return e.conf, nil
}

func (e *env) db(ctx context.Context) (*postgres.DB, error) {
	if e.database != nil {
		return e.database, nil
	}
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	url := c.AppDatabaseURL.Value()
	if url == "" {
		if c.DatabaseURL == "" {
			return nil, shifu.Errorf(shifu.ErrInvalid, "DATABASE_URL is not set (e.g. postgres://user@localhost:5432/shifu), nor SHIFU_APP_DATABASE_URL")
		}
		if url, err = postgres.AppURL(c.DatabaseURL.Value(), c.AppPassword.Value()); err != nil {
			return nil, err
		}
	}
	db, err := postgres.Open(ctx, postgres.Named(url, e.name()), int32(8+2*c.Workers))
	if err != nil {
		return nil, err
	}
	e.database = db
	e.closers = append(e.closers, db.Close)
	return db, nil
}

// ownerURL is DATABASE_URL, for the commands that change what the
// application role may not: the schema and the tenants.
func (e *env) ownerURL(why string) (string, error) {
	c, err := e.config()
	if err != nil {
		return "", err
	}
	if c.DatabaseURL == "" {
		return "", shifu.Errorf(shifu.ErrInvalid, "DATABASE_URL is not set: %s needs a role that owns the schema (e.g. postgres://postgres@localhost:5432/shifu)", why)
	}
	return postgres.Named(c.DatabaseURL.Value(), e.name()), nil
}

// name is what pg_stat_activity shows as the application of this process's sessions.
func (e *env) name() string { return "shifu " + e.command }

func (e *env) keys(ctx context.Context) (*keyring.Ring, error) {
	if e.ring != nil {
		return e.ring, nil
	}
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	m, err := keyring.ParseMaster(c.MasterKey.Value())
	if err != nil {
		return nil, err
	}
	db, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	e.ring = keyring.NewRing(m, func(ctx context.Context, id int64) (string, []byte, error) {
		t, w, err := db.TenantByID(ctx, id)
		return t.Name, w, err
	})
	return e.ring, nil
}

// checkKeys opens every tenant's data key, so a wrong SHIFU_MASTER_KEY stops
// the server at start instead of failing every upload, download and page
// image later while /readyz says ready.
func (e *env) checkKeys(ctx context.Context) error {
	_, db, ring, err := e.base(ctx)
	if err != nil {
		return err
	}
	ts, err := db.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		_, wrapped, err := db.TenantByID(ctx, t.ID)
		if err != nil {
			return err
		}
		if _, err := ring.Master().Open(t.Name, wrapped); err != nil {
			return shifu.Errorf(shifu.ErrInvalid, "SHIFU_MASTER_KEY does not open the data key of tenant %q: it is not the key the tenants were created with; start with that key (a new key cannot read the stored originals)", t.Name)
		}
	}
	return nil
}

// base is what most commands need first: the configuration, the database
// and the tenants' keys.
func (e *env) base(ctx context.Context) (*config.Config, *postgres.DB, *keyring.Ring, error) {
	c, err := e.config()
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := e.db(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	ring, err := e.keys(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, db, ring, nil
}

func (e *env) tenant(ctx context.Context, name string) (shifu.Tenant, error) {
	if name == "" {
		return shifu.Tenant{}, shifu.Errorf(shifu.ErrInvalid, "--tenant NAME is required")
	}
	db, err := e.db(ctx)
	if err != nil {
		return shifu.Tenant{}, err
	}
	t, wrapped, err := db.Tenant(ctx, name)
	if err != nil {
		return t, err
	}
	ring, err := e.keys(ctx)
	if err != nil {
		return t, err
	}
	// Unwrap now, so a wrong master key is a clear error before any work.
	if _, err := ring.Master().Open(t.Name, wrapped); err != nil {
		return t, err
	}
	return t, nil
}

func (e *env) parser(ctx context.Context) (*parse.Parser, error) {
	if e.pdf != nil {
		return e.pdf, nil
	}
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	opts := parse.Options{MaxBytes: c.MaxUploadBytes, Timeout: c.ParseTimeout, CacheDir: c.CacheDir}
	switch c.PDFText {
	case "pdftotext":
		if opts.PDFToText, err = exec.LookPath("pdftotext"); err != nil {
			return nil, shifu.Errorf(shifu.ErrInvalid, "SHIFU_PDF_TEXT=pdftotext but pdftotext is not installed (apt-get install poppler-utils)")
		}
	case "auto":
		opts.PDFToText, _ = exec.LookPath("pdftotext") // PDFium alone when missing
	}
	o := c.OCR
	opts.OCRLanguages, opts.OCRDPI, opts.OCRWorkers, opts.OCRPageTimeout = o.Languages, o.DPI, o.Workers, o.PageTimeout
	switch o.Engine {
	case "tesseract":
		if opts.Tesseract, err = exec.LookPath("tesseract"); err != nil {
			return nil, shifu.Errorf(shifu.ErrInvalid, "SHIFU_OCR=tesseract but tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim tesseract-ocr-osd)")
		}
	case "auto":
		opts.Tesseract, _ = exec.LookPath("tesseract") // no OCR when missing
	}
	p, err := parse.New(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("start the PDF engine: %w", err)
	}
	e.pdf = p
	e.closers = append(e.closers, func() { p.Close() })
	return p, nil
}

// warmAnalyzer starts loading the analyzer's Chinese dictionary (~1.4 s of
// CPU) in the background, for a command that will search: the command's
// cheap work (configuration, database, tenant) overlaps it. Ingest does not
// call it: an English manual never needs the dictionary, and a Chinese one
// loads it at its first text (terms.Analyzer). Call it from the command's
// own goroutine; close waits for the load.
func (e *env) warmAnalyzer() {
	e.lexWarm.Do(func() {
		a, err := e.analyzer()
		if err != nil {
			return // the command's own call to analyzer says so
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			a.Warm()
		}()
		e.closers = append(e.closers, func() { <-done })
	})
}

// analyzer is the process's one analyzer (cheap to make: its dictionary
// loads later, see terms.Analyzer).
func (e *env) analyzer() (*terms.Analyzer, error) { return e.lex() }

// dictionary loads the bilingual dictionary once, the first time a search
// needs it (~0.2 s, ~40 MB). Without the file search says so once and
// translates through the glossary alone.
func (e *env) dictionary() *dict.Dict {
	if e.lexicon == nil {
		e.lexicon = sync.OnceValues(func() (*dict.Dict, error) {
			c, err := e.config()
			if err != nil || c.Dict == "off" {
				return nil, err
			}
			start := time.Now()
			d, err := dict.Load(c.Dict)
			if err != nil {
				e.logger().Warn("no bilingual dictionary: questions are translated through the glossary alone (run scripts/deps.sh, or set SHIFU_DICT)", "err", err)
				return nil, nil
			}
			e.logger().Info("dictionary loaded", "path", c.Dict, "headwords", d.Len(), "elapsed", time.Since(start))
			return d, nil
		})
	}
	d, _ := e.lexicon()
	return d
}

// thesaurus loads the English WordNet once per process; without it English
// questions are searched in their own words and the glossary's.
func (e *env) thesaurus() *wordnet.WordNet {
	if e.wordnet == nil {
		e.wordnet = sync.OnceValue(func() *wordnet.WordNet {
			c, err := e.config()
			if err != nil || c.WordNet == "off" {
				return nil
			}
			start := time.Now()
			w, err := wordnet.Load(c.WordNet, wordnet.Options{})
			if err != nil {
				e.logger().Warn("no English WordNet: English questions are not widened by synonyms (install wordnet-base: scripts/deps.sh, or set SHIFU_WORDNET)", "err", err)
				return nil
			}
			e.logger().Info("wordnet loaded", "path", c.WordNet, "words", w.Len(), "elapsed", time.Since(start))
			return w
		})
	}
	return e.wordnet()
}

func (e *env) embedder() (llm.Embedder, error) {
	if e.emb != nil {
		return e.emb, nil
	}
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	emb, err := llm.NewEmbedder(llm.EmbedConfig{
		Provider: c.Embed.Provider, BaseURL: c.Embed.BaseURL, APIKey: c.Embed.APIKey.Value(),
		Model: c.Embed.Model, Dim: c.Embed.Dim, Timeout: c.Embed.Timeout,
	})
	if err != nil {
		return nil, err
	}
	e.emb = emb
	return emb, nil
}

// ingest builds the pipeline; workers > 0 also processes jobs in this
// process, as do jobs (other features' workers on the same queue client).
func (e *env) ingest(ctx context.Context, workers int, jobs ...ingest.Jobs) (*ingest.Service, error) {
	c, db, ring, err := e.base(ctx)
	if err != nil {
		return nil, err
	}
	p, err := e.parser(ctx)
	if err != nil {
		return nil, err
	}
	a, err := e.analyzer()
	if err != nil {
		return nil, err
	}
	emb, err := e.embedder()
	if err != nil {
		return nil, err
	}
	batch := 64
	if c.Embed.Provider == "dashscope" {
		batch = 10
	}
	return ingest.New(db, ring, p, a, emb, ingest.Options{
		MaxBytes: c.MaxUploadBytes, Workers: workers, EmbedBatch: batch, Deadline: c.ParseTimeout, Logger: e.logger(), JobTimeout: c.JobTimeout,
		Priority: priority{e.admitter(c)}, Jobs: jobs,
	})
}

// admitter is the process's one bound on answers in flight, shared by the
// web, the API, the bots and the ingest workers' pacing.
func (e *env) admitter(c *config.Config) *admit.Limiter {
	if e.admission == nil {
		l := c.Limits
		e.admission = admit.New(l.MaxAnswers, l.Queue, l.QueueWait)
	}
	return e.admission
}

// priority paces ingest jobs by the answers in flight in this process.
type priority struct{ l *admit.Limiter }

func (p priority) Pacer(budget time.Duration) ingest.Pace { return p.l.Pacer(budget) }

// logLevel is SHIFU_LOG_LEVEL (debug, info, warn, error); warn by default so
// the CLI's own output stays readable.
func (e *env) logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(e.getenv("SHIFU_LOG_LEVEL"))); err != nil {
		return slog.LevelWarn
	}
	return l
}

// startIngest builds the pipeline and runs its workers in this process until
// the returned stop is called; stop waits up to 30 s for running jobs.
func (e *env) startIngest(ctx context.Context, workers int, jobs ...ingest.Jobs) (*ingest.Service, func(), error) {
	svc, start, err := e.ingestLater(ctx, workers, jobs...)
	if err != nil {
		return nil, nil, err
	}
	stop, err := start()
	if err != nil {
		return nil, nil, err
	}
	return svc, stop, nil
}

// ingestLater builds the pipeline without running its workers: start runs
// them, as startIngest does. Uploads can be added before (their jobs wait).
func (e *env) ingestLater(ctx context.Context, workers int, jobs ...ingest.Jobs) (*ingest.Service, func() (func(), error), error) {
	svc, err := e.ingest(ctx, workers, jobs...)
	if err != nil {
		return nil, nil, err
	}
	return svc, func() (func(), error) {
		runCtx, cancel := context.WithCancel(ctx)
		if err := svc.Start(runCtx); err != nil {
			cancel()
			return nil, err
		}
		return func() {
			stopCtx, c := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer c()
			_ = svc.Stop(stopCtx)
			cancel()
		}, nil
	}, nil
}

// cliActor is the operator at the command line: audited as the CLI, named
// "cli" where a document records who deleted it.
func cliActor() shifu.Actor { return shifu.Actor{Name: "cli"} }
