//! A `user_id` of GetUser, UpdateUser and DeleteUser names a user as an HTTP path does (API.md 7):
//! our id, or the subject of an external identity linked to a user of the caller's namespace.

mod common;

use common::{Harness, Tenant, assert_status, with};
use tonic::Code;
use user_service_db::{DieselIdentityLinks, on_both};
use user_service_domain::model::IdentityLink;
use user_service_domain::ports::{Clock, IdentityLinkRepository, SystemClock};
use user_service_grpc::pb::{DeleteUserRequest, GetUserRequest, UpdateUserRequest};

const ISSUERS: &str = r#"[{"issuer": "https://idp.example.com/", "namespace": "shop"}]"#;

fn get(id: &str) -> GetUserRequest {
    GetUserRequest {
        user_id: id.into(),
        tenant_id: String::new(),
    }
}

fn key(t: &Tenant) -> [(&'static str, &str); 1] {
    [("x-api-key", t.api_key.as_str())]
}

async fn a_linked_subject_names_its_user_in_its_namespace_only(mut h: Harness) {
    let shop = h.tenant("shop").await;
    let blog = h.tenant("blog").await;
    let user = shop.plain_user.clone();
    let linked = DieselIdentityLinks::new(h.database().clone())
        .link(&IdentityLink {
            issuer: "https://idp.example.com/".into(),
            subject: "auth0|42".into(),
            user_id: user.id,
            namespace: "shop".into(),
            created_at: SystemClock.now(),
        })
        .await
        .expect("link");
    assert!(linked);

    let found = h
        .client
        .get_user(with(get("auth0|42"), &key(&shop)))
        .await
        .expect("GetUser by subject")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(
        (found.id.as_str(), found.username.as_str()),
        (user.id.to_string().as_str(), user.username.as_str())
    );
    let s = h
        .client
        .get_user(with(get("auth0|43"), &key(&shop)))
        .await
        .expect_err("an unknown subject");
    assert_status(&s, Code::NotFound, "USER_NOT_FOUND");
    // A namespace without external issuers takes our ids only.
    let s = h
        .client
        .get_user(with(get("auth0|42"), &key(&blog)))
        .await
        .expect_err("a subject in another namespace");
    assert_status(&s, Code::InvalidArgument, "VALIDATION_ERROR");

    let updated = h
        .client
        .update_user(with(
            UpdateUserRequest {
                user_id: "auth0|42".into(),
                first_name: Some("Linked".into()),
                ..Default::default()
            },
            &key(&shop),
        ))
        .await
        .expect("UpdateUser by subject")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!(
        (updated.id, updated.first_name),
        (user.id.to_string(), "Linked".to_owned())
    );
    h.client
        .delete_user(with(
            DeleteUserRequest {
                user_id: "auth0|42".into(),
                tenant_id: String::new(),
            },
            &key(&shop),
        ))
        .await
        .expect("DeleteUser by subject");
    // Soft-deleted, and still named by its subject (API.md 3.1 keeps its data).
    let gone = h
        .client
        .get_user(with(get("auth0|42"), &key(&shop)))
        .await
        .expect("GetUser of the deleted user")
        .into_inner()
        .user
        .expect("a user");
    assert_eq!((gone.id, gone.is_active), (user.id.to_string(), false));
}

on_both!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    env: &[("USER_SERVICE__AUTH__EXTERNAL_ISSUERS", super::ISSUERS)];
    a_linked_subject_names_its_user_in_its_namespace_only,
);
