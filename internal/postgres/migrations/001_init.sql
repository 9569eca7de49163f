-- Shifu's schema. Every table that holds a tenant's data has tenant_id, ENABLE and
-- FORCE ROW LEVEL SECURITY, and one policy with USING and WITH CHECK on
-- app_tenant(), which reads the per-transaction setting app.tenant_id. Shifu
-- serves as the role shifu_app (not owner, not superuser, not BYPASSRLS), so a
-- transaction that did not set the tenant sees no rows at all.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE FUNCTION app_tenant() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::bigint $$;

CREATE TABLE tenants (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    wrapped_key bytea NOT NULL, -- the tenant's data key, sealed by the master key
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    login         text NOT NULL CHECK (length(login) BETWEEN 1 AND 128),
    name          text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('worker', 'supervisor', 'admin')),
    password_hash text NOT NULL DEFAULT '',
    external      text NOT NULL DEFAULT '', -- bot identity, e.g. slack:T123:U456
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    UNIQUE (tenant_id, login)
);

CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    name         text NOT NULL DEFAULT '',
    token_hash   bytea NOT NULL UNIQUE, -- SHA-256 of the bearer token; the token itself is shown once
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE sessions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE TABLE documents (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    name        text NOT NULL,
    title       text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('manual', 'note')),
    sha256      text NOT NULL,
    size        bigint NOT NULL,
    mime        text NOT NULL DEFAULT '',
    version     int NOT NULL DEFAULT 1,
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'parsing', 'embedding', 'ready', 'failed')),
    error       text NOT NULL DEFAULT '',
    progress    jsonb NOT NULL DEFAULT '{}',
    pages       int NOT NULL DEFAULT 0,
    chunks      int NOT NULL DEFAULT 0,
    language    text NOT NULL DEFAULT '',
    revision    text NOT NULL DEFAULT '',
    uploaded_by bigint REFERENCES users ON DELETE SET NULL,
    uploader    text NOT NULL DEFAULT '', -- name kept when the user is gone; notes: the author
    equipment   text NOT NULL DEFAULT '',
    -- replaces: the live document this revision will replace once it is ready.
    replaces    bigint REFERENCES documents ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, sha256)
);
CREATE INDEX documents_tenant_name ON documents (tenant_id, name);

-- originals hold the uploaded bytes, sealed with AES-256-GCM under the tenant's data key.
CREATE TABLE originals (
    document_id bigint PRIMARY KEY REFERENCES documents ON DELETE CASCADE,
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    sealed      bytea NOT NULL -- nonce || ciphertext
);

CREATE TABLE chunks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    document_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    ord         int NOT NULL,
    text        text NOT NULL,
    heading     text NOT NULL DEFAULT '',
    page_start  int NOT NULL DEFAULT 0,
    page_end    int NOT NULL DEFAULT 0,
    anchor      text NOT NULL DEFAULT '',
    language    text NOT NULL DEFAULT '',
    tokens      int NOT NULL DEFAULT 0,
    nterms      int NOT NULL DEFAULT 0, -- BM25 document length
    tsv         tsvector NOT NULL DEFAULT ''::tsvector, -- analysed terms (stemmed English, gse-segmented Chinese)
    embedding   halfvec(1024), -- shorter models are zero-padded: cosine is unchanged
    embed_model text NOT NULL DEFAULT '',
    UNIQUE (document_id, ord)
);
CREATE INDEX chunks_tenant ON chunks (tenant_id, document_id);
CREATE INDEX chunks_tsv ON chunks USING gin (tsv);

-- chunk_terms is the postings list BM25 is computed from, in SQL. It has no
-- foreign keys on purpose: a 1,000-page manual writes ~180k postings, and
-- per-row FK triggers doubled the time to store them. Postings follow their
-- chunks through the statement-level trigger below (which also runs for
-- cascaded deletes of documents and tenants). (term, chunk_id) is unique by
-- construction: ingest counts each term once per chunk.
CREATE TABLE chunk_terms (
    tenant_id bigint NOT NULL DEFAULT app_tenant(),
    term      text NOT NULL,
    chunk_id  bigint NOT NULL,
    tf        int NOT NULL
);
CREATE INDEX chunk_terms_term ON chunk_terms (tenant_id, term) INCLUDE (chunk_id, tf);
CREATE INDEX chunk_terms_chunk ON chunk_terms (chunk_id);

CREATE FUNCTION chunks_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM chunk_terms t USING gone g WHERE t.chunk_id = g.id;
    RETURN NULL;
