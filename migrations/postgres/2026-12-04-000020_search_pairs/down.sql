DROP INDEX IF EXISTS users_search_pairs_gin;
ALTER TABLE users DROP COLUMN IF EXISTS search_pairs;
DROP FUNCTION IF EXISTS adjacent_pairs(regconfig, text);
