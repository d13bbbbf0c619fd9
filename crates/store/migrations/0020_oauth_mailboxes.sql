-- OAuth mailboxes (Google, Microsoft, Yahoo): the client secret of each connector,
-- the provider leg of a hosted sign-in, and the single-flight claim on a grant's token
-- refresh.

-- A connector's client secret, sealed (bound to `id`, '<application id>/<provider>').
CREATE TABLE connector_secrets (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    FOREIGN KEY (application_id, provider)
        REFERENCES connectors (application_id, provider) ON DELETE CASCADE
);

-- The provider a flow signs in with ('imap': mailroom's own page), and the hash of the
-- `state` mailroom sent to the provider, by which the provider's answer finds its flow.
ALTER TABLE auth_flows ADD COLUMN provider TEXT NOT NULL DEFAULT 'imap';
ALTER TABLE auth_flows ADD COLUMN provider_state_hash TEXT;
CREATE UNIQUE INDEX auth_flows_provider_state ON auth_flows (provider_state_hash);

-- Until when (Unix milliseconds) one caller refreshes the grant's access token; the
-- others wait for its result instead of asking the provider again.
ALTER TABLE grants ADD COLUMN token_refresh_until BIGINT NOT NULL DEFAULT 0;

-- The redirect URI mailroom gave the provider for this flow: the code exchange must
-- name the same one.
ALTER TABLE auth_flows ADD COLUMN provider_redirect_uri TEXT;
