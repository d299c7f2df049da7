//! API.md 2.4 end to end: the real binary with `email.transport = smtp` against a real SMTP server
//! the test starts on 127.0.0.1 (aiosmtpd, see `user_service_e2e::smtp`), on both databases. The mail
//! leaves through the outbox and its background sender, so every assertion about a mail waits for
//! the SMTP server to receive it.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use user_service_e2e::browser::Browser;
use user_service_e2e::smtp::{ReceivedMail, SmtpSink, free_port};
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, text};

const PW: &str = "correct horse battery";
const NEW_PW: &str = "a brand new secret";
/// Long enough for a poll, a delivery and a retry after its backoff.
const ARRIVES: Duration = Duration::from_secs(20);

/// The service sending through `smtp_url`, polling its outbox often and retrying after a second.
async fn start(store: &Store, smtp_url: &str) -> Server {
    store
        .start(&[
            ("USER_SERVICE__EMAIL__TRANSPORT", "smtp"),
            ("SMTP_URL", smtp_url),
            ("USER_SERVICE__EMAIL__POLL_INTERVAL_MS", "100"),
            ("USER_SERVICE__EMAIL__RETRY_BASE_SECS", "1"),
            ("USER_SERVICE__EMAIL__RETRY_MAX_SECS", "1"),
            ("USER_SERVICE__EMAIL__SMTP__TIMEOUT_SECS", "5"),
        ])
        .await
}

