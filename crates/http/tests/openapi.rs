//! The OpenAPI document is the contract: every route the router serves is in `/openapi.json`, every
//! operation the document lists is served, and the shapes it promises are the ones sent.

mod common;

use std::collections::BTreeSet;

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use common::{Backend, Harness};
use serde_json::{Value, json};
use user_service_http::build_app;

/// Served for the documentation itself, not operations of the API.
const DOCUMENTATION: [&str; 4] = [
    "/openapi.json",
    "/docs",
    "/docs/{_}",
    "/api-docs/openapi.json",
];
/// Not an operation of the API: the HTTP edge rewrites a request it refuses (malformed head, 414,
/// 431, head timeout) into a request for this path, whose answer is that error's envelope
/// (crates/http/src/edge). Asking for it directly gets the same error, so there is nothing to document.
const EDGE: &str = "/_edge/{fault}";
/// The integration routes are served at the root and again under this scope with the same handlers;
/// the document lists them once, at the root, and says so in its description.
const MIRROR: &str = "/api/v1";
const OPERATOR: &str = "operator-key-for-tests";
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// `{key:.*}` in a router pattern is `{key}` in the document.
fn normalize(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    let mut skipping = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push(c);
            }
            '}' => {
                in_param = false;
                skipping = false;
                out.push(c);
            }
            ':' if in_param => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

