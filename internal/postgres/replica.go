package postgres

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/shifu-factory/shifu"
)

// Replicated sends searches to a streaming replica (a PostgreSQL hot
// standby) and everything else to the primary. Reads are never staler than
// the primary was when the search began: the replica is used only once it
// has replayed the primary's current WAL position, waited for up to Wait; a
// replica further behind, or down, leaves the search to the primary. So a
// supervisor who has just seen an upload become ready finds it, whichever
// process published it. The cost on the primary is one query that reads no
// table (pg_current_wal_lsn).
type Replicated struct {
	Primary, Replica *DB
	// Wait is how long a search waits for the replica to catch up before it
	// goes to the primary.
	Wait time.Duration
	// Retry is how long a replica that failed is left alone (default 5 s),
	// so a dead one costs one failed connection per Retry, not per search.
	Retry time.Duration
	Log   *slog.Logger

	mu        sync.Mutex
	downUntil time.Time
	served    [2]int64 // searches answered by the primary, the replica
}

// Route says where a search went: "replica" or "primary".
type Route string

// Served returns how many searches the primary and the replica answered.
func (r *Replicated) Served() (primary, replica int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.served[0], r.served[1]
}

func (r *Replicated) count(ctx context.Context, db *DB) {
	where := "primary"
	r.mu.Lock()
	if db == r.Replica {
		r.served[1]++
		where = "replica"
	} else {
		r.served[0]++
	}
	r.mu.Unlock()
	if r.Log != nil {
		r.Log.DebugContext(ctx, "search", "db", where)
	}
}

func (r *Replicated) down(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	retry := r.Retry
	if retry <= 0 {
		retry = 5 * time.Second
	}
	if time.Now().After(r.downUntil) && r.Log != nil {
		r.Log.Warn("replica unavailable; searching the primary", "retry_in", retry, "err", err)
	}
	r.downUntil = time.Now().Add(retry)
}

func (r *Replicated) isDown() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Before(r.downUntil)
}

// reader picks the database for one search: the replica once it has
// replayed the primary's current WAL position, else the primary.
func (r *Replicated) reader(ctx context.Context) *DB {
	if r.Replica == nil || r.isDown() {
		return r.Primary
	}
	var lsn string
	if err := r.Primary.pool.QueryRow(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
		return r.Primary // its own error shows in the search itself
	}
	deadline := time.Now().Add(r.Wait)
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		var ok bool
		err := r.Replica.pool.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, lsn).Scan(&ok)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				r.down(err)
			}
			return r.Primary
		case ok:
			return r.Replica
		case !time.Now().Before(deadline):
			return r.Primary
		}
		poll.Reset(min(2*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			return r.Primary
		case <-poll.C:
		}
	}
}

// Where returns the database the next search would go to; for tests and
// the health page.
func (r *Replicated) Where(ctx context.Context) Route {
	if r.reader(ctx) == r.Replica {
		return "replica"
	}
	return "primary"
}

// Hybrid is DB.Hybrid on the replica when it is current, else the primary;
// a replica that fails mid-search (stopped, promoted away) is retried on
// the primary.
func (r *Replicated) Hybrid(ctx context.Context, tenant int64, q shifu.SearchQuery) (shifu.Candidates, error) {
	db := r.reader(ctx)
	c, err := db.Hybrid(ctx, tenant, q)
	if err != nil && db == r.Replica && ctx.Err() == nil {
		r.down(err)
		db = r.Primary
		c, err = db.Hybrid(ctx, tenant, q)
	}
	r.count(ctx, db)
	return c, err
}

// Neighbours is DB.Neighbours on the replica when it is current, else the
// primary.
func (r *Replicated) Neighbours(ctx context.Context, tenant int64, ids []int64) ([]shifu.Hit, error) {
	db := r.reader(ctx)
	hits, err := db.Neighbours(ctx, tenant, ids)
	if err != nil && db == r.Replica && ctx.Err() == nil {
		r.down(err)
		db = r.Primary
		hits, err = db.Neighbours(ctx, tenant, ids)
	}
	return hits, err
}

// Glossary is DB.Glossary on the primary: the tenant's jargon is small and
// a supervisor's new word must apply at once.
func (r *Replicated) Glossary(ctx context.Context, tenant int64) ([]shifu.GlossaryEntry, error) {
	return r.Primary.Glossary(ctx, tenant)
}

// Languages is DB.Languages on the primary (read once a while per tenant).
func (r *Replicated) Languages(ctx context.Context, tenant int64) ([]string, error) {
	return r.Primary.Languages(ctx, tenant)
}
