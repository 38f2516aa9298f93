//! The durable outbox: every payment instruction is written here before anything leaves,
//! keyed by its EndToEndId, with every state it passes through and when.
//!
//! States: `new` (recorded from a `PaymentDue`, nothing sent) → `sent` (about to go or gone
//! to the bank; outcome unknown until the bank answers) → `accepted` (the bank booked or
//! accepted it; confirmation on chain pending) → `settled` (confirmed on chain). Or
//! `rejected` (the bank refused; `chain_recorded_at` is set once `failPayment` is on chain),
//! or `needs_review` (a malformed or hostile answer, or missing account details: a person
//! decides; the worker never touches it again).
//!
//! A database of its own holds it through sea-orm: SQLite by default, PostgreSQL
//! supported, every commit synced. Its schema is kept by versioned migrations ([`migration`])
//! applied at start-up. Amounts are stored as decimal strings of minor units (a `u128` does
//! not fit a SQL integer).

mod migration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::party::Party;
use crate::payment::CreditTransfer;
use tradechain_money::identifier::{Bic, EndToEndId, Iban};
use tradechain_money::money::{Currency, Money};

/// The `payment_instruction` table: one row per EndToEndId, the unit of exactly-once.
pub mod instruction {
    use sea_orm::entity::prelude::*;

    /// One payment instruction (table `payment_instruction`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payment_instruction")]
    pub struct Model {
        /// The ISO 20022 EndToEndId (at most 35 characters): the idempotency key the bank
        /// deduplicates by.
        #[sea_orm(primary_key, auto_increment = false)]
        pub end_to_end_id: String,
        /// The paying bank's chain address (lower-case hex), owner of this instruction.
        pub bank_id: String,
        /// `milestone` (a `PaymentDue`) or `repayment` (a `RepaymentDue` of payables finance).
        pub kind: String,
        /// The financing a repayment belongs to (decimal), for `repayment` rows.
        pub financing_id: Option<String>,
        /// EIP-155 id of the chain the event came from.
        pub chain_id: i64,
        /// Order id (decimal; a uint256 on chain).
        pub order_id: String,
        /// Milestone index within the order, from 0 (for a repayment: the financed milestone).
        pub milestone: i64,
        /// Which payment attempt of the milestone, from 1 (a failed payment is retried on
        /// chain under the next attempt, with a new EndToEndId).
        pub attempt: i64,
        /// Chain address that owes the payment (lower-case hex).
        pub payer: String,
        /// Chain address to be paid (lower-case hex).
        pub payee: String,
        /// Debtor's account holder name; empty when the directory had no account (the row
        /// is then `needs_review`).
        pub debtor_name: String,
        /// Debtor's IBAN (ISO 13616, electronic form); empty when unknown.
        pub debtor_iban: String,
        /// BIC (ISO 9362) of the debtor's bank; empty when unknown.
        pub debtor_bic: String,
        /// Creditor's account holder name; empty when the directory had no account.
        pub creditor_name: String,
        /// Creditor's IBAN (ISO 13616, electronic form); empty when unknown.
        pub creditor_iban: String,
        /// BIC (ISO 9362) of the creditor's bank; empty when unknown.
        pub creditor_bic: String,
        /// Minor units, decimal string.
        pub amount_minor: String,
        /// ISO 4217 alphabetic code; the chain's raw bytes as `0x…` hex when they are not a
        /// known code (the row is then `needs_review`).
        pub currency: String,
        /// Due date on chain (unix seconds).
        pub due_date: i64,
        /// Block holding the `PaymentDue` event.
        pub block_number: i64,
        /// `new`, `sent`, `accepted`, `settled`, `rejected` or `needs_review` (see `State`).
        pub state: String,
        /// The bank's reference of the booking (`AcctSvcrRef`), once it accepted it.
        pub bank_reference: Option<String>,
        /// Rejection reason code, or why it needs review, or the last transient failure
        /// while backing off.
        pub reason: Option<String>,
        /// Hash of the confirmPayment / failPayment transaction.
        pub chain_tx: Option<String>,
        /// How often it was handed to the bank; above 1 only when a status enquiry showed
        /// the bank had never received it.
        pub send_count: i64,
        /// Deferrals since the last state change; drives the backoff.
        pub retries: i64,
        /// Do not act on it before this time (unix ms): backoff.
        pub next_attempt_at: i64,
        /// When the row was recorded (unix ms).
        pub created_at: i64,
        /// When it last became `sent` (unix ms).
        pub sent_at: Option<i64>,
        /// When the bank accepted it (unix ms).
        pub accepted_at: Option<i64>,
        /// When it was confirmed on chain (unix ms).
        pub settled_at: Option<i64>,
        /// When the bank rejected it (unix ms).
        pub rejected_at: Option<i64>,
        /// When it was parked for a person (unix ms).
        pub needs_review_at: Option<i64>,
        /// When `failPayment` was recorded on chain (unix ms); a `rejected` row without it
        /// is still open.
        pub chain_recorded_at: Option<i64>,
        /// Last change (unix ms).
        pub updated_at: i64,
    }

