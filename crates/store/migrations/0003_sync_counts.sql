-- Sync progress read in O(1): the counts live on sync_status, kept by the writers and
-- recounted exactly at the end of every sync pass from these covering indexes.
ALTER TABLE sync_status ADD COLUMN messages_synced BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_status ADD COLUMN bodies_synced BIGINT NOT NULL DEFAULT 0;

-- Also walks the messages still missing a body newest first, for the body reader.
CREATE INDEX messages_by_body_state ON messages (grant_id, body_fetched, date DESC, id DESC);
CREATE INDEX message_locations_by_grant ON message_locations (grant_id, message_id);
