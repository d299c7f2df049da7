//! The principal read (`UserRepository::get`, once per authenticated request) under concurrency and
//! across a lost connection. On PostgreSQL it runs on the thread's async connection, which
//! concurrent reads share; the pool answers whenever that connection cannot.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use user_service_db::{Database, DieselUsers};
use user_service_domain::DomainError;
use user_service_domain::model::User;
use user_service_domain::ports::UserRepository;
use uuid::Uuid;

use crate::support::{bare_user, create_namespace, insert_user, now, user};

contract!(
    concurrent_reads_each_get_their_own_row,
    a_read_after_a_write_sees_it_while_other_reads_are_in_flight,
);

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

/// Reads batched behind a query already sent must not take its answer: a read that starts after a
/// write returned sees the write, however many reads of the same row are in flight around it.
async fn a_read_after_a_write_sees_it_while_other_reads_are_in_flight(db: Database) {
    let users = population(&db).await;
    let alice = users[0].clone();
    let repo = DieselUsers::new(db);
    read_one(&repo, &alice, "first read").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (repo, alice, stop) = (repo.clone(), alice.clone(), Arc::clone(&stop));
        readers.spawn(async move {
            let mut reads = 0_u32;
            while !stop.load(Ordering::Relaxed) {
                let got = repo.get(&alice.namespace, alice.id).await.expect("read");
                assert!(got.is_some_and(|u| u.id == alice.id));
                reads += 1;
                // SQLite's read is inline and never yields: let the writer have its turn.
                tokio::task::yield_now().await;
            }
            reads
        });
    }
    for round in 1..=200 {
        let version = repo
            .bump_token_version(&alice.namespace, alice.id, now())
            .await
            .expect("bump");
        assert_eq!(version, alice.token_version + round);
        let got = repo.get(&alice.namespace, alice.id).await.expect("read");
        assert_eq!(got.map(|u| u.token_version), Some(version), "round {round}");
    }
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    while let Some(joined) = readers.join_next().await {
        reads += joined.expect("reader");
    }
    assert!(reads > 0, "the reads around the writes ran");
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

/// A runtime that shuts down with a batched read queued (its query task never ran) leaves the
/// thread's queue free: the next runtime's reads on the same thread are answered.
#[test]
fn a_runtime_shut_down_mid_read_leaves_the_next_runtime_reading() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let test_db = runtime().block_on(user_service_db::testing::fresh_postgres());
    let db = test_db.database().clone();
    let users = runtime().block_on(population(&db));
    let repo = DieselUsers::new(db);
    let alice = users[0].clone();
    runtime().block_on(async {
        let (repo, alice) = (repo.clone(), alice.clone());
        // It queues its read and starts the query's task, which is behind this one in the queue.
        tokio::spawn(async move { repo.get(&alice.namespace, alice.id).await });
        tokio::task::yield_now().await;
    });
    runtime().block_on(async {
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            repo.get(&alice.namespace, alice.id),
        );
        let got = read.await.expect("answered in time").expect("read");
        assert_eq!(got.as_ref(), Some(&alice));
        read_all_concurrently(&repo, &users).await;
    });
}
