//! Request extractors whose rejections use the contract's error shape.

mod authenticated;
mod body;
mod page;
mod principal;
mod user_param;

pub use authenticated::Authenticated;
pub use body::{JSON_LIMIT_BYTES, Json, json_config, json_objects_only, path_config, query_config};
pub use page::PageQuery;
pub use principal::middleware as credentials_middleware;
pub use principal::{Caller, CurrentUser, credentials, request_credentials};
pub use user_param::UserParam;
