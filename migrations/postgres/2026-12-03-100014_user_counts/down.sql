DROP TRIGGER users_count_liveness ON users;
DROP TRIGGER users_count_delete ON users;
DROP TRIGGER users_count_insert ON users;
DROP FUNCTION users_count_liveness();
DROP FUNCTION users_count_deleted();
DROP FUNCTION users_count_inserted();
DROP TABLE namespace_user_counts;
