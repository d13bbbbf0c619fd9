-- What keeps a sign-in from moving or faking a mailbox.

-- 1 lets the application's hosted sign-in use servers typed under "Advanced" that do not
-- belong to the email's domain (README, "Security model").
ALTER TABLE applications ADD COLUMN allow_custom_servers INTEGER NOT NULL DEFAULT 0;

-- 1 when the grant's servers came from its email's domain (known provider, SRV,
-- autoconfig, MX), so that a password they accepted proves the address; the id_token's
-- email_verified says this.
ALTER TABLE grants ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

-- Sign-in attempts per email address, across sign-in pages and applications: counted
-- before the password is tried, so that parallel submissions cannot exceed the limit.
CREATE TABLE sign_in_attempts (
    email TEXT PRIMARY KEY,
    attempts INTEGER NOT NULL,
    -- Unix seconds; the count starts again after the lockout window.
    window_started_at BIGINT NOT NULL
);
