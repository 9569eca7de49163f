-- Where each page after a chunk's first begins in its text (byte offsets into
-- the UTF-8 text; element i starts page page_start + i + 1), so a quote cites
-- the page its sentence is on. Chunks stored before this are empty and cite
-- their whole range until their document is ingested again.
ALTER TABLE chunks ADD COLUMN page_breaks int[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(page_breaks) IN (0, page_end - page_start));
