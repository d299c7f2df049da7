//! `CreditLedger` on Diesel. Each balance change is one write transaction: a conditional update of the
//! balance row (the database decides whether the balance covers a consume) plus its transaction row.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use tokio::sync::oneshot;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{
    CreditTransaction, Credits, NewTransaction, PageRequest, Paged, TransactionType,
};
use user_service_domain::ports::CreditLedger;
use uuid::Uuid;

use crate::connection::{DbConnection, write_transaction};
use crate::database::Database;
use crate::errors;
use crate::models::{from_db_time, parse_uuid, to_db_time};
use crate::paging;
use crate::schema::{credit_balances, credit_transactions};

/// The largest balance an account may hold, in millionths: far below `i64::MAX`, so adding one more
/// maximal amount can never overflow.
const MAX_BALANCE: i64 = 9_000_000_000_000_000_000;

/// Balance changes go through the group commit of `Writers`: each change is still its own
/// conditional update and ledger row, decided by the database, but the changes of one account that
/// wait together share one transaction and so one commit (one WAL flush on PostgreSQL).
#[derive(Debug, Clone)]
pub struct DieselCreditLedger {
    db: Database,
    writers: Arc<Writers>,
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

/// Why a recharge with a reference id was undone.
enum Abort {
    Db(diesel::result::Error),
    /// The reference id was used before: the unique index refused the transaction row.
    Duplicate,
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

fn insert_transaction(
    conn: &mut DbConnection,
    row: &NewTransactionRow,
) -> Result<TransactionRow, diesel::result::Error> {
    diesel::insert_into(credit_transactions::table)
        .values(row)
        .returning(credit_transactions::all_columns)
        .get_result::<TransactionRow>(conn)
}

/// The most changes one transaction applies; more waiting ones go in the next.
const MAX_BATCH: usize = 128;

/// A change waiting for its account's writer, and where its answer goes.
#[derive(Debug)]
struct Pending {
    tx: NewTransaction,
    reply: oneshot::Sender<DomainResult<CreditTransaction>>,
}

/// The group commit: per account, the changes waiting for its writer. An account has an entry
/// exactly while a writer runs for it; whoever finds no entry starts the writer, everyone else
/// queues behind it. Across instances nothing changes: each writer's transaction takes the balance
/// row's lock with its first update, so two instances' batches of one account still run one after
/// the other.
#[derive(Debug, Default)]
struct Writers {
    queues: Mutex<HashMap<Uuid, Vec<Pending>>>,
}

impl Writers {
    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Vec<Pending>>> {
        // A panicking writer leaves the map consistent (see `WriterGuard`), so poisoning is ignored.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `tx` behind its account's writer (starting one if none runs) and waits for its answer,
    /// which comes after the commit of the transaction that applied it.
    async fn submit(
        self: &Arc<Self>,
        db: &Database,
        tx: NewTransaction,
    ) -> DomainResult<CreditTransaction> {
        let account = tx.user_id;
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queues = self.queues();
            match queues.entry(account) {
                Entry::Occupied(mut waiting) => {
                    waiting.get_mut().push(Pending { tx, reply });
                    false
                }
                Entry::Vacant(slot) => {
                    slot.insert(vec![Pending { tx, reply }]);
                    true
                }
            }
        };
        if start {
            // Detached: a request that goes away does not stop the writer the others wait for.
            let (writers, db) = (Arc::clone(self), db.clone());
            tokio::task::spawn_blocking(move || writers.write(&db, account));
        }
        answer
            .await
            .map_err(|_| DomainError::unexpected("the ledger writer stopped without an answer"))?
    }

    /// The writer of `account`: applies what waits, batch after batch, until nothing does.
    fn write(&self, db: &Database, account: Uuid) {
        let mut guard = WriterGuard {
            writers: self,
            account,
            finished: false,
        };
        loop {
            let batch = {
                let mut queues = self.queues();
                let Some(waiting) = queues.get_mut(&account) else {
                    break;
                };
                if waiting.is_empty() {
                    queues.remove(&account);
                    break;
                }
                let n = waiting.len().min(MAX_BATCH);
                waiting.drain(..n).collect::<Vec<_>>()
            };
            let answers = db.run_here(|conn| Ok(apply_batch(conn, &batch)));
            match answers {
                Ok(answers) => {
                    for (pending, answer) in batch.into_iter().zip(answers) {
                        // The requester may have gone; its change stands all the same.
                        let _ = pending.reply.send(answer);
                    }
                }
                Err(e) => {
                    for pending in batch {
                        let _ = pending.reply.send(Err(same_error(&e)));
                    }
                }
            }
        }
        guard.finished = true;
    }
}

/// Clears the account's entry if its writer panics, so later changes start a new writer; the
/// changes it held are dropped, and their requests answered with an error.
struct WriterGuard<'a> {
    writers: &'a Writers,
    account: Uuid,
    finished: bool,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.writers.queues().remove(&self.account);
        }
    }
}

/// An error answered to every change of a batch: the database's failures are not `Clone`.
fn same_error(e: &DomainError) -> DomainError {
    match e {
        DomainError::Unavailable { retry_after_secs } => DomainError::Unavailable {
            retry_after_secs: *retry_after_secs,
        },
        other => DomainError::unexpected(other.to_string()),
    }
}

