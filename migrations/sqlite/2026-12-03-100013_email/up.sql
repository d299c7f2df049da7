-- Email verification and password reset (API.md 2.4). Same tables and columns as the PostgreSQL migration
-- of this version.

-- False for every existing account: nobody has proven an address yet.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE namespaces ADD COLUMN password_reset_url TEXT;
ALTER TABLE namespaces ADD COLUMN email_verify_url TEXT;
ALTER TABLE namespaces ADD COLUMN mail_from TEXT;
ALTER TABLE namespaces ADD COLUMN require_verified_email BOOLEAN NOT NULL DEFAULT FALSE;

-- Only the SHA-256 of a token's secret is kept. `used_at` is set when it is used or replaced.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    purpose    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    namespace  TEXT NOT NULL,
    -- The address the mail went to, and its key (`text::name_key`) the hourly quota counts by.
    email      TEXT NOT NULL,
    email_fold TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP
);
CREATE INDEX email_tokens_quota ON email_tokens (namespace, email_fold, purpose, created_at);
CREATE INDEX email_tokens_live ON email_tokens (user_id, purpose) WHERE used_at IS NULL;

-- Mails waiting for, or done with, delivery; written in the transaction of their token.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    namespace       TEXT NOT NULL,
    from_name       TEXT,
    from_address    TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    -- Emptied once the mail is sent or given up: they hold a token's secret.
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    -- queued, sent or failed
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    -- A queued mail is due at this instant; a claimed one holds its lease until then.
    next_attempt_at TIMESTAMP NOT NULL,
    -- The claim of the sender that holds it (or last held it).
    claim_id        TEXT,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'queued';
CREATE INDEX outbox_status ON outbox (status);
