-- Pages read by OCR (scans, photos): their words with boxes, so a citation of
-- such a page is highlighted as on a page with a text layer, and their mean
-- confidence, so badly read pages are listed rather than silently indexed.
-- Keyed by the document and page the chunks cite; replaced with the chunks.
CREATE TABLE page_texts (
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    document_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    page        int NOT NULL CHECK (page > 0),
    confidence  real NOT NULL, -- mean word confidence, 0..100
    lang        text NOT NULL DEFAULT '',
    words       text[] NOT NULL,
    lines       int[] NOT NULL,  -- words of one line share a number
    boxes       real[] NOT NULL, -- x, y, w, h of each word in fractions of the page, origin top left
    PRIMARY KEY (document_id, page),
    CHECK (cardinality(lines) = cardinality(words) AND cardinality(boxes) = 4 * cardinality(words))
);
CREATE INDEX page_texts_confidence ON page_texts (tenant_id, confidence); -- the desk lists pages below a threshold
ALTER TABLE page_texts ENABLE ROW LEVEL SECURITY;
ALTER TABLE page_texts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON page_texts USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON page_texts TO shifu_app;
