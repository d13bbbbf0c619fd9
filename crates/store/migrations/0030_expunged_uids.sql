-- UIDs taken out of a folder's index because they left the server (mailroom expunged or
-- moved them, or sync saw them vanish), kept a while, so that a sync pass that listed the
-- folder before they left cannot put them back when it writes later. UIDs are never
-- reused under one UIDVALIDITY (RFC 3501 §2.3.1.1), hence the key.
CREATE TABLE expunged_uids (
    folder_id TEXT NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid_validity BIGINT NOT NULL,
    uid BIGINT NOT NULL,
    expunged_at BIGINT NOT NULL,
    PRIMARY KEY (folder_id, uid_validity, uid)
);

CREATE INDEX expunged_uids_by_age ON expunged_uids (expunged_at);
