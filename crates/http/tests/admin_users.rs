//! `/api/v1/users*`: namespace admins and service keys manage their namespace's users.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Harness, Reply};
use serde_json::{Value, json};

const PW: &str = "supersecret123";

/// Credentials of a caller: a service key or a bearer token.
#[derive(Clone)]
enum As {
    Key(String),
    Token(String),
    Nobody,
}

fn with(req: TestRequest, who: &As) -> TestRequest {
    match who {
        As::Key(k) => req.insert_header(("X-API-Key", k.clone())),
        As::Token(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
        As::Nobody => req,
    }
}

async fn call(h: &Harness, method: &str, path: &str, who: &As, body: Option<Value>) -> Reply {
    let req = match method {
        "GET" => TestRequest::get(),
        "POST" => TestRequest::post(),
        "PUT" => TestRequest::put(),
        "PATCH" => TestRequest::patch(),
        _ => TestRequest::delete(),
    }
    .uri(path);
    let req = match body {
        Some(b) => req.set_json(b),
        None => req,
    };
    h.send(with(req, who)).await
}

async fn login(h: &Harness, ns: &str, username: &str, password: &str) -> Reply {
    h.post(
        "/auth/login",
        json!({"namespace": ns, "username": username, "password": password}),
    )
    .await
}

struct World {
    key: As,
    other_key: As,
    admin: As,
    plain: As,
}

/// Namespaces `shop` and `other`, an admin and a plain user in `shop`.
async fn world(h: &Harness) -> World {
    let key = As::Key(h.namespace("shop").await);
    let other_key = As::Key(h.namespace("other").await);
    let r = call(
        h,
        "POST",
        "/api/v1/users",
        &key,
        Some(json!({"username": "boss", "email": "boss@example.com", "password": PW, "roles": ["user", "admin"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let admin = login(h, "shop", "boss", PW).await;
    let plain = h.register("shop", "plain", PW).await;
    World {
        key,
        other_key,
        admin: As::Token(admin.body["access_token"].as_str().expect("token").into()),
        plain: As::Token(plain["access_token"].as_str().expect("token").into()),
    }
}

async fn create(h: &Harness, who: &As, body: Value) -> Reply {
    call(h, "POST", "/api/v1/users", who, Some(body)).await
}

fn id_of(r: &Reply) -> String {
    r.body["data"]["id"].as_str().expect("an id").to_owned()
}

async fn create_sets_fields_defaults_and_roles(h: Harness) {
    let w = world(&h).await;
    let r = create(
        &h,
        &w.admin,
        json!({"email": "Ann@Example.com", "first_name": "Ann", "last_name": "Lee", "phone": "+14155550100",
               "full_name": "Ann Lee", "extra": {"plan": "pro"}, "roles": ["editor"], "tenant_id": "shop"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["username"], "Ann@Example.com");
    assert_eq!(d["email"], "Ann@Example.com");
    assert_eq!(d["namespace"], "shop");
    assert_eq!(
        (d["first_name"].clone(), d["last_name"].clone()),
        (json!("Ann"), json!("Lee"))
    );
    assert_eq!(d["roles"], json!(["editor"]));
    assert_eq!(d["extra"], json!({"plan": "pro"}));
    assert_eq!(d["is_active"], true);
    assert!(d.get("password_hash").is_none());
    // No password: the account exists but cannot log in.
    let l = login(&h, "shop", "ann@example.com", "").await;
    assert_eq!(
        (l.status, l.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    let l = login(&h, "shop", "ann@example.com", "anything-at-all").await;
    assert_eq!(
        (l.status, l.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    // With a password it can.
    let r = create(
        &h,
        &w.key,
        json!({"username": "carl", "email": "carl@example.com", "password": PW}),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["roles"].clone()),
        (StatusCode::CREATED, json!(["user"]))
    );
    assert_eq!(login(&h, "shop", "carl", PW).await.status, StatusCode::OK);
}

async fn create_refuses_duplicates_bad_input_and_foreign_tenants(h: Harness) {
    let w = world(&h).await;
    let r = create(
        &h,
        &w.key,
        json!({"username": "PLAIN", "email": "new@example.com"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"));
    let r = create(
        &h,
        &w.key,
        json!({"username": "new", "email": "BOSS@example.com"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"));
    let r = create(
        &h,
        &w.key,
        json!({"email": "x@example.com", "tenant_id": "other"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = create(
        &h,
        &w.key,
        json!({"email": "not-an-email", "password": "short", "roles": ["Bad Role"]}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let fields: Vec<&str> = r.body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "password", "roles"]);
    let r = create(&h, &w.key, json!({"email": "x@example.com", "bogus": 1})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = create(&h, &w.key, json!({"username": "x"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
}

async fn only_admins_and_service_keys_may_manage(h: Harness) {
    let w = world(&h).await;
    let body = json!({"email": "z@example.com"});
    let r = create(&h, &w.plain, body.clone()).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = call(&h, "GET", "/api/v1/users", &w.plain, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = call(&h, "GET", "/api/v1/users", &As::Nobody, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
    let r = call(&h, "GET", "/api/v1/users", &As::Key("wrong".into()), None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );
    let r = h
        .send(
            TestRequest::get()
                .uri("/api/v1/users")
                .insert_header((
                    "X-API-Key",
                    match &w.key {
                        As::Key(k) => k.clone(),
                        _ => String::new(),
                    },
                ))
                .insert_header(("X-Tenant-ID", "other")),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
}

async fn another_namespace_sees_404_for_every_operation(h: Harness) {
    let w = world(&h).await;
    let id = id_of(&create(&h, &w.key, json!({"email": "v@example.com"})).await);
    let path = format!("/api/v1/users/{id}");
    for (method, p, body) in [
        ("GET", path.clone(), None),
        ("PATCH", path.clone(), Some(json!({"first_name": "X"}))),
        ("PUT", path.clone(), Some(json!({"first_name": "X"}))),
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/restore"), None),
    ] {
        let r = call(&h, method, &p, &w.other_key, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
            "{method} {p}"
        );
    }
    let list = call(&h, "GET", "/api/v1/users", &w.other_key, None).await;
    assert_eq!(
        (list.status, list.body["data"]["total"].clone()),
        (StatusCode::OK, json!(0))
    );
    // Still there for its own namespace.
    let r = call(&h, "GET", &path, &w.key, None).await;
    assert_eq!(
        (r.status, r.body["data"]["email"].clone()),
        (StatusCode::OK, json!("v@example.com"))
    );
}

/// A plain user naming another user of its namespace learns nothing: the answer is a made-up id's.
/// Naming itself on an admin route is 403, since it knows that account exists.
async fn a_plain_user_gets_404_for_another_user_and_403_for_itself(h: Harness) {
    let w = world(&h).await;
    let victim = id_of(&create(&h, &w.key, json!({"email": "v@example.com"})).await);
    let me = h.register("shop", "carol", PW).await;
    let carol = As::Token(me["access_token"].as_str().expect("token").into());
    let own = me["user"]["id"].as_str().expect("id").to_owned();
    let made_up = uuid::Uuid::now_v7().to_string();
    let routes = |id: &str| {
        let path = format!("/api/v1/users/{id}");
        [
            ("GET", path.clone(), None),
            ("PATCH", path.clone(), Some(json!({"first_name": "X"}))),
            ("PUT", path.clone(), Some(json!({"roles": ["admin"]}))),
            ("DELETE", path.clone(), None),
            ("POST", format!("{path}/restore"), None),
        ]
    };
    for id in [&victim, &made_up] {
        for (method, p, body) in routes(id) {
            let r = call(&h, method, &p, &carol, body).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
                "{method} {p}"
            );
            assert_eq!(r.body["error"]["message"], "user not found", "{method} {p}");
        }
    }
    for (method, p, body) in routes(&own) {
        let r = call(&h, method, &p, &carol, body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "FORBIDDEN"),
            "{method} {p}"
        );
    }
    // Nothing was changed by any of it.
    let r = call(&h, "GET", &format!("/api/v1/users/{victim}"), &w.key, None).await;
    assert_eq!(
        (
            r.status,
            r.body["data"]["first_name"].clone(),
            r.body["data"]["is_active"].clone()
        ),
        (StatusCode::OK, Value::Null, json!(true))
    );
}

async fn get_checks_the_id(h: Harness) {
    let w = world(&h).await;
    let r = call(&h, "GET", "/api/v1/users/not-a-uuid", &w.key, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(r.body["error"]["details"][0]["field"], "id");
    let r = call(
        &h,
        "GET",
        &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
        &w.key,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    // `/users/me` is not taken for an id.
    let me = call(&h, "GET", "/api/v1/users/me", &w.admin, None).await;
    assert_eq!(
        (me.status, me.body["data"]["username"].clone()),
        (StatusCode::OK, json!("boss"))
    );
}

async fn list_filters_and_both_pagination_styles(h: Harness) {
    let w = world(&h).await;
    for n in 0..4 {
        let r = create(&h, &w.key, json!({"email": format!("u{n}@example.com"), "roles": if n % 2 == 0 { json!(["staff"]) } else { json!(["user"]) }})).await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let u3 = call(
        &h,
        "GET",
        "/api/v1/users?role=user&page_size=100",
        &w.key,
        None,
    )
    .await;
    let names: Vec<&str> = u3.body["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["boss", "plain", "u1@example.com", "u3@example.com"]);
    let staff = call(&h, "GET", "/api/v1/users?role=staff", &w.key, None).await;
    assert_eq!(staff.body["data"]["total"], 2);
    let page = call(&h, "GET", "/api/v1/users?page=2&page_size=2", &w.key, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        (
            page.body["data"]["total"].clone(),
            page.body["data"]["page"].clone(),
            page.body["data"]["page_size"].clone()
        ),
        (json!(6), json!(2), json!(2))
    );
    assert_eq!(page.body["data"]["items"][0]["username"], "u0@example.com");
    let window = call(&h, "GET", "/api/v1/users?limit=2&offset=2", &w.key, None).await;
    assert_eq!(window.body["data"]["items"], page.body["data"]["items"]);
    let mixed = call(&h, "GET", "/api/v1/users?page=1&limit=2", &w.key, None).await;
    assert_eq!(
        (mixed.status, mixed.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let big = call(&h, "GET", "/api/v1/users?page_size=101", &w.key, None).await;
    assert_eq!(
        (big.status, big.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let bad = call(&h, "GET", "/api/v1/users?is_active=maybe", &w.key, None).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    // Deactivate one, delete another.
    let u0 = staff.body["data"]["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let u2 = staff.body["data"]["items"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let r = call(
        &h,
        "PATCH",
        &format!("/api/v1/users/{u0}"),
        &w.key,
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["is_active"].clone()),
        (StatusCode::OK, json!(false))
    );
    let r = call(&h, "DELETE", &format!("/api/v1/users/{u2}"), &w.key, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let active = call(&h, "GET", "/api/v1/users?is_active=true", &w.key, None).await;
    assert_eq!(active.body["data"]["total"], 4);
    let inactive = call(&h, "GET", "/api/v1/users?is_active=false", &w.key, None).await;
    assert_eq!(inactive.body["data"]["items"][0]["id"], u0.as_str());
    assert_eq!(inactive.body["data"]["total"], 1);
    let all = call(
        &h,
        "GET",
        "/api/v1/users?include_deleted=true",
        &w.key,
        None,
    )
    .await;
    assert_eq!(all.body["data"]["total"], 6);
    let live = call(&h, "GET", "/api/v1/users", &w.key, None).await;
    assert_eq!(live.body["data"]["total"], 5);
}

async fn put_and_patch_update_partially_and_ignore_empty_strings(h: Harness) {
    let w = world(&h).await;
    let id = id_of(
        &create(
            &h,
            &w.key,
            json!({"email": "p@example.com", "first_name": "Pat", "phone": "+14155550100"}),
        )
        .await,
    );
    let path = format!("/api/v1/users/{id}");
    let r = call(&h, "PUT", &path, &w.admin, Some(json!({"first_name": "", "last_name": "Smith", "phone": "", "email": "", "roles": ["admin"]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["first_name"].clone(),
            d["last_name"].clone(),
            d["phone"].clone(),
            d["email"].clone(),
            d["roles"].clone()
        ),
        (
            json!("Pat"),
            json!("Smith"),
            json!("+14155550100"),
            json!("p@example.com"),
            json!(["admin"])
        )
    );
    let r = call(
        &h,
        "PATCH",
        &path,
        &w.key,
        Some(json!({"phone": null, "extra": {"k": "v"}})),
    )
    .await;
    assert_eq!(
        (
            r.body["data"]["phone"].clone(),
            r.body["data"]["extra"].clone()
        ),
        (Value::Null, json!({"k": "v"}))
    );
    let r = call(&h, "PATCH", &path, &w.key, Some(json!({"phone": "12"}))).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = call(
        &h,
        "PATCH",
        &path,
        &w.key,
        Some(json!({"username": "renamed"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = call(
        &h,
        "PATCH",
        &path,
        &w.key,
        Some(json!({"email": "boss@example.com"})),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"));
    let r = call(
        &h,
        "PATCH",
        &path,
        &w.key,
        Some(json!({"tenant_id": "other"})),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = call(&h, "PATCH", "/api/v1/users/nope", &w.key, Some(json!({}))).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
}

async fn deactivation_makes_tokens_stale_and_blocks_login(h: Harness) {
    let w = world(&h).await;
    let reg = h.register("shop", "dan", PW).await;
    let token = reg["access_token"].as_str().expect("token").to_owned();
    let id = reg["user"]["id"].as_str().expect("id").to_owned();
    let r = call(
        &h,
        "PATCH",
        &format!("/api/v1/users/{id}"),
        &w.admin,
        Some(json!({"is_active": false})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let me = h.get_auth("/users/me", &token).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
    let l = login(&h, "shop", "dan", PW).await;
    assert_eq!(
        (l.status, l.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    let refresh = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": reg["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    let r = call(
        &h,
        "PATCH",
        &format!("/api/v1/users/{id}"),
        &w.admin,
        Some(json!({"is_active": true})),
    )
    .await;
    assert_eq!(r.body["data"]["is_active"], true);
    assert_eq!(login(&h, "shop", "dan", PW).await.status, StatusCode::OK);
    // The logins from before the deactivation stay dead.
    let old = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": reg["refresh_token"]}),
        )
        .await;
    assert_eq!(
        (old.status, old.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
}

async fn delete_and_restore(h: Harness) {
    let w = world(&h).await;
    let reg = h.register("shop", "eve", PW).await;
    let token = reg["access_token"].as_str().expect("token").to_owned();
    let id = reg["user"]["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/users/{id}");
    let r = call(&h, "DELETE", &path, &w.key, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::OK,
            json!({"data": {"message": "User deleted successfully"}})
        )
    );
    let again = call(&h, "DELETE", &path, &w.key, None).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    let me = h.get_auth("/users/me", &token).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
    let l = login(&h, "shop", "eve", PW).await;
    assert_eq!(
        (l.status, l.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    // The data is kept and readable by the admin; updates are refused.
    let kept = call(&h, "GET", &path, &w.key, None).await;
    assert_eq!(
        (kept.status, kept.body["data"]["is_active"].clone()),
        (StatusCode::OK, json!(false))
    );
    let upd = call(
        &h,
        "PATCH",
        &path,
        &w.key,
        Some(json!({"first_name": "Eve"})),
    )
    .await;
    assert_eq!(
        (upd.status, upd.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    // Restore brings it back with login possible again (old tokens stay dead).
    let r = call(&h, "POST", &format!("{path}/restore"), &w.key, None).await;
    assert_eq!(
        (
            r.status,
            r.body["data"]["is_active"].clone(),
            r.body["data"]["id"].clone()
        ),
        (StatusCode::OK, json!(true), json!(id))
    );
    assert_eq!(login(&h, "shop", "eve", PW).await.status, StatusCode::OK);
    assert_eq!(
        h.get_auth("/users/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
    let unknown = call(
        &h,
        "POST",
        &format!("/api/v1/users/{}/restore", uuid::Uuid::now_v7()),
        &w.key,
        None,
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
}

async fn a_deleted_users_name_is_free_and_restore_then_conflicts(h: Harness) {
    let w = world(&h).await;
    let first = create(
        &h,
        &w.key,
        json!({"username": "frank", "email": "frank@example.com", "password": PW}),
    )
    .await;
    let id = id_of(&first);
    assert_eq!(
        call(&h, "DELETE", &format!("/api/v1/users/{id}"), &w.key, None)
            .await
            .status,
        StatusCode::OK
    );
    let again = h.register("shop", "Frank", PW).await;
    assert_eq!(again["user"]["username"], "Frank");
    let r = call(
        &h,
        "POST",
        &format!("/api/v1/users/{id}/restore"),
        &w.key,
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"));
    let still = call(&h, "GET", &format!("/api/v1/users/{id}"), &w.key, None).await;
    assert_eq!(still.body["data"]["is_active"], false);
    // Email reuse is also free once deleted.
    let by_email = create(
        &h,
        &w.key,
        json!({"username": "frank2", "email": "FRANK@example.com"}),
    )
    .await;
    assert_eq!(by_email.status, StatusCode::CREATED);
}

async fn search_finds_ranks_pages_and_validates(h: Harness) {
    let w = world(&h).await;
    for (u, first, last) in [
        ("jdoe", "John", "Doe"),
        ("jane", "Jane", "Doe"),
        ("jose", "José", "Müller"),
        ("ivan", "Иван", "Петров"),
    ] {
        let r = create(&h, &w.key, json!({"username": u, "email": format!("{u}@example.com"), "first_name": first, "last_name": last, "full_name": format!("{first} {last}")})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = call(&h, "GET", "/api/v1/users/search?q=joh", &w.admin, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["items"][0]["username"].clone()
        ),
        (json!(1), json!("jdoe"))
    );
    let r = call(
        &h,
        "GET",
        "/api/v1/users/search?q=%22john%20doe%22",
        &w.key,
        None,
    )
    .await;
    assert_eq!(r.body["data"]["items"][0]["username"], "jdoe");
    let r = call(
        &h,
        "GET",
        "/api/v1/users/search?q=DOE&page_size=1&page=2",
        &w.key,
        None,
    )
    .await;
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["page"].clone()
        ),
        (json!(2), json!(2))
    );
    assert_eq!(r.body["data"]["items"].as_array().map(Vec::len), Some(1));
    let r = call(&h, "GET", "/api/v1/users/search?q=muller", &w.key, None).await;
    assert_eq!(r.body["data"]["items"][0]["username"], "jose");
    let r = call(
        &h,
        "GET",
        "/api/v1/users/search?q=%D0%B8%D0%B2%D0%B0%D0%BD",
        &w.key,
        None,
    )
    .await;
    assert_eq!(r.body["data"]["items"][0]["username"], "ivan");
    for bad in [
        "/api/v1/users/search",
        "/api/v1/users/search?q=a",
        &format!("/api/v1/users/search?q={}", "x".repeat(101)),
    ] {
        let r = call(&h, "GET", bad, &w.key, None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{bad}"
        );
        assert_eq!(r.body["error"]["details"][0]["field"], "q");
    }
    let r = call(&h, "GET", "/api/v1/users/search?q=john", &w.plain, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = call(&h, "GET", "/api/v1/users/search?q=john", &w.other_key, None).await;
    assert_eq!(
        (r.status, r.body["data"]["total"].clone()),
        (StatusCode::OK, json!(0))
    );
}

on_both!(
    create_sets_fields_defaults_and_roles,
    create_refuses_duplicates_bad_input_and_foreign_tenants,
    only_admins_and_service_keys_may_manage,
    another_namespace_sees_404_for_every_operation,
    a_plain_user_gets_404_for_another_user_and_403_for_itself,
    get_checks_the_id,
    list_filters_and_both_pagination_styles,
    put_and_patch_update_partially_and_ignore_empty_strings,
    deactivation_makes_tokens_stale_and_blocks_login,
    delete_and_restore,
    a_deleted_users_name_is_free_and_restore_then_conflicts,
    search_finds_ranks_pages_and_validates,
);
