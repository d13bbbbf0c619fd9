-- Changing and sending mail: metadata an application attaches to a message, and sends
-- scheduled for later (kept as the exact bytes to submit, so a restart loses nothing).

ALTER TABLE messages ADD COLUMN metadata_json TEXT NOT NULL DEFAULT '{}';

CREATE TABLE scheduled_sends (
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    -- pending → sending → sent | failed; pending → cancelled.
    status TEXT NOT NULL,
    send_at BIGINT NOT NULL,
    -- The RFC 822 message, base64, and its SMTP envelope.
    raw_mime TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    recipients_json TEXT NOT NULL,
    -- The Message object shown while the send is pending.
    message_json TEXT NOT NULL,
    sent_message_id TEXT,
    error TEXT,
    close_time BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX scheduled_sends_due ON scheduled_sends (status, send_at);
CREATE INDEX scheduled_sends_by_grant ON scheduled_sends (grant_id, created_at);
