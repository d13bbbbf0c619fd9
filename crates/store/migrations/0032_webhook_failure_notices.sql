-- Emails to a webhook's `notification_email_addresses` when it is marked failed
-- (docs/API.md §6.3): one row per address and transition, written in the transaction
-- that marks the webhook failed, and sent by the failure-notice worker. A notice is
-- claimed with a lease (its `next_attempt_at` moved ahead), as webhook deliveries are.
CREATE TABLE webhook_failure_notices (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    recipient TEXT NOT NULL,
    -- The webhook as it failed: where it pointed and its last delivery's error (clipped).
    webhook_url TEXT NOT NULL,
    failure TEXT NOT NULL,
    failed_at BIGINT NOT NULL,
    -- pending | sent | abandoned
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    sent_at BIGINT
);

CREATE INDEX webhook_failure_notices_due ON webhook_failure_notices (state, next_attempt_at);
-- A webhook's notices, read by webhook and dropped with it.
CREATE INDEX webhook_failure_notices_by_webhook ON webhook_failure_notices (webhook_id);