/// A path that the pattern matches: each parameter becomes a UUID, which every parameter accepts.
fn concrete(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|s| {
            if s.starts_with('{') {
                "00000000-0000-0000-0000-000000000000"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `(METHOD, path)` of every operation the router serves. actix exposes no list of its routes, so
/// the candidate patterns are read from the resource map's debug form; each is then confirmed
/// through the public `match_pattern`, and its methods are those that do not answer 405.
async fn served(h: &Harness) -> BTreeSet<(String, String)> {
    let app = test::init_service(build_app(h.state.clone())).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health").to_request()).await;
    let rmap = res.request().resource_map().clone();
    let debug = format!("{rmap:?}");
    let literals: BTreeSet<String> = debug
        .split("Single(\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect();
    assert!(
        literals.len() > 20,
        "the resource map's debug form changed: {debug:.300}"
    );
    let mut patterns = BTreeSet::new();
    for leaf in &literals {
        for prefix in std::iter::once("").chain(literals.iter().map(String::as_str)) {
            let candidate = format!("{prefix}{leaf}");
            let path = concrete(&candidate);
            if rmap.match_pattern(&path).as_deref() == Some(candidate.as_str()) {
                patterns.insert(candidate);
            }
        }
    }
    let mut out = BTreeSet::new();
    for pattern in patterns {
        let path = normalize(&pattern);
        if DOCUMENTATION.contains(&path.as_str()) || path == EDGE {
            continue;
        }
        for method in METHODS {
            let req = TestRequest::default()
                .method(method.clone())
                .uri(&concrete(&pattern))
                .to_request();
            let res = test::call_service(&app, req).await;
            if res.status() != StatusCode::METHOD_NOT_ALLOWED {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

async fn document(h: &Harness) -> Value {
    let r = h.send(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[actix_web::test]
async fn every_served_route_is_documented_and_every_documented_one_served() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let doc = document(&h).await;
    let documented = documented(&doc);
    let served = served(&h).await;
    let undocumented: Vec<_> = served
        .iter()
        .filter(|(m, p)| {
            let root = p.strip_prefix(MIRROR).unwrap_or(p);
            !documented.contains(&(m.clone(), p.clone()))
                && !documented.contains(&(m.clone(), root.to_owned()))
        })
        .collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented: {undocumented:?}\ndocumented but not served: {unserved:?}"
    );
    // The mirror is exactly the integration contract: every root API route is mirrored except the
    // operations routes and the avatar objects.
    let mirrored: BTreeSet<_> = served
        .iter()
        .filter_map(|(m, p)| Some((m.clone(), p.strip_prefix(MIRROR)?.to_owned())))
        .filter(|(_, p)| documented.iter().any(|(_, d)| d == p))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(
        mirrored,
        [
            "/admin/keys/rotate",
            "/auth/change-password",
            "/auth/login",
            "/auth/logout",
            "/auth/logout-all",
            "/auth/password-reset",
            "/auth/password-reset/confirm",
            "/auth/password-reset/request",
            "/auth/refresh",
            "/auth/register",
            "/auth/verify-email",
            "/auth/verify-email/confirm",
            "/auth/verify-email/request",
            "/users/me",
            "/users/me/avatar",
            "/userspaces",
            "/userspaces/{namespace}",
            "/userspaces/{namespace}/api-key",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect()
    );
}

#[actix_web::test]
async fn every_api_operation_lists_the_shared_error_answers() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let doc = document(&h).await;
    let error = json!({"$ref": "#/components/schemas/ErrorBody"});
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        if ["/health", "/ready", "/metrics"].contains(&path.as_str()) {
            continue;
        }
        for (method, op) in item.as_object().into_iter().flatten() {
            let responses = &op["responses"];
            for status in ["400", "429", "503"] {
                let r = &responses[status];
                assert!(r.is_object(), "{method} {path} lacks {status}");
            }
            if op["security"].is_array() {
                assert!(responses["401"].is_object(), "{method} {path} lacks 401");
            }
            if path.contains('{') {
                assert!(responses["404"].is_object(), "{method} {path} lacks 404");
            }
            if op["requestBody"]["content"]["application/json"].is_object() {
                for status in ["413", "415"] {
                    assert!(
                        responses[status].is_object(),
                        "{method} {path} lacks {status}"
                    );
                }
            }
        }
    }
    for name in ["BadRequest", "Unauthorized", "NotFound", "TooManyRequests"] {
        assert_eq!(
            doc["components"]["responses"][name]["content"]["application/json"]["schema"],
            error
        );
    }
}

#[actix_web::test]
async fn paging_is_one_object_whose_styles_exclude_each_other() {
    let h = Harness::new(Backend::Sqlite, &[("ADMIN_API_KEY", OPERATOR)]).await;
    let doc = document(&h).await;
    let params = &doc["paths"]["/userspaces"]["get"]["parameters"];
    let paging = params
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "paging"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&paging["style"], &paging["explode"]),
        (&json!("form"), &json!(true))
    );
    let schema = &paging["schema"];
    for (field, min, max) in [
        ("page", 1, 100_000),
        ("page_size", 1, 100),
        ("limit", 1, 100),
        ("offset", 0, 10_000_000),
    ] {
        assert_eq!(
            (
                &schema["properties"][field]["minimum"],
                &schema["properties"][field]["maximum"]
            ),
            (&json!(min), &json!(max)),
            "{field}"
        );
    }
    assert_eq!(
        schema["not"]["anyOf"].as_array().map(Vec::len),
        Some(4),
        "{schema}"
    );
    // The bounds the document states are the ones the service applies.
    for (query, status) in [
        ("page=100000&page_size=100", StatusCode::OK),
        ("limit=100&offset=10000000", StatusCode::OK),
        ("page=100001", StatusCode::BAD_REQUEST),
        ("offset=10000001", StatusCode::BAD_REQUEST),
        (
            "page=0&page_size=0&limit=0&offset=0",
            StatusCode::BAD_REQUEST,
        ),
        ("page=1&limit=1", StatusCode::BAD_REQUEST),
    ] {
        let r = h
            .send(
                TestRequest::get()
                    .uri(&format!("/userspaces?{query}"))
                    .insert_header(("X-Admin-Key", OPERATOR)),
            )
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.body);
    }
}

#[actix_web::test]
async fn success_bodies_are_documented_inside_the_data_wrapper() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let doc = document(&h).await;
    let schema_of = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap_or_default()
            .trim_start_matches("#/components/schemas/")
            .to_owned()
    };
    let wrapped = |name: &str| {
        let s = &doc["components"]["schemas"][name];
        (s["required"].clone(), s["properties"]["data"].is_object())
    };
    let list = schema_of("/userspaces", "get", "200");
    assert_eq!(wrapped(&list), (json!(["data"]), true), "{list}");
    let balance = schema_of("/api/v1/users/{user_id}/credits/balance", "get", "200");
    assert_eq!(
        doc["components"]["schemas"][&balance]["properties"]["data"]["type"],
        "number"
    );
    // Token responses are bare, as the integration contract's clients read them; register and
    // login add the user (seed 002's clients read it from both, API.md 7).
    for (path, status) in [
        ("/auth/register", "201"),
        ("/auth/login", "200"),
        ("/api/auth/register", "201"),
        ("/api/auth/login", "200"),
    ] {
        assert_eq!(schema_of(path, "post", status), "TokensWithUser", "{path}");
    }
    assert_eq!(schema_of("/auth/refresh", "post", "200"), "TokenResponse");
    assert_eq!(
        doc["paths"]["/api/auth/me"]["get"]["responses"]["200"],
        doc["paths"]["/users/me"]["get"]["responses"]["200"]
    );
    let with_user = doc["components"]["schemas"]["TokensWithUser"].to_string();
    assert!(
        with_user.contains("TokenResponse") && with_user.contains("\"user\""),
        "{with_user}"
    );
}

// What schemathesis found, each as a regression test (docs/TESTING.md lists them).

/// A body without `namespace` is 400 unless `auth.default_namespace` is set: the document requires
/// the field exactly when the service does, so no request it allows is refused for it.
#[actix_web::test]
async fn namespace_is_required_in_the_document_unless_a_default_stands_in() {
    let bodies = ["RegisterBody", "LoginBody", "ResetRequestBody"];
    let routes = [
        (
            "/api/auth/register",
            json!({"username": "bob", "password": "supersecret123"}),
            StatusCode::CREATED,
        ),
        (
            "/auth/login",
            json!({"namespace": null, "username": "bob", "password": "supersecret123"}),
            StatusCode::OK,
        ),
        (
            "/auth/password-reset/request",
            json!({"email": "bob@example.com"}),
            StatusCode::ACCEPTED,
        ),
    ];
    let without = Harness::new(Backend::Sqlite, &[]).await;
    let doc = document(&without).await;
    for name in bodies {
        let body = &doc["components"]["schemas"][name];
        assert!(
            body["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("namespace"))),
            "{name}: {body}"
        );
        assert_eq!(body["properties"]["namespace"]["type"], "string", "{name}");
    }
    for (path, body, _) in &routes {
        let r = without.post(path, body.clone()).await;
        r.assert_invalid("namespace", path);
    }

    let with = Harness::new(Backend::Sqlite, &[("DEFAULT_NAMESPACE", "streamly")]).await;
    with.namespace("streamly").await;
    let doc = document(&with).await;
    for name in bodies {
        let body = &doc["components"]["schemas"][name];
        assert!(
            !body["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("namespace"))),
            "{name}: {body}"
        );
        assert_eq!(
            body["properties"]["namespace"]["type"],
            json!(["string", "null"]),
            "{name}"
        );
    }
    for (path, body, status) in routes {
        let r = with.post(path, body).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
    }
}

#[actix_web::test]
async fn a_json_array_is_not_an_object_body() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    h.namespace("shop").await;
    let t = h.register("shop", "alice", "password-1").await;
    let token = t["access_token"].as_str().unwrap_or_default();
    let patch = |body: &'static str| {
        TestRequest::patch()
            .uri("/users/me")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body)
    };
    h.send(patch(r#"{"full_name": "Alice A"}"#)).await;
    // serde reads a struct from an array too: `[null, null]` would clear email and full_name.
    let r = h.send(patch(" \n[null, null]")).await;
    assert_eq!(
        (
            r.status,
            r.code(),
            r.body["error"]["details"][0]["field"].clone()
        ),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", json!("body"))
    );
    let me = h.get_auth("/users/me", token).await;
    assert_eq!(me.body["data"]["full_name"], "Alice A");
    // An object still passes, whatever whitespace precedes it.
    let r = h.send(patch("\r\n  {\"full_name\": null}")).await;
    assert_eq!(
        (r.status, &r.body["data"]["full_name"]),
        (StatusCode::OK, &Value::Null)
    );
}

#[actix_web::test]
async fn an_unknown_method_is_405_even_with_an_idempotency_key() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let method = Method::from_bytes(b"QUERY").unwrap_or(Method::TRACE);
    let r = h
        .send(
            TestRequest::default()
                .method(method)
                .uri("/api/v1/users/00000000-0000-0000-0000-000000000000/credits/consume")
                .insert_header(("Idempotency-Key", "")),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
}

#[actix_web::test]
async fn search_documents_q_as_required_and_trimmed() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let doc = document(&h).await;
    let q = &doc["paths"]["/api/v1/users/search"]["get"]["parameters"][0];
    assert_eq!((&q["name"], &q["required"]), (&json!("q"), &json!(true)));
    let key = h.namespace("shop").await;
    for (query, status) in [
        ("", StatusCode::BAD_REQUEST),
        ("?q=%20a%20", StatusCode::BAD_REQUEST),
        ("?q=--", StatusCode::BAD_REQUEST),
        ("?q=%20ab%20", StatusCode::OK),
    ] {
        let r = h
            .send(
                TestRequest::get()
                    .uri(&format!("/api/v1/users/search{query}"))
                    .insert_header(("X-API-Key", key.as_str())),
            )
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.body);
    }
}

/// The documentation page is pointed at `/api-docs/openapi.json` rather than handed the document, and
/// that route serves the same document as `/openapi.json` (compact), rendered once per process and
/// shared by every app, each with the variant of its own settings.
#[actix_web::test]
async fn the_documentation_page_loads_the_same_document() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let pretty = h.send(TestRequest::get().uri("/openapi.json")).await;
    let compact = h
        .send(TestRequest::get().uri("/api-docs/openapi.json"))
        .await;
    for r in [&pretty, &compact] {
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
    }
    assert_eq!(compact.body, pretty.body);
    assert!(compact.body["paths"]["/users/me"]["get"].is_object());
    assert!(!compact.raw.contains(&b'\n'), "compact, as served before");
    assert!(pretty.raw.contains(&b'\n'), "pretty, as served before");
    // Asked again, the same bytes.
    let again = h.send(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(again.raw, pretty.raw);

    let page = h
        .send(TestRequest::get().uri("/docs/swagger-initializer.js"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let script = String::from_utf8_lossy(&page.raw);
    assert!(script.contains("\"/api-docs/openapi.json\""), "{script}");

    // Another app in the same process, with a default namespace, gets its own variant.
    let with = Harness::new(Backend::Sqlite, &[("DEFAULT_NAMESPACE", "streamly")]).await;
    let other = with
        .send(TestRequest::get().uri("/api-docs/openapi.json"))
        .await;
    assert_eq!(other.status, StatusCode::OK);
    assert_ne!(other.body, compact.body);
    assert_eq!(
        other.body["components"]["schemas"]["LoginBody"]["properties"]["namespace"]["type"],
        json!(["string", "null"])
    );
}
