DROP TABLE outbox;
DROP TABLE email_tokens;
ALTER TABLE namespaces DROP COLUMN require_verified_email;
ALTER TABLE namespaces DROP COLUMN mail_from;
ALTER TABLE namespaces DROP COLUMN email_verify_url;
ALTER TABLE namespaces DROP COLUMN password_reset_url;
ALTER TABLE users DROP COLUMN email_verified;
