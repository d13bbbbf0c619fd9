-- Webhook destinations: where an application wants its notifications POSTed. The
-- signing secret is sealed with the server's secret key (it must be recoverable to sign
-- deliveries, so it cannot be hashed) and never stored in clear.

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    description TEXT,
    webhook_url TEXT NOT NULL,
    -- JSON array of trigger strings (e.g. ["message.created"]).
    trigger_types_json TEXT NOT NULL,
    notification_email_addresses_json TEXT NOT NULL DEFAULT '[]',
    -- active | pause | failing | failed
    status TEXT NOT NULL,
    status_updated_at BIGINT NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX webhooks_by_application ON webhooks (application_id, created_at);