/// Applies a batch in one transaction and returns each change's answer, in order. A change the
/// rules refuse (an overdraw, a reused reference id) is undone alone. When the database fails a
/// statement, nothing of the batch was committed, and each change is applied again in a transaction
/// of its own, so that one failing change fails alone; a failed commit fails them all (whether it
/// landed is unknown, so nothing is tried twice).
fn apply_batch(conn: &mut DbConnection, batch: &[Pending]) -> Vec<DomainResult<CreditTransaction>> {
    let mut statements_done = false;
    let outcomes = write_transaction(conn, |conn| {
        let outcomes = batch
            .iter()
            .map(|p| apply_one(conn, &p.tx))
            .collect::<Result<Vec<_>, diesel::result::Error>>()?;
        statements_done = true;
        Ok::<_, diesel::result::Error>(outcomes)
    });
    match outcomes {
        Ok(outcomes) => outcomes.into_iter().map(answer).collect(),
        Err(e) if statements_done || batch.len() == 1 => {
            let e = errors::db(e);
            batch.iter().map(|_| Err(same_error(&e))).collect()
        }
        Err(_) => batch
            .iter()
            .map(|p| {
                write_transaction(conn, |conn| apply_one(conn, &p.tx))
                    .map_err(errors::db)
                    .and_then(answer)
            })
            .collect(),
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

/// One change inside the batch's transaction. A refusal leaves nothing of the change behind; a
/// database error is returned for the whole batch.
fn apply_one(
    conn: &mut DbConnection,
    tx: &NewTransaction,
) -> Result<Outcome, diesel::result::Error> {
    if tx.transaction_type == TransactionType::Consume {
        return consume(conn, tx);
    }
    if tx.reference_id.is_none() {
        // Without a reference id the unique index cannot refuse the row: no savepoint needed.
        return recharge(conn, tx).map_err(|e| match e {
            Abort::Db(e) => e,
            Abort::Duplicate => diesel::result::Error::RollbackTransaction,
        });
    }
    // A reused reference id is refused by the unique index after the balance was raised: in a
    // savepoint, so that undoing it keeps the batch's other changes (PostgreSQL aborts the whole
    // transaction on an error outside one).
    let attempt = conn.transaction(|conn| {
        let outcome = recharge(conn, tx)?;
        Ok::<_, Abort>(outcome)
    });
    match attempt {
        Ok(outcome) => Ok(outcome),
        Err(Abort::Duplicate) => {
            let reference = tx.reference_id.clone().unwrap_or_default();
            let original = credit_transactions::table
                .filter(credit_transactions::user_id.eq(tx.user_id.to_string()))
                .filter(credit_transactions::reference_id.eq(reference))
                .first::<TransactionRow>(conn)?;
            Ok(Outcome::Original(original))
        }
        Err(Abort::Db(e)) => Err(e),
    }
}

/// The single point where concurrent consumes are decided: the row lock and the condition let
/// exactly as many through as the balance covers.
fn consume(conn: &mut DbConnection, tx: &NewTransaction) -> Result<Outcome, diesel::result::Error> {
    let amount = tx.amount.millionths();
    let after = diesel::update(
        credit_balances::table
            .find(tx.user_id.to_string())
            .filter(credit_balances::balance.ge(amount)),
    )
    .set((
        credit_balances::balance.eq(credit_balances::balance - amount),
        credit_balances::updated_at.eq(to_db_time(tx.created_at)),
    ))
    .returning(credit_balances::balance)
    .get_result::<i64>(conn)
    .optional()?;
    match after {
        Some(after) => {
            insert_transaction(conn, &NewTransactionRow::new(tx, after)).map(Outcome::Applied)
        }
        None => Ok(Outcome::Insufficient),
    }
}

/// A recharge; `Abort::Duplicate` when its reference id was used before (the caller undoes it).
fn recharge(conn: &mut DbConnection, tx: &NewTransaction) -> Result<Outcome, Abort> {
    let (user_id, amount, now) = (
        tx.user_id.to_string(),
        tx.amount.millionths(),
        to_db_time(tx.created_at),
    );
    let after = match add_to_balance(conn, &user_id, amount, now)? {
        Some(after) => after,
        None => {
            // No balance row yet (or one the amount would raise above the maximum). Inserted in a
            // savepoint: when a concurrent first recharge created it meanwhile, the violation must
            // not abort the whole transaction (PostgreSQL would), and the update then finds the row.
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
                    match add_to_balance(conn, &user_id, amount, now)? {
                        Some(after) => after,
                        None => return Ok(Outcome::AboveMaximum),
                    }
                }
                Err(e) => return Err(Abort::Db(e)),
            }
        }
    };
    insert_transaction(conn, &NewTransactionRow::new(tx, after))
        .map(Outcome::Applied)
        .map_err(|e| {
            if tx.reference_id.is_some() && errors::is_unique_violation(&e) {
                Abort::Duplicate
            } else {
                Abort::Db(e)
            }
        })
}

/// Adds `amount` to an existing balance row; `None` when there is no row or it would pass the maximum.
fn add_to_balance(
    conn: &mut DbConnection,
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
        self.writers.submit(&self.db, tx.clone()).await
    }

    async fn recharge(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction> {
        self.writers.submit(&self.db, tx.clone()).await
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
