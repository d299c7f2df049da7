//! `UserRepository::search`: one suite, both engines, names in several scripts and languages.

use user_service_db::{Database, DieselUsers};
use user_service_domain::model::{
    Change, PageRequest, PersonName, ProfileChanges, SearchQuery, User, UserChanges,
};
use user_service_domain::ports::UserRepository;

use crate::support::{bare_user, create_namespace, insert_user, now};

contract!(
    matches_words_case_and_accent_insensitively_in_every_field,
    prefixes_stems_and_phrases,
    finds_names_in_other_scripts,
    ranks_the_best_match_first_and_pages,
    leaves_out_deleted_users_and_other_namespaces,
    follows_profile_updates,
    counts_and_ranks_at_most_max_matches,
);

fn person(ns: &str, username: &str, email: &str, first: &str, last: &str) -> User {
    User {
        email: Some(email.to_owned()),
        first_name: Some(first.to_owned()),
        last_name: Some(last.to_owned()),
        full_name: Some(format!("{first} {last}")),
        is_active: true,
        ..bare_user(ns, username)
    }
}

async fn seed(db: &Database) {
    create_namespace(db, "shop").await;
    create_namespace(db, "other").await;
    for u in [
        person("shop", "jdoe", "john.doe@example.com", "John", "Doe"),
        person("shop", "jane", "jane@example.com", "Jane", "Doe"),
        person("shop", "johnny", "jb@example.com", "Johnny", "Bravo"),
        person("shop", "jose", "jose@example.es", "José", "García"),
        person("shop", "mueller", "hm@example.de", "Hans", "Müller"),
        person("shop", "ivan", "ivan@example.ru", "Иван", "Петров"),
        person("shop", "li", "li@example.cn", "小龙", "李"),
        person("shop", "eleni", "eleni@example.gr", "Ελένη", "Παπαδοπούλου"),
        person("shop", "runner", "r@example.com", "Running", "Man"),
        // No full name, so no field boundary happens to read "john doe".
        User {
            full_name: None,
            ..person("shop", "doe-john", "dj@example.com", "Doe", "John")
        },
        person("other", "jdoe", "john.doe@example.com", "John", "Doe"),
    ] {
        insert_user(db, &u).await;
    }
}

async fn hits(db: &Database, q: &str) -> Vec<String> {
    let q = SearchQuery::parse(q).expect("a valid query");
    let p = DieselUsers::new(db.clone())
        .search(
            "shop",
            &q,
            PageRequest {
                offset: 0,
                limit: 100,
            },
        )
        .await
        .expect("search");
    assert_eq!(p.total as usize, p.items.len(), "total counts every match");
    p.items.into_iter().map(|u| u.username).collect()
}

async fn sorted_hits(db: &Database, q: &str) -> Vec<String> {
    let mut h = hits(db, q).await;
    h.sort();
    h
}

async fn matches_words_case_and_accent_insensitively_in_every_field(db: Database) {
    seed(&db).await;
    assert_eq!(sorted_hits(&db, "JOHNNY").await, ["johnny"]);
    // Username, email parts, first, last and full name are all searched.
    assert_eq!(sorted_hits(&db, "jdoe").await, ["jdoe"]);
    assert_eq!(sorted_hits(&db, "example.es").await, ["jose"]);
    assert_eq!(sorted_hits(&db, "Bravo").await, ["johnny"]);
    assert_eq!(sorted_hits(&db, "José").await, ["jose"]);
    assert_eq!(sorted_hits(&db, "jose").await, ["jose"]);
    assert_eq!(sorted_hits(&db, "muller").await, ["mueller"]);
    assert_eq!(sorted_hits(&db, "Müller").await, ["mueller"]);
    assert_eq!(sorted_hits(&db, "garcia").await, ["jose"]);
    assert!(hits(&db, "nobody").await.is_empty());
}

async fn prefixes_stems_and_phrases(db: Database) {
    seed(&db).await;
    assert_eq!(
        sorted_hits(&db, "joh").await,
        ["doe-john", "jdoe", "johnny"]
    );
    assert_eq!(sorted_hits(&db, "Joh Do").await, ["doe-john", "jdoe"]);
    // Stemming both ways: "run" finds "Running", "runs" finds it too.
    assert_eq!(sorted_hits(&db, "run").await, ["runner"]);
    assert_eq!(sorted_hits(&db, "runs").await, ["runner"]);
    assert_eq!(sorted_hits(&db, "running").await, ["runner"]);
    // A quoted phrase keeps its order: "John Doe" is not "Doe John".
    assert_eq!(sorted_hits(&db, "\"John Doe\"").await, ["jdoe"]);
    assert_eq!(sorted_hits(&db, "\"johnny bravo\"").await, ["johnny"]);
    assert!(hits(&db, "\"johnny doe\"").await.is_empty());
    assert_eq!(sorted_hits(&db, "\"jane doe\" example").await, ["jane"]);
}