    /// No relations: the table stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod cursor {
    use sea_orm::entity::prelude::*;

    /// The last block a bank's worker has fully processed (table `settlement_cursor`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settlement_cursor")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub bank_id: String,
        pub chain_id: i64,
        pub last_block: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `milestone_watch` table: triggered milestones and scheduled repayments this bank
/// releases once they fall due, and presentations whose examination period it waits out
/// to record their deemed acceptance.
pub mod watch {
    use sea_orm::entity::prelude::*;

    /// A triggered milestone waiting for its due date (table `milestone_watch`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "milestone_watch")]
    pub struct Model {
        /// `{bank_id}/{order_id}/{milestone}`, `{bank_id}/R{financing_id}` for a repayment, or
        /// `{bank_id}/D{order_id}/{doc_type}/{examine_by}` for a presentation under examination.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The releasing bank's chain address (lower-case hex).
        pub bank_id: String,
        /// Set for a payables-finance repayment to release; else a milestone.
        pub financing_id: Option<String>,
        /// Order id (decimal); empty for a repayment.
        pub order_id: String,
        /// Milestone index within the order (0 for a repayment or a presentation).
        pub milestone: i64,
        /// When it falls due, in chain time (unix seconds of the block timestamp): for a
        /// presentation, the first second after its examination period.
        pub due_date: i64,
        /// Set for a presentation under examination: its document type.
        pub doc_type: Option<i64>,
        /// Released, or found not to be this bank's to release: never looked at again.
        pub done: bool,
    }

