DROP INDEX users_unkeyed_idx;
DROP INDEX users_email_fold_live_uq;
DROP INDEX users_username_fold_live_uq;
ALTER TABLE users DROP COLUMN email_fold;
ALTER TABLE users DROP COLUMN username_fold;
ALTER TABLE users ADD COLUMN username_key TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_key TEXT;
UPDATE users SET username_key = lower(username), email_key = lower(email);
CREATE UNIQUE INDEX users_username_live_uq ON users (namespace, username_key) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX users_email_live_uq ON users (namespace, email_key)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL;
