//! The ledger's invariants under real concurrency and a crash, idempotency under a storm, and the
//! seed-003 Python clients, through the real binary on both databases.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::join_all;
use serde_json::{Value, json};
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, run_seed003_clients, text};

const PW: &str = "supersecret123";

struct Tenant {
    key: String,
    user_id: String,
    token: String,
}

async fn tenant(s: &Server) -> Tenant {
    let (st, ns) = s.post("/userspaces", &json!({"namespace": "shop"})).await;
    assert_eq!(st, StatusCode::CREATED, "{ns}");
    let (st, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reg}");
    Tenant {
        key: text(&ns["data"]["api_key"]),
        user_id: text(&reg["user"]["id"]),
        token: text(&reg["access_token"]),
    }
}

fn credits(t: &Tenant, route: &str) -> String {
    format!("/api/v1/users/{}/credits/{route}", t.user_id)
}

/// A POST with the service key; `None` when the server did not answer (it was killed).
async fn post_key(
    s: &Server,
    t: &Tenant,
    path: &str,
    body: &Value,
    idempotency_key: Option<&str>,
) -> Option<(StatusCode, Value)> {
    let mut req = s
        .client
        .post(s.url(path))
        .header("X-API-Key", &t.key)
        .json(body);
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    let res = req.send().await.ok()?;
    let status = res.status();
    let bytes = res.bytes().await.ok()?;
    Some((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

async fn balance(s: &Server, t: &Tenant) -> Value {
    let (st, b) = s.get_auth(&credits(t, "balance"), &t.token).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b["data"].clone()
}

/// Every transaction of the user, oldest first.
async fn ledger(s: &Server, t: &Tenant) -> Vec<Value> {
    let mut all = Vec::new();
    for page in 1.. {
        let (st, b) = s
            .get_auth(
                &format!("{}?page={page}&page_size=100", credits(t, "transactions")),
                &t.token,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{b}");
        let items = b["data"]["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        all.extend(items);
    }
    all.reverse();
    all
}

/// Millionths of a JSON number printed by the service (an exact decimal).
fn micros(v: &Value) -> i64 {
    let s = v.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = format!("{frac:0<6}");
    int.parse::<i64>().expect("integer part") * 1_000_000
        + frac[..6].parse::<i64>().expect("fraction")
}

/// The invariants of API 3.4 on what is stored: a chain of balances with no gap, each change one
/// transaction, recharges minus consumes equal to the balance.
fn assert_ledger_consistent(txs: &[Value], balance: &Value) {
    let mut running = 0i64;
    let mut sum = 0i64;
    for tx in txs {
        let amount = micros(&tx["amount"]);
        let signed = match tx["transaction_type"].as_str() {
            Some("recharge") => amount,
            Some("consume") => -amount,
            other => panic!("unknown transaction type {other:?}"),
        };
        assert_eq!(
            micros(&tx["balance_before"]),
            running,
            "chain broken at {tx}"
        );
        running += signed;
        sum += signed;
        assert_eq!(
            micros(&tx["balance_after"]),
            running,
            "balance_after of {tx}"
        );
        assert!(running >= 0, "balance below zero at {tx}");
    }
    assert_eq!(
        sum,
        micros(balance),
        "recharges minus consumes equal the balance"
    );
}

async fn parallel_consumes_never_overdraw(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let t = tenant(&s).await;
    let (st, _) = post_key(
        &s,
        &t,
        &credits(&t, "recharge"),
        &json!({"amount": 150}),
        None,
    )
    .await
    .expect("answer");
    assert_eq!(st, StatusCode::OK);
    let results = join_all((0..200).map(|_| {
        let (s, t) = (&s, &t);
        async move {
            post_key(s, t, &credits(t, "consume"), &json!({"amount": 1}), None)
                .await
                .expect("answer")
        }
    }))
    .await;
    let ok = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::OK)
        .count();
    let insufficient = results
        .iter()
        .filter(|(st, b)| {
            *st == StatusCode::BAD_REQUEST && b["error"]["code"] == "INSUFFICIENT_CREDITS"
        })
        .count();
    assert_eq!((ok, insufficient), (150, 50));
    let afters: HashSet<i64> = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::OK)
        .map(|(_, b)| micros(&b["data"]["balance_after"]))
        .collect();
    assert_eq!(
        afters,
        (0..150).map(|n| n * 1_000_000).collect::<HashSet<_>>()
    );
    assert_eq!(balance(&s, &t).await, json!(0));
    let txs = ledger(&s, &t).await;
    assert_eq!(txs.len(), 151);
    assert_ledger_consistent(&txs, &json!(0));
    s.stop().await;
}

async fn parallel_recharges_apply_each_reference_once(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let t = tenant(&s).await;
    let results = join_all((0..100).map(|i| {
        let (s, t) = (&s, &t);
        async move {
            let body = json!({"amount": i + 1, "reference_id": format!("pay-{}", i % 10)});
            post_key(s, t, &credits(t, "recharge"), &body, None)
                .await
                .expect("answer")
        }
    }))
    .await;
    let mut by_reference: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for (st, b) in &results {
        assert_eq!(*st, StatusCode::OK, "{b}");
        by_reference
            .entry(text(&b["data"]["reference_id"]))
            .or_default()
            .insert(b["data"].to_string());
    }
    assert_eq!(by_reference.len(), 10);
    assert!(
        by_reference.values().all(|answers| answers.len() == 1),
        "one answer per reference"
    );
    let txs = ledger(&s, &t).await;
    assert_eq!(txs.len(), 10);
    assert_ledger_consistent(&txs, &balance(&s, &t).await);
    s.stop().await;
}

async fn one_idempotency_key_applies_once(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let t = tenant(&s).await;
    post_key(
        &s,
        &t,
        &credits(&t, "recharge"),
        &json!({"amount": 100}),
        None,
    )
    .await;
    let results = join_all((0..20).map(|_| {
        let (s, t) = (&s, &t);
        async move {
            post_key(
                s,
                t,
                &credits(t, "consume"),
                &json!({"amount": 1}),
                Some("storm-1"),
            )
            .await
            .expect("answer")
        }
    }))
    .await;
    let applied: HashSet<String> = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::OK)
        .map(|(_, b)| text(&b["data"]["transaction_id"]))
        .collect();
    assert_eq!(applied.len(), 1, "every success is the one transaction");
    for (st, b) in &results {
        assert!(
            *st == StatusCode::OK
                || (*st == StatusCode::CONFLICT && b["error"]["code"] == "IDEMPOTENCY_KEY_IN_USE"),
            "{st} {b}"
        );
    }
    // Once the first has finished, a retry replays it.
    let (st, b) = post_key(
        &s,
        &t,
        &credits(&t, "consume"),
        &json!({"amount": 1}),
        Some("storm-1"),
    )
    .await
    .expect("answer");
    assert_eq!(st, StatusCode::OK);
    assert!(applied.contains(&text(&b["data"]["transaction_id"])));
    assert_eq!(balance(&s, &t).await, json!(99));
    assert_eq!(ledger(&s, &t).await.len(), 2);
    s.stop().await;
}

async fn a_crash_mid_storm_loses_no_success(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let t = tenant(&s).await;
    post_key(
        &s,
        &t,
        &credits(&t, "recharge"),
        &json!({"amount": 100000}),
        None,
    )
    .await;
    let s = Arc::new(s);
    let t = Arc::new(t);
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (s, t, stop) = (Arc::clone(&s), Arc::clone(&t), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            let mut successes = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match post_key(
                    &s,
                    &t,
                    &credits(&t, "consume"),
                    &json!({"amount": 0.5}),
                    None,
                )
                .await
                {
                    Some((StatusCode::OK, b)) => successes.push(text(&b["data"]["transaction_id"])),
                    Some(_) => {}
                    None => break,
                }
            }
            successes
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let pid = s.pid();
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill -KILL");
    let mut successes = Vec::new();
    for w in workers {
        successes.extend(w.await.expect("worker"));
    }
    stop.store(true, Ordering::Relaxed);
    assert!(
        successes.len() > 10,
        "the storm was running when the server died ({})",
        successes.len()
    );

    let s = store.start(&[]).await;
    let txs = ledger(&s, &t).await;
    let stored: HashSet<String> = txs.iter().map(|tx| text(&tx["transaction_id"])).collect();
    for id in &successes {
        assert!(stored.contains(id), "success {id} is in the ledger");
    }
    assert_ledger_consistent(&txs, &balance(&s, &t).await);
    s.stop().await;
}

async fn the_seed_003_python_clients_work_unchanged(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let t = tenant(&s).await;
    post_key(
        &s,
        &t,
        &credits(&t, "recharge"),
        &json!({"amount": 10}),
        None,
    )
    .await;
    // A usage record names a session of its user (API.md 1.3).
    let (_, session) = post_key(
        &s,
        &t,
        &format!("/api/v1/users/{}/sessions", t.user_id),
        &json!({}),
        None,
    )
    .await
    .expect("a session");
    let session_id = text(&session["data"]["session_id"]);
    let r = run_seed003_clients(&s, &t.token, &t.user_id, &session_id).await;

    let usage = &r["usage"]["data"];
    assert_eq!(usage["event_type"], "memory_storage");
    assert_eq!(usage["credits_charged"], json!(0.57));
    assert_eq!(
        (usage["tokens_used"].clone(), usage["user_id"].clone()),
        (json!(57), json!(t.user_id))
    );
    let session = &r["session"]["data"];
    assert_eq!(
        (session["title"].clone(), session["status"].clone()),
        (json!("Terminal on host-1"), json!("active"))
    );
    assert_eq!(
        session["metadata"],
        json!({"source": "terminal_service", "type": "terminal_session"})
    );
    let consume = &r["consume"]["data"];
    assert_eq!(
        (consume["amount"].clone(), consume["balance_after"].clone()),
        (json!(0.3), json!(9.7))
    );
    assert_eq!(consume["usage_record_id"], usage["id"]);
    assert_eq!(r["insufficient"], "Need 1000.0, have 9.7");
    s.stop().await;
}

/// 200 consumes and recharges of one account at once, spread over `servers` (all on one database):
/// the group commit applies many in one transaction, each instance has its own writer, and only
/// the database orders the instances' transactions. Every API.md 3.4 invariant holds on what is
/// stored, every overdrawing consume fails alone, every reference id applies once, and every
/// answer is the row stored for it.
async fn mixed_storm(servers: &[Server], t: &Tenant) {
    let (st, _) = post_key(
        &servers[0],
        t,
        &credits(t, "recharge"),
        &json!({"amount": 100}),
        None,
    )
    .await
    .expect("answer");
    assert_eq!(st, StatusCode::OK);
    let results = join_all((0..200usize).map(|i| {
        let s = &servers[i % servers.len()];
        async move {
            let (route, body) = if i % 2 == 0 {
                ("consume", json!({"amount": 3}))
            } else if i % 4 == 1 {
                // Pairs of recharges share a reference id: each pair applies once.
                (
                    "recharge",
                    json!({"amount": 2, "reference_id": format!("ref-{}", i / 8)}),
                )
            } else {
                ("recharge", json!({"amount": 2}))
            };
            let answer = post_key(s, t, &credits(t, route), &body, None)
                .await
                .expect("answer");
            (route, answer)
        }
    }))
    .await;
    let mut answered: BTreeMap<String, Value> = BTreeMap::new();
    let mut insufficient = 0;
    for (route, (st, b)) in &results {
        match *st {
            StatusCode::OK => {
                answered.insert(text(&b["data"]["transaction_id"]), b["data"].clone());
            }
            StatusCode::BAD_REQUEST if *route == "consume" => {
                assert_eq!(b["error"]["code"], "INSUFFICIENT_CREDITS", "{b}");
                insufficient += 1;
            }
            _ => panic!("{route}: {st} {b}"),
        }
    }
    let txs = ledger(&servers[0], t).await;
    let recharges = txs
        .iter()
        .filter(|tx| tx["transaction_type"] == "recharge")
        .count();
    // The first recharge, 50 without a reference and 25 pairs sharing one.
    assert_eq!(recharges, 76);
    assert_eq!(
        txs.len() - recharges + insufficient,
        100,
        "each consume applied or refused"
    );
    assert_eq!(
        txs.len(),
        answered.len() + 1,
        "every stored change was answered"
    );
    for tx in &txs[1..] {
        assert_eq!(
            answered.get(&text(&tx["transaction_id"])),
            Some(tx),
            "the answer is the stored row"
        );
    }
    assert_ledger_consistent(&txs, &balance(&servers[0], t).await);
}

async fn a_storm_of_consumes_and_recharges_keeps_the_ledger(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let t = tenant(&s).await;
    mixed_storm(std::slice::from_ref(&s), &t).await;
    s.stop().await;
}

async fn two_instances_on_one_database_keep_the_ledger(backend: Backend) {
    let store = Store::new(backend).await;
    let (a, b) = (store.start(&[]).await, store.start(&[]).await);
    let t = tenant(&a).await;
    let servers = [a, b];
    mixed_storm(&servers, &t).await;
    for s in servers {
        s.stop().await;
    }
}

on_both!(
    parallel_consumes_never_overdraw,
    parallel_recharges_apply_each_reference_once,
    one_idempotency_key_applies_once,
    a_crash_mid_storm_loses_no_success,
    the_seed_003_python_clients_work_unchanged,
    a_storm_of_consumes_and_recharges_keeps_the_ledger,
    two_instances_on_one_database_keep_the_ledger,
);
