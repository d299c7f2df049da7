//! Every RPC of `user.UserService` through a real tonic server and the generated client, on SQLite
//! and PostgreSQL: success, and each refusal API.md 6 names.

mod common;

use common::{Harness, Tenant, assert_status, bearer, with};
use tonic::Code;
use user_service_db::on_both;
use user_service_grpc::pb::{
    DeleteUserRequest, GetUserRequest, ListUsersRequest, SearchUsersRequest, UpdateUserRequest,
};

fn get(id: &str, tenant: &str) -> GetUserRequest {
    GetUserRequest {
        user_id: id.into(),
        tenant_id: tenant.into(),
    }
}

fn list(tenant: &str, page: i32, page_size: i32) -> ListUsersRequest {
    ListUsersRequest {
        tenant_id: tenant.into(),
        page,
        page_size,
    }
}

fn search(tenant: &str, query: &str) -> SearchUsersRequest {
    SearchUsersRequest {
        tenant_id: tenant.into(),
        query: query.into(),
        page: 0,
        page_size: 0,
    }
}

fn update(id: &str) -> UpdateUserRequest {
    UpdateUserRequest {
        user_id: id.into(),
        ..Default::default()
    }
}

fn delete(id: &str, tenant: &str) -> DeleteUserRequest {
    DeleteUserRequest {
        user_id: id.into(),
        tenant_id: tenant.into(),
    }
}

