//! `CreditLedger` on Diesel. The changes of one account are decided under its balance row's lock, in
//! order, and stored as one update of the balance plus their transaction rows (see `apply_changes`).

use std::collections::HashMap;
use std::sync::Arc;

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

use crate::connection::{DbConnection, on_backend};
use crate::database::Database;
use crate::errors;
use crate::group_commit::{GroupCommit, Job};
use crate::models::{from_db_time, parse_uuid, to_db_time};
use crate::paging;
use crate::schema::{credit_balances, credit_transactions};

/// The largest balance an account may hold, in millionths: far below `i64::MAX`, so adding one more
/// maximal amount can never overflow.
const MAX_BALANCE: i64 = 9_000_000_000_000_000_000;

/// Balance changes go through a group commit keyed by account: the changes of one account that wait
/// together share one transaction and so one commit (one WAL flush on PostgreSQL), each still with
/// its own answer and its own ledger row. Across instances nothing changes: each batch's transaction
/// takes the balance row's lock with its first update, so two instances' batches of one account
/// still run one after the other.
#[derive(Debug, Clone)]
pub struct DieselCreditLedger {
    db: Database,
    writers: Arc<GroupCommit<Uuid, NewTransaction>>,
}

impl DieselCreditLedger {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            writers: Arc::default(),
        }
    }
}

/// Every column of `credit_transactions`, in table order.
#[derive(Debug, Clone, Queryable)]
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
        // MAX_BALANCE plus the largest amount still fits an i64 (`apply_changes` keeps to it).
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

/// A balance change is a job of the group commit, batched per account.
impl Job for NewTransaction {
    type Answer = CreditTransaction;

    fn apply(
        conn: &mut DbConnection,
        changes: &[&Self],
    ) -> Result<Vec<DomainResult<CreditTransaction>>, diesel::result::Error> {
        Ok(apply_changes(conn, changes)?
            .into_iter()
            .map(answer)
            .collect())
    }

    fn failure(error: diesel::result::Error) -> DomainError {
        errors::db(error)
    }
}

/// What became of one change inside its batch's transaction.
enum Outcome {
    Applied(TransactionRow),
    /// A recharge whose reference id was used before: the first transaction with it.
    Original(TransactionRow),
    Insufficient,
    AboveMaximum,
}

fn answer(outcome: Outcome) -> DomainResult<CreditTransaction> {
    match outcome {
        Outcome::Applied(row) | Outcome::Original(row) => row.into_transaction(),
        Outcome::Insufficient => Err(DomainError::InsufficientCredits),
        Outcome::AboveMaximum => Err(DomainError::field(
            "amount",
            "would raise the balance above its maximum",
        )),
    }
}

/// What the walk over a batch decided for one change, before its row is stored.
enum Decision {
    /// Stored as the `n`th row of the batch's insert.
    Store(usize),
    Original(TransactionRow),
    Insufficient,
    AboveMaximum,
}

