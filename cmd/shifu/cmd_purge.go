package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shifu-factory/shifu/internal/config"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// cmdPurge removes for good what the retention settings let go: documents
// deleted longer ago than SHIFU_DELETE_RETENTION, and versions that stopped
// being live longer ago than SHIFU_VERSION_RETENTION. shifu serve does the
// same every hour.
func cmdPurge(ctx context.Context, e *env, args []string) error {
	name, err := tenantFlag(e, "purge", args)
	if err != nil {
		return err
	}
	c, err := e.config()
	if err != nil {
		return err
	}
	db, err := e.db(ctx)
	if err != nil {
		return err
	}
	ts, err := e.tenants(ctx, name)
	if err != nil {
		return err
	}
	for _, t := range ts {
		p, err := purge(ctx, db, t.ID, c, time.Now())
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t.Name, err)
		}
		fmt.Fprintf(e.stdout, "%s: %d deleted documents and %d old versions purged\n", t.Name, len(p.Documents), p.Versions)
	}
	return nil
}

// purge applies the retention settings to one tenant as of now.
func purge(ctx context.Context, db *postgres.DB, tenant int64, c *config.Config, now time.Time) (postgres.Purged, error) {
	var versions time.Time // zero: every version is kept
	if c.VersionRetention > 0 {
		versions = now.Add(-c.VersionRetention)
	}
	return db.Purge(ctx, tenant, now.Add(-c.DeleteRetention), versions)
}

// purgeEvery runs purge for every tenant at start and then every interval
// until ctx ends (shifu serve's background sweep); errors are logged.
func purgeEvery(ctx context.Context, db *postgres.DB, c *config.Config, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ts, err := db.Tenants(ctx)
		for _, t := range ts {
			p, err := purge(ctx, db, t.ID, c, time.Now())
			if err != nil {
				if ctx.Err() == nil {
					log.Error("purge", "tenant", t.Name, "err", err)
				}
				continue
			}
			if len(p.Documents) > 0 || p.Versions > 0 {
				log.Info("purged past retention", "tenant", t.Name, "documents", len(p.Documents), "versions", p.Versions)
			}
		}
		if err != nil && ctx.Err() == nil {
			log.Error("purge: tenants", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
