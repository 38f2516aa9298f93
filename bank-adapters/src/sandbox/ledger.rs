//! The sandbox bank's double-entry ledger, persisted with sea-orm in its own SQLite file.
//!
//! Every booking writes two entries that sum to zero (debit the payer, credit the payee);
//! funding an account books against the bank's own capital account, so the sum of all
//! balances is always zero. Each account's running balance is kept beside the entries and
//! [`Ledger::check`] re-derives it from them. Payments are idempotent by EndToEndId: a second
//! instruction with a known id books nothing, answers the recorded status, and is counted.

mod migration;

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::iso20022::pain002::TxStatus;
use crate::payment::CreditTransfer;
use tradechain_money::identifier::{Bic, EndToEndId, Iban};
use tradechain_money::money::Currency;

/// Books made by this process, so that two in one microsecond get distinct references.
static BOOKING_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sandbox_account")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub iban: String,
        pub name: String,
        pub bic: String,
        pub currency: String,
        /// How far below zero the balance may go (minor units, >= 0).
        pub overdraft_limit: i64,
        pub balance: i64,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sandbox_entry")]
    pub(crate) struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub booking_ref: String,
        pub iban: String,
        /// Signed minor units: negative debits, positive credits.
        pub amount: i64,
        pub currency: String,
        pub end_to_end_id: Option<String>,
        pub booked_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub(crate) mod payment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sandbox_payment")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub end_to_end_id: String,
        pub msg_id: String,
        /// The `PmtInfId` of the block it came in; `None` on rows from before it was kept.
        pub pmt_inf_id: Option<String>,
        pub debtor_iban: String,
        pub creditor_iban: String,
        pub amount: String,
        pub currency: String,
        pub status: String,
        pub reason: Option<String>,
        pub bank_reference: Option<String>,
        pub received_count: i32,
        pub received_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What the bank does with a new instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Book it now if the funds allow (ACSC), else reject it (RJCT AM04, …).
    Book,
    /// Reject it with this reason code (a fault injected by a test).
    Reject(String),
    /// Hold it at this interim status (ACCP, ACWC, ACSP, PDNG) until settled or rejected
    /// through the admin API.
    Hold(TxStatus),
}

/// The bank's own account that funding is booked against (so balances sum to zero).
pub(crate) const CAPITAL_BBAN: &str = "SBOX00000000000000";

/// Why the ledger refused or failed a request.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger database failed.
    #[error("ledger database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// No account with this IBAN.
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// A request the sandbox refuses (bad currency, name or amount), or books that do not
    /// balance.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl<E: std::error::Error> From<sea_orm::TransactionError<E>> for LedgerError
where
    LedgerError: From<E>,
{
    fn from(e: sea_orm::TransactionError<E>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => LedgerError::Db(db),
            sea_orm::TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

/// The status the bank holds for one EndToEndId.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    /// The instruction's EndToEndId.
    pub end_to_end_id: String,
    /// The payment information block it came in (`PmtInfId`), which its status reports name.
    pub pmt_inf_id: String,
    /// The account debited.
    pub debtor_iban: String,
    /// The account credited.
    pub creditor_iban: String,
    /// pain.002 transaction status code: `ACSC` when booked, `RJCT` when refused, or the
    /// interim status of an instruction held back (`ACCP`, `ACWC`, `ACSP`, `PDNG`).
    pub status: String,
    /// ISO 20022 reason code of a rejection, e.g. `AM04` (insufficient funds).
    pub reason: Option<String>,
    /// The booking's reference (`AcctSvcrRef`), when booked.
    pub bank_reference: Option<String>,
    /// Instructed amount, decimal with the currency's minor digits (e.g. `12.34`).
    pub amount: String,
    /// ISO 4217 code of the amount.
    pub currency: String,
    /// How many pain.001 instructions carried this EndToEndId.
    pub received_count: u32,
}

impl From<payment::Model> for PaymentRecord {
    fn from(m: payment::Model) -> Self {
        PaymentRecord {
            pmt_inf_id: m.pmt_inf_id.unwrap_or_else(|| m.end_to_end_id.clone()),
            debtor_iban: m.debtor_iban,
            creditor_iban: m.creditor_iban,
            end_to_end_id: m.end_to_end_id,
            status: m.status,
            reason: m.reason,
            bank_reference: m.bank_reference,
            amount: m.amount,
            currency: m.currency,
            received_count: u32::try_from(m.received_count).unwrap_or(0),
        }
    }
}

/// An account to open (admin API).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenAccount {
    /// The account's IBAN.
    pub iban: Iban,
    /// Account holder name, 1 to 140 characters.
    pub name: String,
    /// BIC of the bank holding the account.
    pub bic: Bic,
    /// ISO 4217 code the account is held in; only transfers in it are booked.
    pub currency: String,
    /// How far below zero the balance may go, in minor units (>= 0; default 0).
    #[serde(default)]
    pub overdraft_limit: i64,
}

