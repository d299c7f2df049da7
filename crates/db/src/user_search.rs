//! Full-text search over a namespace's users: the one place where the adapter branches on the
//! backend. Both engines index the domain's normalised `search_text`; each gets the parsed query in its
//! own syntax. Words contain only letters and digits (the domain guarantees it), so they are safe
//! inside an FTS5 string or a `tsquery`, and they are bound as parameters all the same.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::{PgConnection, SqliteConnection};
use user_service_domain::error::DomainResult;
use user_service_domain::model::{PageRequest, SearchQuery, SearchTerm};

use crate::connection::DbConnection;
use crate::errors;

#[derive(QueryableByName)]
struct Hit {
    #[diesel(sql_type = Text)]
    id: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The ids of one page of matches, best first, and the number of all matches.
pub(crate) fn search_ids(
    conn: &mut DbConnection,
    namespace: &str,
    query: &SearchQuery,
    page: PageRequest,
) -> DomainResult<(Vec<String>, u64)> {
    match conn {
        DbConnection::Pg(pg) => postgres(pg, namespace, query, page),
        DbConnection::Sqlite(lite) => sqlite(lite, namespace, query, page),
    }
}

/// At most `SearchQuery::MAX_MATCHES` matches are counted and ranked (see there for why).
///
/// Each term matches its words as typed with a prefix (`simple`) or stemmed (`english`, also with a
/// prefix, so `running` finds `run` and `runner`); all terms must match. Ranked by `ts_rank`.
fn postgres(
    conn: &mut PgConnection,
    namespace: &str,
    query: &SearchQuery,
    page: PageRequest,
) -> DomainResult<(Vec<String>, u64)> {
    let mut parts = Vec::new();
    let mut binds = Vec::new();
    for term in query.terms() {
        let text = match term {
            SearchTerm::Word(w) => format!("{w}:*"),
            SearchTerm::Phrase(ws) => ws.join(" <-> "),
        };
        binds.push(text);
        // $1 is the namespace.
        let n = binds.len() + 1;
        parts.push(format!(
            "(to_tsquery('simple', ${n}) || to_tsquery('english', ${n}))"
        ));
    }
    let tsquery = parts.join(" && ");
    let filter = "u.namespace = $1 AND u.deleted_at IS NULL AND u.search_vector @@ q.query";
    let cap = SearchQuery::MAX_MATCHES;
    let ids_sql = format!(
        "WITH q AS (SELECT {tsquery} AS query), \
              hits AS (SELECT u.id, ts_rank(u.search_vector, q.query) AS r \
                       FROM users u, q WHERE {filter} LIMIT {cap}) \
         SELECT id FROM hits ORDER BY r DESC, id LIMIT {} OFFSET {}",
        page.limit, page.offset
    );
    let count_sql = format!(
        "WITH q AS (SELECT {tsquery} AS query) \
         SELECT count(*) AS n FROM (SELECT 1 FROM users u, q WHERE {filter} LIMIT {cap}) s"
    );
    let bind_all = |sql: String| {
        let mut q = diesel::sql_query(sql)
            .into_boxed::<diesel::pg::Pg>()
            .bind::<Text, _>(namespace.to_owned());
        for b in &binds {
            q = q.bind::<Text, _>(b.clone());
        }
        q
    };
    // The planner cannot estimate how many users a tsquery matches, and with the match cap's LIMIT it
    // prefers a sequential scan that stops early: 3 ms for a prefix half the users share, but a scan
    // of every row (0.5 s at 1M users) for a rare word. Only very short prefixes are common enough
    // for that plan to win; every other query goes through the GIN index (15 ms for a rare word, 40 ms
    // for a phrase at 1M). `SET LOCAL` keeps the choice inside this transaction, off pooled connections.
    let short_prefixes_only = query
        .terms()
        .iter()
        .all(|t| matches!(t, SearchTerm::Word(w) if w.chars().count() <= 2));
    conn.transaction(|conn| {
        if !short_prefixes_only {
            diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn)?;
        }
        let ids: Vec<Hit> = bind_all(ids_sql).load(conn)?;
        let count: Count = bind_all(count_sql).get_result(conn)?;
        Ok((
            ids.into_iter().map(|h| h.id).collect(),
            count.n.max(0) as u64,
        ))
    })
    .map_err(errors::db)
}

/// An FTS5 expression: each word a quoted prefix query, each phrase a quoted phrase, all ANDed.
/// Ranked by `bm25` (FTS5's `rank`).
fn sqlite(
    conn: &mut SqliteConnection,
    namespace: &str,
    query: &SearchQuery,
    page: PageRequest,
) -> DomainResult<(Vec<String>, u64)> {
    let expr = query
        .terms()
        .iter()
        .map(|t| match t {
            SearchTerm::Word(w) => format!("\"{w}\"*"),
            SearchTerm::Phrase(ws) => format!("\"{}\"", ws.join(" ")),
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let cap = SearchQuery::MAX_MATCHES;
    let hits = format!(
        "SELECT u.id AS id, users_fts.rank AS r FROM users_fts JOIN users u ON u.rowid = users_fts.rowid \
         WHERE users_fts MATCH ?1 AND u.namespace = ?2 AND u.deleted_at IS NULL LIMIT {cap}"
    );
    let ids: Vec<Hit> = diesel::sql_query(format!(
        "SELECT id FROM ({hits}) ORDER BY r, id LIMIT {} OFFSET {}",
        page.limit, page.offset
    ))
    .bind::<Text, _>(&expr)
    .bind::<Text, _>(namespace)
    .load(conn)
    .map_err(errors::db)?;
    let count: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM ({hits})"))
        .bind::<Text, _>(&expr)
        .bind::<Text, _>(namespace)
        .get_result(conn)
        .map_err(errors::db)?;
    Ok((
        ids.into_iter().map(|h| h.id).collect(),
        count.n.max(0) as u64,
    ))
}
