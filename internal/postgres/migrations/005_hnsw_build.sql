-- The HNSW graph again, built with ef_construction 128 instead of pgvector's
-- default 64. Measured on 1,000,000 clustered 1024-dim chunks
-- (BenchmarkVector1M): at 64, recall@10 against exact search stayed at 0.93
-- with ef_search at its ceiling of 1,000 (p95 61 ms); at 128 it is 0.971 at
-- ef_search 400 (p95 19 ms), the searches' default; at 200, 0.989 at 200. A
-- denser graph costs at build and insert time only: ingesting the 1,335-page
-- LinuxCNC manual took 12.1 s at 64, 13.1 s at 128 and 13.8-14.1 s at 200
-- (pdftotext: 2.3 s; the ingest target is six times that).
--
-- Serial, as 002_hnsw.sql explains. On a large existing table raise
-- maintenance_work_mem before migrating: ~2.6 GB per million chunks, or the
-- build spills to disk and slows badly.
SET LOCAL max_parallel_maintenance_workers = 0;
DROP INDEX chunks_embedding_hnsw;
CREATE INDEX chunks_embedding_hnsw ON chunks
    USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 128);
