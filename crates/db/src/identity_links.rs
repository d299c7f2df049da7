//! `IdentityLinkRepository` on Diesel. The primary key `(issuer, subject)` is what makes one
//! identity name one user: a racing second link or first-sight creation loses on it, and its
//! transaction (the user it was creating included) is rolled back.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{IdentityLink, User};
use user_service_domain::ports::IdentityLinkRepository;
use uuid::Uuid;

use crate::connection::write_transaction;
use crate::database::Database;
use crate::errors;
use crate::models::{NewUserRow, from_db_time, to_db_time};
use crate::schema::{identity_links, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = identity_links)]
struct LinkRow {
    issuer: String,
    subject: String,
    user_id: String,
    namespace: String,
    created_at: NaiveDateTime,
}

impl LinkRow {
    fn new(link: &IdentityLink) -> Self {
        Self {
            issuer: link.issuer.clone(),
            subject: link.subject.clone(),
            user_id: link.user_id.to_string(),
            namespace: link.namespace.clone(),
            created_at: to_db_time(link.created_at),
        }
    }

    fn into_link(self) -> DomainResult<IdentityLink> {
        Ok(IdentityLink {
            user_id: Uuid::parse_str(&self.user_id)
                .map_err(|e| errors::corrupt("identity_links.user_id", e))?,
            issuer: self.issuer,
            subject: self.subject,
            namespace: self.namespace,
            created_at: from_db_time(self.created_at),
        })
    }
}

/// Why a linking transaction was rolled back.
enum Abort {
    Db(diesel::result::Error),
    Domain(DomainError),
    Linked,
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Db(e)
    }
}

/// Inserts the link, in the caller's transaction; a taken pair aborts it.
fn insert_link(conn: &mut crate::DbConnection, row: &LinkRow) -> Result<(), Abort> {
    match diesel::insert_into(identity_links::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(()),
        Err(e) if errors::is_unique_violation(&e) => Err(Abort::Linked),
        Err(e) => Err(Abort::Db(e)),
    }
}

fn finish(result: Result<(), Abort>) -> DomainResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(Abort::Linked) => Ok(false),
        Err(Abort::Domain(e)) => Err(e),
        Err(Abort::Db(e)) => Err(errors::db(e)),
    }
}

/// The identity links on either backend.
#[derive(Debug, Clone)]
pub struct DieselIdentityLinks {
    db: Database,
}

impl DieselIdentityLinks {
    /// The adapter over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl IdentityLinkRepository for DieselIdentityLinks {
    async fn find(&self, issuer: &str, subject: &str) -> DomainResult<Option<IdentityLink>> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        // Every request with an external token reads its link here.
        self.db
            .read(move |conn| {
                identity_links::table
                    .filter(identity_links::issuer.eq(issuer))
                    .filter(identity_links::subject.eq(subject))
                    .select(LinkRow::as_select())
                    .first(conn)
                    .optional()
                    .map_err(errors::db)?
                    .map(LinkRow::into_link)
                    .transpose()
            })
            .await
    }

    async fn find_in_namespace(
        &self,
        namespace: &str,
        subject: &str,
    ) -> DomainResult<Vec<IdentityLink>> {
        let (namespace, subject) = (namespace.to_owned(), subject.to_owned());
        self.db
            .read(move |conn| {
                identity_links::table
                    .filter(identity_links::namespace.eq(namespace))
                    .filter(identity_links::subject.eq(subject))
                    .order(identity_links::issuer.asc())
                    .select(LinkRow::as_select())
                    .load(conn)
                    .map_err(errors::db)?
                    .into_iter()
                    .map(LinkRow::into_link)
                    .collect()
            })
            .await
    }

    async fn link(&self, link: &IdentityLink) -> DomainResult<bool> {
        let row = LinkRow::new(link);
        self.db
            .run(move |conn| {
                finish(write_transaction(conn, |conn| {
                    let live: i64 = users::table
                        .filter(users::id.eq(&row.user_id))
                        .filter(users::namespace.eq(&row.namespace))
                        .filter(users::deleted_at.is_null())
                        .count()
                        .get_result(conn)?;
                    if live == 0 {
                        return Err(Abort::Domain(DomainError::UserNotFound));
                    }
                    insert_link(conn, &row)
                }))
            })
            .await
    }

    async fn create_linked(&self, user: &User, link: &IdentityLink) -> DomainResult<bool> {
        let user_row = NewUserRow::new(user)?;
        let row = LinkRow {
            user_id: user.id.to_string(),
            namespace: user.namespace.clone(),
            ..LinkRow::new(link)
        };
        self.db
            .run(move |conn| {
                finish(write_transaction(conn, |conn| {
                    // The user first (the link references it). A racing creation of the same
                    // identity tries the same username, so on PostgreSQL it waits on that index for
                    // the winner and then fails; the domain then finds the winner's link.
                    diesel::insert_into(users::table)
                        .values(&user_row)
                        .execute(conn)
                        .map_err(|e| {
                            let r = &user_row.row;
                            let fold = user_row.username_fold.as_deref();
                            let who = (
                                r.namespace.as_str(),
                                r.id.as_str(),
                                r.username.as_str(),
                                fold,
                            );
                            Abort::Domain(crate::users::name_taken(conn, e, who))
                        })?;
                    insert_link(conn, &row)?;
                    Ok(())
                }))
            })
            .await
    }
}