/// An account's balance (admin API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// The account's IBAN; the bank's capital accounts are `{IBAN}-{currency}`.
    pub iban: String,
    /// Account holder name.
    pub name: String,
    /// ISO 4217 code the account is held in.
    pub currency: String,
    /// Signed minor units: negative when overdrawn (the capital accounts are negative by
    /// what was funded).
    pub balance: i64,
}

/// One booked entry, for camt.054.
#[derive(Debug, Clone)]
pub(crate) struct BookedEntry {
    pub(crate) seq: i64,
    pub(crate) amount: i64,
    pub(crate) currency: String,
    pub(crate) booking_ref: String,
    pub(crate) end_to_end_id: Option<String>,
    pub(crate) booked_at: i64,
}

/// The sandbox bank's books in one database; one writer at a time.
pub struct Ledger {
    db: DatabaseConnection,
    /// One writer at a time: the balance check and the booking are one decision.
    write: Mutex<()>,
    capital: Iban,
}

impl Ledger {
    /// Open (creating if needed) the ledger at `database_url`, e.g. `sqlite://bank.db?mode=rwc`.
    pub async fn open(database_url: &str) -> Result<Self, LedgerError> {
        // A sandbox: survives a crash of its process (WAL), not necessarily a power cut.
        let db = tradechain_store::connect(database_url, tradechain_store::Durability::Normal, None).await?;
        tradechain_store::migrate::<migration::Migrator>(&db).await?;
        let capital = Iban::from_bban("GB", CAPITAL_BBAN).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Ok(Ledger { db, write: Mutex::new(()), capital })
    }

