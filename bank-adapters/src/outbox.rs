//! The durable outbox: every payment instruction is written here before anything leaves,
//! keyed by its EndToEndId, with every state it passes through and when.
//!
//! States: `new` (recorded from a `PaymentDue`, nothing sent) → `sent` (about to go or gone
//! to the bank; outcome unknown until the bank books or rejects it, however far it has
//! accepted it) → `accepted` (the bank booked it; confirmation on chain pending) → `settled`
//! (confirmed on chain, or for a transfer with nothing to confirm, booked). Or `rejected`
//! (the bank refused; `chain_recorded_at` is set once `failPayment` is on chain), or
//! `needs_review` (a malformed or hostile answer, missing account details, or a refusal a
//! person must settle with the customer: the worker never touches it again).
//!
//! Kinds of instruction: `milestone` (a `PaymentDue`) and `repayment` (a `RepaymentDue`),
//! confirmed on chain; and the buyer's bank's own transfers covering its undertaking, with
//! nothing on chain: `earmark` (the buyer's funds into the bank's escrow account when it
//! commits), `release` (what the earmark holds beyond what was paid, back to the buyer when
//! the order ends) and `reimbursement` (the buyer repays the bank a milestone it paid at its
//! own risk). `order_cover` keeps each undertaking's cover: its mode, whether the earmark is
//! booked, and what was paid from it.
//!
//! A database of its own holds it through sea-orm: SQLite by default, PostgreSQL
//! supported, every commit synced. Its schema is kept by versioned migrations ([`migration`])
//! applied at start-up. Amounts are stored as decimal strings of minor units (a `u128` does
//! not fit a SQL integer).

mod migration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::party::Party;
use crate::payment::{ChargeBearer, CreditTransfer};
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
        /// The requested execution date (unix seconds): the paying bank's banking day on or
        /// after the due date on chain (today, when it is released late).
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
        /// Who bears the charges outside SEPA: `shared`, `debtor`, `creditor`.
        pub charges: String,
        /// The payment information block (`PmtInfId`) it was last sent in, when it shared one
        /// with others of its batch; `None`: a block of its own, named by its EndToEndId.
        pub payment_information_id: Option<String>,
    }

    /// No relations: the table stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `order_cover` table: how the buyer's bank covers each of its undertakings.
pub mod cover {
    use sea_orm::entity::prelude::*;

    /// One undertaking's cover (table `order_cover`).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "order_cover")]
    pub struct Model {
        /// `{bank_id}/{order_id}`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// The committing bank's chain address (lower-case hex).
        pub bank_id: String,
        /// Order id (decimal).
        pub order_id: String,
        /// `earmark` or `bank_risk`, as the commitment states.
        pub mode: String,
        /// ISO 4217 code of the order.
        pub currency: String,
        /// The order's amount (what is earmarked), minor units.
        pub amount_minor: String,
        /// The earmark is booked: the escrow account holds the buyer's funds.
        pub earmarked: bool,
        /// Paid to the seller from the escrow account so far (or reserved for a payment in
        /// flight), minor units.
        pub drawn_minor: String,
        /// The order ended (completed or expired): what the earmark still holds goes back.
        pub ended: bool,
        /// The rest was sent back to the buyer.
        pub released: bool,
        /// Last change (unix ms).
        pub updated_at: i64,
    }

    /// No relations: the table stands alone.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    impl Model {
        /// Paid or reserved from the escrow so far.
        #[must_use]
        pub fn drawn(&self) -> u128 {
            self.drawn_minor.parse().unwrap_or(u128::MAX)
        }

        /// What the earmark still holds (zero until it is booked).
        #[must_use]
        pub fn remaining(&self) -> u128 {
            if !self.earmarked {
                return 0;
            }
            self.amount_minor.parse::<u128>().unwrap_or(0).saturating_sub(self.drawn())
        }
    }
}

