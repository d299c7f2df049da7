//! The OpenAPI document, generated from the handlers' annotations, and the documentation page whose
//! assets are compiled into the binary.

use std::sync::OnceLock;

use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use serde_json::json;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use user_service_domain::model::DefaultNamespace;

use crate::error::ErrorBody;
use crate::routes::auth::LoginBody;
use crate::routes::{
    auth, avatars, credits, email, keys, me, namespaces, ops, sessions, uploads, usage, users,
};
use crate::schema;

#[derive(OpenApi)]
#[openapi(
    info(title = "user-service", description = "Multi-tenant users, tokens and profiles. \
        The integration routes (`/userspaces`, `/auth/*`, `/users/me`) are served at the root and under `/api/v1`."),
    paths(
        namespaces::create, namespaces::list, namespaces::get, namespaces::update, namespaces::rotate_key,
        auth::register, auth::login, auth::refresh, auth::logout, auth::logout_all, auth::change_password,
        email::request_password_reset, email::confirm_password_reset, email::request_verification,
        email::confirm_verification, email::reset_page, email::reset_form, email::verify_page,
        me::get_me, me::update_me, me::delete_me,
        avatars::upload_avatar, avatars::delete_avatar, uploads::get_upload,
        ops::health, ops::ready, ops::metrics,
        users::create, users::list, users::search, users::get, users::update, users::delete, users::restore,
        credits::consume, credits::recharge, credits::balance, credits::transactions,
        usage::record, usage::record_batch, usage::history, usage::stats,
        sessions::create, sessions::list, sessions::get, sessions::set_status, sessions::add_message,
        sessions::messages,
        keys::jwks, keys::discovery, keys::rotate,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Security, &Seed002Paths, &CommonResponses, &LoginName),
    tags((name = "namespaces"), (name = "auth"), (name = "users"), (name = "admin"), (name = "operations"),
         (name = "credits"), (name = "usage"), (name = "sessions"), (name = "keys"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Admin-Key"))),
        );
    }
}

/// The error answers every route shares (API.md 1.4, 1.5), declared once as components and listed on
/// each operation they apply to, so no handler repeats them and none is forgotten.
struct CommonResponses;

/// Operations routes: never rate limited, never authenticated, their 503 has a body of its own.
const OPERATIONS: [&str; 3] = ["/health", "/ready", "/metrics"];

const COMMON: [(&str, &str, &str); 8] = [
    (
        "400",
        "BadRequest",
        "`VALIDATION_ERROR` (a field, query or path parameter, a header) or `BAD_REQUEST` (malformed JSON or request)",
    ),
    (
        "401",
        "Unauthorized",
        "missing, invalid, expired or stale credentials; carries `WWW-Authenticate: Bearer`",
    ),
    (
        "403",
        "Forbidden",
        "authenticated but not allowed, or `X-Tenant-ID` names another namespace",
    ),
    (
        "404",
        "NotFound",
        "no such resource in the caller's namespace",
    ),
    (
        "413",
        "PayloadTooLarge",
        "the body is larger than its limit",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "the body is not `application/json`",
    ),
    (
        "429",
        "TooManyRequests",
        "a rate limit is exceeded; carries `Retry-After`",
    ),
    (
        "503",
        "ServiceUnavailable",
        "the database is unreachable or the service is saturated",
    ),
];

impl CommonResponses {
    fn response(status: &str, description: &str) -> Response {
        let mut r = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        );
        let header = match status {
            "401" => Some("WWW-Authenticate"),
            "429" => Some("Retry-After"),
            _ => None,
        };
        if let Some(name) = header {
            r = r.header(
                name,
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
        }
        r.build()
    }

    /// The shared statuses an operation can answer, given what it takes.
    fn statuses(path: &str, op: &Operation) -> Vec<&'static str> {
        let mut out = vec!["400", "429", "503"];
        let json_body = op.request_body.as_ref().is_some_and(
            |b| matches!(b, RefOr::T(b) if b.content.contains_key("application/json")),
        );
        if json_body {
            out.extend(["413", "415"]);
        }
        if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
            out.extend(["401", "403"]);
        }
        if path.contains('{') {
            out.push("404");
        }
        out
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (status, name, description) in COMMON {
            components.responses.insert(
                name.to_owned(),
                RefOr::T(Self::response(status, description)),
            );
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if OPERATIONS.contains(&path.as_str()) {
                continue;
            }
            for op in operations_mut(item) {
                for status in Self::statuses(path, op) {
                    let Some((_, name, _)) = COMMON.iter().find(|(s, _, _)| *s == status) else {
                        continue;
                    };
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
                        });
                }
            }
        }
    }
}

/// Seed 002's paths (`routes::seed002`): the operations of the integration routes they share a
/// handler with, under the paths seed 002's clients call, each with an operation id of its own.
struct Seed002Paths;

#[derive(Clone, Copy)]
enum Verb {
    Get,
    Post,
}