    /// Open an account; an IBAN already open is left as it is.
    pub async fn open_account(&self, req: &OpenAccount) -> Result<(), LedgerError> {
        Currency::parse(&req.currency).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        if req.overdraft_limit < 0 || req.name.is_empty() || req.name.chars().count() > 140 {
            return Err(LedgerError::Invalid("name must be 1..=140 characters, overdraft_limit >= 0".into()));
        }
        let _w = self.write.lock().await;
        if account::Entity::find_by_id(req.iban.to_string()).one(&self.db).await?.is_some() {
            return Ok(());
        }
        account::ActiveModel {
            iban: Set(req.iban.to_string()),
            name: Set(req.name.clone()),
            bic: Set(req.bic.to_string()),
            currency: Set(req.currency.clone()),
            overdraft_limit: Set(req.overdraft_limit),
            balance: Set(0),
            created_at: Set(Utc::now().timestamp_millis()),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Credit `amount` to `iban` against the bank's capital account.
    pub async fn fund(&self, iban: &Iban, amount: i64) -> Result<(), LedgerError> {
        if amount <= 0 {
            return Err(LedgerError::Invalid("amount must be > 0".into()));
        }
        let _w = self.write.lock().await;
        let txn = self.db.begin().await?;
        let acct = account::Entity::find_by_id(iban.to_string())
            .one(&txn)
            .await?
            .ok_or_else(|| LedgerError::UnknownAccount(iban.to_string()))?;
        self.ensure_capital(&txn, &acct.currency).await?;
        let reference = format!("FUND-{}", Utc::now().timestamp_micros());
        post(&txn, &reference, &self.capital_key(&acct.currency), -amount, &acct.currency, None).await?;
        post(&txn, &reference, iban.as_str(), amount, &acct.currency, None).await?;
        txn.commit().await?;
        Ok(())
    }

    fn capital_key(&self, currency: &str) -> String {
        format!("{}-{currency}", self.capital)
    }

    async fn ensure_capital(&self, txn: &impl ConnectionTrait, currency: &str) -> Result<(), LedgerError> {
        let key = self.capital_key(currency);
        if account::Entity::find_by_id(key.clone()).one(txn).await?.is_none() {
            account::ActiveModel {
                iban: Set(key),
                name: Set("Sandbox bank capital".into()),
                bic: Set("SBOXGB2L".into()),
                currency: Set(currency.to_string()),
                overdraft_limit: Set(i64::MAX),
                balance: Set(0),
                created_at: Set(Utc::now().timestamp_millis()),
            }
            .insert(txn)
            .await?;
        }
        Ok(())
    }

    /// Receive one credit transfer in a block named by its EndToEndId: book it once, or
    /// reject it with `reject_with`; or answer the status already recorded.
    pub async fn receive(
        &self,
        msg_id: &str,
        t: &CreditTransfer,
        reject_with: Option<String>,
    ) -> Result<PaymentRecord, LedgerError> {
        let decision = reject_with.map_or(Decision::Book, Decision::Reject);
        self.receive_as(msg_id, t.end_to_end_id.as_str(), t, decision).await
    }

    /// Receive one credit transfer: book it once (or reject or hold it, as `decision`
    /// says), or answer the status already recorded.
    pub(crate) async fn receive_as(
        &self,
        msg_id: &str,
        pmt_inf_id: &str,
        t: &CreditTransfer,
        decision: Decision,
    ) -> Result<PaymentRecord, LedgerError> {
        let mut records = self.receive_many(msg_id, vec![(pmt_inf_id, t, decision)]).await?;
        records.pop().ok_or_else(|| LedgerError::Invalid("nothing received".into()))
    }

    /// Receive the transfers of one message in one database transaction, as a bank books a
    /// bulk file: each booked once (or rejected or held, as its decision says), or answered
    /// with the status already recorded.
    pub(crate) async fn receive_many(
        &self,
        msg_id: &str,
        transfers: Vec<(&str, &CreditTransfer, Decision)>,
    ) -> Result<Vec<PaymentRecord>, LedgerError> {
        let _w = self.write.lock().await;
        let txn = self.db.begin().await?;
        // The message's known payments and accounts read once, the bookings decided in
        // order against running balances, then written together: a query per few hundred
        // rows instead of eight per transfer.
        let mut books = Books::load(&txn, &transfers).await?;
        let mut records = Vec::with_capacity(transfers.len());
        for (pmt_inf_id, t, decision) in transfers {
            records.push(books.receive(msg_id, pmt_inf_id, t, decision));
        }
        books.write(&txn).await?;
        txn.commit().await?;
        Ok(records)
    }

    /// Book `t` (two entries) if it can be: `Ok(booking reference)`, else `Err(reason code)`.
    async fn book(
        &self,
        txn: &impl ConnectionTrait,
        t: &CreditTransfer,
        e2e: &str,
    ) -> Result<Result<String, String>, LedgerError> {
        match self.check_booking(txn, t).await? {
            Ok(amount) => {
                // Unique per booking, also for the many booked in one microsecond of a batch.
                let seq = BOOKING_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
                let reference = format!("SBX{}{seq:06}", Utc::now().timestamp_micros());
                post(txn, &reference, t.debtor.iban.as_str(), -amount, t.amount.currency.code(), Some(e2e)).await?;
                post(txn, &reference, t.creditor.iban.as_str(), amount, t.amount.currency.code(), Some(e2e)).await?;
                Ok(Ok(reference))
            }
            Err((code, detail)) => {
                tracing::info!(end_to_end_id = %e2e, code, detail, "instruction rejected");
                Ok(Err(code))
            }
        }
    }

    /// Settle an instruction held at an interim status: book it now (or reject it, short of
    /// funds: a rejection after ACSP). With `report` the status becomes ACSC; without, the
    /// booking shows only in the account's camt.054 and the status report still says the
    /// interim status, as a bank whose status service lags its books would.
    pub async fn settle_held(&self, e2e: &EndToEndId, report: bool) -> Result<PaymentRecord, LedgerError> {
        let _w = self.write.lock().await;
        let txn = self.db.begin().await?;
        let row = self.held(&txn, e2e).await?;
        let t = CreditTransfer {
            end_to_end_id: e2e.clone(),
            debtor: self.party_of(&txn, &row.debtor_iban).await?,
            creditor: self.party_of(&txn, &row.creditor_iban).await?,
            amount: {
                let c = Currency::parse(&row.currency).map_err(|e| LedgerError::Invalid(e.to_string()))?;
                tradechain_money::money::Money::new(
                    c.parse_minor(&row.amount).map_err(|e| LedgerError::Invalid(e.to_string()))?,
                    c,
                )
            },
            requested_execution_date: Utc::now().date_naive(),
            remittance: String::new(),
            charges: crate::payment::ChargeBearer::Shared,
            payment_information_id: None,
        };
        let mut am = row.clone().into_active_model();
        match self.book(&txn, &t, e2e.as_str()).await? {
            Ok(reference) => {
                am.bank_reference = Set(Some(reference));
                if report {
                    am.status = Set(TxStatus::Acsc.code().to_string());
                }
            }
            Err(code) => {
                am.status = Set(TxStatus::Rjct.code().to_string());
                am.reason = Set(Some(code));
            }
        }
        let model = am.update(&txn).await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// Reject an instruction held at an interim status with `code` (RJCT after ACSP).
    pub async fn reject_held(&self, e2e: &EndToEndId, code: &str) -> Result<PaymentRecord, LedgerError> {
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
            return Err(LedgerError::Invalid(format!("{code:?} is not an ISO 20022 reason code")));
        }
        let _w = self.write.lock().await;
        let txn = self.db.begin().await?;
        let row = self.held(&txn, e2e).await?;
        let mut am = row.into_active_model();
        am.status = Set(TxStatus::Rjct.code().to_string());
        am.reason = Set(Some(code.to_string()));
        let model = am.update(&txn).await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// The instruction `e2e`, which must be held (interim status, not booked).
    async fn held(&self, txn: &impl ConnectionTrait, e2e: &EndToEndId) -> Result<payment::Model, LedgerError> {
        let row = payment::Entity::find_by_id(e2e.to_string())
            .one(txn)
            .await?
            .ok_or_else(|| LedgerError::UnknownAccount(format!("no instruction {e2e}")))?;
        let interim = TxStatus::parse(&row.status).is_ok_and(TxStatus::is_interim);
        if !interim || row.bank_reference.is_some() {
            return Err(LedgerError::Invalid(format!("instruction {e2e} is {} and not held", row.status)));
        }
        Ok(row)
    }

    async fn party_of(&self, txn: &impl ConnectionTrait, iban: &str) -> Result<crate::party::Party, LedgerError> {
        let a = account::Entity::find_by_id(iban.to_string())
            .one(txn)
            .await?
            .ok_or_else(|| LedgerError::UnknownAccount(iban.to_string()))?;
        let invalid = |e: tradechain_money::identifier::IdentifierError| LedgerError::Invalid(e.to_string());
        Ok(crate::party::Party {
            name: a.name,
            iban: Iban::parse(&a.iban).map_err(invalid)?,
            bic: Bic::parse(&a.bic).map_err(invalid)?,
        })
    }

    /// `Ok(amount)` when the transfer can be booked, else the ISO reason code and a detail.
    async fn check_booking(
        &self,
        txn: &impl ConnectionTrait,
        t: &CreditTransfer,
    ) -> Result<Result<i64, (String, String)>, LedgerError> {
        let debtor = account::Entity::find_by_id(t.debtor.iban.to_string()).one(txn).await?;
        let creditor = account::Entity::find_by_id(t.creditor.iban.to_string()).one(txn).await?;
        Ok(bookable(t, debtor.as_ref(), creditor.as_ref()))
    }

    pub(crate) async fn payment(&self, e2e: &EndToEndId) -> Result<Option<PaymentRecord>, LedgerError> {
        Ok(payment::Entity::find_by_id(e2e.to_string()).one(&self.db).await?.map(PaymentRecord::from))
    }

    pub(crate) async fn payments(&self) -> Result<Vec<PaymentRecord>, LedgerError> {
        let rows = payment::Entity::find().order_by_asc(payment::Column::ReceivedAt).all(&self.db).await?;
        Ok(rows.into_iter().map(PaymentRecord::from).collect())
    }

    /// Every account's balance, by IBAN.
    pub async fn balances(&self) -> Result<Vec<Balance>, LedgerError> {
        let rows = account::Entity::find().order_by_asc(account::Column::Iban).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|a| Balance { iban: a.iban, name: a.name, currency: a.currency, balance: a.balance })
            .collect())
    }

    /// Re-derive every balance from the entries; returns the per-currency sum of all entries
    /// (zero when the books balance) or an error naming the first account that disagrees.
    pub async fn check(&self) -> Result<Vec<(String, i128)>, LedgerError> {
        // Entries and balances from one snapshot: read apart, a booking committed between the
        // two reads showed books that never existed (a balance moved, its entry not yet seen).
        // SQLite's read transaction holds its snapshot from the first read (WAL); PostgreSQL
        // needs repeatable read for that.
        let txn = if self.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            self.db
                .begin_with_config(Some(sea_orm::IsolationLevel::RepeatableRead), Some(sea_orm::AccessMode::ReadOnly))
                .await?
        } else {
            self.db.begin().await?
        };
        let entries = entry::Entity::find().all(&txn).await?;
        let mut per_account = std::collections::BTreeMap::<String, i128>::new();
        let mut per_currency = std::collections::BTreeMap::<String, i128>::new();
        for e in &entries {
            *per_account.entry(e.iban.clone()).or_default() += i128::from(e.amount);
            *per_currency.entry(e.currency.clone()).or_default() += i128::from(e.amount);
        }
        let accounts = account::Entity::find().all(&txn).await?;
        txn.commit().await?;
        for a in accounts {
            let derived = per_account.get(&a.iban).copied().unwrap_or(0);
            if derived != i128::from(a.balance) {
                return Err(LedgerError::Invalid(format!(
                    "account {} balance {} != entries {derived}",
                    a.iban, a.balance
                )));
            }
        }
        Ok(per_currency.into_iter().collect())
    }

