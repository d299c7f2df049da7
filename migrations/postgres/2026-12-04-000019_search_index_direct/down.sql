ALTER INDEX users_search_gin SET (fastupdate = on);
