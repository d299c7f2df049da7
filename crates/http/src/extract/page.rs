//! The query parameters of every list endpoint, read as text so they survive `#[serde(flatten)]`.

use serde::Deserialize;
use serde_json::json;
use user_service_domain::DomainError;
use user_service_domain::model::PageRequest;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{ObjectBuilder, Type};

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub page: Option<String>,
    pub page_size: Option<String>,
    pub limit: Option<String>,
    pub offset: Option<String>,
}

/// The four paging parameters as one exploded query object, because only an object schema can say
/// that the two styles exclude each other (OpenAPI parameters are otherwise independent).
impl utoipa::IntoParams for PageQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let int = |min: u64, max: u64, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(min))
                .maximum(Some(max))
                .description(Some(description))
        };
        let size = PageRequest::MAX_SIZE;
        // utoipa has no `not` keyword; an extension entry is serialized as one.
        let exclusive: Extensions = [(
            "not",
            json!({"anyOf": [
                {"required": ["page", "limit"]}, {"required": ["page", "offset"]},
                {"required": ["page_size", "limit"]}, {"required": ["page_size", "offset"]},
            ]}),
        )]
        .into_iter()
        .collect();
        let schema = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "page",
                int(1, PageRequest::MAX_PAGE, "1-based page (default 1)"),
            )
            .property("page_size", int(1, size, "items per page (default 20)"))
            .property("limit", int(1, size, "items to return (default 20)"))
            .property(
                "offset",
                int(0, PageRequest::MAX_OFFSET, "items to skip (default 0)"),
            )
            .extensions(Some(exclusive));
        vec![
            ParameterBuilder::new()
                .name("paging")
                .parameter_in(ParameterIn::Query)
                .description(Some(
                    "`page`/`page_size` or `limit`/`offset`, never both styles; anything else is 400",
                ))
                .style(Some(ParameterStyle::Form))
                .explode(Some(true))
                .schema(Some(schema))
                .build(),
        ]
    }
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