    /// No relations: the table stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub use instruction::Model as Instruction;

/// Instruction states, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Recorded from a `PaymentDue`; nothing sent yet.
    New,
    /// Handed (or about to be handed) to the bank; the outcome is unknown until it answers,
    /// so the next step is a status enquiry, never a blind resend.
    Sent,
    /// Booked or accepted by the bank; confirmation on chain pending.
    Accepted,
    /// Confirmed on chain: final.
    Settled,
    /// Refused by the bank; final once `failPayment` is on chain.
    Rejected,
    /// Parked for a person (bad bank answer, missing account details); the worker never
    /// touches it again.
    NeedsReview,
}

impl State {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Sent => "sent",
            State::Accepted => "accepted",
            State::Settled => "settled",
            State::Rejected => "rejected",
            State::NeedsReview => "needs_review",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [State::New, State::Sent, State::Accepted, State::Settled, State::Rejected, State::NeedsReview]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// Why the outbox could not answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The database failed or is unreachable; worth retrying.
    #[error("outbox database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// A stored row does not read back as a valid payment (IBAN, amount, date, ids).
    #[error("outbox row {end_to_end_id} is corrupt: {reason}")]
    Corrupt {
        /// The row's EndToEndId.
        end_to_end_id: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No instruction with this EndToEndId.
    #[error("no instruction {0}")]
    NotFound(String),
}

/// Row kinds.
pub(crate) const KIND_MILESTONE: &str = "milestone";
pub(crate) const KIND_REPAYMENT: &str = "repayment";

/// A triggered milestone (or a scheduled repayment) to remember until its due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// Order id (decimal; a uint256 on chain); empty for a repayment.
    pub order_id: String,
    /// Milestone index within the order (0 for a repayment).
    pub milestone: u64,
    /// When it falls due, in chain time (unix seconds).
    pub due_date: u64,
    /// `Some` for a payables-finance repayment.
    pub financing_id: Option<String>,
    /// `Some` for a presentation under examination: its document type.
    pub doc_type: Option<u8>,
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The outbox over one database.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: DatabaseConnection,
}

impl Outbox {
    /// Connect (e.g. `sqlite:///var/lib/tradechain/outbox.db?mode=rwc` or
    /// `postgres://user@host/db`) and bring the schema up to date.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or was migrated by a newer release.
    pub async fn connect(url: &str) -> Result<Self, OutboxError> {
        // A full sync on every commit: a recorded instruction survives a power cut, not just
        // a crash.
        let db = tradechain_store::connect(url, tradechain_store::Durability::Full, None).await?;
        tradechain_store::migrate::<migration::Migrator>(&db).await?;
        Ok(Outbox { db })
    }

    /// The database underneath, for maintenance (and tests that break it on purpose).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The last block fully processed for `bank_id`, if any.
    pub async fn cursor(&self, bank_id: &str) -> Result<Option<u64>, OutboxError> {
        let row = cursor::Entity::find_by_id(bank_id.to_string()).one(&self.db).await?;
        Ok(row.and_then(|c| u64::try_from(c.last_block).ok()))
    }

    /// Record what a block range brought — new instructions, milestones to watch — and move
    /// the cursor to `to_block`, all in one database transaction: either the range is fully
    /// recorded and skipped next time, or nothing of it is and it is read again.
    /// Instructions already present (same EndToEndId) are left as they are.
    pub async fn record_range(
        &self,
        bank_id: &str,
        chain_id: u64,
        to_block: u64,
        instructions: Vec<Instruction>,
        watches: Vec<Watch>,
    ) -> Result<usize, OutboxError> {
        let txn = self.db.begin().await?;
        let mut inserted = 0;
        for ins in instructions {
            if instruction::Entity::find_by_id(ins.end_to_end_id.clone()).one(&txn).await?.is_none() {
                ins.into_active_model().reset_all().insert(&txn).await?;
                inserted += 1;
            }
        }
        for w in watches {
            let key = match (&w.financing_id, w.doc_type) {
                (Some(f), _) => format!("{bank_id}/R{f}"),
                (None, Some(d)) => format!("{bank_id}/D{}/{d}/{}", w.order_id, w.due_date),
                (None, None) => format!("{bank_id}/{}/{}", w.order_id, w.milestone),
            };
            let milestone = w.financing_id.is_none() && w.doc_type.is_none();
            match watch::Entity::find_by_id(key.clone()).one(&txn).await? {
                // A milestone handed back to this bank after its watch ended (a financing
                // cancelled, a financier payer in default): watch it again.
                Some(ended) if ended.done && milestone => {
                    let mut again = ended.into_active_model();
                    again.done = Set(false);
                    again.due_date = Set(to_i64(w.due_date));
                    again.update(&txn).await?;
                }
                Some(_) => {}
                None => {
                    watch::ActiveModel {
                        key: Set(key),
                        bank_id: Set(bank_id.to_string()),
                        financing_id: Set(w.financing_id),
                        order_id: Set(w.order_id),
                        milestone: Set(to_i64(w.milestone)),
                        due_date: Set(to_i64(w.due_date)),
                        doc_type: Set(w.doc_type.map(i64::from)),
                        done: Set(false),
                    }
                    .insert(&txn)
                    .await?;
                }
            }
        }
        let cur = cursor::ActiveModel {
            bank_id: Set(bank_id.to_string()),
            chain_id: Set(to_i64(chain_id)),
            last_block: Set(to_i64(to_block)),
            updated_at: Set(now_ms()),
        };
        if cursor::Entity::find_by_id(bank_id.to_string()).one(&txn).await?.is_some() {
            cur.update(&txn).await?;
        } else {
            cur.insert(&txn).await?;
        }
        txn.commit().await?;
        Ok(inserted)
    }