END $$;
CREATE TRIGGER chunks_deleted AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION chunks_deleted();

CREATE TABLE conversations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    user_id    bigint REFERENCES users ON DELETE SET NULL,
    channel    text NOT NULL DEFAULT 'web' CHECK (channel IN ('web', 'api', 'cli', 'slack', 'dingtalk')),
    external   text NOT NULL DEFAULT '', -- e.g. the Slack thread
    title      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user ON conversations (tenant_id, user_id, updated_at DESC);

CREATE TABLE messages (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    conversation_id   bigint NOT NULL REFERENCES conversations ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('user', 'assistant')),
    content           text NOT NULL,
    citations         jsonb NOT NULL DEFAULT '[]',
    abstained         boolean NOT NULL DEFAULT false,
    degraded          boolean NOT NULL DEFAULT false,
    model             text NOT NULL DEFAULT '',
    prompt_version    text NOT NULL DEFAULT '',
    prompt_tokens     int NOT NULL DEFAULT 0,
    completion_tokens int NOT NULL DEFAULT 0,
    latency_ms        int NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE feedback (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
    user_id    bigint REFERENCES users ON DELETE SET NULL,
    rating     smallint NOT NULL CHECK (rating IN (-1, 1)),
    comment    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, user_id)
);

-- gaps are questions the manuals did not answer (abstained) or answered badly
-- (rated down): the supervisor's to-do list.
CREATE TABLE gaps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    question    text NOT NULL,
    reason      text NOT NULL CHECK (reason IN ('abstained', 'downvoted')),
    message_id  bigint REFERENCES messages ON DELETE SET NULL,
    user_id     bigint REFERENCES users ON DELETE SET NULL,
    note_id     bigint REFERENCES documents ON DELETE SET NULL, -- the note that closed it
    created_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
CREATE INDEX gaps_open ON gaps (tenant_id, created_at DESC) WHERE resolved_at IS NULL;

CREATE TABLE audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    user_id    bigint REFERENCES users ON DELETE SET NULL,
    action     text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- bots are Slack and DingTalk installations; each belongs to one tenant. Secrets
-- are sealed under the tenant's data key.
CREATE TABLE bots (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    platform    text NOT NULL CHECK (platform IN ('slack', 'dingtalk')),
    external_id text NOT NULL, -- Slack team id, DingTalk app key
    secret      bytea NOT NULL, -- sealed signing secret / app secret
    token       bytea NOT NULL DEFAULT '', -- sealed bot token (Slack)
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, external_id)
);

-- bot_events remembers deliveries already answered, so retries are answered once.
CREATE TABLE bot_events (
    tenant_id  bigint NOT NULL DEFAULT app_tenant() REFERENCES tenants ON DELETE CASCADE,
    platform   text NOT NULL,
    event_id   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, platform, event_id)
);

-- Row-level security on every tenant table.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'api_tokens', 'sessions', 'documents', 'originals',
        'chunks', 'chunk_terms', 'conversations', 'messages', 'feedback', 'gaps', 'audit',
        'bots', 'bot_events']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = app_tenant()) WITH CHECK (tenant_id = app_tenant())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO shifu_app', t);
    END LOOP;
END $$;
GRANT SELECT ON tenants TO shifu_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO shifu_app;

-- Authentication has to find a tenant before it knows which tenant it is in. These
-- SECURITY DEFINER functions are the only doors, each returning one row for one
-- exact secret (hash) or name, never a list.
CREATE FUNCTION auth_token(hash bytea)
RETURNS TABLE (tenant_id bigint, user_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT t.tenant_id, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = hash AND t.revoked_at IS NULL AND u.disabled_at IS NULL
$$;

CREATE FUNCTION auth_session(hash bytea)
RETURNS TABLE (tenant_id bigint, user_id bigint, session_id bigint, csrf text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT s.tenant_id, s.user_id, s.id, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = hash AND s.expires_at > now() AND u.disabled_at IS NULL
$$;

CREATE FUNCTION auth_bot(p_platform text, p_external_id text)
RETURNS TABLE (tenant_id bigint, bot_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
AS $$
    SELECT b.tenant_id, b.id FROM bots b WHERE b.platform = p_platform AND b.external_id = p_external_id
$$;

REVOKE ALL ON FUNCTION auth_token(bytea), auth_session(bytea), auth_bot(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_token(bytea), auth_session(bytea), auth_bot(text, text) TO shifu_app;
