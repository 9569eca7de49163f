package ingest

import (
	"context"
	"time"
)

// Priority lets answers go first: each job asks it for a pace and waits on
// that between units of its own CPU work (parsed pages, batches of chunks
// analysed, embedding batches), so an upload parsed while questions are
// answered takes a bounded share of the cores (admit.Limiter.Pacer; child
// processes such as pdftotext and tesseract are niced in parse). nil: full
// speed, as for a lone `shifu ingest`.
type Priority interface {
	Pacer(budget time.Duration) Pace
}

// Pace is one job's pacing.
type Pace interface {
	Wait(ctx context.Context) error
}

// termsPerPace is how many chunks are analysed between two waits.
const termsPerPace = 32

// noPace never waits.
type noPace struct{}

func (noPace) Wait(ctx context.Context) error { return ctx.Err() }

// pacer returns the pace of one job. The pauses together may use at most a
// fifth of the read deadline, so pacing alone never fails a document.
func (s *Service) pacer() Pace {
	if s.priority == nil {
		return noPace{}
	}
	return s.priority.Pacer(s.deadline / 5)
}
