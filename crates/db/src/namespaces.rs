//! `NamespaceRepository` on Diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{Namespace, NamespaceChanges, PageRequest, Paged};
use user_service_domain::ports::NamespaceRepository;

use crate::connection::write_transaction;
use crate::database::{Database, first_hot};
use crate::errors;
use crate::models::{NamespaceChangeset, NamespaceRow};
use crate::paging;
use crate::schema::namespaces;

#[derive(Debug, Clone)]
pub struct DieselNamespaces {
    db: Database,
}

impl DieselNamespaces {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl NamespaceRepository for DieselNamespaces {
    async fn create(&self, namespace: &Namespace, api_key_hash: &str) -> DomainResult<()> {
        let row = NamespaceRow::new(namespace, api_key_hash);
        self.db
            .run(move |conn| {
                diesel::insert_into(namespaces::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(|e| errors::namespace_write(e, &row.slug))?;
                Ok(())
            })
            .await
    }

    async fn get(&self, slug: &str) -> DomainResult<Option<Namespace>> {
        let slug = slug.to_owned();
        self.db
            .run(move |conn| {
                let row = namespaces::table
                    .find(slug)
                    .first::<NamespaceRow>(conn)
                    .optional()
                    .map_err(errors::db)?;
                Ok(row.map(Namespace::from))
            })
            .await
    }

    async fn list(&self, page: PageRequest) -> DomainResult<Paged<Namespace>> {
        self.db
            .run(move |conn| {
                paging::load_page(
                    conn,
                    page,
                    |conn| namespaces::table.count().get_result(conn),
                    |conn, limit, offset| {
                        namespaces::table
                            .order((namespaces::created_at.asc(), namespaces::slug.asc()))
                            .limit(limit)
                            .offset(offset)
                            .load::<NamespaceRow>(conn)
                    },
                    |r| Ok(Namespace::from(r)),
                )
            })
            .await
    }

    async fn find_by_api_key_hash(&self, api_key_hash: &str) -> DomainResult<Option<Namespace>> {
        // Every request with a service key reads its namespace here.
        let by_key = namespaces::table.filter(namespaces::api_key_hash.eq(api_key_hash.to_owned()));
        Ok(first_hot!(&self.db, by_key, NamespaceRow)?.map(Namespace::from))
    }

    async fn update(
        &self,
        slug: &str,
        changes: &NamespaceChanges,
    ) -> DomainResult<Option<Namespace>> {
        let slug = slug.to_owned();
        let changes = changes.clone();
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // Read under the row's write lock (a no-op update), so two updates naming
                    // different fields never undo each other.
                    let Some(row) = diesel::update(namespaces::table.find(&slug))
                        .set(namespaces::slug.eq(&slug))
                        .returning(namespaces::all_columns)
                        .get_result::<NamespaceRow>(conn)
                        .optional()?
                    else {
                        return Ok(None);
                    };
                    let mut namespace = Namespace::from(row);
                    changes.apply(&mut namespace);
                    diesel::update(namespaces::table.find(&slug))
                        .set(NamespaceChangeset::new(&namespace))
                        .execute(conn)?;
                    Ok(Some(namespace))
                })
                .map_err(errors::db)
            })
            .await
    }

    async fn set_api_key_hash(&self, slug: &str, api_key_hash: &str) -> DomainResult<bool> {
        let (slug, hash) = (slug.to_owned(), api_key_hash.to_owned());
        self.db
            .run(move |conn| {
                let changed = diesel::update(namespaces::table.find(slug))
                    .set(namespaces::api_key_hash.eq(hash))
                    .execute(conn)
                    .map_err(errors::db)?;
                Ok(changed == 1)
            })
            .await
    }
}
