-- Messages left without any location (expunged, moved away by another client whose
-- destination the sync has not read yet, or dropped with their folder's UIDVALIDITY). A
-- candidate is settled only after a full sync pass that began after it was noticed:
-- still nowhere, it is announced `message.deleted`; found again in another folder, it was
-- moved (`message.updated`); found again in the folder it left (a UIDVALIDITY reset), it
-- is just forgotten. No foreign key to `messages`, so a message row going away never
-- loses the announcement.
CREATE TABLE deletion_candidates (
    message_id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    -- Unix milliseconds.
    noticed_at BIGINT NOT NULL,
    -- The folder it was last seen in.
    folder_id TEXT
);

CREATE INDEX deletion_candidates_by_grant ON deletion_candidates (grant_id, noticed_at);

-- 1 for a message announced `message.created` (mail that arrived after its folder was
-- first read, or that mailroom filed): what is learnt later from its body (an
-- invitation's event) is news too. Historic mail stays quiet.
ALTER TABLE messages ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