fn key(t: &Tenant) -> [(&'static str, &str); 1] {
    [("x-api-key", t.api_key.as_str())]
}

async fn get_user_answers_every_field_to_a_service_key_and_an_admin(mut h: Harness) {
    let t = h.tenant("shop").await;
    let u = h.user(&t, "johnny", "John", "Doe").await;
    let id = u.id.to_string();
    let res = h
        .client
        .get_user(with(
            get(&id, ""),
            &[("x-api-key", &t.api_key), ("x-request-id", "req-42")],
        ))
        .await
        .expect("GetUser by service key");
    assert_eq!(
        res.metadata()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-42")
    );
    let user = res.into_inner().user.expect("a user");
    assert_eq!(
        (
            user.id.as_str(),
            user.email.as_str(),
            user.tenant_id.as_str(),
            user.first_name.as_str(),
            user.last_name.as_str(),
            user.phone.as_str(),
            user.avatar_url.as_str(),
            user.is_active,
            user.username.as_str(),
            user.roles.as_slice(),
        ),
        (
            id.as_str(),
            "johnny@example.com",
            "shop",
            "John",
            "Doe",
            "+15551234567",
            "",
            true,
            "johnny",
            &["user".to_string()][..],
        )
    );
    assert!(
        user.created_at.ends_with('Z') && user.updated_at.ends_with('Z'),
        "{user:?}"
    );
    let by_admin = h
        .client
        .get_user(with(
            get(&id, "shop"),
            &[("authorization", &bearer(&t.admin_token))],
        ))
        .await
        .expect("GetUser by an admin")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(by_admin, user);
}

async fn another_namespaces_user_is_not_found_like_a_made_up_one(mut h: Harness) {
    let a = h.tenant("shop-a").await;
    let b = h.tenant("shop-b").await;
    let theirs = h.user(&b, "bob", "Bob", "Other").await.id.to_string();
    for id in [theirs.as_str(), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"] {
        let s = h
            .client
            .get_user(with(get(id, ""), &key(&a)))
            .await
            .expect_err("not found");
        assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
        let s = h
            .client
            .update_user(with(
                UpdateUserRequest {
                    last_name: Some("Changed".into()),
                    ..update(id)
                },
                &key(&a),
            ))
            .await
            .expect_err("not found");
        assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
        let s = h
            .client
            .delete_user(with(delete(id, ""), &key(&a)))
            .await
            .expect_err("not found");
        assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
    }
    // Untouched in its own namespace.
    let still = h
        .client
        .get_user(with(get(&theirs, ""), &key(&b)))
        .await
        .expect("b sees its user")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!((still.last_name.as_str(), still.is_active), ("Other", true));
    let s = h
        .client
        .get_user(with(get("not-a-uuid", ""), &key(&a)))
        .await
        .expect_err("invalid id");
    assert_status(&s, Code::InvalidArgument, "VALIDATION_ERROR");
    assert!(s.message().contains("user_id"), "{s:?}");
}

async fn a_tenant_id_of_another_namespace_is_permission_denied(mut h: Harness) {
    let a = h.tenant("shop-a").await;
    h.tenant("shop-b").await;
    let id = h.user(&a, "ann", "Ann", "Able").await.id.to_string();
    let k = key(&a);
    let c = &mut h.client;
    let refusals = [
        c.get_user(with(get(&id, "shop-b"), &k)).await.err(),
        c.list_users(with(list("shop-b", 0, 0), &k)).await.err(),
        c.search_users(with(search("shop-b", "ann"), &k))
            .await
            .err(),
        c.update_user(with(
            UpdateUserRequest {
                tenant_id: "shop-b".into(),
                ..update(&id)
            },
            &k,
        ))
        .await
        .err(),
        c.delete_user(with(delete(&id, "shop-b"), &k)).await.err(),
    ];
    for s in refusals {
        assert_status(&s.expect("refused"), Code::PermissionDenied, "FORBIDDEN");
    }
    // Its own namespace named, or none: allowed; nothing was deleted above.
    let own = c
        .get_user(with(get(&id, "shop-a"), &k))
        .await
        .expect("own tenant_id")
        .into_inner()
        .user
        .expect("a user");
    assert!(own.is_active);
    // The metadata form of the same rule.
    let s = c
        .get_user(with(
            get(&id, ""),
            &[("x-api-key", &a.api_key), ("x-tenant-id", "shop-b")],
        ))
        .await
        .expect_err("x-tenant-id of another namespace");
    assert_status(&s, Code::PermissionDenied, "FORBIDDEN");
}

async fn a_plain_users_token_is_permission_denied(mut h: Harness) {
    let t = h.tenant("shop").await;
    let other = h.user(&t, "olga", "Olga", "Other").await.id.to_string();
    let own = t.plain_user.id.to_string();
    let auth = bearer(&t.user_token);
    let md = [("authorization", auth.as_str())];
    let c = &mut h.client;
    let refusals = [
        c.list_users(with(list("", 0, 0), &md)).await.err(),
        c.search_users(with(search("", "olga"), &md)).await.err(),
        c.get_user(with(get(&own, ""), &md)).await.err(),
        c.update_user(with(
            UpdateUserRequest {
                first_name: Some("Me".into()),
                ..update(&own)
            },
            &md,
        ))
        .await
        .err(),
        c.delete_user(with(delete(&own, ""), &md)).await.err(),
    ];
    for s in refusals {
        assert_status(&s.expect("refused"), Code::PermissionDenied, "FORBIDDEN");
    }
    // Another user's id is as unknown to a plain user as a made-up one (API.md 1.4).
    let s = c
        .get_user(with(get(&other, ""), &md))
        .await
        .expect_err("hidden");
    assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
}

async fn no_or_bad_credentials_are_unauthenticated(mut h: Harness) {
    let t = h.tenant("shop").await;
    let id = t.plain_user.id.to_string();
    let c = &mut h.client;
    let s = c.get_user(get(&id, "")).await.expect_err("no credentials");
    assert_status(&s, Code::Unauthenticated, "TOKEN_MISSING");
    let s = c
        .list_users(list("", 0, 0))
        .await
        .expect_err("no credentials");
    assert_status(&s, Code::Unauthenticated, "TOKEN_MISSING");
    for (k, v, code) in [
        ("authorization", "Bearer not.a.token", "TOKEN_INVALID"),
        ("authorization", "Basic dXNlcjpwYXNz", "TOKEN_INVALID"),
        ("x-api-key", "usk_wrong", "API_KEY_INVALID"),
    ] {
        let s = c
            .get_user(with(get(&id, ""), &[(k, v)]))
            .await
            .expect_err("bad credentials");
        assert_status(&s, Code::Unauthenticated, code);
    }
    // A token signed with another secret.
    let forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    let s = c
        .delete_user(with(delete(&id, ""), &[("authorization", &bearer(forged))]))
        .await
        .expect_err("forged");
    assert_status(&s, Code::Unauthenticated, "TOKEN_INVALID");
    // Two keys in one call: which would count is ambiguous, so neither does.
    let s = c
        .get_user(with(
            get(&id, ""),
            &[("x-api-key", &t.api_key), ("x-api-key", &t.api_key)],
        ))
        .await
        .expect_err("duplicated");
    assert_status(&s, Code::InvalidArgument, "BAD_REQUEST");
}

async fn paging_and_query_bounds_are_invalid_argument(mut h: Harness) {
    let t = h.tenant("shop").await;
    for (name, first) in [("u1", "Alice"), ("u2", "Bruno"), ("u3", "Carla")] {
        h.user(&t, name, first, "Paged").await;
    }
    let k = key(&t);
    let c = &mut h.client;
    for (page, size, field) in [
        (1, 101, "page_size"),
        (-1, 10, "page"),
        (1, -5, "page_size"),
    ] {
        let s = c
            .list_users(with(list("", page, size), &k))
            .await
            .expect_err("out of range");
        assert_status(&s, Code::InvalidArgument, "VALIDATION_ERROR");
        assert!(s.message().contains(field), "{field}: {s:?}");
    }
    let s = c
        .search_users(with(
            SearchUsersRequest {
                page_size: 101,
                ..search("", "alice")
            },
            &k,
        ))
        .await
        .expect_err("page_size 101");
    assert_status(&s, Code::InvalidArgument, "VALIDATION_ERROR");
    for q in ["a", "", &"x".repeat(101)] {
        let s = c
            .search_users(with(search("", q), &k))
            .await
            .expect_err("query length");
        assert_status(&s, Code::InvalidArgument, "VALIDATION_ERROR");
    }
    // 0 means the defaults: page 1 of 20. Five users: boss, plain and the three above.
    let all = c
        .list_users(with(list("", 0, 0), &k))
        .await
        .expect("defaults")
        .into_inner();
    assert_eq!(
        (all.users.len(), all.total, all.page, all.page_size),
        (5, 5, 1, 20)
    );
    let second = c
        .list_users(with(list("", 2, 2), &k))
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(
        (
            second.users.len(),
            second.total,
            second.page,
            second.page_size
        ),
        (2, 5, 2, 2)
    );
    let last = c
        .list_users(with(list("", 3, 2), &k))
        .await
        .expect("page 3")
        .into_inner();
    assert_eq!(last.users.len(), 1);
    let mut seen: Vec<String> = all.users.iter().map(|u| u.id.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5);
}

async fn search_finds_by_prefix_within_the_namespace_only(mut h: Harness) {
    let a = h.tenant("shop-a").await;
    let b = h.tenant("shop-b").await;
    let john = h.user(&a, "jdoe", "John", "Doe").await;
    h.user(&a, "msmith", "Mary", "Smith").await;
    h.user(&b, "jother", "John", "Elsewhere").await;
    let found = h
        .client
        .search_users(with(search("shop-a", "joh"), &key(&a)))
        .await
        .expect("search")
        .into_inner();
    assert_eq!((found.total, found.page, found.page_size), (1, 1, 20));
    let ids: Vec<&str> = found.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, [john.id.to_string().as_str()]);
    assert_eq!(found.users[0].tenant_id, "shop-a");
}