async fn namespace(s: &Server, slug: &str, name: &str) {
    let (st, body) = s
        .post("/userspaces", &json!({"namespace": slug, "name": name}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
}

async fn register(s: &Server, ns: &str, username: &str, email: &str) -> Value {
    let (st, body) = s
        .post(
            "/auth/register",
            &json!({"namespace": ns, "username": username, "password": PW, "email": email}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    body
}

async fn login(s: &Server, ns: &str, username: &str, password: &str) -> (StatusCode, Value) {
    s.post(
        "/auth/login",
        &json!({"namespace": ns, "username": username, "password": password}),
    )
    .await
}

async fn request_reset(s: &Server, ns: &str, email: &str) -> Value {
    let (st, body) = s
        .post(
            "/auth/password-reset/request",
            &json!({"namespace": ns, "email": email}),
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{body}");
    body
}

fn token_of(link: &str) -> String {
    link.rsplit_once("token=")
        .map(|(_, t)| t.to_owned())
        .expect("a token in the link")
}

async fn metric(s: &Server, status: &str) -> Option<i64> {
    s.metric(&format!("outbox_mails{{status=\"{status}\"}}"))
        .await
}

/// Waits until `/metrics` shows the outbox counts (they are refreshed after each delivery round).
async fn wait_for_metric(s: &Server, status: &str, value: i64) {
    let deadline = tokio::time::Instant::now() + ARRIVES;
    loop {
        let got = metric(s, status).await;
        if got == Some(value) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox_mails{{status=\"{status}\"}} {value}; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_is_mail_of(mail: &ReceivedMail, to: &str, name: &str) {
    assert_eq!(mail.to, to);
    let subject = mail.header("subject").unwrap_or_default();
    assert!(
        subject.contains(name),
        "the namespace's name in {subject:?}"
    );
    assert!(
        mail.header("content-type")
            .is_some_and(|c| c.starts_with("multipart/alternative")),
        "{}",
        mail.raw
    );
    assert!(!mail.html.is_empty(), "an HTML body:\n{}", mail.raw);
    let link = mail.link();
    assert!(
        mail.html.contains(&link.replace('&', "&amp;")),
        "the HTML body has the link {link}:\n{}",
        mail.html
    );
}

async fn register_verify_and_reset_through_a_real_smtp_server(backend: Backend) {
    let smtp = SmtpSink::start_with_login("mailer", "s3cret").await;
    let store = Store::new(backend).await;
    let s = start(&store, &smtp.url()).await;
    namespace(&s, "shop", "The Shop").await;

    // Register: the verification mail arrives, and its link (the service's own page) verifies.
    let reg = register(&s, "shop", "alice", "alice@example.com").await;
    assert_eq!(reg["user"]["email_verified"], false);
    let access = text(&reg["access_token"]);
    let verify = smtp.wait_for_mail_to("alice@example.com", ARRIVES).await;
    assert_is_mail_of(&verify, "alice@example.com", "The Shop");
    let link = verify.link();
    assert!(
        link.starts_with(&format!("{}/auth/verify-email?token=", s.base)),
        "{link}"
    );
    let page = s.client.get(&link).send().await.expect("open the link");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()
            .get("content-security-policy")
            .is_some_and(|v| v
                .to_str()
                .unwrap_or_default()
                .contains("frame-ancestors 'none'"))
    );
    let html = page.text().await.expect("page");
    assert!(html.contains("alice@example.com"), "{html}");
    let (st, me) = s.get_auth("/users/me", &access).await;
    assert_eq!(
        (st, &me["data"]["email_verified"]),
        (StatusCode::OK, &json!(true))
    );

    // Reset: another session exists; the mail's token sets the new password and ends it.
    let (st, other) = login(&s, "shop", "alice", PW).await;
    assert_eq!(st, StatusCode::OK);
    request_reset(&s, "shop", "Alice@Example.com").await;
    smtp.wait_for(2, ARRIVES).await;
    let reset = smtp.received().pop().expect("the reset mail");
    assert_is_mail_of(&reset, "alice@example.com", "The Shop");
    let link = reset.link();
    assert!(
        link.starts_with(&format!("{}/auth/password-reset?token=", s.base)),
        "{link}"
    );
    let (st, pair) = s
        .post(
            "/auth/password-reset/confirm",
            &json!({"token": token_of(&link), "new_password": NEW_PW}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{pair}");
    assert_eq!(pair["token_type"], "bearer");
    let (st, _) = s.get_auth("/users/me", &text(&pair["access_token"])).await;
    assert_eq!(st, StatusCode::OK);

    assert_eq!(
        login(&s, "shop", "alice", PW).await.0,
        StatusCode::UNAUTHORIZED,
        "the old password fails"
    );
    let (st, body) = s.get_auth("/users/me", &text(&other["access_token"])).await;
    assert_eq!(
        (st, text(&body["error"]["code"])),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE".to_owned()),
        "the other session's access token is stale"
    );
    let (st, _) = s
        .post(
            "/auth/refresh",
            &json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "its refresh token is dead");
    let (st, _) = s.get_auth("/users/me", &access).await;
    assert_eq!(
        st,
        StatusCode::UNAUTHORIZED,
        "so is the registration's session"
    );
    assert_eq!(login(&s, "shop", "alice", NEW_PW).await.0, StatusCode::OK);
    // Single use.
    let (st, body) = s
        .post(
            "/auth/password-reset/confirm",
            &json!({"token": token_of(&link), "new_password": "yet another one"}),
        )
        .await;
    assert_eq!(
        (st, text(&body["error"]["code"])),
        (StatusCode::BAD_REQUEST, "EMAIL_TOKEN_INVALID".to_owned())
    );

    wait_for_metric(&s, "sent", 2).await;
    assert_eq!(metric(&s, "queued").await, Some(0));
    assert_eq!(metric(&s, "failed").await, Some(0));
    assert_eq!(smtp.received().len(), 2, "nothing else was sent");
    s.stop().await;
}

async fn no_mail_for_an_unknown_address_nor_past_three_an_hour(backend: Backend) {
    let smtp = SmtpSink::start().await;
    let store = Store::new(backend).await;
    let s = start(&store, &smtp.url()).await;
    namespace(&s, "shop", "The Shop").await;
    register(&s, "shop", "bob", "bob@example.com").await;
    smtp.wait_for(1, ARRIVES).await;

    let known = request_reset(&s, "shop", "bob@example.com").await;
    for (ns, email) in [
        ("shop", "nobody@example.com"),
        ("no-such-shop", "bob@example.com"),
    ] {
        assert_eq!(
            request_reset(&s, ns, email).await,
            known,
            "the same answer for {email} in {ns}"
        );
    }
    // Three reset mails an hour; the fourth request answers the same and sends nothing.
    for _ in 0..3 {
        assert_eq!(request_reset(&s, "shop", "bob@example.com").await, known);
    }
    // A mail queued after all of those: once it arrives, everything before it has been delivered.
    register(&s, "shop", "marker", "marker@example.com").await;
    smtp.wait_for_mail_to("marker@example.com", ARRIVES).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = smtp.received();
    let to = |addr: &str| got.iter().filter(|m| m.to == addr).count();
    assert_eq!(to("nobody@example.com"), 0, "no mail to an unknown address");
    assert_eq!(
        to("bob@example.com"),
        1 + 3,
        "the verification and three of the four reset requests"
    );
    assert_eq!(got.len(), 5);
    // Of the three reset tokens only the newest works.
    let resets: Vec<String> = got
        .iter()
        .filter(|m| m.to == "bob@example.com" && m.link().contains("/auth/password-reset?"))
        .map(|m| token_of(&m.link()))
        .collect();
    assert_eq!(resets.len(), 3);
    for (token, status) in [
        (&resets[0], StatusCode::BAD_REQUEST),
        (&resets[1], StatusCode::BAD_REQUEST),
        (&resets[2], StatusCode::OK),
    ] {
        let (st, body) = s
            .post(
                "/auth/password-reset/confirm",
                &json!({"token": token, "new_password": NEW_PW}),
            )
            .await;
        assert_eq!(st, status, "{body}");
    }
    s.stop().await;
}

async fn mail_waits_out_a_mail_server_outage_and_a_sigkill(backend: Backend) {
    let mut smtp = SmtpSink::down(free_port());
    let store = Store::new(backend).await;
    let s = start(&store, &smtp.url()).await;
    namespace(&s, "shop", "The Shop").await;

    // The mail server is down: the request still answers at once, and the mail waits.
    let started = std::time::Instant::now();
    register(&s, "shop", "carol", "carol@example.com").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(metric(&s, "sent").await.unwrap_or(0), 0);
    smtp.up().await;
    let carol = smtp.wait_for_mail_to("carol@example.com", ARRIVES).await;
    assert_is_mail_of(&carol, "carol@example.com", "The Shop");

    // Down again; a mail is queued and the service is killed before it could deliver it.
    smtp.down_now().await;
    register(&s, "shop", "dave", "dave@example.com").await;
    s.kill().await;
    smtp.up().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        smtp.received().len(),
        1,
        "nothing sends while the service is down"
    );
    // Restarted: the mail queued by the killed process goes out.
    let s = start(&store, &smtp.url()).await;
    let dave = smtp.wait_for_mail_to("dave@example.com", ARRIVES).await;
    // Its link works against the new process.
    let (st, user) = s
        .post(
            "/auth/verify-email/confirm",
            &json!({"token": token_of(&dave.link())}),
        )
        .await;
    assert_eq!(
        (st, &user["data"]["username"]),
        (StatusCode::OK, &json!("dave"))
    );
    assert_eq!(user["data"]["email_verified"], true);
    wait_for_metric(&s, "sent", 2).await;
    assert_eq!(smtp.received().len(), 2);
    s.stop().await;
}

on_both!(
    register_verify_and_reset_through_a_real_smtp_server,
    no_mail_for_an_unknown_address_nor_past_three_an_hour,
    mail_waits_out_a_mail_server_outage_and_a_sigkill,
);

/// Several instances on one PostgreSQL claim the outbox with `FOR UPDATE SKIP LOCKED`: every mail
/// reaches the SMTP server exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgresql_send_each_mail_once() {
    const USERS: usize = 40;
    let smtp = SmtpSink::start().await;
    let store = Store::new(Backend::Postgres).await;
    let a = start(&store, &smtp.url()).await;
    let b = start(&store, &smtp.url()).await;
    namespace(&a, "shop", "The Shop").await;
    let servers = [&a, &b];
    let registrations = (0..USERS).map(|i| {
        let s = servers[i % 2];
        async move {
            register(
                s,
                "shop",
                &format!("user{i}"),
                &format!("user{i}@example.com"),
            )
            .await
        }
    });
    futures_util::future::join_all(registrations).await;
    smtp.wait_for(USERS, ARRIVES).await;
    // Both senders keep polling: give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = smtp.received();
    let recipients: HashSet<&str> = got.iter().map(|m| m.to.as_str()).collect();
    let ids: HashSet<&str> = got.iter().filter_map(|m| m.header("message-id")).collect();
    assert_eq!(
        got.len(),
        USERS,
        "each mail once: {:?}",
        got.iter().map(|m| &m.to).collect::<Vec<_>>()
    );
    assert_eq!(recipients.len(), USERS);
    assert_eq!(ids.len(), USERS);
    wait_for_metric(&a, "sent", USERS as i64).await;
    a.stop().await;
    b.stop().await;
}

/// The reset link of a real mail opened in a real headless Chromium with JavaScript off: the
/// service's own form takes the new password, and the user logs in with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_reset_page_in_a_real_browser_sets_a_password_that_logs_in() {
    let browser = tokio::task::spawn_blocking(Browser::get)
        .await
        .expect("install the browser");
    let smtp = SmtpSink::start().await;
    let store = Store::new(Backend::Sqlite).await;
    let s = start(&store, &smtp.url()).await;
    namespace(&s, "shop", "The Shop").await;
    let (st, _) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "erin", "password": PW,
                    "email": "erin@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    smtp.wait_for(1, ARRIVES).await;
    request_reset(&s, "shop", "erin@example.com").await;
    let mail = smtp
        .wait_for(2, ARRIVES)
        .await
        .pop()
        .expect("the reset mail");
    let link = mail.link();
    assert!(link.contains("/auth/password-reset?token="), "{link}");

    let seen = browser
        .run_script("reset_page.mjs", &[link.as_str(), NEW_PW])
        .await;
    assert_eq!(seen["form"]["status"], 200, "{seen}");
    assert_eq!(seen["form"]["heading"], "Choose a new password", "{seen}");
    assert_eq!(
        seen["form"]["maxWidth"], "448px",
        "the page's style applied: {seen}"
    );
    assert_eq!(seen["done"]["status"], 200, "{seen}");
    assert_eq!(
        seen["done"]["heading"], "Your password is changed",
        "{seen}"
    );
    assert_eq!(
        seen["problems"],
        json!([]),
        "nothing blocked or failed: {seen}"
    );

    assert_eq!(login(&s, "shop", "erin", NEW_PW).await.0, StatusCode::OK);
    assert_eq!(
        login(&s, "shop", "erin", PW).await.0,
        StatusCode::UNAUTHORIZED
    );
    s.stop().await;
}
