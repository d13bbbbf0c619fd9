-- The operator dashboard's credentials (README.md, "Operator dashboard"): admin tokens
-- made with `mailroom admin-token create`, kept as hashes, and the browser sessions a
-- token opens (also hashed), which end after a while or with their token.
CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL REFERENCES admin_tokens(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
