//! Full-text search over a namespace's users: the one place where the adapter branches on the
//! backend. Both engines index the domain's normalised `search_text`; each gets the parsed query in its
//! own syntax. Words contain only letters and digits (the domain guarantees it), so they are safe
//! inside an FTS5 string or a `tsquery`, and they are bound as parameters all the same.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel::{PgConnection, SqliteConnection};
use user_service_domain::error::DomainResult;
use user_service_domain::model::{PageRequest, SearchQuery, SearchTerm};

use crate::connection::DbConnection;
use crate::errors;

/// A row of the page of matches, each carrying the number of all matches. A page past the end is one
/// row without an id, so that the count arrives in the same statement as the hits.
#[derive(QueryableByName)]
struct Hit {
    #[diesel(sql_type = Nullable<Text>)]
    id: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The statement both engines run: the capped matches `hits` (id, rank `r`, lower is better) are
/// computed once, counted, and one page of them is joined to the count.
fn page_with_count(hits: &str, order: &str, page: PageRequest) -> String {
    format!(
        "WITH hits AS ({hits}), total AS (SELECT count(*) AS n FROM hits) \
         SELECT p.id AS id, total.n AS n FROM total LEFT JOIN \
           (SELECT id, r FROM hits ORDER BY r {order}, id LIMIT {} OFFSET {}) p ON 1 = 1 \
         ORDER BY p.r {order}, p.id",
        page.limit, page.offset
    )
}

fn ids_and_total(rows: Vec<Hit>) -> (Vec<String>, u64) {
    let total = rows.first().map_or(0, |h| h.n.max(0) as u64);
    (rows.into_iter().filter_map(|h| h.id).collect(), total)
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
        parts.push(match term {
            // A phrase's stemmed form is ORed in only when it differs: most names stem to
            // themselves, and `'john' <-> 'smith' | 'john' <-> 'smith'` made the index intersect the
            // same posting lists twice. Not for words: a subquery hides the constant from the
            // planner, whose estimate of a short prefix's matches picks the plan (see below).
            SearchTerm::Phrase(_) => format!(
                "(SELECT CASE WHEN s = e THEN s ELSE s || e END FROM \
                 (SELECT to_tsquery('simple', ${n}) AS s, to_tsquery('english', ${n}) AS e) t)"
            ),
            SearchTerm::Word(_) => {
                format!("(to_tsquery('simple', ${n}) || to_tsquery('english', ${n}))")
            }
        });
    }
    let tsquery = parts.join(" && ");
    // Each phrase's adjacent pairs, which every user it matches holds (migration 000020, an index on
    // this very expression), bound after the terms: the index finds a phrase's candidates from one
    // short posting list of its pairs instead of intersecting its words' long ones. `IS TRUE` keeps
    // the planner from also scanning `search_vector`'s index: the tsquery only decides among them.
    let mut pairs = Vec::new();
    let mut narrowing = Vec::new();
    for term in query.terms() {
        if let SearchTerm::Phrase(ws) = term {
            let mut either = Vec::new();
            for alternative in phrase_pairs(conn, &ws.join(" "))? {
                pairs.push(alternative);
                either.push(format!(
                    "adjacent_pairs('{{simple,english}}', u.search_text) @> ${}",
                    binds.len() + pairs.len() + 1
                ));
            }
            if !either.is_empty() {
                narrowing.push(format!("({})", either.join(" OR ")));
            }
        }
    }
    // Only a query of phrases alone hides the word index: a word beside a phrase may be far rarer
    // than the phrase's pairs (`"example com" quetzalcoatl`), and the planner weighs both indexes.
    let phrases_only = query
        .terms()
        .iter()
        .all(|t| matches!(t, SearchTerm::Phrase(_)));
    let matches = match (narrowing.is_empty(), phrases_only) {
        (true, _) => "u.search_vector @@ q.query".to_owned(),
        (false, true) => format!(
            "{} AND (u.search_vector @@ q.query) IS TRUE",
            narrowing.join(" AND ")
        ),
        (false, false) => format!("{} AND u.search_vector @@ q.query", narrowing.join(" AND ")),
    };
    let filter = format!("u.namespace = $1 AND u.deleted_at IS NULL AND {matches}");
    let cap = SearchQuery::MAX_MATCHES;
    // `hits` is referenced twice, so PostgreSQL materialises it: the matches are found once.
    let sql = page_with_count(
        &format!(
            "SELECT u.id, ts_rank(u.search_vector, q.query) AS r \
             FROM users u, (SELECT {tsquery} AS query) q WHERE {filter} LIMIT {cap}"
        ),
        "DESC",
        page,
    );
    let mut statement = diesel::sql_query(sql)
        .into_boxed::<diesel::pg::Pg>()
        .bind::<Text, _>(namespace.to_owned());
    for b in binds {
        statement = statement.bind::<Text, _>(b);
    }
    for p in pairs {
        statement = statement.bind::<Array<Text>, _>(p);
    }
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
        statement.load::<Hit>(conn).map(ids_and_total)
    })
    .map_err(errors::db)
}

/// The adjacent pairs a phrase's matches hold: those of its words as typed, and those of its stems
/// when they differ, each a necessary condition for one way of matching (`adjacent_pairs`, migration
/// 000020). None when either way has no pair to require (a stop word dropped from the stemmed
/// phrase leaves it none): then the phrase narrows nothing.
fn phrase_pairs(conn: &mut PgConnection, phrase: &str) -> DomainResult<Vec<Vec<String>>> {
    #[derive(QueryableByName)]
    struct Pairs {
        #[diesel(sql_type = Array<Text>)]
        simple: Vec<String>,
        #[diesel(sql_type = Array<Text>)]
        english: Vec<String>,
    }
    let Pairs { simple, english } = diesel::sql_query(
        "SELECT adjacent_pairs('{simple}', $1) AS simple, adjacent_pairs('{english}', $1) AS english",
    )
    .bind::<Text, _>(phrase)
    .get_result(conn)
    .map_err(errors::db)?;
    Ok(if simple.is_empty() || english.is_empty() {
        Vec::new()
    } else if simple == english {
        vec![simple]
    } else {
        vec![simple, english]
    })
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
    diesel::sql_query(page_with_count(&hits, "", page))
        .bind::<Text, _>(&expr)
        .bind::<Text, _>(namespace)
        .load::<Hit>(conn)
        .map(ids_and_total)
        .map_err(errors::db)
}
