-- The HNSW graph again, built with ef_construction 256 instead of 128 (005).
-- 005's figures were for clustered data, where every chunk sits in one
-- topic; on mixed data, where a chunk also carries up to half of two other
-- topics as real passages do (BenchmarkVector1M, SHIFU_BENCH_1M_DATA=mixed,
-- 1,000,000 chunks), ef_construction 128 reached recall@10 0.836 against
-- exact search at ef_search 400 and 0.925 at the ceiling of 1,000.
-- At 256 the same data reached 0.909 at ef_search 400, 0.952 at 800 and 0.977
-- at 1,000 (p50 26 / p95 32 ms, the default now: vector.go's
-- LargeIndexEfSearch). The build took 34 min with two parallel workers on a
-- 2-core host shared with other jobs (128, serial: 31 min); the graph is
-- 2.6 GB, as at 128. A denser graph costs at build and insert time only:
-- `shifu bench ingest` of the 1,335-page LinuxCNC manual into a copy of the
-- eval corpus took 3.5-3.6 s in its embed stage (vectors written, graph
-- inserts) at 128 and 6.2-8.0 s at 256 (two runs each, nice 15 on a shared
-- host; the whole ingest, 31-46 s there, is mostly parse). Over the corpus
-- (4,080 chunks, ef_search 100) the index walk's recall@10 against exact went
-- 0.987 -> 0.989 at the same p50 4.1 ms.
--
-- Parallel when pgvector allows it safely: versions before 0.8.2 overflow a
-- buffer in the parallel build (CVE-2026-3172, pgvector issue 959), so there
-- it stays serial, as 002 and 005 built; from 0.8.2 the server's
-- max_parallel_maintenance_workers apply. Either way raise
-- maintenance_work_mem before migrating a large table (~2.6 GB per million
-- chunks) or the build spills to disk and slows badly. An index already built
-- with these parameters (the benchmark builds its own) is kept.
DO $$
BEGIN
    IF (SELECT reloptions @> '{m=16,ef_construction=256}' FROM pg_class
        WHERE oid = 'chunks_embedding_hnsw'::regclass) THEN
        RETURN;
    END IF;
    IF (SELECT string_to_array(extversion, '.')::int[] < '{0,8,2}' FROM pg_extension
        WHERE extname = 'vector') THEN
        PERFORM set_config('max_parallel_maintenance_workers', '0', true);
    END IF;
    DROP INDEX chunks_embedding_hnsw;
    CREATE INDEX chunks_embedding_hnsw ON chunks
        USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 256);
END $$;
