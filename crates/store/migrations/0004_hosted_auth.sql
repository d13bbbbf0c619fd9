-- Hosted authentication: sign-in flows in progress, and the codes and tokens they yield.
-- Secrets (CSRF tokens, codes, access and refresh tokens) are stored only as SHA-256 hashes.

CREATE TABLE auth_flows (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    csrf_hash TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT,
    scope TEXT NOT NULL,
    access_type TEXT NOT NULL,
    login_hint TEXT,
    smtp_required INTEGER NOT NULL,
    code_challenge TEXT,
    code_challenge_method TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    finished_at BIGINT
);

CREATE TABLE oauth_tokens (
    token_hash TEXT PRIMARY KEY,
    -- code | access | refresh
    kind TEXT NOT NULL,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    redirect_uri TEXT,
    code_challenge TEXT,
    code_challenge_method TEXT,
    access_type TEXT NOT NULL,
    scope TEXT NOT NULL,
    -- The code or refresh token this one was issued from: revoking a token revokes its children.
    parent_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX oauth_tokens_by_parent ON oauth_tokens (parent_hash);
CREATE INDEX oauth_tokens_by_grant ON oauth_tokens (grant_id);
