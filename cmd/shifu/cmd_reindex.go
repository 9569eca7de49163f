package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/ingest"
)

// cmdReindex rebuilds the postings that an older analyzer made, for one
// tenant or all (see ingest.Service.Reindex). shifu serve does the same in
// the background at start; this is for doing it before, or on its own.
func cmdReindex(ctx context.Context, e *env, args []string) error {
	name, err := tenantFlag(e, "reindex", args)
	if err != nil {
		return err
	}
	e.warmAnalyzer() // while the database and tenant are looked up
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	ts, err := e.tenants(ctx, name)
	if err != nil {
		return err
	}
	// Re-indexing reads chunk text: no PDF engine or embedder is started.
	a, err := e.analyzer()
	if err != nil {
		return err
	}
	svc, err := ingest.New(db, nil, nil, a, nil, ingest.Options{Logger: e.logger()})
	if err != nil {
		return err
	}
	for _, t := range ts {
		n, err := svc.Reindex(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.Name, err)
		}
		fmt.Fprintf(e.stdout, "%s: %d documents re-indexed\n", t.Name, n)
	}
	return nil
}

// reindexAll is cmdReindex for every tenant, for serve's background start:
// errors are logged, and a tenant that fails does not stop the others.
func reindexAll(ctx context.Context, svc *ingest.Service, ts []shifu.Tenant, log *slog.Logger) {
	for _, t := range ts {
		n, err := svc.Reindex(ctx, t.ID)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("re-index stale postings", "tenant", t.Name, "err", err)
			}
			continue
		}
		if n > 0 {
			log.Info("re-indexed documents an older analyzer indexed", "tenant", t.Name, "documents", n)
		}
	}
}

// tenantFlag parses the one flag of a command that acts on one tenant or all
// (purge, reindex): --tenant NAME, "" for every tenant.
func tenantFlag(e *env, cmd string, args []string) (string, error) {
	fs := flags(e, cmd)
	name := fs.String("tenant", "", "tenant name (default: every tenant)")
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", shifu.Errorf(shifu.ErrInvalid, "usage: shifu %s [--tenant NAME]", cmd)
	}
	return *name, nil
}

// tenants is the named tenant, or every tenant when name is "".
func (e *env) tenants(ctx context.Context, name string) ([]shifu.Tenant, error) {
	if name != "" {
		t, err := e.tenant(ctx, name)
		return []shifu.Tenant{t}, err
	}
	db, err := e.db(ctx)
	if err != nil {
		return nil, err
	}
	return db.Tenants(ctx)
}
