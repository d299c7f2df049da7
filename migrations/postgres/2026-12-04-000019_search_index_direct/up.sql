-- New entries go straight into the search index instead of its pending list. With `fastupdate` on
-- (PostgreSQL's default) every insert or update of a user appends to a list that each search then
-- reads whole, up to `gin_pending_list_limit` (4 MB) until a vacuum merges it: at 1M users a rare
-- word read 479 pages of it and took 10 ms, against 17 pages and 0.3 ms with it merged
-- (docs/BENCHMARKS.md). Users are written rarely and searched often, so the write pays instead.
-- Turning it off does not merge what is already pending; the function does.
ALTER INDEX users_search_gin SET (fastupdate = off);
SELECT gin_clean_pending_list('users_search_gin');
