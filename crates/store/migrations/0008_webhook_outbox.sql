-- The webhook outbox. A notification is written in the same transaction as the change
-- it reports, with one delivery row for every webhook subscribed to its trigger at that
-- moment; the delivery worker works through the due rows, so a crash between the change
-- and its delivery loses nothing.

CREATE TABLE webhook_notifications (
    -- What receivers deduplicate on: the same across retries of one notification.
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    grant_id TEXT,
    trigger_type TEXT NOT NULL,
    object_id TEXT,
    -- The object as it was, for what cannot be read back later (deletions); NULL when
    -- the delivery reads the object as it is then.
    object_json TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    notification_id TEXT NOT NULL REFERENCES webhook_notifications(id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    -- pending | delivered | abandoned
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    delivered_at BIGINT,
    PRIMARY KEY (notification_id, webhook_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
