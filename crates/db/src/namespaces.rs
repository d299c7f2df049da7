//! `NamespaceRepository` on Diesel.

use async_trait::async_trait;
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{Namespace, PageRequest, Paged};
use user_service_domain::ports::NamespaceRepository;

use crate::database::Database;
use crate::errors;
use crate::models::NamespaceRow;
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
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        self.db
            .run(move |conn| {
                // One snapshot, so the total agrees with the page.
                let (total, rows) = conn
                    .transaction(|conn| {
                        let total: i64 = namespaces::table.count().get_result(conn)?;
                        let rows: Vec<NamespaceRow> = namespaces::table
                            .order((namespaces::created_at.asc(), namespaces::slug.asc()))
                            .limit(limit)
                            .offset(offset)
                            .load(conn)?;
                        Ok::<_, diesel::result::Error>((total, rows))
                    })
                    .map_err(errors::db)?;
                Ok(Paged {
                    items: rows.into_iter().map(Namespace::from).collect(),
                    total: u64::try_from(total).unwrap_or(0),
                    request: page,
                })
            })
            .await
    }

    async fn find_by_api_key_hash(&self, api_key_hash: &str) -> DomainResult<Option<Namespace>> {
        let hash = api_key_hash.to_owned();
        self.db
            .run(move |conn| {
                let row = namespaces::table
                    .filter(namespaces::api_key_hash.eq(hash))
                    .first::<NamespaceRow>(conn)
                    .optional()
                    .map_err(errors::db)?;
                Ok(row.map(Namespace::from))
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