    /// Entries on `iban` with sequence number above `since`, oldest first.
    pub(crate) async fn entries_since(&self, iban: &Iban, since: i64) -> Result<Vec<BookedEntry>, LedgerError> {
        let rows = entry::Entity::find()
            .filter(entry::Column::Iban.eq(iban.to_string()))
            .filter(entry::Column::Id.gt(since))
            .order_by_asc(entry::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|e| BookedEntry {
                seq: e.id,
                amount: e.amount,
                currency: e.currency,
                booking_ref: e.booking_ref,
                end_to_end_id: e.end_to_end_id,
                booked_at: e.booked_at,
            })
            .collect())
    }
}

/// Write one entry and move the account's running balance with it.
/// `Ok(amount)` when `t` can be booked between these accounts as they stand, else the ISO
/// reason code and a detail.
fn bookable(
    t: &CreditTransfer,
    debtor: Option<&account::Model>,
    creditor: Option<&account::Model>,
) -> Result<i64, (String, String)> {
    let reject = |code: &str, detail: String| Err((code.to_string(), detail));
    let Ok(amount) = i64::try_from(t.amount.minor) else {
        return reject("AM02", "amount exceeds what the sandbox books".into());
    };
    if amount == 0 {
        return reject("AM01", "zero amount".into());
    }
    let Some(debtor) = debtor else {
        return reject("AC01", format!("unknown debtor account {}", t.debtor.iban));
    };
    let Some(creditor) = creditor else {
        return reject("AC01", format!("unknown creditor account {}", t.creditor.iban));
    };
    let ccy = t.amount.currency.code();
    if debtor.currency != ccy || creditor.currency != ccy {
        return reject("AM03", format!("accounts are not held in {ccy}"));
    }
    if debtor.balance.checked_sub(amount).is_none_or(|after| after < -debtor.overdraft_limit) {
        return reject("AM04", format!("insufficient funds on {}", debtor.iban));
    }
    Ok(amount)
}

