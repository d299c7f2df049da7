//! The `{user_id}` (or `{id}`) of a path, resolved in this one place for every route family: our
//! id, or (URL-encoded) the external subject of a user linked to it in the caller's namespace
//! (API.md 7). The domain decides what the spelling names; this only hands it the caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use user_service_domain::DomainError;
use uuid::Uuid;

use super::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;

/// The user a path names, for the authenticated caller (401 before anything is looked up).
pub struct UserParam {
    /// Our id of the user.
    pub id: Uuid,
    /// The path's own spelling of it (decoded), e.g. `auth0|123456`.
    spelled: String,
}

impl UserParam {
    /// A body's `user_id` as the domain compares it with the path: the path's own spelling (an
    /// external subject) stands for the id it resolved to, so a seed 003 client that names its user
    /// the same way in both places passes the "equals the path" rule.
    pub fn body_owner(&self, named: Option<String>) -> Option<String> {
        named.map(|n| {
            if n == self.spelled {
                self.id.to_string()
            } else {
                n
            }
        })
    }
}

impl FromRequest for UserParam {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = Authenticated::extract(&req).await?.0;
            let field = req
                .match_info()
                .iter()
                .next()
                .map(|(name, _)| name.to_owned())
                .ok_or_else(|| DomainError::unexpected("a user route without a path parameter"))?;
            // The path extractor decodes what the router leaves encoded (`%2F`, `%25`, `%2B`).
            let spelled = web::Path::<String>::extract(&req)
                .await
                .map_err(|_| DomainError::field(&field, "is malformed"))?
                .into_inner();
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| DomainError::unexpected("application state missing"))?;
            let id = state
                .identities
                .resolve_user(&caller, &spelled, &field)
                .await?;
            Ok(Self { id, spelled })
        })
    }
}
