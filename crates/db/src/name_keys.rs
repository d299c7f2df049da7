//! Fills the name keys (`username_fold`, `email_fold`) that SQL cannot compute: rows written before
//! the keys existed, and rows left without one because another live account of the namespace already
//! holds that key. Accounts are keyed oldest first, so a name stays with whoever had it first; a later
//! account that collides is reported, never merged and never renamed: an operator decides.

use diesel::prelude::*;
use user_service_domain::model::text::name_key;

use crate::connection::DbConnection;
use crate::errors::{self, DbError};
use crate::schema::users;

/// Which name of an account collides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameField {
    Username,
    Email,
}

impl NameField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Email => "email",
        }
    }
}

/// A live account whose name equals, under the key, the name of an older live account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCollision {
    pub namespace: String,
    pub field: NameField,
    /// The account left without a key: no login reaches it by this name until it is renamed or
    /// deleted.
    pub user_id: String,
    /// The account that keeps the name.
    pub holder_id: String,
}

/// What filling the keys did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameKeyReport {
    /// Keys written by this run.
    pub keyed: usize,
    pub collisions: Vec<NameCollision>,
}

type Unkeyed = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) fn fill(conn: &mut DbConnection) -> Result<NameKeyReport, DbError> {
    let failed = |e: diesel::result::Error| DbError::Migration(format!("name keys: {e}"));
    let rows: Vec<Unkeyed> = users::table
        .filter(
            users::username_fold
                .is_null()
                .or(users::email.is_not_null().and(users::email_fold.is_null())),
        )
        .order((users::created_at.asc(), users::id.asc()))
        .select((
            users::id,
            users::namespace,
            users::username,
            users::username_fold,
            users::email,
            users::email_fold,
        ))
        .load(conn)
        .map_err(failed)?;
    let mut report = NameKeyReport::default();
    for (id, namespace, username, username_fold, email, email_fold) in rows {
        let missing = [
            (NameField::Username, Some(username), username_fold),
            (NameField::Email, email, email_fold),
        ];
        for (field, name, fold) in missing {
            let (Some(name), None) = (name, fold) else {
                continue;
            };
            let key = name_key(&name);
            let row = users::table.filter(users::id.eq(&id));
            let set = match field {
                NameField::Username => diesel::update(row)
                    .set(users::username_fold.eq(&key))
                    .execute(conn),
                NameField::Email => diesel::update(row)
                    .set(users::email_fold.eq(&key))
                    .execute(conn),
            };
            record(conn, &mut report, set, &namespace, &id, field, &key).map_err(failed)?;
        }
    }
    Ok(report)
}

fn record(
    conn: &mut DbConnection,
    report: &mut NameKeyReport,
    set: QueryResult<usize>,
    namespace: &str,
    id: &str,
    field: NameField,
    key: &str,
) -> QueryResult<()> {
    match set {
        Ok(_) => {
            report.keyed += 1;
            Ok(())
        }
        Err(e) if errors::is_unique_violation(&e) => {
            let live = users::table
                .filter(users::namespace.eq(namespace))
                .filter(users::deleted_at.is_null())
                .select(users::id);
            let holder = match field {
                NameField::Username => live.filter(users::username_fold.eq(key)).first(conn),
                NameField::Email => live.filter(users::email_fold.eq(key)).first(conn),
            }?;
            report.collisions.push(NameCollision {
                namespace: namespace.to_owned(),
                field,
                user_id: id.to_owned(),
                holder_id: holder,
            });
            Ok(())
        }
        Err(e) => Err(e),
    }
}