/// Most keys in one `IN (...)` list, and rows in one multi-row INSERT.
const ROWS_AT_ONCE: usize = 300;

/// One message's bookings, decided in memory in the order its transfers come (each against
/// the balances the ones before it left) under the ledger's write lock, then written in one
/// database transaction.
struct Books {
    /// Payments recorded before this message, by EndToEndId.
    known: HashMap<String, payment::Model>,
    /// How many more times each known payment was received in this message.
    received_again: HashMap<String, i32>,
    /// Payments new in this message, in order, and where each sits.
    new: Vec<payment::Model>,
    new_at: HashMap<String, usize>,
    /// The accounts the message names, balances as its bookings leave them.
    accounts: HashMap<String, account::Model>,
    /// What this message moves on each account.
    moved: HashMap<String, i64>,
    entries: Vec<entry::ActiveModel>,
}

impl Books {
    async fn load(
        txn: &impl ConnectionTrait,
        transfers: &[(&str, &CreditTransfer, Decision)],
    ) -> Result<Self, LedgerError> {
        let ids: Vec<String> = transfers.iter().map(|(_, t, _)| t.end_to_end_id.to_string()).collect();
        let mut ibans: Vec<String> =
            transfers.iter().flat_map(|(_, t, _)| [t.debtor.iban.to_string(), t.creditor.iban.to_string()]).collect();
        ibans.sort_unstable();
        ibans.dedup();
        let mut known = HashMap::new();
        for chunk in ids.chunks(ROWS_AT_ONCE) {
            let rows = payment::Entity::find()
                .filter(payment::Column::EndToEndId.is_in(chunk.iter().cloned()))
                .all(txn)
                .await?;
            known.extend(rows.into_iter().map(|p| (p.end_to_end_id.clone(), p)));
        }
        let mut accounts = HashMap::new();
        for chunk in ibans.chunks(ROWS_AT_ONCE) {
            let rows =
                account::Entity::find().filter(account::Column::Iban.is_in(chunk.iter().cloned())).all(txn).await?;
            accounts.extend(rows.into_iter().map(|a| (a.iban.clone(), a)));
        }
        Ok(Books {
            known,
            received_again: HashMap::new(),
            new: Vec::new(),
            new_at: HashMap::new(),
            accounts,
            moved: HashMap::new(),
            entries: Vec::new(),
        })
    }