async fn finds_names_in_other_scripts(db: Database) {
    seed(&db).await;
    assert_eq!(sorted_hits(&db, "иван").await, ["ivan"]);
    assert_eq!(sorted_hits(&db, "Петр").await, ["ivan"]);
    assert_eq!(sorted_hits(&db, "小龙").await, ["li"]);
    assert_eq!(sorted_hits(&db, "ελένη").await, ["eleni"]);
    assert_eq!(sorted_hits(&db, "ΠΑΠΑΔΟ").await, ["eleni"]);
}

async fn ranks_the_best_match_first_and_pages(db: Database) {
    seed(&db).await;
    let h = hits(&db, "john doe").await;
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(h.contains(&"jdoe".to_owned()) && h.contains(&"doe-john".to_owned()));
    let q = SearchQuery::parse("doe").expect("valid");
    let repo = DieselUsers::new(db);
    let first = repo
        .search(
            "shop",
            &q,
            PageRequest {
                offset: 0,
                limit: 2,
            },
        )
        .await
        .expect("search");
    let second = repo
        .search(
            "shop",
            &q,
            PageRequest {
                offset: 2,
                limit: 2,
            },
        )
        .await
        .expect("search");
    // A page past the end still counts every match (hits and count come from one statement).
    let past = repo
        .search(
            "shop",
            &q,
            PageRequest {
                offset: 10,
                limit: 2,
            },
        )
        .await
        .expect("search");
    assert_eq!((first.total, second.total, past.total), (3, 3, 3));
    assert_eq!(
        (first.items.len(), second.items.len(), past.items.len()),
        (2, 1, 0)
    );
    // "doe" three times (email, last and full name) outranks "doe" twice.
    assert_eq!(first.items[0].username, "jdoe");
    let mut rest = vec![
        first.items[1].username.clone(),
        second.items[0].username.clone(),
    ];
    rest.sort();
    assert_eq!(rest, ["doe-john", "jane"]);
}

async fn leaves_out_deleted_users_and_other_namespaces(db: Database) {
    seed(&db).await;
    let repo = DieselUsers::new(db.clone());
    let q = SearchQuery::parse("johnny").expect("valid");
    let all = repo
        .search("shop", &q, PageRequest::default())
        .await
        .expect("search");
    let id = all.items[0].id;
    assert!(repo.soft_delete("shop", id, now()).await.expect("delete"));
    assert!(hits(&db, "johnny").await.is_empty());
    // `other` has its own jdoe only.
    let other = repo
        .search(
            "other",
            &SearchQuery::parse("john").expect("valid"),
            PageRequest::default(),
        )
        .await
        .expect("search");
    assert_eq!(other.items.len(), 1);
    assert_eq!(other.items[0].namespace, "other");
}

async fn follows_profile_updates(db: Database) {
    seed(&db).await;
    let repo = DieselUsers::new(db.clone());
    let q = SearchQuery::parse("bravo").expect("valid");
    let u = repo
        .search("shop", &q, PageRequest::default())
        .await
        .expect("search")
        .items
        .remove(0);
    let changes = UserChanges::profile(ProfileChanges {
        last_name: Change::Set(PersonName::parse("Quintero").expect("valid")),
        full_name: Change::Clear,
        ..ProfileChanges::default()
    });
    let u = repo
        .update("shop", u.id, &changes, now())
        .await
        .expect("update")
        .expect("live");
    assert_eq!(u.last_name.as_deref(), Some("Quintero"));
    assert!(hits(&db, "bravo").await.is_empty());
    assert_eq!(hits(&db, "quintero").await, ["johnny"]);
}

