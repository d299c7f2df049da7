-- The credit ledger, usage metering, conversation sessions and idempotency keys. Same tables and
-- columns as the PostgreSQL migration of this version; INTEGER PRIMARY KEY AUTOINCREMENT is SQLite's
-- BIGSERIAL (a 64-bit rowid that is never reused). Money is BIGINT millionths; JSON is text.

CREATE TABLE credit_balances (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id),
    namespace  TEXT NOT NULL,
    -- The guard of the invariant "never below zero", whatever code runs against the table.
    balance    BIGINT NOT NULL CHECK (balance >= 0),
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE credit_transactions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id   TEXT NOT NULL UNIQUE,
    user_id          TEXT NOT NULL REFERENCES users (id),
    namespace        TEXT NOT NULL,
    transaction_type TEXT NOT NULL CHECK (transaction_type IN ('consume', 'recharge')),
    amount           BIGINT NOT NULL CHECK (amount > 0),
    balance_before   BIGINT NOT NULL,
    balance_after    BIGINT NOT NULL CHECK (balance_after >= 0),
    description      TEXT,
    reference_id     TEXT,
    usage_record_id  BIGINT,
    created_at       TIMESTAMP NOT NULL
);

-- A reference id (a payment id) is applied at most once per user: this index decides, not a read.
CREATE UNIQUE INDEX credit_transactions_reference_uq ON credit_transactions (user_id, reference_id)
    WHERE reference_id IS NOT NULL;
-- History newest first, optionally by type.
CREATE INDEX credit_transactions_user_idx ON credit_transactions (user_id, id);

CREATE TABLE usage_records (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           TEXT NOT NULL REFERENCES users (id),
    namespace         TEXT NOT NULL,
    session_id        TEXT,
    endpoint          TEXT,
    event_type        TEXT NOT NULL,
    credits_charged   BIGINT NOT NULL,
    cost_usd          BIGINT NOT NULL,
    tokens_used       BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    model_name        TEXT,
    provider          TEXT,
    tool_name         TEXT,
    operation_name    TEXT,
    metadata          TEXT,
    created_at        TIMESTAMP NOT NULL
);

-- History and stats of one user within a time window read one contiguous range of this index.
CREATE INDEX usage_records_user_created_idx ON usage_records (user_id, created_at, id);

CREATE TABLE conversation_sessions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id),
    namespace  TEXT NOT NULL,
    title      TEXT,
    metadata   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'completed', 'archived', 'error')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX conversation_sessions_user_created_idx ON conversation_sessions (user_id, created_at, id);

CREATE TABLE session_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL REFERENCES conversation_sessions (session_id),
    role         TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content      TEXT NOT NULL,
    message_type TEXT,
    tokens_used  BIGINT NOT NULL,
    cost_usd     BIGINT NOT NULL,
    metadata     TEXT,
    created_at   TIMESTAMP NOT NULL
);

CREATE INDEX session_messages_session_idx ON session_messages (session_id, id);

CREATE TABLE idempotency_keys (
    namespace       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    -- NULL while the first request is still running.
    response_status INTEGER,
    response_type   TEXT,
    response_body   BLOB,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (namespace, idempotency_key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Usage totals per user, hour, event type and model, written in the same transaction as the records:
-- stats over a window read the whole hours inside it from here and only its two partial edge hours
-- from usage_records, so a user with millions of records costs hundreds of rows, not millions.
CREATE TABLE usage_hourly (
    user_id         TEXT NOT NULL,
    hour            TIMESTAMP NOT NULL,
    event_type      TEXT NOT NULL,
    -- '' for records without a model (a model name is never empty).
    model_name      TEXT NOT NULL,
    records         BIGINT NOT NULL,
    credits_charged BIGINT NOT NULL,
    cost_usd        BIGINT NOT NULL,
    tokens_used     BIGINT NOT NULL,
    PRIMARY KEY (user_id, hour, event_type, model_name)
);
