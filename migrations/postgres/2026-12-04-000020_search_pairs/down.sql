DROP INDEX IF EXISTS users_search_pairs_gin;
DROP FUNCTION IF EXISTS adjacent_pairs(regconfig[], text);
