-- Usernames and emails are compared by their Unicode keys (NFKC and full case folding, RFC 8265's
-- UsernameCaseMapped idea; see docs/DECISIONS.md), no longer merely lowercased. SQL cannot compute
-- those keys, so the new columns start empty: the service fills them right after migrating, oldest
-- account first, and reports every account whose key another live account of its namespace already
-- holds instead of merging them. An empty key matches no login and blocks no other account.
DROP INDEX users_username_live_uq;
DROP INDEX users_email_live_uq;
ALTER TABLE users DROP COLUMN username_key;
ALTER TABLE users DROP COLUMN email_key;
ALTER TABLE users ADD COLUMN username_fold TEXT;
ALTER TABLE users ADD COLUMN email_fold TEXT;
CREATE UNIQUE INDEX users_username_fold_live_uq ON users (namespace, username_fold)
    WHERE deleted_at IS NULL AND username_fold IS NOT NULL;
CREATE UNIQUE INDEX users_email_fold_live_uq ON users (namespace, email_fold)
    WHERE deleted_at IS NULL AND email_fold IS NOT NULL;
-- The accounts still waiting for their keys (or left without one by a collision).
CREATE INDEX users_unkeyed_idx ON users (created_at)
    WHERE username_fold IS NULL OR (email IS NOT NULL AND email_fold IS NULL);
