-- Full-text search over users. The service writes `search_text` (username, email and names, already
-- lowercased, accent-folded and split into words by the domain), so PostgreSQL and SQLite index
-- exactly the same words. FTS5 indexes it as an external-content table over `users`, kept in step by
-- the triggers below; `porter` stems (`running` finds `run`).
--
-- The index refers to rows by `users.rowid`. `VACUUM` may renumber the rowids of a table without an
-- INTEGER PRIMARY KEY, so after a VACUUM run `INSERT INTO users_fts(users_fts) VALUES ('rebuild')`.
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE users SET search_text = lower(replace(replace(replace(replace(replace(
    coalesce(username, '') || ' ' || coalesce(email, '') || ' ' || coalesce(full_name, '') || ' ' ||
    coalesce(first_name, '') || ' ' || coalesce(last_name, ''), '.', ' '), '@', ' '), '_', ' '), '-', ' '), '''', ' '));

CREATE VIRTUAL TABLE users_fts USING fts5(
    search_text,
    content = 'users',
    content_rowid = 'rowid',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO users_fts (users_fts) VALUES ('rebuild');

CREATE TRIGGER users_fts_after_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER users_fts_after_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER users_fts_after_update AFTER UPDATE OF search_text ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
    INSERT INTO users_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
END;

-- The admin list of live users, oldest first: served in index order without a sort, and countable
-- from the index alone.
CREATE INDEX users_live_created_idx ON users (namespace, created_at, id) WHERE deleted_at IS NULL;
