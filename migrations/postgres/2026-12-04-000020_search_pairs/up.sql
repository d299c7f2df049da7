-- The adjacent word pairs of each user's search document, for phrase search (issue 14). A phrase
-- query on `search_vector` alone makes the GIN index intersect the posting lists of its words: for
-- "john smith" at 1M users, two lists of 62,500 entries into 3,906 candidates, 8.3 of the query's
-- 13.4 ms (docs/BENCHMARKS.md). Every user matching a phrase holds each adjacent pair of its words,
-- as typed (`simple`) or stemmed (`english`), so the pairs find the candidates from one short posting
-- list, and `search_vector` still decides the match. A pair is its two lexemes with a space between:
-- a lexeme never holds one.
CREATE FUNCTION adjacent_pairs(configs regconfig[], doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (
        SELECT coalesce(array_agg(DISTINCT a.lexeme || ' ' || b.lexeme), '{}')
        FROM pg_catalog.unnest(configs) AS config,
             pg_catalog.unnest(pg_catalog.to_tsvector(config, doc)) AS a,
             pg_catalog.unnest(a.positions) AS ap,
             pg_catalog.unnest(pg_catalog.to_tsvector(config, doc)) AS b,
             pg_catalog.unnest(b.positions) AS bp
        WHERE bp = ap + 1
    );

-- An index on the expression, not a stored column: the rows keep their width, which the planner's
-- choice of a sequential scan for short prefixes depends on. A search names the same expression.
-- Like `users_search_gin` (migration 000019), new entries go straight into the index.
CREATE INDEX users_search_pairs_gin ON users
    USING GIN (adjacent_pairs('{simple,english}', search_text)) WITH (fastupdate = off);