/// `(seed 002 path, integration path, method, operation id)`: only the methods seed 002 calls.
const SEED002: [(&str, &str, Verb, &str); 3] = [
    (
        "/api/auth/register",
        "/auth/register",
        Verb::Post,
        "seed002_register",
    ),
    (
        "/api/auth/login",
        "/auth/login",
        Verb::Post,
        "seed002_login",
    ),
    ("/api/auth/me", "/users/me", Verb::Get, "seed002_me"),
];

impl Modify for Seed002Paths {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, shared, verb, operation_id) in SEED002 {
            let Some(item) = openapi.paths.paths.get(shared) else {
                continue;
            };
            let source = match verb {
                Verb::Get => &item.get,
                Verb::Post => &item.post,
            };
            let Some(mut op) = source.clone() else {
                continue;
            };
            op.operation_id = Some(operation_id.to_owned());
            op.description = Some(format!(
                "Seed 002's path of `{shared}`, served by the same handler (API.md 7)."
            ));
            let mut copy = PathItem::default();
            *match verb {
                Verb::Get => &mut copy.get,
                Verb::Post => &mut copy.post,
            } = Some(op);
            openapi.paths.paths.insert(path.to_owned(), copy);
        }
    }
}

/// A login names its account by `username` or by `email`: at least one is required. utoipa derives
/// no `anyOf` of required fields, and serializes an extension entry as the keyword itself.
struct LoginName;

impl Modify for LoginName {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let schemas = &mut openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas;
        if let Some(RefOr::T(Schema::Object(login))) = schemas.get_mut(LoginBody::name().as_ref()) {
            login
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    "anyOf".to_owned(),
                    json!([
                        {"required": ["username"], "properties": {"username": {"type": "string"}}},
                        {"required": ["email"], "properties": {"email": {"type": "string"}}},
                    ]),
                );
        }
    }
}

/// The document of this deployment. A body may leave `namespace` out only where
/// `auth.default_namespace` stands in for it; without one the document requires it, as the service
/// does (schemathesis holds the service to what the document allows).
pub fn document(default_namespace: &DefaultNamespace) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if default_namespace.get().is_none() {
        require_namespace(&mut doc);
    }
    doc
}

/// Every body whose `namespace` is `schema::namespace_slug_or_default` gets the plain slug, required.
fn require_namespace(doc: &mut utoipa::openapi::OpenApi) {
    let defaulted = schema::namespace_slug_or_default();
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    for body in schemas.values_mut() {
        let RefOr::T(Schema::Object(body)) = body else {
            continue;
        };
        if body.properties.get("namespace") == Some(&defaulted) {
            body.properties
                .insert("namespace".to_owned(), schema::namespace_slug());
            body.required.push("namespace".to_owned());
        }
    }
}

/// Where the documentation page loads the document from.
const API_DOCS: &str = "/api-docs/openapi.json";

/// The document as served: pretty at `/openapi.json`, compact at `/api-docs/openapi.json` (what the
/// documentation page loads).
struct Rendered {
    pretty: Bytes,
    compact: Bytes,
}

/// Rendered once per process, on the first request for it, and shared by every worker. Built in each
/// worker's `App` at start-up, the document (a tree of maps, ~3.6 MiB of heap once built) was most of
/// an idle server's anonymous memory, one copy per worker, for a page few clients ask for
/// (docs/BENCHMARKS.md, idle RSS). It depends on the settings only through whether a default
/// namespace stands in, hence one cell per case.
fn rendered(default_namespace: &DefaultNamespace) -> &'static Rendered {
    static WITH_DEFAULT: OnceLock<Rendered> = OnceLock::new();
    static WITHOUT_DEFAULT: OnceLock<Rendered> = OnceLock::new();
    let cell = if default_namespace.get().is_some() {
        &WITH_DEFAULT
    } else {
        &WITHOUT_DEFAULT
    };
    cell.get_or_init(|| {
        let doc = document(default_namespace);
        Rendered {
            pretty: doc.to_pretty_json().unwrap_or_else(|_| "{}".into()).into(),
            compact: serde_json::to_vec(&doc)
                .unwrap_or_else(|_| b"{}".to_vec())
                .into(),
        }
    })
}

pub fn routes(cfg: &mut web::ServiceConfig, default_namespace: &DefaultNamespace) {
    let json = |default_namespace: DefaultNamespace, pick: fn(&Rendered) -> &Bytes| {
        web::get().to(move || {
            let body = pick(rendered(&default_namespace)).clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        })
    };
    cfg.service(
        web::resource("/openapi.json").route(json(default_namespace.clone(), |r| &r.pretty)),
    )
    .service(web::resource(API_DOCS).route(json(default_namespace.clone(), |r| &r.compact)))
    .service(web::resource("/docs").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header(("Location", "/docs/"))
            .finish()
    })))
    // The page is pointed at the route above rather than handed the document, which it would keep
    // built in every worker.
    .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new([API_DOCS])));
}