async fn counts_and_ranks_at_most_max_matches(db: Database) {
    create_namespace(&db, "shop").await;
    let over = SearchQuery::MAX_MATCHES as usize + 5;
    for i in 0..over {
        insert_user(
            &db,
            &person(
                "shop",
                &format!("many{i}"),
                &format!("m{i}@example.com"),
                "Common",
                "Name",
            ),
        )
        .await;
    }
    insert_user(&db, &person("shop", "zed", "z@example.com", "Zed", "Rare")).await;
    let repo = DieselUsers::new(db);
    let q = SearchQuery::parse("common").expect("valid");
    let last_page = repo
        .search(
            "shop",
            &q,
            PageRequest {
                offset: SearchQuery::MAX_MATCHES - 2,
                limit: 100,
            },
        )
        .await
        .expect("search");
    assert_eq!(last_page.total, SearchQuery::MAX_MATCHES);
    assert_eq!(last_page.items.len(), 2);
    let rare = repo
        .search(
            "shop",
            &SearchQuery::parse("rare").expect("valid"),
            PageRequest::default(),
        )
        .await
        .expect("search");
    assert_eq!((rare.total, rare.items[0].username.as_str()), (1, "zed"));
}

#[derive(diesel::QueryableByName)]
struct Pending {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pages: i64,
}

/// PostgreSQL only (SQLite's FTS5 index has no such list): a new or changed user goes straight into
/// the search index, so no search reads a list of pending entries first. `gin_clean_pending_list`
/// answers how many pending pages it had to merge.
#[tokio::test]
async fn new_users_go_straight_into_the_postgres_search_index() {
    let test_db = user_service_db::testing::fresh_postgres().await;
    create_namespace(&test_db, "acme").await;
    for i in 0..50 {
        insert_user(
            &test_db,
            &person(
                "acme",
                &format!("user{i}"),
                &format!("u{i}@x.io"),
                "Jo",
                "Quetzal",
            ),
        )
        .await;
    }
    let pending = test_db
        .run(|conn| {
            let user_service_db::DbConnection::Pg(pg) = conn else {
                return Err(user_service_domain::DomainError::unexpected(
                    "not PostgreSQL",
                ));
            };
            diesel::RunQueryDsl::get_result::<Pending>(
                diesel::sql_query("SELECT gin_clean_pending_list('users_search_gin') AS pages"),
                pg,
            )
            .map_err(|e| user_service_domain::DomainError::unexpected(e.to_string()))
        })
        .await
        .expect("the pending list's size");
    assert_eq!(pending.pages, 0);
}

#[derive(diesel::QueryableByName)]
struct Username {
    #[diesel(sql_type = diesel::sql_types::Text)]
    username: String,
}

/// On PostgreSQL a phrase's candidates come from the index of adjacent word pairs (migration
/// 000020), and the phrase's tsquery decides among them. That must find exactly what the tsquery
/// alone finds over every user: phrases as typed, stemmed ("runs man"), in the wrong order, and with
/// a stop word that the stemmed form drops ("the man" matches "man" there).
#[tokio::test]
async fn a_phrase_finds_on_postgres_what_its_tsquery_alone_finds() {
    let test_db = user_service_db::testing::fresh_postgres().await;
    seed(&test_db).await;
    for phrase in [
        "john doe",
        "doe john",
        "jane doe",
        "johnny bravos",
        "running man",
        "runs man",
        "man running",
        "the man",
        "example com",
        "john doe example",
    ] {
        let words = phrase.replace(' ', " <-> ");
        let alone = test_db
            .run(move |conn| {
                let user_service_db::DbConnection::Pg(pg) = conn else {
                    return Err(user_service_domain::DomainError::unexpected(
                        "not PostgreSQL",
                    ));
                };
                diesel::RunQueryDsl::load::<Username>(
                    diesel::sql_query(
                        "SELECT username FROM users WHERE namespace = 'shop' \
                         AND deleted_at IS NULL AND search_vector @@ \
                         (to_tsquery('simple', $1) || to_tsquery('english', $1)) \
                         ORDER BY username",
                    )
                    .bind::<diesel::sql_types::Text, _>(words),
                    pg,
                )
                .map_err(|e| user_service_domain::DomainError::unexpected(e.to_string()))
            })
            .await
            .expect("the tsquery alone");
        let alone: Vec<String> = alone.into_iter().map(|u| u.username).collect();
        assert_eq!(
            sorted_hits(&test_db, &format!("\"{phrase}\"")).await,
            alone,
            "{phrase}"
        );
    }
    // The cases above that tell the pairs' rules apart find something.
    assert_eq!(sorted_hits(&test_db, "\"runs man\"").await, ["runner"]);
    assert_eq!(sorted_hits(&test_db, "\"the man\"").await, ["runner"]);
    assert_eq!(sorted_hits(&test_db, "\"john doe\"").await, ["jdoe"]);
}
