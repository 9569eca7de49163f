-- An HNSW index over chunk embeddings (cosine), for tenants too large for an
-- exact scan (see vector.go: below ~50k chunks the btree on tenant_id plus an
-- exact sort is both faster and exact, and the query there is written so the
-- planner cannot pick this index). halfvec keeps the index a third of
-- vector(1024)'s size at the same recall. m 16 / ef_construction 64 are
-- pgvector's defaults: recall@10 ≥ 0.95 at ef_search 100-200 on clustered data.
--
-- pgvector 0.8.0 (what this machine builds) has a parallel HNSW build overflow
-- fixed in 0.8.4: build serially. Zero vectors have no cosine and are not
-- indexed; they are never nearest anyway. For a large existing table raise
-- maintenance_work_mem before migrating (the graph should fit in it, ~2.6 GB
-- per million 1024-dim chunks), or the build spills and slows badly.
SET LOCAL max_parallel_maintenance_workers = 0;
CREATE INDEX chunks_embedding_hnsw ON chunks
    USING hnsw (embedding halfvec_cosine_ops) WITH (m = 16, ef_construction = 64);
