-- The number of users of each namespace, live and all (soft-deleted too), so an unfiltered admin
-- list's exact `total` is a read of a few rows instead of a count over every user. Kept by triggers
-- in the transaction of every insert, soft delete, restore and delete of a user, whoever writes it.
--
-- Each namespace's count is spread over 16 rows (`shard`: the last hex digit of the user's id), so
-- concurrent registrations in one namespace rarely wait for each other's commit on one counter row.
-- A namespace's count is the sum of its rows. A user's id and namespace never change.
CREATE TABLE namespace_user_counts (
    namespace TEXT   NOT NULL,
    shard     TEXT   NOT NULL,
    live      BIGINT NOT NULL,
    total     BIGINT NOT NULL,
    PRIMARY KEY (namespace, shard)
);

-- Inserts and deletes per statement, so a bulk insert (a seed of a million users) updates each
-- counter row once; soft delete and restore per row, only when `deleted_at` is written.
CREATE FUNCTION users_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO namespace_user_counts AS c (namespace, shard, live, total)
    SELECT namespace, right(id, 1), count(*) FILTER (WHERE deleted_at IS NULL), count(*)
    FROM added GROUP BY 1, 2
    ON CONFLICT (namespace, shard)
        DO UPDATE SET live = c.live + EXCLUDED.live, total = c.total + EXCLUDED.total;
    RETURN NULL;
END $$;

CREATE FUNCTION users_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE namespace_user_counts AS c
    SET live = c.live - d.live, total = c.total - d.total
    FROM (SELECT namespace, right(id, 1) AS shard,
                 count(*) FILTER (WHERE deleted_at IS NULL) AS live, count(*) AS total
          FROM removed GROUP BY 1, 2) d
    WHERE c.namespace = d.namespace AND c.shard = d.shard;
    RETURN NULL;
END $$;

CREATE FUNCTION users_count_liveness() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change BIGINT := (NEW.deleted_at IS NULL)::int - (OLD.deleted_at IS NULL)::int;
BEGIN
    IF change <> 0 THEN
        UPDATE namespace_user_counts SET live = live + change
        WHERE namespace = NEW.namespace AND shard = right(NEW.id, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION users_count_inserted();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION users_count_deleted();
CREATE TRIGGER users_count_liveness AFTER UPDATE OF deleted_at ON users
    FOR EACH ROW EXECUTE FUNCTION users_count_liveness();

-- Filled after the triggers exist: creating them locked `users` against writes until this
-- migration commits, so no user is counted twice or missed.
INSERT INTO namespace_user_counts (namespace, shard, live, total)
SELECT namespace, right(id, 1), count(*) FILTER (WHERE deleted_at IS NULL), count(*)
FROM users GROUP BY 1, 2;
