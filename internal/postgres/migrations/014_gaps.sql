-- Gaps that close the loop: a supervisor dismisses a gap (who and when, so
-- it can be undone), merges similar questions into one gap (merge_key: the
-- group a gap was merged into, else its own normalised question), and the
-- worker who asked is told once a note answers it (seen_at: when they saw
-- the notice).
ALTER TABLE gaps
    ADD COLUMN dismissed_at timestamptz,
    ADD COLUMN dismissed_by bigint REFERENCES users ON DELETE SET NULL,
    ADD COLUMN merge_key    text,
    ADD COLUMN seen_at      timestamptz;

-- The asker's "your questions that now have answers": few rows per user.
CREATE INDEX gaps_answered ON gaps (tenant_id, user_id) WHERE note_id IS NOT NULL AND seen_at IS NULL;
