//! The principal read (`UserRepository::get`, once per authenticated request) under concurrency and
//! across a lost connection. On PostgreSQL it runs on the thread's async connection, which
//! concurrent reads share; the pool answers whenever that connection cannot.

use std::collections::HashMap;
use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use user_service_db::{Database, DieselUsers};
use user_service_domain::DomainError;
use user_service_domain::model::User;
use user_service_domain::ports::UserRepository;
use uuid::Uuid;

use crate::support::{bare_user, create_namespace, insert_user, user};

contract!(concurrent_reads_each_get_their_own_row);

const USERS: usize = 16;
const READS_PER_USER: usize = 8;
/// The key of reads that must find no user.
const NOBODY: usize = usize::MAX;

/// Users of two namespaces, half of them with every optional field empty.
async fn population(db: &Database) -> Vec<User> {
    create_namespace(db, "acme").await;
    create_namespace(db, "globex").await;
    let mut users = Vec::new();
    for i in 0..USERS {
        let namespace = if i % 2 == 0 { "acme" } else { "globex" };
        let name = format!("user{i}");
        let u = if i % 4 < 2 {
            user(namespace, &name, Some(&format!("{name}@example.com")))
        } else {
            bare_user(namespace, &name)
        };
        insert_user(db, &u).await;
        users.push(u);
    }
    users
}

/// Reads every user `READS_PER_USER` times from as many concurrent tasks, interleaved with reads
/// that must find nothing, and checks each answer against the row it asked for.
async fn read_all_concurrently(repo: &DieselUsers, users: &[User]) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut spawn_get = |key: usize, namespace: &str, id: Uuid| {
        let (repo, namespace) = (repo.clone(), namespace.to_owned());
        tasks.spawn(async move { (key, repo.get(&namespace, id).await) });
    };
    for round in 0..READS_PER_USER {
        for (i, u) in users.iter().enumerate() {
            spawn_get(i, &u.namespace, u.id);
            if i == round {
                // The same id in the other namespace, and an id that does not exist.
                let other = if u.namespace == "acme" {
                    "globex"
                } else {
                    "acme"
                };
                spawn_get(NOBODY, other, u.id);
                spawn_get(NOBODY, &u.namespace, Uuid::now_v7());
            }
        }
    }
    let mut answers: HashMap<usize, usize> = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, got) = joined.expect("task");
        let got = got.expect("get");
        if i == NOBODY {
            assert_eq!(got, None);
        } else {
            assert_eq!(got.as_ref(), Some(&users[i]));
        }
        *answers.entry(i).or_default() += 1;
    }
    for i in 0..USERS {
        assert_eq!(answers.get(&i), Some(&READS_PER_USER), "user {i}");
    }
    assert_eq!(answers.get(&NOBODY), Some(&(2 * READS_PER_USER)));
}

/// Reads `u` once and checks the answer is its row.
async fn read_one(repo: &DieselUsers, u: &User, when: &str) {
    let got = repo.get(&u.namespace, u.id).await.expect(when);
    assert_eq!(got.as_ref(), Some(u), "{when}");
}

async fn concurrent_reads_each_get_their_own_row(db: Database) {
    let users = population(&db).await;
    let repo = DieselUsers::new(db);
    // The first read of the thread connects; the rest share that connection.
    read_one(&repo, &users[0], "first read").await;
    read_all_concurrently(&repo, &users).await;
}

/// Ends every other session of the test's database, as a restart of PostgreSQL does: the async
/// connection and the pool's other connections alike.
async fn terminate_other_sessions(db: &Database) -> i64 {
    db.run(|conn| {
        diesel::sql_query(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .get_result::<Terminated>(conn)
        .map(|t| t.n)
        .map_err(DomainError::unexpected)
    })
    .await
    .expect("terminate")
}

#[derive(diesel::QueryableByName)]
struct Terminated {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn after_postgres_ends_the_sessions_the_next_reads_still_answer() {
    let test_db = user_service_db::testing::fresh_postgres().await;
    let db = test_db.database().clone();
    let users = population(&db).await;
    let repo = DieselUsers::new(db.clone());
    let alice = &users[0];
    read_one(&repo, alice, "before the restart").await;

    let terminated = terminate_other_sessions(&db).await;
    assert!(terminated >= 1, "the async connection at least was ended");
    // Its first read finds the async connection dead and is answered by the pool, whose own dead
    // connections are pinged and replaced first.
    read_one(&repo, alice, "after the restart").await;
    read_all_concurrently(&repo, &users).await;

    // Past the retry period the thread connects again (reads that come while it does use the pool),
    // and that connection answers too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    read_one(&repo, alice, "after reconnecting").await;
    read_all_concurrently(&repo, &users).await;

    // Twice over: the replacement is as disposable as the first.
    terminate_other_sessions(&db).await;
    read_one(&repo, alice, "after the second restart").await;
    read_all_concurrently(&repo, &users).await;
}
