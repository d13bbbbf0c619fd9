-- Open and link tracking of sent messages (docs/API.md §5.2, `tracking_options`). A
-- tracked message is found by the hash of the random token in its image and link URLs
-- (the token itself is only in the message); `message_id_header` ties it to the sent
-- copy once that is indexed, `message_id` when the send already knew it. Counts are
-- kept on the rows; `tracking_hits` holds the hits announced, for the `recents` of the
-- notifications and to drop a repeat from the same client within a minute.
CREATE TABLE tracked_messages (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    message_id_header TEXT NOT NULL,
    message_id TEXT,
    label TEXT,
    opens BIGINT NOT NULL,
    links BIGINT NOT NULL,
    open_count BIGINT NOT NULL DEFAULT 0,
    click_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE INDEX tracked_messages_by_header ON tracked_messages (grant_id, message_id_header);

CREATE TABLE tracked_links (
    token_hash TEXT NOT NULL REFERENCES tracked_messages(token_hash) ON DELETE CASCADE,
    link_index BIGINT NOT NULL,
    url TEXT NOT NULL,
    click_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (token_hash, link_index)
);

-- `seq` is the notification's `opened_id` or `click_id`; `client_key` the hash of the
-- anonymised address and user agent that tells one recipient's client from another.
CREATE TABLE tracking_hits (
    token_hash TEXT NOT NULL REFERENCES tracked_messages(token_hash) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    seq BIGINT NOT NULL,
    link_index BIGINT NOT NULL,
    client_key TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (token_hash, kind, seq)
);

CREATE INDEX tracking_hits_recent ON tracking_hits (token_hash, at);
-- Hits are kept 90 days (crates/store/src/message_tracking.rs); the purge goes by age.
CREATE INDEX tracking_hits_by_age ON tracking_hits (at);

-- A draft's `tracking_options` (opens or links), by the Message-ID it keeps across
-- updates: applied to its HTML when it is sent, as it was saved.
CREATE TABLE draft_tracking (
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    message_id_header TEXT NOT NULL,
    opens BIGINT NOT NULL,
    links BIGINT NOT NULL,
    label TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (grant_id, message_id_header)
);
