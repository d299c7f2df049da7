//! The query parameters of every list endpoint, read as text so they survive `#[serde(flatten)]`.

use serde::Deserialize;
use user_service_domain::DomainError;
use user_service_domain::model::PageRequest;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1); not with `limit`/`offset`.
    #[param(value_type = Option<u64>)]
    pub page: Option<String>,
    /// Items per page, 1-100 (default 20).
    #[param(value_type = Option<u64>)]
    pub page_size: Option<String>,
    /// Items to return, 1-100; not with `page`/`page_size`.
    #[param(value_type = Option<u64>)]
    pub limit: Option<String>,
    /// Items to skip.
    #[param(value_type = Option<u64>)]
    pub offset: Option<String>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, DomainError> {
        PageRequest::from_query(
            self.page.as_deref(),
            self.page_size.as_deref(),
            self.limit.as_deref(),
            self.offset.as_deref(),
        )
    }
}