async fn update_ignores_empty_strings_and_applies_the_rest(mut h: Harness) {
    let t = h.tenant("shop").await;
    let u = h.user(&t, "upd", "Uma", "Before").await;
    let id = u.id.to_string();
    let k = key(&t);
    let user = h
        .client
        .update_user(with(
            UpdateUserRequest {
                first_name: Some(String::new()),
                last_name: Some("After".into()),
                phone: Some(String::new()),
                full_name: Some("Uma After".into()),
                ..update(&id)
            },
            &k,
        ))
        .await
        .expect("update")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(
        (
            user.first_name.as_str(),
            user.last_name.as_str(),
            user.phone.as_str(),
            user.full_name.as_str(),
            user.is_active
        ),
        ("Uma", "After", "+15551234567", "Uma After", true)
    );
    let off = h
        .client
        .update_user(with(
            UpdateUserRequest {
                is_active: Some(false),
                ..update(&id)
            },
            &k,
        ))
        .await
        .expect("deactivate")
        .into_inner()
        .user
        .expect("a user");
    assert!(!off.is_active);
    assert_eq!(off.last_name, "After");
    for bad in [
        UpdateUserRequest {
            avatar_url: Some("https://evil.example/x.png".into()),
            ..update(&id)
        },
        UpdateUserRequest {
            first_name: Some("x".repeat(101)),
            ..update(&id)
        },
    ] {
        let s = h
            .client
            .update_user(with(bad, &k))
            .await
            .expect_err("invalid field");
        assert_status(&s, Code::InvalidArgument, "VALIDATION_ERROR");
    }
}

