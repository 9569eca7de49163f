-- chunk_terms, a row per posting, was what BM25 read until 018 packed each
-- term's postings of a document into one posting_lists row; since then it
-- was written on every ingest and re-index (171k rows and a covering index
-- for the 1,335-page manual) and read by nothing. posting_lists holds the
-- same postings (018 built it from this table).
CREATE OR REPLACE FUNCTION chunks_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM posting_lists p WHERE p.document_id IN (SELECT DISTINCT document_id FROM gone);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION refresh_stats() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    ANALYZE public.documents;
    ANALYZE public.chunks;
    ANALYZE public.posting_lists;
END $$;

DROP TABLE chunk_terms;
