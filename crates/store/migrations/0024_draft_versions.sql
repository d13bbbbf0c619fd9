-- Nylas v2's draft `version` (README.md, "Nylas v2 applications"): how many times a
-- draft was saved through v2, so that a client saving, sending or deleting a draft
-- it read before another client's save is told so. A draft without a row is at 0.
CREATE TABLE draft_versions (
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    draft_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (grant_id, draft_id)
);
