DROP INDEX IF EXISTS users_live_created_idx;
DROP INDEX IF EXISTS users_search_gin;
ALTER TABLE users DROP COLUMN IF EXISTS search_vector;
ALTER TABLE users DROP COLUMN IF EXISTS search_text;
