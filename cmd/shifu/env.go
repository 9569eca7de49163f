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
	"github.com/shifu-factory/shifu/internal/config"
	"github.com/shifu-factory/shifu/internal/keyring"
	"github.com/shifu-factory/shifu/internal/model"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/internal/terms"
)

// env builds each part once, on first use, so a command pays only for what it
// needs (the PDF engine and the Chinese dictionary take seconds to load).
type env struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer

	conf     *config.Config
	database *postgres.DB
	ring     *keyring.Ring
	pdf      *parse.Parser
	lex      *terms.Analyzer
	lexOnce  sync.Once
	lexErr   error
	emb      model.Embedder
	closers  []func()
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
	if c.DatabaseURL == "" {
		return nil, shifu.Errorf(shifu.ErrInvalid, "DATABASE_URL is not set (e.g. postgres://user@localhost:5432/shifu)")
	}
	db, err := postgres.Open(ctx, c.DatabaseURL.Value(), int32(8+2*c.Workers))
	if err != nil {
		return nil, err
	}
	e.database = db
	e.closers = append(e.closers, db.Close)
	return db, nil
}

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
	opts := parse.Options{MaxBytes: c.MaxUploadBytes, Timeout: c.ParseTimeout}
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

func (e *env) analyzer() (*terms.Analyzer, error) {
	e.lexOnce.Do(func() { e.lex, e.lexErr = terms.New() })
	return e.lex, e.lexErr
}

func (e *env) embedder() (model.Embedder, error) {
	if e.emb != nil {
		return e.emb, nil
	}
	c, err := e.config()
	if err != nil {
		return nil, err
	}
	emb, err := model.NewEmbedder(model.EmbedConfig{
		Provider: c.Embed.Provider, BaseURL: c.Embed.BaseURL, APIKey: c.Embed.APIKey.Value(),
		Model: c.Embed.Model, Dim: c.Embed.Dim, Timeout: c.Embed.Timeout,
	})
	if err != nil {
		return nil, err
	}
	e.emb = emb
	return emb, nil
}

// ingest builds the pipeline; workers > 0 also processes jobs in this process.
func (e *env) ingest(ctx context.Context, workers int) (*ingest.Service, error) {
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
		MaxBytes: c.MaxUploadBytes, Workers: workers, EmbedBatch: batch, Logger: e.logger(),
	})
}

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
func (e *env) startIngest(ctx context.Context, workers int) (*ingest.Service, func(), error) {
	svc, err := e.ingest(ctx, workers)
	if err != nil {
		return nil, nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	if err := svc.Start(runCtx); err != nil {
		cancel()
		return nil, nil, err
	}
	return svc, func() {
		stopCtx, c := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer c()
		_ = svc.Stop(stopCtx)
		cancel()
	}, nil
}
