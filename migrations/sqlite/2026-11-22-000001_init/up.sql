-- Portable column types: the PostgreSQL migration of the same version has the same tables and columns, so
-- one Diesel schema and one query serve both. UUIDs are text, timestamps are UTC without a zone, JSON is text.
-- SQLite lets a non-integer PRIMARY KEY hold NULL unless told otherwise, hence the explicit NOT NULL.

CREATE TABLE namespaces (
    slug         TEXT PRIMARY KEY NOT NULL,
    name         TEXT,
    description  TEXT,
    api_key_hash TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    namespace     TEXT NOT NULL REFERENCES namespaces (slug),
    username      TEXT NOT NULL,
    -- Lowercased forms: uniqueness and login lookups are case-insensitive.
    username_key  TEXT NOT NULL,
    email         TEXT,
    email_key     TEXT,
    password_hash TEXT,
    full_name     TEXT,
    first_name    TEXT,
    last_name     TEXT,
    phone         TEXT,
    avatar_url    TEXT,
    avatar_key    TEXT,
    -- A JSON object of strings.
    extra         TEXT NOT NULL,
    -- A JSON array of role names.
    roles         TEXT NOT NULL,
    is_active     BOOLEAN NOT NULL,
    token_version BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    deleted_at    TIMESTAMP
);

-- Soft-deleted users keep their row but free their username and email.
CREATE UNIQUE INDEX users_username_live_uq ON users (namespace, username_key) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_email_live_uq ON users (namespace, email_key)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL;
CREATE INDEX users_namespace_created_idx ON users (namespace, created_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    namespace  TEXT NOT NULL,
    issued_at  TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    spent_at   TIMESTAMP,
    revoked_at TIMESTAMP
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
