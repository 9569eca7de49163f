-- A tenant's own jargon (老李说的"对刀" = tool touch-off): a word and what it
-- means in the manuals' terms, applied to questions at query time (search
-- adds the other side as a synonym or translation), so the shared index is
-- never re-segmented for one plant's words.
CREATE TABLE glossary (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    term       text NOT NULL CHECK (length(term) BETWEEN 1 AND 100),
    means      text NOT NULL CHECK (length(means) BETWEEN 1 AND 200),
    added_by   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, term, means)
);
ALTER TABLE glossary ENABLE ROW LEVEL SECURITY;
ALTER TABLE glossary FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON glossary USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON glossary TO shifu_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO shifu_app;
