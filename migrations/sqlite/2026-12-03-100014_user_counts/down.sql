DROP TRIGGER users_count_liveness;
DROP TRIGGER users_count_delete;
DROP TRIGGER users_count_insert;
DROP TABLE namespace_user_counts;
