//! The query parameters of every list endpoint, read as text so they survive `#[serde(flatten)]`.

use serde::Deserialize;
use user_service_domain::model::PageRequest;
use user_service_domain::{DomainError, FieldError};

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
        let mut errors = Vec::new();
        let mut num = |field: &str, v: &Option<String>| -> Option<u64> {
            let v = v.as_deref()?;
            match v.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new(field, "must be a non-negative integer"));
                    None
                }
            }
        };
        let (page, page_size) = (num("page", &self.page), num("page_size", &self.page_size));
        let (limit, offset) = (num("limit", &self.limit), num("offset", &self.offset));
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        PageRequest::parse(page, page_size, limit, offset)
    }
}
