-- Thread lists filtered by an address (issue: large mailboxes). One row per address of a
-- thread's located messages, with the roles it has in any of them (1 from, 2 to, 4 cc,
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

-- Filled from the participants index in Rust (`backfills.rs`), after that index's own
-- backfill when a database comes from before it.
INSERT INTO pending_backfills (name) VALUES ('thread_addresses');
