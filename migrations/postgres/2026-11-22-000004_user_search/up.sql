-- Full-text search over users. The service writes `search_text` (username, email and names, already
-- lowercased, accent-folded and split into words by the domain), so PostgreSQL and SQLite index
-- exactly the same words. The vector holds each word twice: as typed (`simple`, no stop words, so
-- `will` and `an` stay findable, and prefixes match the word itself) and stemmed (`english`, so
-- `running` finds `run`). `||` numbers the second part's positions on from the first's last one; the
-- leading stop word `the` takes one position and no lexeme, so a phrase query cannot match the last
-- word of one part followed by the first word of the other.
ALTER TABLE users ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE users SET search_text = lower(translate(concat_ws(' ', username, email, full_name, first_name, last_name), '.@_-+''', '      '));
ALTER TABLE users ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', search_text) || to_tsvector('english', 'the ' || search_text)) STORED;
CREATE INDEX users_search_gin ON users USING GIN (search_vector);

-- The admin list of live users, oldest first: served in index order without a sort, and countable
-- from the index alone.
CREATE INDEX users_live_created_idx ON users (namespace, created_at, id) WHERE deleted_at IS NULL;