    /// Receive one transfer: booked once (or rejected or held, as `decision` says), or, if
    /// its EndToEndId was seen before (in an earlier message or this one), counted and
    /// answered with the status recorded.
    fn receive(&mut self, msg_id: &str, pmt_inf_id: &str, t: &CreditTransfer, decision: Decision) -> PaymentRecord {
        let e2e = t.end_to_end_id.to_string();
        if let Some(existing) = self.known.get(&e2e) {
            let again = self.received_again.entry(e2e.clone()).or_default();
            *again += 1;
            let mut record = PaymentRecord::from(existing.clone());
            record.received_count = record.received_count.saturating_add(again.unsigned_abs());
            tracing::info!(end_to_end_id = %e2e, count = record.received_count, "duplicate instruction: not booked again");
            return record;
        }
        if let Some(&i) = self.new_at.get(&e2e) {
            self.new[i].received_count += 1;
            let record = PaymentRecord::from(self.new[i].clone());
            tracing::info!(end_to_end_id = %e2e, count = record.received_count, "duplicate instruction: not booked again");
            return record;
        }
        let now = Utc::now().timestamp_millis();
        let (status, reason, reference) = match decision {
            Decision::Hold(interim) => (interim, None, None),
            Decision::Reject(code) => {
                tracing::info!(end_to_end_id = %e2e, code, "instruction rejected by injected fault");
                (TxStatus::Rjct, Some(code), None)
            }
            Decision::Book => match self.book(t, &e2e, now) {
                Ok(reference) => (TxStatus::Acsc, None, Some(reference)),
                Err(code) => (TxStatus::Rjct, Some(code), None),
            },
        };
        let model = payment::Model {
            end_to_end_id: e2e.clone(),
            msg_id: msg_id.to_string(),
            pmt_inf_id: Some(pmt_inf_id.to_string()),
            debtor_iban: t.debtor.iban.to_string(),
            creditor_iban: t.creditor.iban.to_string(),
            amount: t.amount.decimal(),
            currency: t.amount.currency.code().to_string(),
            status: status.code().to_string(),
            reason,
            bank_reference: reference,
            received_count: 1,
            received_at: now,
        };
        self.new_at.insert(e2e, self.new.len());
        self.new.push(model.clone());
        PaymentRecord::from(model)
    }

