//! `user.UserService`: each RPC parses its message into domain input, calls one `AdminService`
//! method and renders the result. Who may do what is the domain's decision, as over HTTP.

use tonic::{Request, Response, Status};
use user_service_domain::model::{Change, Checks, ProfileInput, SearchQuery};
use user_service_domain::ports::UserFilter;
use user_service_domain::services::{UserUpdate, check_request_tenant};

use crate::convert;
use crate::pb::user_service_server::UserService;
use crate::pb::{
    DeleteUserRequest, DeleteUserResponse, GetUserRequest, GetUserResponse, ListUsersRequest,
    ListUsersResponse, SearchUsersRequest, SearchUsersResponse, UpdateUserRequest,
    UpdateUserResponse,
};
use crate::state::GrpcState;
use user_service_domain::model::PageRequest;

pub struct UserApi {
    state: GrpcState,
}

impl UserApi {
    pub fn new(state: GrpcState) -> Self {
        Self { state }
    }
}

/// An empty string in `UpdateUser` leaves the field alone (API.md 6), as absent does.
fn change(v: Option<String>) -> Change<String> {
    v.filter(|s| !s.is_empty())
        .map_or(Change::Keep, Change::Set)
}

#[tonic::async_trait]
impl UserService for UserApi {
    async fn get_user(
        &self,
        req: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        let (admin, identities) = (&self.state.admin, &self.state.identities);
        self.state
            .call("/user.UserService/GetUser", req, async |caller, m| {
                check_request_tenant(&caller, &m.tenant_id)?;
                let id = identities
                    .resolve_user(&caller, &m.user_id, "user_id")
                    .await?;
                let user = admin.get(&caller, id).await?;
                Ok(GetUserResponse {
                    user: Some(convert::user(user)),
                })
            })
            .await
    }

    async fn list_users(
        &self,
        req: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let admin = &self.state.admin;
        self.state
            .call("/user.UserService/ListUsers", req, async |caller, m| {
                check_request_tenant(&caller, &m.tenant_id)?;
                let page = PageRequest::from_unset_zero(m.page, m.page_size)?;
                let users = admin.list(&caller, &UserFilter::default(), page).await?;
                let (users, total, page, page_size) = convert::page(users);
                Ok(ListUsersResponse {
                    users,
                    total,
                    page,
                    page_size,
                })
            })
            .await
    }

    async fn search_users(
        &self,
        req: Request<SearchUsersRequest>,
    ) -> Result<Response<SearchUsersResponse>, Status> {
        let admin = &self.state.admin;
        self.state
            .call("/user.UserService/SearchUsers", req, async |caller, m| {
                check_request_tenant(&caller, &m.tenant_id)?;
                let query = SearchQuery::parse(&m.query)?;
                let page = PageRequest::from_unset_zero(m.page, m.page_size)?;
                let users = admin.search(&caller, &query, page).await?;
                let (users, total, page, page_size) = convert::page(users);
                Ok(SearchUsersResponse {
                    users,
                    total,
                    page,
                    page_size,
                })
            })
            .await
    }

    async fn update_user(
        &self,
        req: Request<UpdateUserRequest>,
    ) -> Result<Response<UpdateUserResponse>, Status> {
        let (admin, identities) = (&self.state.admin, &self.state.identities);
        self.state
            .call("/user.UserService/UpdateUser", req, async |caller, m| {
                check_request_tenant(&caller, &m.tenant_id)?;
                let id = identities
                    .resolve_user(&caller, &m.user_id, "user_id")
                    .await?;
                let mut checks = Checks::new();
                // The avatar is the one the user uploads (API.md 2.3); a URL from a client is
                // never stored in its place.
                if m.avatar_url.as_deref().is_some_and(|s| !s.is_empty()) {
                    checks.push("avatar_url", "is set by uploading an avatar");
                }
                let profile = ProfileInput {
                    email: Change::Keep,
                    full_name: change(m.full_name),
                    first_name: change(m.first_name),
                    last_name: change(m.last_name),
                    phone: change(m.phone),
                    extra: Change::Keep,
                }
                .validate(&mut checks, true);
                checks.finish()?;
                let update = UserUpdate {
                    profile,
                    roles: None,
                    is_active: m.is_active,
                    email_verified: None,
                    tenant_id: None,
                };
                let user = admin.update(&caller, id, update).await?;
                Ok(UpdateUserResponse {
                    user: Some(convert::user(user)),
                })
            })
            .await
    }

    async fn delete_user(
        &self,
        req: Request<DeleteUserRequest>,
    ) -> Result<Response<DeleteUserResponse>, Status> {
        let (admin, identities) = (&self.state.admin, &self.state.identities);
        self.state
            .call("/user.UserService/DeleteUser", req, async |caller, m| {
                check_request_tenant(&caller, &m.tenant_id)?;
                let id = identities
                    .resolve_user(&caller, &m.user_id, "user_id")
                    .await?;
                admin.delete(&caller, id).await?;
                Ok(DeleteUserResponse {
                    message: "User deleted successfully".into(),
                })
            })
            .await
    }
}
