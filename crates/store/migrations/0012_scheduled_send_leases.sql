-- A scheduled send being submitted is held by one sender: `claim_id` names the claim,
-- and `lease_until` (Unix seconds) is renewed while the submission runs. A send still
-- `sending` past its lease was cut off (its process stopped) and is failed, never
-- repeated. `message_bytes` counts towards the per-grant quota of pending sends.
ALTER TABLE scheduled_sends ADD COLUMN claim_id TEXT;
ALTER TABLE scheduled_sends ADD COLUMN lease_until BIGINT;
ALTER TABLE scheduled_sends ADD COLUMN message_bytes BIGINT NOT NULL DEFAULT 0;

UPDATE scheduled_sends SET message_bytes = LENGTH(raw_mime) * 3 / 4;

CREATE INDEX scheduled_sends_pending_by_grant ON scheduled_sends (grant_id, status);
