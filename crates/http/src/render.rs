//! Response bodies: the `{"data": ...}` wrapper, the one list shape, and the public views of entities.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use user_service_domain::model::{Namespace, PageRequest, Paged, TokenPair, User};
use uuid::Uuid;

/// `{"data": ...}`, the envelope of every successful resource response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    pub data: T,
}

pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Data { data })
}

pub fn created<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Created().json(Data { data })
}

/// `{"items": [...], "total": N, "page": P, "page_size": S}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub page: u64,
    pub page_size: u64,
}

impl<T> ListPage<T> {
    pub fn from_paged<D>(paged: Paged<D>, view: impl FnMut(D) -> T) -> Self {
        let PageRequest { limit, .. } = paged.request;
        let page = paged.request.page();
        Self {
            items: paged.items.into_iter().map(view).collect(),
            total: paged.total,
            page,
            page_size: limit,
        }
    }
}

/// The public view of a user: never its password hash, token version or storage keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub namespace: String,
    pub username: String,
    pub email: Option<String>,
    /// Whether the owner proved the address (a verification link, a reset, or an admin import).
    pub email_verified: bool,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub extra: BTreeMap<String, String>,
    pub roles: Vec<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            namespace: u.namespace,
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            full_name: u.full_name,
            first_name: u.first_name,
            last_name: u.last_name,
            phone: u.phone,
            avatar_url: u.avatar_url,
            extra: u.extra,
            roles: u.roles,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// The bare OAuth2-style token response the integration contract's clients read.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
}

/// A token response: never stored by a browser or a proxy (RFC 6749 5.1).
pub fn tokens<T: Serialize>(status: actix_web::http::StatusCode, body: T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::PRAGMA, "no-cache"))
        .json(body)
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token,
            token_type: "bearer",
            expires_in: p.expires_in,
            refresh_expires_in: p.refresh_expires_in,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NamespaceView {
    pub namespace: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub settings: NamespaceSettingsView,
}

/// Where the namespace's mails link to, who sends them, and whether logins need a verified email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NamespaceSettingsView {
    pub password_reset_url: Option<String>,
    pub email_verify_url: Option<String>,
    pub mail_from: Option<String>,
    pub require_verified_email: bool,
}

impl From<Namespace> for NamespaceView {
    fn from(n: Namespace) -> Self {
        let s = n.settings;
        Self {
            namespace: n.slug,
            name: n.name,
            description: n.description,
            created_at: n.created_at,
            settings: NamespaceSettingsView {
                password_reset_url: s.password_reset_url,
                email_verify_url: s.email_verify_url,
                mail_from: s.mail_from,
                require_verified_email: s.require_verified_email,
            },
        }
    }
}
