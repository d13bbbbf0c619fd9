-- The change log a grant's delta feed reads (Nylas v2's `/delta`; README.md, "Nylas v2
-- applications"): one row per object created, changed or deleted, written in the
-- transaction of the change with the webhook outbox's notifications.
--
-- Rows are ordered by (txid, seq). On PostgreSQL `txid` is the writing transaction's id
-- and `seq` counts within it: a reader takes only rows of transactions older than every
-- transaction still running (its snapshot's xmin), so a row can never appear behind a
-- cursor already handed out. SQLite serializes writers: `txid` is 0 and `seq` grows
-- per grant.
CREATE TABLE grant_changes (
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    txid BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    -- message | thread | folder | contact | event
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    -- create | modify | delete
    change TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (grant_id, txid, seq)
);

CREATE INDEX grant_changes_by_age ON grant_changes (created_at);
