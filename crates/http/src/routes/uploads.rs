//! `GET /uploads/{key}`: the stored avatar objects, served by the service itself (the URL of
//! `avatar_url` when no `storage.public_base_url` is configured).
//!
//! The key is checked against the strict key grammar before any store is asked, so encoded `..`,
//! absolute paths and odd characters never reach it; the local store also refuses symlinks that lead
//! out of its root. Keys are fresh per upload, so an object never changes: it may be cached for ever.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use user_service_domain::DomainError;
use user_service_domain::model::AvatarKey;

use crate::error::ApiResult;
use crate::state::AppState;

const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/uploads/{key:.*}").route(web::get().to(get_upload)));
}

#[utoipa::path(get, path = "/uploads/{key}", tag = "users",
    params(("key" = String, Path, description = "the storage key, e.g. `avatars/{namespace}/{user_id}/{id}.png`")),
    responses((status = 200, description = "the image, with `ETag` and `Cache-Control`"),
              (status = 304, description = "`If-None-Match` matched")))]
pub async fn get_upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key = AvatarKey::parse(&key).ok_or(DomainError::NotFound)?;
    let object = state.avatars.fetch(&key).await?;
    let etag = format!("\"{}\"", object.etag);
    if matches_etag(&req, &object.etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, CACHE_FOREVER))
            .finish());
    }
    let content_type = HeaderValue::from_str(&object.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, CACHE_FOREVER))
        // A stored avatar is an image and nothing else, whatever a browser might sniff in it.
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(object.bytes))
}

/// `If-None-Match`: `*`, or a list of tags, weak or strong (the weak comparison of RFC 9110 13.1.2).
fn matches_etag(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}