async fn a_soft_deleted_user_is_kept_but_gone_from_lists_and_updates(mut h: Harness) {
    let t = h.tenant("shop").await;
    let u = h.user(&t, "gone", "Gina", "Gone").await;
    let id = u.id.to_string();
    let k = key(&t);
    let c = &mut h.client;
    let msg = c
        .delete_user(with(delete(&id, "shop"), &k))
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(msg.message, "User deleted successfully");
    // Kept for the admin (who may restore it), inactive.
    let kept = c
        .get_user(with(get(&id, ""), &k))
        .await
        .expect("still readable by id")
        .into_inner()
        .user
        .expect("a user");
    assert!(!kept.is_active);
    let listed = c
        .list_users(with(list("", 0, 0), &k))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.users.iter().all(|x| x.id != id), "{listed:?}");
    assert_eq!(listed.total, 2);
    let found = c
        .search_users(with(search("", "gina"), &k))
        .await
        .expect("search")
        .into_inner();
    assert_eq!(found.total, 0);
    let s = c
        .update_user(with(
            UpdateUserRequest {
                first_name: Some("Back".into()),
                ..update(&id)
            },
            &k,
        ))
        .await
        .expect_err("no update of a deleted user");
    assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
    let s = c
        .delete_user(with(delete(&id, ""), &k))
        .await
        .expect_err("deleted twice");
    assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
}

async fn calls_are_counted_per_rpc_and_code(mut h: Harness) {
    let t = h.tenant("shop").await;
    let id = t.plain_user.id.to_string();
    h.client
        .get_user(with(get(&id, ""), &key(&t)))
        .await
        .expect("found");
    let _ = h.client.get_user(get(&id, "")).await;
    let text = h.wiring.http.telemetry.render();
    for line in [
        r#"grpc_server_handled_total{grpc_code="OK",grpc_method="/user.UserService/GetUser",grpc_type="unary"} 1"#,
        r#"grpc_server_handled_total{grpc_code="Unauthenticated",grpc_method="/user.UserService/GetUser",grpc_type="unary"} 1"#,
        r#"grpc_server_handling_seconds_count{grpc_method="/user.UserService/GetUser",grpc_type="unary"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    assert!(h.shutdown().await, "graceful shutdown");
}

on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    get_user_answers_every_field_to_a_service_key_and_an_admin,
    another_namespaces_user_is_not_found_like_a_made_up_one,
    a_tenant_id_of_another_namespace_is_permission_denied,
    a_plain_users_token_is_permission_denied,
    no_or_bad_credentials_are_unauthenticated,
    paging_and_query_bounds_are_invalid_argument,
    search_finds_by_prefix_within_the_namespace_only,
    update_ignores_empty_strings_and_applies_the_rest,
    a_soft_deleted_user_is_kept_but_gone_from_lists_and_updates,
    calls_are_counted_per_rpc_and_code,
);
