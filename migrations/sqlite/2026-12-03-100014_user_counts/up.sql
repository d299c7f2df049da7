-- The number of users of each namespace, live and all (soft-deleted too), so an unfiltered admin
-- list's exact `total` is a read of a few rows instead of a count over every user. Kept by triggers
-- in the transaction of every insert, soft delete, restore and delete of a user, whoever writes it.
-- Spread over 16 rows per namespace (`shard`: the last hex digit of the user's id) as on
-- PostgreSQL; a namespace's count is the sum of its rows. A user's id and namespace never change.
--
-- A migration that rebuilds `users` (create, copy, drop, rename) drops these triggers with the old
-- table and must create them again.
CREATE TABLE namespace_user_counts (
    namespace TEXT    NOT NULL,
    shard     TEXT    NOT NULL,
    live      BIGINT  NOT NULL,
    total     BIGINT  NOT NULL,
    PRIMARY KEY (namespace, shard)
);

INSERT INTO namespace_user_counts (namespace, shard, live, total)
SELECT namespace, substr(id, -1), sum(deleted_at IS NULL), count(*)
FROM users GROUP BY 1, 2;

CREATE TRIGGER users_count_insert AFTER INSERT ON users BEGIN
    INSERT INTO namespace_user_counts (namespace, shard, live, total)
    VALUES (new.namespace, substr(new.id, -1), new.deleted_at IS NULL, 1)
    ON CONFLICT (namespace, shard)
        DO UPDATE SET live = live + excluded.live, total = total + excluded.total;
END;
CREATE TRIGGER users_count_delete AFTER DELETE ON users BEGIN
    UPDATE namespace_user_counts
    SET live = live - (old.deleted_at IS NULL), total = total - 1
    WHERE namespace = old.namespace AND shard = substr(old.id, -1);
END;
CREATE TRIGGER users_count_liveness AFTER UPDATE OF deleted_at ON users
    WHEN (old.deleted_at IS NULL) <> (new.deleted_at IS NULL) BEGIN
    UPDATE namespace_user_counts
    SET live = live + (new.deleted_at IS NULL) - (old.deleted_at IS NULL)
    WHERE namespace = new.namespace AND shard = substr(new.id, -1);
END;
