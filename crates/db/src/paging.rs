//! One page of a list and the size of the whole list, the same way for every adapter.

use diesel::QueryResult;
use diesel::connection::Connection;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{PageRequest, Paged};

use crate::connection::DbConnection;
use crate::errors;

/// `PageRequest`'s window as SQL `LIMIT`/`OFFSET` values.
pub(crate) fn bounds(page: PageRequest) -> (i64, i64) {
    (
        i64::try_from(page.limit).unwrap_or(i64::MAX),
        i64::try_from(page.offset).unwrap_or(i64::MAX),
    )
}

/// Counts and loads in one transaction, so the total agrees with the page it accompanies.
/// `rows` gets the page's limit and offset.
pub(crate) fn load_page<R, T>(
    conn: &mut DbConnection,
    page: PageRequest,
    count: impl FnOnce(&mut DbConnection) -> QueryResult<i64>,
    rows: impl FnOnce(&mut DbConnection, i64, i64) -> QueryResult<Vec<R>>,
    convert: impl FnMut(R) -> DomainResult<T>,
) -> DomainResult<Paged<T>> {
    let (limit, offset) = bounds(page);
    let (total, rows) = conn
        .transaction(|conn| {
            Ok::<_, diesel::result::Error>((count(conn)?, rows(conn, limit, offset)?))
        })
        .map_err(errors::db)?;
    Ok(Paged {
        items: rows.into_iter().map(convert).collect::<DomainResult<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
        request: page,
    })
}
