package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/shifu-factory/shifu"
)

// Reindex rebuilds, from their stored chunk text, the postings of the
// tenant's ready documents that another version of the analyzer indexed (see
// terms.Analyzer.Version): after an upgrade that changes how text is cut,
// questions are cut the new way, and old postings would silently stop
// matching. Nothing is parsed or embedded again, and each document changes
// in one transaction, so search goes on meanwhile. A document re-ingested
// while this runs is skipped: its new postings are current. It returns how
// many documents it rebuilt.
func (s *Service) Reindex(ctx context.Context, tenant int64) (int, error) {
	version := s.analyzer.Version()
	ids, err := s.db.Stale(ctx, tenant, version)
	if err != nil {
		return 0, err
	}
	done, chunks := 0, 0
	for _, id := range ids {
		cs, err := s.db.ChunkTexts(ctx, tenant, id)
		if err != nil {
			return done, err
		}
		rows := make([]shifu.IndexedChunk, len(cs))
		for i, c := range cs {
			rows[i] = shifu.IndexedChunk{Chunk: c, Terms: s.analyzer.Terms(c.Text)}
		}
		err = s.db.Reterm(ctx, tenant, id, version, rows)
		if errors.Is(err, shifu.ErrConflict) {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("reindex tenant %d: %w", tenant, err)
		}
		done++
		chunks += len(rows)
	}
	s.refreshStats(ctx, chunks)
	return done, nil
}
