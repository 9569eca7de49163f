package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/shifu-factory/shifu/ingest"
	"github.com/shifu-factory/shifu/ingest/parse"
	"github.com/shifu-factory/shifu/internal/admit"
	"github.com/shifu-factory/shifu/internal/limit"
	"github.com/shifu-factory/shifu/internal/postgres"
	"github.com/shifu-factory/shifu/web"
)

// cmdServe runs the web app, the API and the ingest workers until ctx ends,
// then drains: in-flight requests get the grace period (SHIFU_SHUTDOWN_GRACE),
// ingest jobs are handed back to the queue without spending an attempt.
func cmdServe(ctx context.Context, e *env, args []string) error {
	c, err := e.config()
	if err != nil {
		return err
	}
	fs := flags(e, "serve")
	addr := fs.String("addr", c.Addr, "listen address HOST:PORT")
	secure := fs.Bool("secure-cookies", false, "mark cookies Secure (TLS ends at a proxy in front)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.warmAnalyzer() // while the database opens and the pipeline starts
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	if err := e.checkKeys(ctx); err != nil {
		return err
	}
	metrics := web.NewMetrics()
	metrics.WatchJobs(db.Pool())
	asker, err := e.timedAsker(ctx, log, metrics)
	if err != nil {
		return err
	}
	l := c.Limits
	limits := limit.NewAnswers(limit.Config{UserPerMinute: l.UserPerMinute, TenantPerMinute: l.TenantPerMinute,
		UserTokensPerDay: l.UserTokensPerDay, TenantTokensPerDay: l.TenantTokensPerDay})
	// One bound on answers in flight for the web, the API and the bots.
	limiter := e.admitter(c)
	asker = admit.Wrap(asker, limiter)
	bots, err := e.bots(ctx, limits.Guard(asker), log)
	if err != nil {
		return err
	}
	// A note answering a gap asked in a Slack thread is announced there by a
	// job the ingest pipeline's queue client runs (one client per process).
	notices, err := bots.Notices(db)
	if err != nil {
		return err
	}
	// Deferred first, so ingest jobs stop after the HTTP server and the bots.
	svc, stopIngest, err := e.startIngest(ctx, c.Workers,
		ingest.Jobs{Queue: postgres.NoticeQueue, Workers: 2, Register: notices.Register})
	if err != nil {
		return err
	}
	defer stopIngest()
	p, err := e.parser(ctx)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Postings an older analyzer made are rebuilt while the server runs:
	// searches meanwhile see each document's old postings or its new ones.
	tenants, err := db.Tenants(ctx)
	if err != nil {
		return err
	}
	reindexed := make(chan struct{})
	go func() {
		defer close(reindexed)
		reindexAll(runCtx, svc, tenants, log)
	}()
	defer func() { cancel(); <-reindexed }()
	// Deleted documents and old versions past retention are purged hourly.
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		purgeEvery(runCtx, db, c, time.Hour, log)
	}()
	defer func() { cancel(); <-purged }()

	notices.Start(runCtx)
	defer notices.Stop()
	// Runs after the HTTP server has stopped (defers run last-in first-out),
	// so bot answers in flight are drained.
	defer func() {
		drainCtx, c := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer c()
		_ = bots.Close(drainCtx)
	}()
	// Slack installations in Socket Mode, and DingTalk ones when the
	// operator says the apps use Stream mode, are not reached over HTTP: the
	// server opens their connections, and follows the installations added
	// and removed while it runs.
	connected := make(chan struct{})
	go func() {
		defer close(connected)
		tenantIDs := func(ctx context.Context) ([]int64, error) {
			ts, err := db.Tenants(ctx)
			ids := make([]int64, len(ts))
			for i, t := range ts {
				ids[i] = t.ID
			}
			return ids, err
		}
		_ = bots.Supervise(runCtx, tenantIDs, c.DingTalkStream, time.Minute)
	}()
	defer func() { cancel(); <-connected }() // before the bots drain
	srv, err := web.New(web.Options{
		DB: db, Asker: asker, Ingester: svc, Renderer: pages{p}, Bots: bots, BotAdmin: web.BotService(bots.Core),
		Notices:        notices.Queue(),
		MaxUploadBytes: c.MaxUploadBytes, SecureCookies: *secure || os.Getenv("SHIFU_SECURE_COOKIES") == "1",
		Limits: limits, LoginChecks: l.LoginChecks, LoginsPerMinute: l.LoginsPerMinute,
		Logger: log, Metrics: metrics, Admission: limiter, OCRMinConfidence: c.OCR.MinConfidence,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	// Requests do not end with the signal: SIGTERM stops accepting, and the
	// answers in flight get the grace period to finish (and be stored).
	reqCtx, endRequests := context.WithCancel(context.WithoutCancel(ctx))
	defer endRequests()
	hs := &http.Server{
		Addr:              *addr,
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: answers stream for as long as the model takes;
		// the answer service bounds that.
		BaseContext: func(net.Listener) context.Context { return reqCtx },
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Fprintf(e.stderr, "shifu: serving on http://%s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		shutCtx, cancelShut := context.WithTimeout(context.WithoutCancel(ctx), c.Limits.Grace)
		defer cancelShut()
		if err := hs.Shutdown(shutCtx); err != nil {
			log.Warn("answers still running at the end of the grace period were cut", "grace", c.Limits.Grace)
		}
		endRequests()
		<-done
	}
	return nil
}

// pages renders citation pages with PDFium and finds quotes on them.
type pages struct{ p *parse.Parser }

func (g pages) RenderPage(ctx context.Context, pdf []byte, page, width int) ([]byte, error) {
	return g.p.RenderPage(ctx, pdf, page, width)
}

func (g pages) FindRects(ctx context.Context, pdf []byte, page int, quote string) ([]web.Rect, error) {
	rs, err := g.p.FindText(ctx, pdf, page, quote)
	out := make([]web.Rect, len(rs))
	for i, r := range rs {
		out[i] = web.Rect{X: r.X, Y: r.Y, W: r.W, H: r.H}
	}
	return out, err
}