    /// The instruction with this EndToEndId, if recorded.
    pub async fn get(&self, e2e: &str) -> Result<Option<Instruction>, OutboxError> {
        Ok(instruction::Entity::find_by_id(e2e.to_string()).one(&self.db).await?)
    }

    /// Every instruction of `bank_id`, oldest first.
    pub async fn all(&self, bank_id: &str) -> Result<Vec<Instruction>, OutboxError> {
        Ok(instruction::Entity::find()
            .filter(instruction::Column::BankId.eq(bank_id))
            .order_by_asc(instruction::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }

    /// Instructions the worker still has to act on now: not final, backoff elapsed.
    pub async fn actionable(&self, bank_id: &str, limit: u64) -> Result<Vec<Instruction>, OutboxError> {
        let open = [State::New, State::Sent, State::Accepted].map(State::as_str);
        let rows = instruction::Entity::find()
            .filter(instruction::Column::BankId.eq(bank_id))
            .filter(
                instruction::Column::State.is_in(open).or(instruction::Column::State
                    .eq(State::Rejected.as_str())
                    .and(instruction::Column::ChainRecordedAt.is_null())),
            )
            .filter(instruction::Column::NextAttemptAt.lte(now_ms()))
            .order_by_asc(instruction::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows)
    }

    /// Watched milestones of `bank_id` due at `chain_time` and not yet handled.
    pub async fn due_watches(&self, bank_id: &str, chain_time: u64) -> Result<Vec<watch::Model>, OutboxError> {
        Ok(watch::Entity::find()
            .filter(watch::Column::BankId.eq(bank_id))
            .filter(watch::Column::Done.eq(false))
            .filter(watch::Column::DueDate.lte(to_i64(chain_time)))
            .order_by_asc(watch::Column::DueDate)
            .all(&self.db)
            .await?)
    }

    /// Mark a watch handled: it is never looked at again.
    pub(crate) async fn watch_done(&self, key: &str) -> Result<(), OutboxError> {
        watch::ActiveModel { key: Set(key.to_string()), done: Set(true), ..Default::default() }
            .update(&self.db)
            .await?;
        Ok(())
    }

    /// Move an instruction to `state`, stamping the state's timestamp, with optional fields.
    pub async fn transition(&self, e2e: &str, state: State, change: Change) -> Result<Instruction, OutboxError> {
        let row = self.get(e2e).await?.ok_or_else(|| OutboxError::NotFound(e2e.to_string()))?;
        let now = now_ms();
        let mut am = row.into_active_model();
        am.state = Set(state.as_str().to_string());
        am.updated_at = Set(now);
        match state {
            State::New => {}
            State::Sent => am.sent_at = Set(Some(now)),
            State::Accepted => am.accepted_at = Set(Some(now)),
            State::Settled => am.settled_at = Set(Some(now)),
            State::Rejected => am.rejected_at = Set(Some(now)),
            State::NeedsReview => am.needs_review_at = Set(Some(now)),
        }
        if change.count_send {
            am.send_count = Set(am.send_count.as_ref() + 1);
        }
        if let Some(r) = change.bank_reference {
            am.bank_reference = Set(Some(r));
        }
        if let Some(r) = change.reason {
            am.reason = Set(Some(r));
        }
        if let Some(tx) = change.chain_tx {
            am.chain_tx = Set(Some(tx));
        }
        if change.chain_recorded {
            am.chain_recorded_at = Set(Some(now));
        }
        am.retries = Set(0);
        am.next_attempt_at = Set(0);
        Ok(am.update(&self.db).await?)
    }

    /// Leave the state as it is and try again after `delay_ms` (backoff).
    pub async fn defer(&self, e2e: &str, retries: i64, delay_ms: i64, reason: &str) -> Result<(), OutboxError> {
        let now = now_ms();
        instruction::ActiveModel {
            end_to_end_id: Set(e2e.to_string()),
            retries: Set(retries),
            next_attempt_at: Set(now.saturating_add(delay_ms)),
            reason: Set(Some(reason.chars().take(300).collect())),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&self.db)
        .await?;
        Ok(())
    }
}

/// Optional fields set with a transition.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Count one more send to the bank (`send_count`).
    pub count_send: bool,
    /// The bank's reference of the booking, to store.
    pub bank_reference: Option<String>,
    /// A rejection reason code or why it needs review, to store.
    pub reason: Option<String>,
    /// Hash of the confirmPayment / failPayment transaction, to store.
    pub chain_tx: Option<String>,
    /// Stamp `chain_recorded_at`: the failure is on chain.
    pub chain_recorded: bool,
}

impl Instruction {
    /// The row's state; `None` when the stored text is not one this version knows.
    pub fn state(&self) -> Option<State> {
        State::parse(&self.state)
    }

