-- The SECURITY DEFINER functions ran as the migrating role (a superuser in
-- `make run`, docker-compose and the tests) with search_path = public. With
-- pg_temp not listed, PostgreSQL searches the caller's temporary schema
-- first, so shifu_app could shadow api_tokens with a temporary view calling a
-- temporary function and have auth_token run it as superuser (ALTER ROLE me
-- SUPERUSER). Now every definer function names pg_temp last and belongs to
-- shifu_owner: NOLOGIN, not superuser, not BYPASSRLS. shifu_owner owns the
-- tables Shifu's migrations made, because ANALYZE (refresh_stats) needs the
-- owner in PostgreSQL 15; row-level security stays forced on it, so the auth
-- functions see the rows they look up through SELECT-only policies of their
-- own. `shifu migrate` (migrate.go) also revokes TEMP on the database from
-- PUBLIC on every run: database privileges are not copied from a template.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shifu_owner') THEN
        CREATE ROLE shifu_owner NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT pg_has_role(current_user, 'shifu_owner', 'MEMBER') THEN
        EXECUTE format('GRANT shifu_owner TO %I', current_user);
    END IF;
END $$;
GRANT USAGE, CREATE ON SCHEMA public TO shifu_owner;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tenants', 'users', 'api_tokens', 'sessions', 'documents', 'originals',
        'chunks', 'chunk_terms', 'conversations', 'messages', 'feedback', 'gaps', 'audit',
        'bots', 'bot_events']
    LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO shifu_owner', t);
    END LOOP;
END $$;

CREATE POLICY auth_lookup ON users FOR SELECT TO shifu_owner USING (true);
CREATE POLICY auth_lookup ON api_tokens FOR SELECT TO shifu_owner USING (true);
CREATE POLICY auth_lookup ON sessions FOR SELECT TO shifu_owner USING (true);
CREATE POLICY auth_lookup ON bots FOR SELECT TO shifu_owner USING (true);

CREATE OR REPLACE FUNCTION auth_token(hash bytea)
RETURNS TABLE (tenant_id bigint, user_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT t.tenant_id, t.user_id FROM public.api_tokens t JOIN public.users u ON u.id = t.user_id
    WHERE t.token_hash = hash AND t.revoked_at IS NULL AND u.disabled_at IS NULL
$$;

CREATE OR REPLACE FUNCTION auth_session(hash bytea)
RETURNS TABLE (tenant_id bigint, user_id bigint, session_id bigint, csrf text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT s.tenant_id, s.user_id, s.id, s.csrf FROM public.sessions s JOIN public.users u ON u.id = s.user_id
    WHERE s.token_hash = hash AND s.expires_at > now() AND u.disabled_at IS NULL
$$;

CREATE OR REPLACE FUNCTION auth_bot(p_platform text, p_external_id text)
RETURNS TABLE (tenant_id bigint, bot_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT b.tenant_id, b.id FROM public.bots b WHERE b.platform = p_platform AND b.external_id = p_external_id
$$;

CREATE OR REPLACE FUNCTION refresh_stats() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    ANALYZE public.documents;
    ANALYZE public.chunks;
    ANALYZE public.chunk_terms;
END $$;

ALTER FUNCTION auth_token(bytea) OWNER TO shifu_owner;
ALTER FUNCTION auth_session(bytea) OWNER TO shifu_owner;
ALTER FUNCTION auth_bot(text, text) OWNER TO shifu_owner;
ALTER FUNCTION refresh_stats() OWNER TO shifu_owner;
REVOKE ALL ON FUNCTION auth_token(bytea), auth_session(bytea), auth_bot(text, text), refresh_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_token(bytea), auth_session(bytea), auth_bot(text, text), refresh_stats() TO shifu_app;
