-- Applications, their keys and redirect URIs, connectors and grants.
-- Integers only (no BOOLEAN): the store reads both engines through sqlx's Any driver.

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    client_secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE callback_uris (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    platform TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (application_id, url)
);

CREATE TABLE connectors (
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    name TEXT,
    settings TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (application_id, provider)
);

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT,
    grant_status TEXT NOT NULL,
    scope TEXT NOT NULL,
    settings TEXT NOT NULL,
    credentials TEXT NOT NULL,
    state TEXT,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (application_id, email)
);

CREATE INDEX grants_by_application_created ON grants (application_id, created_at);
