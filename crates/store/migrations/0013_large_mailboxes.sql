-- Large mailboxes (100k–1M messages): every list is one indexed range scan.
--
-- Threads become rows of their own, kept by the writers of messages and locations
-- (`thread_summaries.rs`): a thread counts only its messages that are still somewhere on
-- the server. Address filters read an index of participants instead of matching text;
-- folder counts are kept instead of counted per request; a location carries its
-- message's date so that a folder's messages are listed newest first from an index.

CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    -- The latest and earliest INTERNALDATE, and the latest Date: header.
    latest_date BIGINT NOT NULL,
    earliest_date BIGINT NOT NULL,
    latest_sent_date BIGINT,
    message_count BIGINT NOT NULL,
    unread_count BIGINT NOT NULL,
    starred_count BIGINT NOT NULL,
    attachment_count BIGINT NOT NULL,
    draft_count BIGINT NOT NULL
);

CREATE INDEX threads_by_latest ON threads (grant_id, latest_date, id);
CREATE INDEX threads_unread ON threads (grant_id, latest_date, id) WHERE unread_count > 0;
CREATE INDEX threads_starred ON threads (grant_id, latest_date, id) WHERE starred_count > 0;

-- The folders a thread has messages in, dated by the whole thread's latest message: a
-- folder's threads newest first.
CREATE TABLE thread_folders (
    folder_id TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    latest_date BIGINT NOT NULL,
    PRIMARY KEY (folder_id, latest_date, thread_id)
);

CREATE INDEX thread_folders_by_thread ON thread_folders (thread_id);

-- One row per address of a message (lower case), with the roles it has there
-- (1 from, 2 to, 4 cc, 8 bcc) and the message's date. The key holds every column, so that
-- an address's messages are read newest first, roles checked, from the index alone.
CREATE TABLE message_addresses (
    grant_id TEXT NOT NULL,
    email TEXT NOT NULL,
    date BIGINT NOT NULL,
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    roles INTEGER NOT NULL,
    PRIMARY KEY (grant_id, email, date, message_id, roles)
);

CREATE INDEX message_addresses_by_message ON message_addresses (message_id);

ALTER TABLE message_locations ADD COLUMN date BIGINT NOT NULL DEFAULT 0;
UPDATE message_locations SET date = COALESCE(
    (SELECT m.date FROM messages m WHERE m.id = message_locations.message_id), 0);
CREATE INDEX message_locations_by_folder_date ON message_locations (folder_id, date, message_id);
-- "Is this message in that folder?" answered by one index entry: with the message alone
-- in the key, SQLite would rather scan the folder's date index for it.
DROP INDEX message_locations_by_message;
CREATE INDEX message_locations_by_message ON message_locations (message_id, folder_id);

-- Messages by flag, newest first; partial, so each holds only the few flagged rows.
CREATE INDEX messages_unread ON messages (grant_id, date, id) WHERE unread = 1;
CREATE INDEX messages_starred ON messages (grant_id, date, id) WHERE starred = 1;
CREATE INDEX messages_with_attachments ON messages (grant_id, date, id) WHERE has_attachments = 1;

-- Counts as STATUS reports them: one per location (UID).
ALTER TABLE folders ADD COLUMN total_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN unread_count BIGINT NOT NULL DEFAULT 0;
UPDATE folders SET
    total_count = (SELECT COUNT(*) FROM message_locations l WHERE l.folder_id = folders.id),
    unread_count = (SELECT COUNT(*) FROM message_locations l JOIN messages m ON m.id = l.message_id
                    WHERE l.folder_id = folders.id AND m.unread = 1);

INSERT INTO threads (id, grant_id, latest_date, earliest_date, latest_sent_date, message_count,
                     unread_count, starred_count, attachment_count, draft_count)
SELECT m.thread_id, MIN(m.grant_id), MAX(m.date), MIN(m.date), MAX(m.sent_date), COUNT(*),
       SUM(m.unread), SUM(m.starred), SUM(m.has_attachments), SUM(m.draft)
FROM messages m
WHERE EXISTS (SELECT 1 FROM message_locations l WHERE l.message_id = m.id)
GROUP BY m.thread_id;

INSERT INTO thread_folders (folder_id, thread_id, latest_date)
SELECT DISTINCT l.folder_id, t.id, t.latest_date
FROM message_locations l JOIN messages m ON m.id = l.message_id JOIN threads t ON t.id = m.thread_id;

-- Work the migration leaves to Rust (`backfills.rs`), done once after it.
CREATE TABLE pending_backfills (name TEXT PRIMARY KEY);
INSERT INTO pending_backfills (name) VALUES ('message_addresses');
