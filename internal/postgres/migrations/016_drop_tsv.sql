-- chunks.tsv and its GIN index were written on every ingest and read by no
-- query: BM25 reads the postings (chunk_terms, 004), so the column only cost
-- write time and space.
DROP INDEX IF EXISTS chunks_tsv;
ALTER TABLE chunks DROP COLUMN IF EXISTS tsv;
