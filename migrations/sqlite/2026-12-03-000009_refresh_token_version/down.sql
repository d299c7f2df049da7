ALTER TABLE refresh_tokens DROP COLUMN token_version;
