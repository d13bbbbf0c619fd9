-- Sends made with an `Idempotency-Key` header (docs/API.md §5.2): the first request's
-- answer, kept a day, so a client that sends again after a timeout gets that answer and
-- nothing is sent twice. A row without `status` is a first request still under way (or
-- one cut off by a stop, whose outcome stays unknown). `request_hash` tells a repeat from
-- a different request reusing the key.
CREATE TABLE idempotency_keys (
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    key_hash TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (grant_id, key_hash)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
