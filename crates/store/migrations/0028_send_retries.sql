-- A scheduled send refused for now (a 4xx reply, a connection lost before the message
-- was handed over) is tried again later rather than failed: `attempts` counts the tries
-- begun, `due_at` is when the next is due (its `send_at` until a retry moves it), and
-- `last_error` says why the last try failed.
ALTER TABLE scheduled_sends ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scheduled_sends ADD COLUMN due_at BIGINT;
ALTER TABLE scheduled_sends ADD COLUMN last_error TEXT;

UPDATE scheduled_sends SET due_at = send_at;

DROP INDEX scheduled_sends_due;
CREATE INDEX scheduled_sends_due ON scheduled_sends (status, due_at);
