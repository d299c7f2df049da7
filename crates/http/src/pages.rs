//! The service's own HTML pages (setting a new password, email verified). Plain HTML forms, no
//! script at all; the one inline style sheet is allowed by its hash, everything else is refused by
//! the Content-Security-Policy. The token travels in the address, so the pages are never cached and
//! never send a referrer (the security headers middleware adds `Referrer-Policy: no-referrer`).

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use user_service_domain::DomainError;
use user_service_domain::services::html_escape;

use crate::error::classify;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;\
padding:0 1rem;line-height:1.5;color:#1f2937}h1{font-size:1.4rem}label{display:block;\
margin-top:1rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1.2rem;padding:.6rem 1rem;font-size:1rem}.error{color:#b91c1c}";

/// Nothing but this page's own style sheet, and forms posted to this service only.
static CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; base-uri 'none'; \
         frame-ancestors 'none'"
    )
});

/// The policy the pages are served with, for tests.
pub fn content_security_policy() -> &'static str {
    &CSP
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n<h1>{title}</h1>\n\
         {body}\n</main></body></html>\n",
        title = html_escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((CONTENT_SECURITY_POLICY, CSP.as_str()))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(html)
}

/// The form for a new password, with `error` above it when the last try needs correcting. It posts
/// to the address it was served from (at the root or under `/api/v1`).
pub fn reset_form(status: StatusCode, token: &str, error: Option<&str>) -> HttpResponse {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", html_escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"password-reset\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\n\
         <label for=\"new_password\">New password (at least 8 characters)</label>\n\
         <input id=\"new_password\" name=\"new_password\" type=\"password\" \
         autocomplete=\"new-password\" minlength=\"8\" required>\n\
         <label for=\"confirm_password\">The same again</label>\n\
         <input id=\"confirm_password\" name=\"confirm_password\" type=\"password\" \
         autocomplete=\"new-password\" minlength=\"8\" required>\n\
         <button type=\"submit\">Set the new password</button>\n</form>",
        token = html_escape(token),
    );
    page(status, "Choose a new password", &body)
}

pub fn password_changed() -> HttpResponse {
    page(
        StatusCode::OK,
        "Your password is changed",
        "<p id=\"done\">You can log in with your new password now. Every other session of your \
         account has been signed out.</p>",
    )
}

pub fn email_verified(email: &str) -> HttpResponse {
    page(
        StatusCode::OK,
        "Your email is verified",
        &format!(
            "<p id=\"done\">Thank you: <strong>{}</strong> is confirmed as the address of your \
             account.</p>",
            html_escape(email)
        ),
    )
}

/// Unknown, expired, used or replaced: all the same to the reader.
pub fn invalid_link() -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        "This link does not work",
        "<p class=\"error\">The link is invalid, has expired or was used already. Ask for a new \
         one from the app.</p>",
    )
}

/// Anything else (the database is away, the hashing line is full): the status of the JSON API,
/// and nothing of the cause.
pub fn failure(e: &DomainError) -> HttpResponse {
    let (status, code) = classify(e);
    tracing::error!(error = %e, code, "an email page failed");
    page(
        status,
        "Something went wrong",
        "<p class=\"error\">Please try again in a moment.</p>",
    )
}
