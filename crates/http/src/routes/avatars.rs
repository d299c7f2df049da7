//! `/users/me/avatar`: upload (multipart field `file`) and removal of the caller's avatar.
//!
//! The size limit is enforced while the body streams in: bytes are counted as each chunk arrives and
//! the request is refused with 413 as soon as the count passes the limit, so nothing larger than the
//! limit is ever held in memory, whatever the client sends or claims.

use actix_multipart::{Multipart, MultipartError};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use user_service_domain::DomainError;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::CurrentUser;
use crate::render::{self, Data, UserView};
use crate::state::AppState;

/// Room for the multipart framing and small fields around the file (boundaries, headers, a file name).
const FORM_OVERHEAD_BYTES: usize = 64 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/me/avatar")
            .route(web::post().to(upload_avatar))
            .route(web::delete().to(delete_avatar)),
    );
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AvatarUpload {
    /// A JPEG, PNG or WEBP image, recognised by its content.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

#[utoipa::path(post, path = "/users/me/avatar", tag = "users", security(("bearer" = [])),
    request_body(content = AvatarUpload, content_type = "multipart/form-data"),
    responses((status = 200, description = "`{\"data\": UserView}` with the new `avatar_url`", body = Data<UserView>),
              (status = 400, description = "`INVALID_IMAGE`, `VALIDATION_ERROR` or `BAD_REQUEST`", body = ErrorBody), (status = 413, description = "above `avatar.max_bytes`", body = ErrorBody)))]
pub async fn upload_avatar(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    mut form: Multipart,
) -> ApiResult<HttpResponse> {
    let max_bytes = state.settings.avatar_max_bytes;
    // An honest client announcing too much is refused before a single byte of the body is read.
    let declared = declared_length(&req);
    if declared.is_some_and(|len| len > max_bytes.saturating_add(FORM_OVERHEAD_BYTES)) {
        return Err(DomainError::PayloadTooLarge.into());
    }
    // Sized once from the announced length (never above the limit), so the buffer does not double
    // its way up to twice the file's size.
    let capacity = declared.unwrap_or(0).min(max_bytes);
    let upload = match read_file_field(&mut form, max_bytes, capacity).await {
        Ok(bytes) => bytes,
        Err(DomainError::PayloadTooLarge) => return Ok(refuse_and_close(form)),
        Err(e) => return Err(e.into()),
    };
    let updated = state.avatars.replace(user.0, upload).await?;
    Ok(render::ok(UserView::from(updated)))
}

#[utoipa::path(delete, path = "/users/me/avatar", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "`{\"data\": UserView}` with `avatar_url: null`", body = Data<UserView>)))]
pub async fn delete_avatar(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    let updated = state.avatars.remove(user.0).await?;
    Ok(render::ok(UserView::from(updated)))
}

/// How long the unread rest of a refused upload is held after the 413 is sent.
const HOLD_UNREAD_BODY: std::time::Duration = std::time::Duration::from_secs(2);

/// 413 for an upload that went past the limit mid-stream. actix reads and discards the rest of a
/// chunked body whose reader is gone, to keep the connection alive: it would swallow a whole
/// gigabyte. When the body is still held (unread) as the response goes out, it closes the
/// connection instead; so the reader is kept alive briefly in a task of its own. It buffers nothing:
/// an unread body stops the connection from being read at all.
fn refuse_and_close(form: Multipart) -> HttpResponse {
    actix_web::rt::spawn(async move {
        actix_web::rt::time::sleep(HOLD_UNREAD_BODY).await;
        drop(form);
    });
    ApiError(DomainError::PayloadTooLarge).error_response()
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The bytes of the first `file` field, at most `max_bytes` of them. Other fields are read and dropped,
/// within a small allowance of their own.
async fn read_file_field(
    form: &mut Multipart,
    max_bytes: usize,
    capacity: usize,
) -> Result<Vec<u8>, DomainError> {
    let mut file: Option<Vec<u8>> = None;
    let mut other_bytes = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        let is_file = file.is_none() && field.name() == Some("file");
        let mut buf = if is_file {
            Vec::with_capacity(capacity)
        } else {
            Vec::new()
        };
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(multipart_error)?;
            if is_file {
                if buf.len() + chunk.len() > max_bytes {
                    return Err(DomainError::PayloadTooLarge);
                }
                buf.extend_from_slice(&chunk);
            } else {
                other_bytes += chunk.len();
                if other_bytes > FORM_OVERHEAD_BYTES {
                    return Err(DomainError::PayloadTooLarge);
                }
            }
        }
        if is_file {
            file = Some(buf);
        }
    }
    match file {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        Some(_) => Err(DomainError::InvalidImage("the file is empty".into())),
        None => Err(DomainError::field(
            "file",
            "a multipart/form-data field named `file` is required",
        )),
    }
}

fn multipart_error(e: MultipartError) -> DomainError {
    match e {
        MultipartError::Payload(PayloadError::Overflow) => DomainError::PayloadTooLarge,
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => DomainError::BadRequest(
            "expected a multipart/form-data body with a `file` field".into(),
        ),
        _ => DomainError::BadRequest("the multipart body is malformed or incomplete".into()),
    }
}
