//! `/userspaces`: namespaces and their service keys.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use user_service_domain::model::{
    Change, Checks, Email, LinkUrl, NamespaceChanges, NamespaceSlug, text,
};
use user_service_domain::services::NewNamespace;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::extract::{Caller, PageQuery};
use crate::render::{self, Data, ListPage, NamespaceView};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/userspaces")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/userspaces/{namespace}")
            .route(web::get().to(get))
            .route(web::patch().to(update)),
    )
    .service(web::resource("/userspaces/{namespace}/api-key").route(web::post().to(rotate_key)));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNamespaceBody {
    /// The slug: 2-50 of a-z, 0-9, - and _.
    #[schema(schema_with = schema::namespace_slug)]
    pub namespace: String,
    #[schema(schema_with = schema::text_200)]
    pub name: Option<String>,
    #[schema(schema_with = schema::text_2000)]
    pub description: Option<String>,
}

impl CreateNamespaceBody {
    fn validate(self) -> ApiResult<NewNamespace> {
        let mut checks = Checks::new();
        let slug = checks.check("namespace", NamespaceSlug::parse(&self.namespace));
        let name = checks.check_opt("name", self.name.as_deref(), text::line(200));
        let description =
            checks.check_opt("description", self.description.as_deref(), text::line(2000));
        checks.finish()?;
        match slug {
            Some(slug) => Ok(NewNamespace {
                slug,
                name,
                description,
            }),
            None => Err(user_service_domain::DomainError::field("namespace", "is invalid").into()),
        }
    }
}

/// A namespace as created: the only time its service key is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedNamespace {
    #[serde(flatten)]
    pub namespace: NamespaceView,
    pub api_key: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedKey {
    pub namespace: String,
    pub api_key: String,
}

#[utoipa::path(post, path = "/userspaces", tag = "namespaces", request_body = CreateNamespaceBody,
    security((), ("operator_key" = [])),
    responses((status = 201, body = Data<CreatedNamespace>), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateNamespaceBody>,
) -> ApiResult<HttpResponse> {
    let new = body.into_inner().validate()?;
    let (namespace, api_key) = state.namespaces.create(caller.principal(), new).await?;
    Ok(render::created(CreatedNamespace {
        namespace: namespace.into(),
        api_key,
    }))
}

#[utoipa::path(get, path = "/userspaces", tag = "namespaces", params(PageQuery),
    security(("operator_key" = [])),
    responses((status = 200, body = Data<ListPage<NamespaceView>>)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let paged = state
        .namespaces
        .list(caller.principal(), page.parse()?)
        .await?;
    Ok(render::ok(ListPage::from_paged(paged, NamespaceView::from)))
}

#[utoipa::path(get, path = "/userspaces/{namespace}", tag = "namespaces",
    params(("namespace" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{1,49}$")),
    security(("operator_key" = []), ("api_key" = [])),
    responses((status = 200, body = Data<NamespaceView>)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let namespace = state.namespaces.get(caller.principal(), &path).await?;
    Ok(render::ok(NamespaceView::from(namespace)))
}

/// Every field optional; `null` clears.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNamespaceBody {
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub name: Change<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Change<String>,
    pub settings: Option<SettingsBody>,
}

/// The namespace's mail settings; every field optional, `null` clears.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// The app's page for a new password (`https://`, or `http://` on localhost); the token is
    /// appended as `token=`.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub password_reset_url: Change<String>,
    /// The app's page confirming an address; the token is appended as `token=`.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub email_verify_url: Change<String>,
    /// The sender of the namespace's mails, instead of `email.from`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = "email")]
    pub mail_from: Change<String>,
    /// Refuse logins (403 `EMAIL_NOT_VERIFIED`) until the account's email is verified.
    pub require_verified_email: Option<bool>,
}

impl UpdateNamespaceBody {
    fn validate(self) -> ApiResult<NamespaceChanges> {
        let mut checks = Checks::new();
        let name = self.name.parse(&mut checks, "name", false, text::line(200));
        let description =
            self.description
                .parse(&mut checks, "description", false, text::line(2000));
        let s = self.settings.unwrap_or_default();
        let changes = NamespaceChanges {
            name,
            description,
            password_reset_url: s.password_reset_url.parse(
                &mut checks,
                "settings.password_reset_url",
                false,
                LinkUrl::parse,
            ),
            email_verify_url: s.email_verify_url.parse(
                &mut checks,
                "settings.email_verify_url",
                false,
                LinkUrl::parse,
            ),
            mail_from: s
                .mail_from
                .parse(&mut checks, "settings.mail_from", false, Email::parse),
            require_verified_email: s.require_verified_email,
        };
        checks.finish()?;
        Ok(changes)
    }
}

#[utoipa::path(patch, path = "/userspaces/{namespace}", tag = "namespaces",
    params(("namespace" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{1,49}$")),
    request_body = UpdateNamespaceBody,
    security(("operator_key" = []), ("api_key" = [])),
    responses((status = 200, body = Data<NamespaceView>)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: Json<UpdateNamespaceBody>,
) -> ApiResult<HttpResponse> {
    let changes = body.into_inner().validate()?;
    let namespace = state
        .namespaces
        .update(caller.principal(), &path, &changes)
        .await?;
    Ok(render::ok(NamespaceView::from(namespace)))
}

#[utoipa::path(post, path = "/userspaces/{namespace}/api-key", tag = "namespaces",
    params(("namespace" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{1,49}$")),
    security(("operator_key" = [])),
    responses((status = 200, body = Data<RotatedKey>)))]
pub async fn rotate_key(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let namespace = path.into_inner();
    let api_key = state
        .namespaces
        .rotate_key(caller.principal(), &namespace)
        .await?;
    Ok(render::ok(RotatedKey { namespace, api_key }))
}
