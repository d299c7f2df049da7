//! The embedding example (examples/embedded.rs) runs, and does what it says: on a fresh SQLite
//! database it creates a namespace, registers and logs in a user, verifies the access token and
//! moves credits, all through the domain services and this crate's adapters, with no HTTP.

#[path = "../examples/embedded.rs"]
mod embedded;

use user_service_domain::model::Credits;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedding_example_does_what_it_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("embedded.db").display());
    let outcome = embedded::run(&url).await.expect("the example runs");
    assert_eq!(outcome.balance, Credits::parse_decimal("9.7").expect("9.7"));
    assert!(outcome.overdraft_refused);
    assert!(outcome.api_key.len() >= 32, "{}", outcome.api_key);
    assert!(!outcome.kid.is_empty());
    assert_eq!(outcome.user_id.get_version_num(), 7);

    // The same database a second time: the namespace is there already, and the example says so.
    let again = embedded::run(&url).await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.to_string().contains("shop")),
        "{:?}",
        again.map(|o| o.user_id)
    );
}

/// `main`, as `cargo run --example embedded` runs it (its own temporary database).
#[test]
fn the_embedding_example_main_succeeds() {
    embedded::main().expect("main succeeds");
}
