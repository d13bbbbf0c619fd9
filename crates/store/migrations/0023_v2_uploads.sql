-- Files uploaded through Nylas v2's `POST /files`, kept for a draft or a send of the same
-- account to attach by id (`file_ids`), and pruned a day after their upload.
CREATE TABLE v2_uploads (
    id TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- The bytes, base64: TEXT is the type for them both engines accept.
    content TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX v2_uploads_by_grant ON v2_uploads (grant_id, created_at);
CREATE INDEX v2_uploads_by_age ON v2_uploads (created_at);
