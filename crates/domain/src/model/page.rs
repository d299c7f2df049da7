//! The one pagination type: `page`/`page_size` or `limit`/`offset`, never both.

use crate::error::{DomainError, FieldError};

/// Which rows of a list to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return at most.
    pub limit: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: Self::DEFAULT_SIZE,
        }
    }
}

impl PageRequest {
    /// Page size when none is asked for.
    pub const DEFAULT_SIZE: u64 = 20;
    /// The largest page size.
    pub const MAX_SIZE: u64 = 100;
    /// Deep offsets beyond this are refused rather than scanned.
    pub const MAX_OFFSET: u64 = 10_000_000;
    /// The last page any size may ask for: `(MAX_PAGE - 1) * MAX_SIZE` stays below `MAX_OFFSET`, so
    /// each parameter has a bound of its own that a schema can state.
    pub const MAX_PAGE: u64 = 100_000;

    /// Builds a page from the query string's text of the four parameters. A value that is no
    /// decimal `u64` (too many digits included) is refused without further work.
    pub fn from_query(
        page: Option<&str>,
        page_size: Option<&str>,
        limit: Option<&str>,
        offset: Option<&str>,
    ) -> Result<Self, DomainError> {
        let mut errors = Vec::new();
        let mut num = |field: &str, v: Option<&str>| -> Option<u64> {
            match v?.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new(field, "must be a non-negative integer"));
                    None
                }
            }
        };
        let (page, page_size) = (num("page", page), num("page_size", page_size));
        let (limit, offset) = (num("limit", limit), num("offset", offset));
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        Self::parse(page, page_size, limit, offset)
    }

    /// Builds a page from the four optional query parameters of every list endpoint.
    pub fn parse(
        page: Option<u64>,
        page_size: Option<u64>,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<Self, DomainError> {
        let paged = page.is_some() || page_size.is_some();
        let windowed = limit.is_some() || offset.is_some();
        if paged && windowed {
            return Err(DomainError::Validation(vec![FieldError::new(
                "page",
                "use either page/page_size or limit/offset, not both",
            )]));
        }
        let mut errors = Vec::new();
        let size_ok = |v: u64| (1..=Self::MAX_SIZE).contains(&v);
        let (offset, limit) = if windowed {
            let limit = limit.unwrap_or(Self::DEFAULT_SIZE);
            let offset = offset.unwrap_or(0);
            if !size_ok(limit) {
                errors.push(FieldError::new("limit", "must be between 1 and 100"));
            }
            if offset > Self::MAX_OFFSET {
                errors.push(FieldError::new("offset", "must be at most 10000000"));
            }
            (offset, limit)
        } else {
            let page = page.unwrap_or(1);
            let size = page_size.unwrap_or(Self::DEFAULT_SIZE);
            if !(1..=Self::MAX_PAGE).contains(&page) {
                errors.push(FieldError::new("page", "must be between 1 and 100000"));
            }
            if !size_ok(size) {
                errors.push(FieldError::new("page_size", "must be between 1 and 100"));
            }
            (page.saturating_sub(1).saturating_mul(size), size)
        };
        if errors.is_empty() {
            Ok(Self { offset, limit })
        } else {
            Err(DomainError::Validation(errors))
        }
    }

    /// Paging as gRPC requests carry it: proto3 integers, where 0 means "not given" (page 1, the
    /// default size); a negative number is out of range like any other.
    pub fn from_unset_zero(page: i32, page_size: i32) -> Result<Self, DomainError> {
        let given = |v: i32| (v != 0).then(|| u64::try_from(v).unwrap_or(u64::MAX));
        Self::parse(given(page), given(page_size), None, None)
    }

    /// The 1-based page this window starts in, as reported back to clients.
    pub fn page(&self) -> u64 {
        self.offset / self.limit.max(1) + 1
    }
}

/// One page of a list and the size of the whole list.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The rows of the page.
    pub items: Vec<T>,
    /// How many rows the whole list has.
    pub total: u64,
    /// The page that was asked for.
    pub request: PageRequest,
}

impl<T> Paged<T> {
    /// The same page with each row converted by `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            request: self.request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_both_styles() {
        assert_eq!(
            PageRequest::parse(None, None, None, None).ok(),
            Some(PageRequest {
                offset: 0,
                limit: 20
            })
        );
        assert_eq!(
            PageRequest::parse(Some(3), Some(10), None, None).ok(),
            Some(PageRequest {
                offset: 20,
                limit: 10
            })
        );
        assert_eq!(
            PageRequest::parse(None, None, Some(5), Some(15)).ok(),
            Some(PageRequest {
                offset: 15,
                limit: 5
            })
        );
        assert_eq!(
            PageRequest {
                offset: 15,
                limit: 5
            }
            .page(),
            4
        );
    }

    #[test]
    fn mixing_or_out_of_range_is_refused() {
        assert!(PageRequest::parse(Some(1), None, Some(5), None).is_err());
        assert!(PageRequest::parse(Some(0), None, None, None).is_err());
        assert!(PageRequest::parse(None, Some(0), None, None).is_err());
        assert!(PageRequest::parse(None, Some(101), None, None).is_err());
        assert!(PageRequest::parse(None, None, Some(101), None).is_err());
        assert!(PageRequest::parse(None, None, Some(0), None).is_err());
        assert!(PageRequest::parse(None, Some(100), None, None).is_ok());
    }

    #[test]
    fn each_parameter_has_its_own_bound() {
        let last = PageRequest::parse(Some(PageRequest::MAX_PAGE), Some(100), None, None);
        assert_eq!(last.map(|p| p.offset).ok(), Some(9_999_900));
        assert!(PageRequest::parse(Some(PageRequest::MAX_PAGE + 1), Some(1), None, None).is_err());
        let deepest = PageRequest::parse(None, None, Some(100), Some(PageRequest::MAX_OFFSET));
        assert_eq!(deepest.map(|p| p.offset).ok(), Some(10_000_000));
        assert!(PageRequest::parse(None, None, None, Some(PageRequest::MAX_OFFSET + 1)).is_err());
    }
}
