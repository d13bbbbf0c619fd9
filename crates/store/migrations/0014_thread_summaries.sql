-- Thread lists filtered by an address, and pages of threads, at a million messages.
--
-- One row per address of a thread's located messages, with the roles it has in any of them (1 from, 2 to, 4 cc,
-- 8 bcc), dated by the whole thread's latest message as `thread_folders` is: an
-- address's threads are read newest first from an index, as a folder's are. Kept by the
-- writers of threads (`thread_summaries.rs`).
CREATE TABLE thread_addresses (
    thread_id TEXT NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    latest_date BIGINT NOT NULL,
    roles INTEGER NOT NULL,
    PRIMARY KEY (thread_id, email)
);

-- Every column in the key: a page is read, roles checked, from the index alone.
CREATE INDEX thread_addresses_by_email
    ON thread_addresses (grant_id, email, latest_date, thread_id, roles);

-- What a page of threads shows of all of a thread's messages: its participants, kept on
-- its row (`thread_participants.rs`; NULL until computed), and its messages' ids, dates
-- and draft flags, read from the thread index alone.
ALTER TABLE threads ADD COLUMN participants_json TEXT;
DROP INDEX messages_by_thread;
CREATE INDEX messages_by_thread ON messages (grant_id, thread_id, date, id, draft);

-- Both filled in Rust (`backfills.rs`), after the participants index's own backfill when
-- a database comes from before it.
INSERT INTO pending_backfills (name) VALUES ('thread_summaries');
