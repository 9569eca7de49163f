package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// IngestJobKind is the River job kind of a document's ingest.
const IngestJobKind = "ingest"

// IngestJob is a stored version's ingest job. It carries ids only: the bytes
// stay sealed in the database. CreateDocument and Requeue insert it in the
// version's own transaction; ingest's workers run it.
type IngestJob struct {
	Tenant   int64 `json:"tenant"`
	Document int64 `json:"document"` // the version (documents row)
}

func (IngestJob) Kind() string { return IngestJobKind }

// JobQueue is the job queue a version's ingest job goes into, inside the
// transaction that stores the version (ingest's River client), so a version is
// never stored without its job, nor a job without its version.
type JobQueue interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

func insertIngest(ctx context.Context, tx pgx.Tx, jobs JobQueue, tenant, version int64) error {
	_, err := jobs.InsertTx(ctx, tx, IngestJob{Tenant: tenant, Document: version}, nil)
	return err
}

// NoticeJobKind is the River job kind of telling a bot thread that a note
// answers what was asked there.
const NoticeJobKind = "gap_notice"

// NoticeQueue is the job queue of gap notices: apart from ingest's, so a
// backlog of manuals does not hold them up.
const NoticeQueue = "notice"

// NoticeJob names one bot conversation and the gaps asked in it that a note
// answers: ids only, loaded again under the tenant's row-level security
// (GapNotice). CloseGap inserts it in the transaction that closes the gaps;
// bot/gateway's worker posts it, five attempts over about 40 minutes
// (enough for a Slack outage or rate limit, bounded).
type NoticeJob struct {
	Tenant       int64   `json:"tenant"`
	Conversation int64   `json:"conversation"`
	Gaps         []int64 `json:"gaps"`
}

func (NoticeJob) Kind() string { return NoticeJobKind }

func (NoticeJob) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: NoticeQueue, MaxAttempts: 5}
}

// liveJobStates are the River states of a job that will still run.
const liveJobStates = `('available', 'pending', 'running', 'retryable', 'scheduled')`

// Beat records that a running job is alive in this process. It returns false
// when the job is no longer this attempt's to run (another process rescued
// it, or it was cancelled): the worker should stop.
func (db *DB) Beat(ctx context.Context, job int64, attempt int) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE river_job SET metadata = jsonb_set(metadata, '{beat}', to_jsonb(now()))
		WHERE id = $1 AND attempt = $2 AND state = 'running'`, job, attempt)
	if err != nil {
		return false, fmt.Errorf("postgres: job heartbeat: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// StuckJob is a job whose process stopped beating on its last attempt.
type StuckJob struct {
	ID       int64
	Attempt  int
	Tenant   int64
	Document int64
}

// RescueJobs hands back the running jobs of kind whose heartbeat (or start,
// before the first beat) is older than stale: their process died. A job with
// attempts left becomes available at once (River's own rescuer waits for
// RescueStuckJobsAfter, sized to the longest job, and only runs on the
// leader); one on its last attempt is discarded and returned, so the caller
// can say why its document failed.
func (db *DB) RescueJobs(ctx context.Context, kind string, stale time.Duration) (rescued int, exhausted []StuckJob, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		const stuck = `kind = $1 AND state = 'running'
			AND coalesce((metadata->>'beat')::timestamptz, attempted_at, created_at) < now() - make_interval(secs => $2)`
		tag, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE `+stuck+` AND attempt < max_attempts`, kind, stale.Seconds())
		if err != nil {
			return err
		}
		rescued = int(tag.RowsAffected())
		rows, err := tx.Query(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
			WHERE `+stuck+` AND attempt >= max_attempts RETURNING id, attempt, args`, kind, stale.Seconds())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j StuckJob
			var args []byte
			if err := rows.Scan(&j.ID, &j.Attempt, &args); err != nil {
				return err
			}
			var a IngestJob
			if json.Unmarshal(args, &a) == nil {
				j.Tenant, j.Document = a.Tenant, a.Document
			}
			exhausted = append(exhausted, j)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: rescue stuck jobs: %w", err)
	}
	return rescued, exhausted, nil
}

// OthersWaiting reports whether a job of kind for another tenant than tenant
// is ready to run (or will be within a second), so a worker the tenant would
// take is better left to it.
func (db *DB) OthersWaiting(ctx context.Context, kind string, tenant int64) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = $1
		AND state IN ('available', 'retryable', 'scheduled') AND scheduled_at < now() + interval '1 second'
		AND (args->>'tenant')::bigint <> $2)`, kind, tenant).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: other tenants' jobs: %w", err)
	}
	return ok, nil
}

// ingestAlive reports whether a document has an ingest job that will still
// run.
func ingestAlive(ctx context.Context, tx pgx.Tx, doc int64) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = $1 AND state IN `+liveJobStates+`
		AND (args->>'document')::bigint = $2)`, IngestJobKind, doc).Scan(&ok)
	return ok, err
}
