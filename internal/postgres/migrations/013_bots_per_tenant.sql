-- A Slack team or DingTalk app may be installed by more than one tenant (a
-- test and a production tenant, or a tenant typing another's id): unique per
-- tenant, not across tenants, so an admin adding one learns nothing about
-- other tenants' installations. A delivery is then matched to the
-- installation whose secret verifies its signature (internal/bot).
ALTER TABLE bots DROP CONSTRAINT bots_platform_external_id_key;
ALTER TABLE bots ADD CONSTRAINT bots_tenant_platform_external_id_key UNIQUE (tenant_id, platform, external_id);
CREATE INDEX bots_platform_external_id ON bots (platform, external_id);

-- auth_bot returns every installation of the team or app, oldest first, at
-- most 16 (the signature is checked with each one's secret).
CREATE OR REPLACE FUNCTION auth_bot(p_platform text, p_external_id text)
RETURNS TABLE (tenant_id bigint, bot_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
AS $$
    SELECT b.tenant_id, b.id FROM public.bots b WHERE b.platform = p_platform AND b.external_id = p_external_id
    ORDER BY b.id LIMIT 16
$$;

-- DingTalk's signature covers only its timestamp, so a captured one would
-- sign any body for an hour. Each signature is bound to the first message it
-- came with: bot_events keeps "sign:<timestamp>" with that msgId in bound.
ALTER TABLE bot_events ADD COLUMN bound text NOT NULL DEFAULT '';
