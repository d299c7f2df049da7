//! Signing keys (API.md 2.5): the public key set and discovery document downstream services verify
//! access tokens with, and the operator's rotation.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use user_service_domain::model::SigningKeyInfo;

use crate::error::ApiResult;
use crate::extract::Caller;
use crate::render::{self, Data};
use crate::state::AppState;

/// How long clients may cache the key set and the discovery document (API.md 2.5). A rotated-in key
/// is fetched sooner anyway: verifiers refetch the set when a token names a key they do not hold.
const CACHE_CONTROL: &str = "public, max-age=300";
const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The well-known documents at the root only (issuer-relative, as discovery expects).
pub fn well_known(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(JWKS_PATH).route(web::get().to(jwks)))
        .service(
            web::resource("/.well-known/openid-configuration").route(web::get().to(discovery)),
        );
}

/// Rotation, at the root and under `/api/v1` like the rest of the integration contract.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/keys/rotate").route(web::post().to(rotate)));
}

/// A JSON Web Key Set (RFC 7517): the public keys that may still verify a live token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JwkSetView {
    /// Each key carries `kty`, `kid`, `alg`, `use: sig` and its public parameters (`crv` and `x` for
    /// Ed25519, `n` and `e` for RSA). Empty with HS256, whose secret is never published.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// The part of an OpenID Provider configuration that lets JWT libraries find the keys from the
/// issuer alone.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DiscoveryView {
    /// `auth.issuer`: the `iss` of every access token.
    pub issuer: String,
    /// Where the key set is.
    pub jwks_uri: String,
    /// The algorithm access tokens are signed with (`auth.signing`) first, then that of any other key
    /// still published (after `auth.signing` was changed).
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// `["token"]`: the service issues bearer tokens, not through an OAuth authorization endpoint.
    pub response_types_supported: Vec<&'static str>,
    /// `["public"]`: `sub` is the user's id.
    pub subject_types_supported: Vec<&'static str>,
}

/// The key that signs now, after a rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSigningKey {
    /// Its key id (the `kid` new tokens carry).
    pub kid: String,
    /// `EdDSA` or `RS256`.
    pub algorithm: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<SigningKeyInfo> for RotatedSigningKey {
    fn from(k: SigningKeyInfo) -> Self {
        Self {
            kid: k.kid,
            algorithm: k.algorithm.jws_name().to_owned(),
            created_at: k.created_at,
        }
    }
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys",
    responses((status = 200, body = JwkSetView, headers(("Cache-Control" = String)))))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", CACHE_CONTROL))
        .json(state.signing_keys.jwks())
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "keys",
    responses((status = 200, body = DiscoveryView, headers(("Cache-Control" = String)))))]
pub async fn discovery(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let issuer = state.signing_keys.issuer().to_owned();
    HttpResponse::Ok()
        .insert_header(("Cache-Control", CACHE_CONTROL))
        .json(DiscoveryView {
            jwks_uri: format!("{}{JWKS_PATH}", base_url(&issuer, &req)),
            issuer,
            id_token_signing_alg_values_supported: state
                .signing_keys
                .algorithms()
                .into_iter()
                .map(|a| a.jws_name())
                .collect(),
            response_types_supported: vec!["token"],
            subject_types_supported: vec!["public"],
        })
}

/// Where the service is reached: the issuer when it is a URL (as discovery requires), else the
/// address this request came to.
fn base_url(issuer: &str, req: &HttpRequest) -> String {
    if issuer.starts_with("https://") || issuer.starts_with("http://") {
        return issuer.trim_end_matches('/').to_owned();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

#[utoipa::path(post, path = "/admin/keys/rotate", tag = "admin",
    security(("operator_key" = [])),
    responses((status = 200, body = Data<RotatedSigningKey>),
        (status = 409, description = "`CONFLICT`: `auth.signing` is `hs256`, which has no keys to rotate", body = crate::error::ErrorBody)))]
pub async fn rotate(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let info = state.signing_keys.rotate_for(caller.principal()).await?;
    Ok(render::ok(RotatedSigningKey::from(info)))
}
