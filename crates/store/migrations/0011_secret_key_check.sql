-- A check value of the secret key that seals credentials and webhook secrets:
-- HMAC-SHA256(key, "mailroom key check"), base64. A server started with another key
-- finds a different value and refuses to start, instead of failing one secret at a time.
CREATE TABLE secret_key_check (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    check_value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