/// The single point where the changes of one account are decided, all of them of that account, in
/// order. Under the balance row's lock (PostgreSQL) or the database's write lock (SQLite) the
/// balance read here is the balance, so walking the changes in Rust decides each exactly as its own
/// conditional update would: a consume goes through only if the balance left by the changes before
/// it covers it. Then the whole batch is three statements whatever its size: one update of the
/// balance (guarded by the balance it started from, so a writer that did not hold the lock fails the
/// batch instead of losing an update), one insert of every ledger row, and the lookup of reference
/// ids used before. The unique index on (user, reference id) stays the last word on those.
fn apply_changes(
    conn: &mut DbConnection,
    changes: &[&NewTransaction],
) -> Result<Vec<Outcome>, diesel::result::Error> {
    let Some(first) = changes.first() else {
        return Ok(Vec::new());
    };
    let user_id = first.user_id.to_string();
    let recharges = changes
        .iter()
        .any(|tx| tx.transaction_type == TransactionType::Recharge);
    let start = match lock_balance(conn, &user_id)? {
        Some(balance) => balance,
        // No balance row: consumes alone cannot go through; a recharge creates it.
        None if !recharges => return Ok(changes.iter().map(|_| Outcome::Insufficient).collect()),
        None => {
            create_balance(conn, &user_id, &first.namespace, first.created_at)?;
            lock_balance(conn, &user_id)?.ok_or(diesel::result::Error::NotFound)?
        }
    };
    let mut used = used_references(conn, &user_id, changes)?;

    let mut balance = start;
    let mut rows = Vec::with_capacity(changes.len());
    let mut updated_at = None;
    let decisions = changes
        .iter()
        .map(|tx| {
            let amount = tx.amount.millionths();
            let after = match tx.transaction_type {
                TransactionType::Consume if balance < amount => return Decision::Insufficient,
                TransactionType::Consume => balance - amount,
                TransactionType::Recharge => {
                    if let Some(first) = tx.reference_id.as_ref().and_then(|r| used.get(r)) {
                        return match first {
                            Used::Stored(row) => Decision::Original(row.clone()),
                            Used::InBatch(n) => Decision::Store(*n),
                        };
                    }
                    if balance > MAX_BALANCE - amount {
                        return Decision::AboveMaximum;
                    }
                    balance + amount
                }
            };
            balance = after;
            updated_at = Some(tx.created_at);
            if let Some(reference) = &tx.reference_id {
                used.insert(reference.clone(), Used::InBatch(rows.len()));
            }
            rows.push(NewTransactionRow::new(tx, after));
            Decision::Store(rows.len() - 1)
        })
        .collect::<Vec<_>>();

    let mut stored = Vec::new();
    if let Some(updated_at) = updated_at {
        let guarded = credit_balances::table
            .find(&user_id)
            .filter(credit_balances::balance.eq(start));
        let changed = on_backend!(conn, |c| diesel::update(guarded)
            .set((
                credit_balances::balance.eq(balance),
                credit_balances::updated_at.eq(to_db_time(updated_at)),
            ))
            .execute(c))?;
        if changed != 1 {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        stored = on_backend!(conn, |c| diesel::insert_into(credit_transactions::table)
            .values(&rows)
            .returning(credit_transactions::all_columns)
            .get_results::<TransactionRow>(c))?;
    }
    // The rows come back by transaction id: RETURNING promises no order for a multi-row insert.
    let by_id = stored
        .into_iter()
        .map(|row| (row.transaction_id.clone(), row))
        .collect::<HashMap<_, _>>();
    let take = |n: usize| {
        let id = &rows[n].transaction_id;
        by_id
            .get(id)
            .cloned()
            .ok_or(diesel::result::Error::NotFound)
    };
    decisions
        .into_iter()
        .enumerate()
        .map(|(i, decision)| {
            Ok(match decision {
                // A row's own change is `Applied`; a later change with the same reference id in the
                // same batch answers with it as its original.
                Decision::Store(n) if is_own_row(&rows, n, changes[i]) => {
                    Outcome::Applied(take(n)?)
                }
                Decision::Store(n) => Outcome::Original(take(n)?),
                Decision::Original(row) => Outcome::Original(row),
                Decision::Insufficient => Outcome::Insufficient,
                Decision::AboveMaximum => Outcome::AboveMaximum,
            })
        })
        .collect()
}

fn is_own_row(rows: &[NewTransactionRow], n: usize, tx: &NewTransaction) -> bool {
    rows[n].transaction_id == tx.transaction_id.to_string()
}

/// Where a reference id was first used: a stored transaction, or a row of this batch.
enum Used {
    Stored(TransactionRow),
    InBatch(usize),
}

/// The account's transactions whose reference ids the batch's recharges name again.
fn used_references(
    conn: &mut DbConnection,
    user_id: &str,
    changes: &[&NewTransaction],
) -> Result<HashMap<String, Used>, diesel::result::Error> {
    let references = changes
        .iter()
        .filter_map(|tx| tx.reference_id.clone())
        .collect::<Vec<_>>();
    if references.is_empty() {
        return Ok(HashMap::new());
    }
    let found = on_backend!(conn, |c| credit_transactions::table
        .filter(credit_transactions::user_id.eq(user_id))
        .filter(credit_transactions::reference_id.eq_any(&references))
        .load::<TransactionRow>(c))?;
    Ok(found
        .into_iter()
        .filter_map(|row| Some((row.reference_id.clone()?, Used::Stored(row))))
        .collect())
}

/// The balance, locked until the transaction ends. On SQLite `BEGIN IMMEDIATE` already holds the
/// database.
fn lock_balance(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<i64>, diesel::result::Error> {
    let balance = credit_balances::table
        .find(user_id)
        .select(credit_balances::balance);
    match conn {
        DbConnection::Pg(pg) => balance.for_update().first(pg).optional(),
        DbConnection::Sqlite(lite) => balance.first(lite).optional(),
    }
}

/// A zero balance row for a first recharge. A concurrent first recharge (another instance) may have
/// created it meanwhile: then this one does nothing, after waiting for that one's commit.
fn create_balance(
    conn: &mut DbConnection,
    user_id: &str,
    namespace: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), diesel::result::Error> {
    let row = (
        credit_balances::user_id.eq(user_id),
        credit_balances::namespace.eq(namespace),
        credit_balances::balance.eq(0),
        credit_balances::updated_at.eq(to_db_time(now)),
    );
    on_backend!(conn, |c| diesel::insert_into(credit_balances::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

#[async_trait]
impl CreditLedger for DieselCreditLedger {
    async fn consume(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction> {
        self.writers.submit(&self.db, tx.user_id, tx.clone()).await
    }

    async fn recharge(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction> {
        self.writers.submit(&self.db, tx.user_id, tx.clone()).await
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
