-- Each refresh token carries the token version its user had when it was issued: logout-all, a
-- password change, a deactivation or a soft delete raise the user's version, and a token of an older
-- version never refreshes again, even one minted by a refresh that raced the ending.
ALTER TABLE refresh_tokens ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;

-- Tokens stored before this column existed cannot tell which version they were issued under; they
-- take their user's current one (every ending revoked the tokens stored at the time).
UPDATE refresh_tokens
SET token_version = (SELECT users.token_version FROM users WHERE users.id = refresh_tokens.user_id);