    /// Book `t` (two entries) if the accounts as this message left them allow it
    /// ([`bookable`]): the booking reference, else the ISO reason code.
    fn book(&mut self, t: &CreditTransfer, e2e: &str, now_ms: i64) -> Result<String, String> {
        let (debtor_key, creditor_key) = (t.debtor.iban.to_string(), t.creditor.iban.to_string());
        let amount = match bookable(t, self.accounts.get(&debtor_key), self.accounts.get(&creditor_key)) {
            Ok(amount) => amount,
            Err((code, detail)) => {
                tracing::info!(end_to_end_id = %e2e, code, detail, "instruction rejected");
                return Err(code);
            }
        };
        let ccy = t.amount.currency.code();
        // Unique per booking, also for the many booked in one microsecond of a batch.
        let seq = BOOKING_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 1_000_000;
        let reference = format!("SBX{}{seq:06}", Utc::now().timestamp_micros());
        for (iban, delta) in [(debtor_key, -amount), (creditor_key, amount)] {
            if let Some(a) = self.accounts.get_mut(&iban) {
                a.balance = a.balance.saturating_add(delta);
            }
            *self.moved.entry(iban.clone()).or_default() += delta;
            self.entries.push(entry::ActiveModel {
                booking_ref: Set(reference.clone()),
                iban: Set(iban),
                amount: Set(delta),
                currency: Set(ccy.to_string()),
                end_to_end_id: Set(Some(e2e.to_string())),
                booked_at: Set(now_ms),
                ..Default::default()
            });
        }
        Ok(reference)
    }

    async fn write(self, txn: &impl ConnectionTrait) -> Result<(), LedgerError> {
        let mut payments = self.new.into_iter().map(payment::Model::into_active_model).peekable();
        while payments.peek().is_some() {
            let chunk: Vec<_> = payments.by_ref().take(ROWS_AT_ONCE).collect();
            payment::Entity::insert_many(chunk).exec_without_returning(txn).await?;
        }
        let mut entries = self.entries.into_iter().peekable();
        while entries.peek().is_some() {
            let chunk: Vec<_> = entries.by_ref().take(ROWS_AT_ONCE).collect();
            entry::Entity::insert_many(chunk).exec_without_returning(txn).await?;
        }
        for (iban, delta) in self.moved {
            let updated = account::Entity::update_many()
                .col_expr(account::Column::Balance, Expr::col(account::Column::Balance).add(delta))
                .filter(account::Column::Iban.eq(iban.clone()))
                .exec(txn)
                .await?;
            if updated.rows_affected != 1 {
                return Err(LedgerError::UnknownAccount(iban));
            }
        }
        for (e2e, again) in self.received_again {
            payment::Entity::update_many()
                .col_expr(payment::Column::ReceivedCount, Expr::col(payment::Column::ReceivedCount).add(again))
                .filter(payment::Column::EndToEndId.eq(e2e))
                .exec(txn)
                .await?;
        }
        Ok(())
    }
}

async fn post(
    txn: &impl ConnectionTrait,
    reference: &str,
    iban: &str,
    amount: i64,
    currency: &str,
    e2e: Option<&str>,
) -> Result<(), LedgerError> {
    entry::ActiveModel {
        booking_ref: Set(reference.to_string()),
        iban: Set(iban.to_string()),
        amount: Set(amount),
        currency: Set(currency.to_string()),
        end_to_end_id: Set(e2e.map(str::to_string)),
        booked_at: Set(Utc::now().timestamp_millis()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let updated = account::Entity::update_many()
        .col_expr(account::Column::Balance, Expr::col(account::Column::Balance).add(amount))
        .filter(account::Column::Iban.eq(iban))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(LedgerError::UnknownAccount(iban.to_string()));
    }
    Ok(())
}
