-- Originals sealed in segments (keyring.SegmentSize of plain text each,
-- keyring.Writer), so an upload, a download or a worker's read holds a
-- segment at a time rather than the whole file. Each segment's index, a
-- last flag, the tenant and the version are authenticated, so rows cannot
-- be reordered, dropped, added or moved. Originals stored whole before this
-- migration stay in `originals` and are still read from there (they cannot
-- be re-sealed here: SQL never holds a key); new uploads write only here.
CREATE TABLE original_segments (
    document_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    seq         int NOT NULL CHECK (seq >= 0),
    sealed      bytea NOT NULL, -- nonce || ciphertext || tag
    PRIMARY KEY (document_id, seq)
);
-- Ciphertext does not compress: store it out of line without trying.
ALTER TABLE original_segments ALTER COLUMN sealed SET STORAGE EXTERNAL;
ALTER TABLE original_segments OWNER TO shifu_owner;
ALTER TABLE original_segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE original_segments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON original_segments USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant());
-- Segments are written once, with their version, and never changed.
GRANT SELECT, INSERT, DELETE ON original_segments TO shifu_app;
