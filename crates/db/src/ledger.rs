//! `CreditLedger` on Diesel. Each balance change is one write transaction: a conditional update of the
//! balance row (the database decides whether the balance covers a consume) plus its transaction row.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{
    CreditTransaction, Credits, NewTransaction, PageRequest, Paged, TransactionType,
};
use user_service_domain::ports::CreditLedger;
use uuid::Uuid;

use crate::connection::write_transaction;
use crate::database::Database;
use crate::errors;
use crate::models::{from_db_time, parse_uuid, to_db_time};
use crate::paging;
use crate::schema::{credit_balances, credit_transactions};

/// The largest balance an account may hold, in millionths: far below `i64::MAX`, so adding one more
/// maximal amount can never overflow.
const MAX_BALANCE: i64 = 9_000_000_000_000_000_000;

#[derive(Debug, Clone)]
pub struct DieselCreditLedger {
    db: Database,
}

impl DieselCreditLedger {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Every column of `credit_transactions`, in table order.
#[derive(Debug, Queryable)]
struct TransactionRow {
    id: i64,
    transaction_id: String,
    user_id: String,
    namespace: String,
    transaction_type: String,
    amount: i64,
    balance_before: i64,
    balance_after: i64,
    description: Option<String>,
    reference_id: Option<String>,
    usage_record_id: Option<i64>,
    created_at: NaiveDateTime,
}

impl TransactionRow {
    fn into_transaction(self) -> DomainResult<CreditTransaction> {
        Ok(CreditTransaction {
            id: self.id,
            transaction_id: parse_uuid("credit_transactions.transaction_id", &self.transaction_id)?,
            user_id: parse_uuid("credit_transactions.user_id", &self.user_id)?,
            namespace: self.namespace,
            transaction_type: TransactionType::parse(&self.transaction_type)
                .map_err(|m| errors::corrupt("credit_transactions.transaction_type", Corrupt(m)))?,
            amount: Credits::from_millionths(self.amount),
            balance_before: Credits::from_millionths(self.balance_before),
            balance_after: Credits::from_millionths(self.balance_after),
            description: self.description,
            reference_id: self.reference_id,
            usage_record_id: self.usage_record_id,
            created_at: from_db_time(self.created_at),
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Corrupt(String);

#[derive(Debug, Insertable)]
#[diesel(table_name = credit_transactions)]
struct NewTransactionRow {
    transaction_id: String,
    user_id: String,
    namespace: String,
    transaction_type: &'static str,
    amount: i64,
    balance_before: i64,
    balance_after: i64,
    description: Option<String>,
    reference_id: Option<String>,
    usage_record_id: Option<i64>,
    created_at: NaiveDateTime,
}

impl NewTransactionRow {
    fn new(tx: &NewTransaction, balance_after: i64) -> Self {
        let amount = tx.amount.millionths();
        // Cannot overflow: the balance before was a stored balance, so in 0..=MAX_BALANCE, and
        // MAX_BALANCE plus the largest amount still fits an i64 (the update's filter enforces it).
        let balance_before = match tx.transaction_type {
            TransactionType::Consume => balance_after + amount,
            TransactionType::Recharge => balance_after - amount,
        };
        Self {
            transaction_id: tx.transaction_id.to_string(),
            user_id: tx.user_id.to_string(),
            namespace: tx.namespace.clone(),
            transaction_type: tx.transaction_type.as_str(),
            amount,
            balance_before,
            balance_after,
            description: tx.description.clone(),
            reference_id: tx.reference_id.clone(),
            usage_record_id: tx.usage_record_id,
            created_at: to_db_time(tx.created_at),
        }
    }
}

/// Why a ledger transaction was rolled back.
enum Abort {
    Db(diesel::result::Error),
    Insufficient,
    /// The reference id was used before: the unique index refused the transaction row.
    Duplicate,
    AboveMaximum,
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

fn insert_transaction(
    conn: &mut crate::DbConnection,
    row: &NewTransactionRow,
) -> Result<TransactionRow, Abort> {
    diesel::insert_into(credit_transactions::table)
        .values(row)
        .returning(credit_transactions::all_columns)
        .get_result::<TransactionRow>(conn)
        .map_err(|e| {
            if row.reference_id.is_some() && errors::is_unique_violation(&e) {
                Abort::Duplicate
            } else {
                Abort::Db(e)
            }
        })
}

/// Adds `amount` to an existing balance row; `None` when there is no row or it would pass the maximum.
fn add_to_balance(
    conn: &mut crate::DbConnection,
    user_id: &str,
    amount: i64,
    now: NaiveDateTime,
) -> Result<Option<i64>, diesel::result::Error> {
    diesel::update(
        credit_balances::table
            .find(user_id)
            .filter(credit_balances::balance.le(MAX_BALANCE - amount)),
    )
    .set((
        credit_balances::balance.eq(credit_balances::balance + amount),
        credit_balances::updated_at.eq(now),
    ))
    .returning(credit_balances::balance)
    .get_result::<i64>(conn)
    .optional()
}

#[async_trait]
impl CreditLedger for DieselCreditLedger {
    async fn consume(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction> {
        let (user_id, amount, now) = (
            tx.user_id.to_string(),
            tx.amount.millionths(),
            to_db_time(tx.created_at),
        );
        let tx = tx.clone();
        self.db
            .run(move |conn| {
                let row = write_transaction(conn, |conn| {
                    // The single point where concurrent consumes are decided: the row lock and the
                    // condition let exactly as many through as the balance covers.
                    let after = diesel::update(
                        credit_balances::table
                            .find(&user_id)
                            .filter(credit_balances::balance.ge(amount)),
                    )
                    .set((
                        credit_balances::balance.eq(credit_balances::balance - amount),
                        credit_balances::updated_at.eq(now),
                    ))
                    .returning(credit_balances::balance)
                    .get_result::<i64>(conn)
                    .optional()?
                    .ok_or(Abort::Insufficient)?;
                    insert_transaction(conn, &NewTransactionRow::new(&tx, after))
                });
                match row {
                    Ok(row) => row.into_transaction(),
                    Err(Abort::Insufficient) => Err(DomainError::InsufficientCredits),
                    Err(Abort::Db(e)) => Err(errors::db(e)),
                    Err(Abort::Duplicate | Abort::AboveMaximum) => Err(DomainError::unexpected(
                        "a consume has no reference id and never raises the balance",
                    )),
                }
            })
            .await
    }

    async fn recharge(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction> {
        let (user_id, amount, now) = (
            tx.user_id.to_string(),
            tx.amount.millionths(),
            to_db_time(tx.created_at),
        );
        let tx = tx.clone();
        self.db
            .run(move |conn| {
                let row = write_transaction(conn, |conn| {
                    let after = match add_to_balance(conn, &user_id, amount, now)? {
                        Some(after) => after,
                        None => {
                            // No balance row yet. Inserted in a savepoint: when a concurrent first
                            // recharge created it meanwhile, the violation must not abort the whole
                            // transaction (PostgreSQL would), and the update then finds the row.
                            let created = conn.transaction(|conn| {
                                diesel::insert_into(credit_balances::table)
                                    .values((
                                        credit_balances::user_id.eq(&user_id),
                                        credit_balances::namespace.eq(&tx.namespace),
                                        credit_balances::balance.eq(amount),
                                        credit_balances::updated_at.eq(now),
                                    ))
                                    .execute(conn)
                            });
                            match created {
                                Ok(_) => amount,
                                Err(e) if errors::is_unique_violation(&e) => {
                                    add_to_balance(conn, &user_id, amount, now)?
                                        .ok_or(Abort::AboveMaximum)?
                                }
                                Err(e) => return Err(Abort::Db(e)),
                            }
                        }
                    };
                    insert_transaction(conn, &NewTransactionRow::new(&tx, after))
                });
                match row {
                    Ok(row) => row.into_transaction(),
                    // Everything of this attempt was rolled back; the first use stands.
                    Err(Abort::Duplicate) => {
                        let reference = tx.reference_id.clone().unwrap_or_default();
                        credit_transactions::table
                            .filter(credit_transactions::user_id.eq(&user_id))
                            .filter(credit_transactions::reference_id.eq(reference))
                            .first::<TransactionRow>(conn)
                            .map_err(errors::db)?
                            .into_transaction()
                    }
                    Err(Abort::AboveMaximum) => Err(DomainError::field(
                        "amount",
                        "would raise the balance above its maximum",
                    )),
                    Err(Abort::Db(e)) => Err(errors::db(e)),
                    Err(Abort::Insufficient) => Err(DomainError::unexpected(
                        "a recharge never needs a covering balance",
                    )),
                }
            })
            .await
    }

    async fn balance(&self, user_id: Uuid) -> DomainResult<Credits> {
        self.db
            .run(move |conn| {
                let balance = credit_balances::table
                    .find(user_id.to_string())
                    .select(credit_balances::balance)
                    .first::<i64>(conn)
                    .optional()
                    .map_err(errors::db)?;
                Ok(Credits::from_millionths(balance.unwrap_or(0)))
            })
            .await
    }

    async fn transactions(
        &self,
        user_id: Uuid,
        kind: Option<TransactionType>,
        page: PageRequest,
    ) -> DomainResult<Paged<CreditTransaction>> {
        let kinds: Vec<&'static str> = match kind {
            Some(k) => vec![k.as_str()],
            None => vec![
                TransactionType::Consume.as_str(),
                TransactionType::Recharge.as_str(),
            ],
        };
        self.db
            .run(move |conn| {
                let mine = || {
                    credit_transactions::table
                        .filter(credit_transactions::user_id.eq(user_id.to_string()))
                        .filter(credit_transactions::transaction_type.eq_any(kinds.clone()))
                };
                paging::load_page(
                    conn,
                    page,
                    |conn| mine().count().get_result(conn),
                    |conn, limit, offset| {
                        mine()
                            .order(credit_transactions::id.desc())
                            .limit(limit)
                            .offset(offset)
                            .load::<TransactionRow>(conn)
                    },
                    TransactionRow::into_transaction,
                )
            })
            .await
    }
}
