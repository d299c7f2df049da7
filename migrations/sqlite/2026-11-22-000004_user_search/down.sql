DROP INDEX IF EXISTS users_live_created_idx;
DROP TRIGGER IF EXISTS users_fts_after_update;
DROP TRIGGER IF EXISTS users_fts_after_delete;
DROP TRIGGER IF EXISTS users_fts_after_insert;
DROP TABLE IF EXISTS users_fts;
ALTER TABLE users DROP COLUMN search_text;
