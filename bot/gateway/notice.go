package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/shifu-factory/shifu"
	"github.com/shifu-factory/shifu/bot"
	"github.com/shifu-factory/shifu/bot/slack"
	"github.com/shifu-factory/shifu/internal/postgres"
)

// Notice retries: the attempts of postgres.NoticeJob, 30 s, 2 min, 8 min and
// 30 min apart.
const (
	noticeTimeout = time.Minute
	// noteWait is how long a notice waits for its note to be searchable
	// (ingested), so asking again in the thread finds it; a note still not
	// ready then is announced anyway (its link opens it either way).
	noteWait = 10 * time.Minute
	// noticeStale is when a running notice is taken for dead (its process
	// stopped mid-post) and handed back: well past noticeTimeout.
	noticeStale = 3 * noticeTimeout
)

// Notices tells the bot thread where a knowledge gap was asked that a
// technician's note now answers it. postgres.CloseGap queues the job
// (postgres.NoticeJob) in the transaction that closes the gap, into Queue,
// so the notice is sent after the commit and survives the process stopping
// before it is sent; the worker (run by the process's one queue client: ingest.Jobs) posts it in
// the thread with the tenant's installation, as answers are posted.
type Notices struct {
	db     *postgres.DB
	gw     *Gateway
	public string
	insert *river.Client[pgx.Tx] // insert-only: never started, never River's leader
	log    *slog.Logger
	stop   context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Notices builds the gap notices of the gateway's bots over db.
func (g *Gateway) Notices(db *postgres.DB) (*Notices, error) {
	c, err := river.NewClient(riverpgxv5.New(db.Pool()), &river.Config{Logger: g.Core.Logger()})
	if err != nil {
		return nil, fmt.Errorf("gap notices: job queue: %w", err)
	}
	return &Notices{db: db, gw: g, public: g.Core.PublicURL(), insert: c, log: g.Core.Logger()}, nil
}

// Queue is where postgres.CloseGap inserts notices: an insert-only client.
func (n *Notices) Queue() postgres.JobQueue { return n.insert }

// Register adds the notices' worker to the process's queue client
// (ingest.Jobs, queue postgres.NoticeQueue).
func (n *Notices) Register(w *river.Workers) { river.AddWorker(w, &noticeWorker{n: n}) }

// Start hands back, every minute until Stop, notices whose process stopped
// while posting them (River's own rescue waits for the longest ingest).
func (n *Notices) Start(ctx context.Context) {
	ctx, n.stop = context.WithCancel(ctx)
	n.done = make(chan struct{})
	go func() {
		defer close(n.done)
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			if back, lost, err := n.db.RescueJobs(ctx, postgres.NoticeJobKind, noticeStale); err != nil && ctx.Err() == nil {
				n.log.Warn("rescue gap notices", "err", err)
			} else if back > 0 || len(lost) > 0 {
				n.log.Info("gap notices whose process stopped", "resumed", back, "given_up", len(lost))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends the rescue loop started by Start.
func (n *Notices) Stop() {
	n.once.Do(func() {
		if n.stop != nil {
			n.stop()
			<-n.done
		}
	})
}

type noticeWorker struct {
	river.WorkerDefaults[postgres.NoticeJob]
	n *Notices
}

func (w *noticeWorker) Timeout(*river.Job[postgres.NoticeJob]) time.Duration { return noticeTimeout }

// NextRetry: 30 s, then four times longer each attempt.
func (w *noticeWorker) NextRetry(job *river.Job[postgres.NoticeJob]) time.Time {
	d := 30 * time.Second
	for i := 1; i < job.Attempt; i++ {
		d *= 4
	}
	return time.Now().Add(d)
}

func (w *noticeWorker) Work(ctx context.Context, job *river.Job[postgres.NoticeJob]) error {
	n, a := w.n, job.Args
	log := n.log.With("tenant", a.Tenant, "conversation", a.Conversation, "job", job.ID)
	g, err := n.db.GapNotice(ctx, a.Tenant, a.Conversation, a.Gaps)
	if errors.Is(err, shifu.ErrNotFound) {
		log.Info("gap notice: nothing to say (the note was deleted)")
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if !g.Status.Done() && time.Since(job.CreatedAt) < noteWait {
		return river.JobSnooze(3 * time.Second) // not an attempt
	}
	team, channel, thread, ok := slack.Thread(g.External)
	if g.Channel != bot.Slack || !ok {
		log.Info("gap notice: the conversation has no Slack thread to post in", "channel", g.Channel)
		return river.JobCancel(fmt.Errorf("conversation %d: no Slack thread", a.Conversation))
	}
	in, err := n.installation(ctx, a.Tenant, team)
	if err != nil {
		if errors.Is(err, shifu.ErrNotFound) {
			log.Warn("gap notice: the Slack team is no longer installed", "team", team)
			return river.JobCancel(err)
		}
		return err
	}
	var users []string
	for _, u := range g.Askers {
		if id, ok := strings.CutPrefix(u, bot.Slack+":"+team+":"); ok {
			users = append(users, id)
		}
	}
	err = n.gw.Slack.Post(ctx, in, channel, thread, slack.Answered(g.Question, g.Title, users, n.public, g.NoteID))
	switch {
	case err == nil:
		log.Info("gap notice posted in the Slack thread", "note", g.NoteID)
		return nil
	case !slack.Retryable(err):
		log.Error("gap notice: Slack refused chat.postMessage; not retried", "err", err)
		return river.JobCancel(err)
	}
	log.Warn("gap notice: chat.postMessage failed; will retry", "attempt", job.Attempt, "err", err)
	return err
}

// installation is the tenant's Slack installation of team, secrets opened.
func (n *Notices) installation(ctx context.Context, tenant int64, team string) (bot.Installation, error) {
	bs, err := n.gw.Core.Installations(ctx, tenant)
	if err != nil {
		return bot.Installation{}, err
	}
	for _, b := range bs {
		if b.Platform == bot.Slack && b.ExternalID == team {
			return n.gw.Core.Open(ctx, b)
		}
	}
	return bot.Installation{}, shifu.Errorf(shifu.ErrNotFound, "no Slack installation of team %s", team)
}