    pub(crate) fn is_repayment(&self) -> bool {
        self.kind == KIND_REPAYMENT
    }

    /// The amount in minor units of its currency; an error when the row is corrupt.
    pub fn amount(&self) -> Result<Money, OutboxError> {
        let corrupt = |reason: String| OutboxError::Corrupt { end_to_end_id: self.end_to_end_id.clone(), reason };
        let currency = Currency::parse(&self.currency).map_err(|e| corrupt(e.to_string()))?;
        let minor = self.amount_minor.parse::<u128>().map_err(|e| corrupt(e.to_string()))?;
        Ok(Money::new(minor, currency))
    }

    /// The credit transfer this instruction sends.
    pub(crate) fn credit_transfer(&self) -> Result<CreditTransfer, OutboxError> {
        let corrupt = |reason: String| OutboxError::Corrupt { end_to_end_id: self.end_to_end_id.clone(), reason };
        let party = |name: &str, iban: &str, bic: &str| -> Result<Party, OutboxError> {
            Ok(Party {
                name: name.to_string(),
                iban: Iban::parse(iban).map_err(|e| corrupt(e.to_string()))?,
                bic: Bic::parse(bic).map_err(|e| corrupt(e.to_string()))?,
            })
        };
        let due = chrono::DateTime::from_timestamp(self.due_date, 0)
            .ok_or_else(|| corrupt("due date out of range".into()))?;
        let milestone = u64::try_from(self.milestone).map_err(|e| corrupt(e.to_string()))?;
        let attempt = u32::try_from(self.attempt).map_err(|e| corrupt(e.to_string()))?;
        Ok(CreditTransfer {
            end_to_end_id: EndToEndId::parse(&self.end_to_end_id).map_err(|e| corrupt(e.to_string()))?,
            debtor: party(&self.debtor_name, &self.debtor_iban, &self.debtor_bic)?,
            creditor: party(&self.creditor_name, &self.creditor_iban, &self.creditor_bic)?,
            amount: self.amount()?,
            requested_execution_date: due.date_naive(),
            remittance: match &self.financing_id {
                Some(f) if self.is_repayment() => crate::payment::repayment_remittance(f, &self.order_id),
                _ => crate::payment::remittance(&self.order_id, milestone, attempt),
            },
        })
    }
}