/// A change to an undertaking's cover, recorded with the block range that brought it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverChange {
    /// The bank committed: its cover and the order's amount.
    Open {
        /// Order id (decimal).
        order_id: String,
        /// `earmark` or `bank_risk`.
        mode: String,
        /// ISO 4217 code.
        currency: String,
        /// The order's amount, minor units.
        amount: u128,
    },
    /// A milestone is paid from the escrow (reserved when its instruction is recorded).
    Draw {
        /// Order id (decimal).
        order_id: String,
        /// Minor units.
        amount: u128,
    },
    /// The order ended: what the earmark holds goes back to the buyer.
    End {
        /// Order id (decimal).
        order_id: String,
    },
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
/// The buyer's funds into the bank's escrow account when it commits.
pub(crate) const KIND_EARMARK: &str = "earmark";
/// What the earmark holds beyond what was paid, back to the buyer.
pub(crate) const KIND_RELEASE: &str = "release";
/// The buyer repays the bank a milestone the bank paid at its own risk.
pub(crate) const KIND_REIMBURSEMENT: &str = "reimbursement";

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
    /// Undrawing from an escrow reads and writes its cover (an amount in a decimal string
    /// no SQL expression can add to): two rejections of one order handled at once (two
    /// batches in flight) would otherwise lose one.
    undraws: std::sync::Arc<tokio::sync::Mutex<()>>,
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
        Ok(Outbox { db, undraws: std::sync::Arc::default() })
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
        covers: Vec<CoverChange>,
    ) -> Result<usize, OutboxError> {
        let txn = self.db.begin().await?;
        for change in covers {
            apply_cover(&txn, bank_id, change).await?;
        }
        let inserted = insert_new(&txn, instructions).await?;
        watch_new(&txn, bank_id, watches).await?;
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

    /// The cover of `bank_id`'s undertaking on `order_id`, if it committed one.
    pub async fn cover(&self, bank_id: &str, order_id: &str) -> Result<Option<cover::Model>, OutboxError> {
        Ok(cover::Entity::find_by_id(format!("{bank_id}/{order_id}")).one(&self.db).await?)
    }

    /// The covers of `bank_id`'s undertakings on these orders, by order id: one query per
    /// few hundred orders (a block range's payments), where [`Outbox::cover`] is one each.
    pub async fn covers(
        &self,
        bank_id: &str,
        order_ids: &[String],
    ) -> Result<std::collections::HashMap<String, cover::Model>, OutboxError> {
        let mut found = std::collections::HashMap::with_capacity(order_ids.len());
        for chunk in order_ids.chunks(IN_LIST) {
            let rows = cover::Entity::find()
                .filter(cover::Column::Key.is_in(chunk.iter().map(|o| format!("{bank_id}/{o}"))))
                .all(&self.db)
                .await?;
            found.extend(rows.into_iter().map(|c| (c.order_id.clone(), c)));
        }
        Ok(found)
    }

    /// Mark `order_id`'s earmark booked (`true`) or the rest released (`false`).
    pub(crate) async fn mark_cover(&self, bank_id: &str, order_id: &str, earmarked: bool) -> Result<(), OutboxError> {
        if let Some(c) = self.cover(bank_id, order_id).await? {
            let mut am = c.into_active_model();
            if earmarked {
                am.earmarked = Set(true);
            } else {
                am.released = Set(true);
            }
            am.updated_at = Set(now_ms());
            am.update(&self.db).await?;
        }
        Ok(())
    }

    /// Record one more instruction outside a block range (a release once the earmark it
    /// returns is booked); one already present is left as it is.
    pub(crate) async fn record(&self, ins: Instruction) -> Result<bool, OutboxError> {
        if instruction::Entity::find_by_id(ins.end_to_end_id.clone()).one(&self.db).await?.is_some() {
            return Ok(false);
        }
        ins.into_active_model().reset_all().insert(&self.db).await?;
        Ok(true)
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

    /// Settle many instructions and record the instructions that follow from them (the
    /// bank's claims on buyers) in one database transaction. A follow-up already recorded
    /// (same EndToEndId) is left as it is.
    pub(crate) async fn settle_with(
        &self,
        changes: Vec<(String, Change)>,
        follow_ups: Vec<Instruction>,
    ) -> Result<(), OutboxError> {
        let txn = self.db.begin().await?;
        if !follow_ups.is_empty() {
            let rows = follow_ups.into_iter().map(|i| i.into_active_model().reset_all());
            instruction::Entity::insert_many(rows)
                .on_conflict_do_nothing_on([instruction::Column::EndToEndId])
                .exec_without_returning(&txn)
                .await?;
        }
        update_many_in(&txn, State::Settled, changes).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Mark many watches handled in one database transaction.
    pub(crate) async fn watches_done(&self, keys: &[String]) -> Result<(), OutboxError> {
        let txn = self.db.begin().await?;
        watch::Entity::update_many()
            .col_expr(watch::Column::Done, sea_orm::sea_query::Expr::value(true))
            .filter(watch::Column::Key.is_in(keys.iter().cloned()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Move an instruction to `state`, stamping the state's timestamp, with optional fields.
    pub async fn transition(&self, e2e: &str, state: State, change: Change) -> Result<Instruction, OutboxError> {
        let txn = self.db.begin().await?;
        update_many_in(&txn, state, vec![(e2e.to_string(), change)]).await?;
        let row = rows_in(&txn, vec![e2e.to_string()]).await?.pop().ok_or_else(|| OutboxError::NotFound(e2e.into()))?;
        txn.commit().await?;
        Ok(row)
    }

    /// Mark a batch `sent`, each in the payment information block it is about to travel in
    /// (`None`: a block of its own), in one database transaction: durably before the
    /// message leaves, as [`Outbox::transition`] does for one. Answers the rows in the
    /// batch's order.
    pub async fn mark_sent(&self, batch: &[(String, Option<String>)]) -> Result<Vec<Instruction>, OutboxError> {
        let txn = self.db.begin().await?;
        let mut blocks: std::collections::BTreeMap<Option<String>, Vec<String>> = std::collections::BTreeMap::new();
        for (e2e, block) in batch {
            blocks.entry(block.clone()).or_default().push(e2e.clone());
        }
        for (block, e2es) in blocks {
            let change = Change { count_send: true, ..Change::default() };
            let e2es: Vec<(String, Change)> = e2es.into_iter().map(|e| (e, change.clone())).collect();
            update_many_in(&txn, State::Sent, e2es.clone()).await?;
            for chunk in e2es.chunks(IN_LIST) {
                instruction::Entity::update_many()
                    .col_expr(instruction::Column::PaymentInformationId, Expr::value(block.clone()))
                    .filter(instruction::Column::EndToEndId.is_in(chunk.iter().map(|(e, _)| e.clone())))
                    .exec(&txn)
                    .await?;
            }
        }
        let rows = rows_in(&txn, batch.iter().map(|(e, _)| e.clone()).collect()).await?;
        txn.commit().await?;
        Ok(rows)
    }

    /// Move many instructions to `state` at once, each with its own change, in one database
    /// transaction (a batch the bank booked, or one confirmation that settled many). Answers
    /// the rows in the order given.
    pub async fn transition_many(
        &self,
        state: State,
        changes: Vec<(String, Change)>,
    ) -> Result<Vec<Instruction>, OutboxError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.db.begin().await?;
        let e2es: Vec<String> = changes.iter().map(|(e, _)| e.clone()).collect();
        update_many_in(&txn, state, changes).await?;
        let rows = rows_in(&txn, e2es).await?;
        txn.commit().await?;
        Ok(rows)
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

/// Most EndToEndIds in one `IN (...)` list.
const IN_LIST: usize = 500;

/// Move rows to `state`: one UPDATE per group of rows with the same change (a whole batch,
/// usually), each row's state timestamp stamped, its backoff reset. A row that is not there
/// fails the whole call.
async fn update_many_in(
    db: &impl sea_orm::ConnectionTrait,
    state: State,
    changes: Vec<(String, Change)>,
) -> Result<(), OutboxError> {
    use instruction::Column as C;
    let now = now_ms();
    let mut groups: Vec<(Change, Vec<String>)> = Vec::new();
    for (e2e, change) in changes {
        match groups.iter_mut().find(|(c, _)| *c == change) {
            Some((_, v)) => v.push(e2e),
            None => groups.push((change, vec![e2e])),
        }
    }
    for (change, e2es) in groups {
        for chunk in e2es.chunks(IN_LIST) {
            let mut q = instruction::Entity::update_many()
                .col_expr(C::State, Expr::value(state.as_str()))
                .col_expr(C::UpdatedAt, Expr::value(now))
                .col_expr(C::Retries, Expr::value(0i64))
                .col_expr(C::NextAttemptAt, Expr::value(0i64));
            let stamp = match state {
                State::New => None,
                State::Sent => Some(C::SentAt),
                State::Accepted => Some(C::AcceptedAt),
                State::Settled => Some(C::SettledAt),
                State::Rejected => Some(C::RejectedAt),
                State::NeedsReview => Some(C::NeedsReviewAt),
            };
            if let Some(col) = stamp {
                q = q.col_expr(col, Expr::value(now));
            }
            if change.count_send {
                q = q.col_expr(C::SendCount, Expr::col(C::SendCount).add(1));
            }
            if let Some(r) = &change.bank_reference {
                q = q.col_expr(C::BankReference, Expr::value(r.clone()));
            }
            if let Some(r) = &change.reason {
                q = q.col_expr(C::Reason, Expr::value(r.clone()));
            }
            if let Some(tx) = &change.chain_tx {
                q = q.col_expr(C::ChainTx, Expr::value(tx.clone()));
            }
            if change.chain_recorded {
                q = q.col_expr(C::ChainRecordedAt, Expr::value(now));
            }
            let done = q.filter(C::EndToEndId.is_in(chunk.iter().cloned())).exec(db).await?;
            if done.rows_affected != chunk.len() as u64 {
                let missing = match chunk {
                    [one] => one.clone(),
                    _ => format!("{} of {} rows", chunk.len() as u64 - done.rows_affected, chunk.len()),
                };
                return Err(OutboxError::NotFound(missing));
            }
        }
    }
    Ok(())
}

/// Rows in one multi-row INSERT: 38 columns each keeps a statement's parameters far below
/// SQLite's and PostgreSQL's limits.
const INSERT_ROWS: usize = 200;

/// Insert the instructions not recorded yet (by EndToEndId; the first of duplicates in
/// `instructions` wins): one `IN (...)` read and one multi-row INSERT per few hundred rows,
/// instead of a read and an insert per row. How many were inserted.
async fn insert_new(db: &impl sea_orm::ConnectionTrait, instructions: Vec<Instruction>) -> Result<usize, OutboxError> {
    let mut seen = std::collections::HashSet::with_capacity(instructions.len());
    let fresh: Vec<Instruction> = instructions.into_iter().filter(|i| seen.insert(i.end_to_end_id.clone())).collect();
    let mut present = std::collections::HashSet::new();
    for chunk in fresh.chunks(IN_LIST) {
        let ids: Vec<String> = instruction::Entity::find()
            .select_only()
            .column(instruction::Column::EndToEndId)
            .filter(instruction::Column::EndToEndId.is_in(chunk.iter().map(|i| i.end_to_end_id.clone())))
            .into_tuple()
            .all(db)
            .await?;
        present.extend(ids);
    }
    let new: Vec<instruction::ActiveModel> = fresh
        .into_iter()
        .filter(|i| !present.contains(&i.end_to_end_id))
        .map(|i| i.into_active_model().reset_all())
        .collect();
    let inserted = new.len();
    let mut rows = new.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_ROWS).collect();
        instruction::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(inserted)
}

/// Start watching what a block range asks this bank to watch: new keys inserted together,
/// a milestone handed back to this bank after its watch ended (a financing cancelled, a
/// financier payer in default) watched again, any other key already present left as it is.
async fn watch_new(db: &impl sea_orm::ConnectionTrait, bank_id: &str, watches: Vec<Watch>) -> Result<(), OutboxError> {
    let mut wanted: Vec<(String, Watch)> = Vec::with_capacity(watches.len());
    let mut seen = std::collections::HashSet::with_capacity(watches.len());
    for w in watches {
        let key = match (&w.financing_id, w.doc_type) {
            (Some(f), _) => format!("{bank_id}/R{f}"),
            (None, Some(d)) => format!("{bank_id}/D{}/{d}/{}", w.order_id, w.due_date),
            (None, None) => format!("{bank_id}/{}/{}", w.order_id, w.milestone),
        };
        if seen.insert(key.clone()) {
            wanted.push((key, w));
        }
    }
    let mut present = std::collections::HashMap::new();
    for chunk in wanted.chunks(IN_LIST) {
        let rows = watch::Entity::find()
            .filter(watch::Column::Key.is_in(chunk.iter().map(|(k, _)| k.clone())))
            .all(db)
            .await?;
        present.extend(rows.into_iter().map(|r| (r.key.clone(), r)));
    }
    let mut new = Vec::new();
    for (key, w) in wanted {
        let milestone = w.financing_id.is_none() && w.doc_type.is_none();
        match present.remove(&key) {
            Some(ended) if ended.done && milestone => {
                let mut again = ended.into_active_model();
                again.done = Set(false);
                again.due_date = Set(to_i64(w.due_date));
                again.update(db).await?;
            }
            Some(_) => {}
            None => new.push(watch::ActiveModel {
                key: Set(key),
                bank_id: Set(bank_id.to_string()),
                financing_id: Set(w.financing_id),
                order_id: Set(w.order_id),
                milestone: Set(to_i64(w.milestone)),
                due_date: Set(to_i64(w.due_date)),
                doc_type: Set(w.doc_type.map(i64::from)),
                done: Set(false),
            }),
        }
    }
    let mut rows = new.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_ROWS).collect();
        watch::Entity::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

/// The rows with these EndToEndIds, in the order given (a missing one is an error).
async fn rows_in(db: &impl sea_orm::ConnectionTrait, e2es: Vec<String>) -> Result<Vec<Instruction>, OutboxError> {
    let mut found = std::collections::HashMap::with_capacity(e2es.len());
    for chunk in e2es.chunks(IN_LIST) {
        let rows = instruction::Entity::find()
            .filter(instruction::Column::EndToEndId.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|r| (r.end_to_end_id.clone(), r)));
    }
    e2es.into_iter().map(|e| found.remove(&e).ok_or(OutboxError::NotFound(e))).collect()
}

/// Apply one cover change in `txn`. Opening is idempotent; a draw never takes the escrow
/// below zero (the caller checked what it holds); undrawing is a negative draw.
async fn apply_cover(
    txn: &impl sea_orm::ConnectionTrait,
    bank_id: &str,
    change: CoverChange,
) -> Result<(), OutboxError> {
    let now = now_ms();
    match change {
        CoverChange::Open { order_id, mode, currency, amount } => {
            let key = format!("{bank_id}/{order_id}");
            if cover::Entity::find_by_id(key.clone()).one(txn).await?.is_none() {
                cover::ActiveModel {
                    key: Set(key),
                    bank_id: Set(bank_id.to_string()),
                    order_id: Set(order_id),
                    mode: Set(mode),
                    currency: Set(currency),
                    amount_minor: Set(amount.to_string()),
                    earmarked: Set(false),
                    drawn_minor: Set("0".into()),
                    ended: Set(false),
                    released: Set(false),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await?;
            }
        }
        CoverChange::Draw { order_id, amount } => {
            if let Some(c) = cover::Entity::find_by_id(format!("{bank_id}/{order_id}")).one(txn).await? {
                let drawn = c.drawn().saturating_add(amount);
                let mut am = c.into_active_model();
                am.drawn_minor = Set(drawn.to_string());
                am.updated_at = Set(now);
                am.update(txn).await?;
            }
        }
        CoverChange::End { order_id } => {
            if let Some(c) = cover::Entity::find_by_id(format!("{bank_id}/{order_id}")).one(txn).await? {
                let mut am = c.into_active_model();
                am.ended = Set(true);
                am.updated_at = Set(now);
                am.update(txn).await?;
            }
        }
    }
    Ok(())
}

/// Take `amount` back off what was drawn from `order_id`'s escrow (its payment was rejected).
pub(crate) async fn undraw(outbox: &Outbox, bank_id: &str, order_id: &str, amount: u128) -> Result<(), OutboxError> {
    let _one_at_a_time = outbox.undraws.lock().await;
    if let Some(c) = outbox.cover(bank_id, order_id).await? {
        let drawn = c.drawn().saturating_sub(amount);
        let mut am = c.into_active_model();
        am.drawn_minor = Set(drawn.to_string());
        am.updated_at = Set(now_ms());
        am.update(&outbox.db).await?;
    }
    Ok(())
}

/// Optional fields set with a transition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    /// Whether booking it is confirmed on chain (a milestone or a repayment), or it is the
    /// bank's own transfer with nothing on chain (earmark, release, reimbursement).
    pub(crate) fn is_on_chain(&self) -> bool {
        self.kind == KIND_MILESTONE || self.kind == KIND_REPAYMENT
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
            remittance: match (self.kind.as_str(), &self.financing_id) {
                (KIND_REPAYMENT, Some(f)) => crate::payment::repayment_remittance(f, &self.order_id),
                (KIND_EARMARK | KIND_RELEASE | KIND_REIMBURSEMENT, _) => {
                    format!("tradechain order {} milestone {milestone} {}", self.order_id, self.kind)
                }
                _ => crate::payment::remittance(&self.order_id, milestone, attempt),
            },
            charges: match self.charges.as_str() {
                "debtor" => ChargeBearer::Debtor,
                "creditor" => ChargeBearer::Creditor,
                _ => ChargeBearer::Shared,
            },
            payment_information_id: self.payment_information_id.clone(),
        })
    }
}
