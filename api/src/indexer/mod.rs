//! The indexer: follows the chain block by block, decodes every event of the suite and
//! writes the read model, one database transaction per block together with the cursor
//! (the last indexed block), so a crash never leaves half a block behind.
//!
//! Every event goes to `events` (generic decoding through the contracts' ABIs: the order
//! timeline); the typed `sol!` events update `organisations`, `orders`, `milestones`,
//! `documents`, `payments`, `consents`, `verification_requests`, `financings` and
//! `fingerprints`; the credit-profile events also go to each party's `credit_facts`.
//! Only block data is used (numbers, timestamps,
//! hashes), never the wall clock, so a rebuild from block 0 is identical.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use alloy::dyn_abi::{DynSolValue, EventExt};
use alloy::json_abi::{Event, JsonAbi};
use alloy::primitives::{Address, B256, U256};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait, sea_query::Expr,
};
use tokio::sync::{broadcast, watch};
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_contracts::role;

mod apply;
pub mod credit;
mod financing;

pub use financing::kind_str;

use crate::codec::{addr, i64_of};
use crate::readmodel::{self, cursor, event, order, organisation};
use tradechain_chain::{BlockLog, BlockLogs, Chain};

/// A change to an order, a financing or a consent, sent to live watchers (SSE) after its
/// block is committed. `parties` (not sent) are the addresses it concerns: an order's
/// buyer, seller and banks; a financing's order parties and financier; a consent's firm
/// and financier.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrderChange {
    /// The order it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<i64>,
    /// The financing it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub financing_id: Option<i64>,
    /// The verification request it concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<i64>,
    /// The event's name.
    pub kind: String,
    /// The block it happened in.
    pub block: u64,
    /// The transaction.
    pub tx_hash: String,
    /// Who may see it (0x addresses): the SSE streams filter by this.
    #[serde(skip)]
    pub parties: Vec<String>,
}

struct Catalog {
    by_topic: HashMap<B256, (&'static str, Event)>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Artifact {
        abi: JsonAbi,
    }
    let mut by_topic = HashMap::new();
    for (name, json) in [
        ("Consortium", tradechain_contracts::artifacts::CONSORTIUM),
        ("TradeOrders", tradechain_contracts::artifacts::TRADE_ORDERS),
        ("Receivables", tradechain_contracts::artifacts::RECEIVABLES),
        ("Consents", tradechain_contracts::artifacts::CONSENTS),
    ] {
        // The artifacts are compiled in and tested by tradechain-contracts.
        if let Ok(a) = serde_json::from_str::<Artifact>(json) {
            for e in a.abi.events() {
                by_topic.insert(e.selector(), (name, e.clone()));
            }
        }
    }
    Catalog { by_topic }
});

/// A decoded value as JSON: addresses lower-case hex, integers decimal strings, bytes3 as
/// text (currency, Incoterm), other bytes hex.
fn value_json(v: &DynSolValue) -> serde_json::Value {
    use serde_json::Value;
    match v {
        DynSolValue::Address(a) => Value::String(addr(a)),
        DynSolValue::Uint(u, _) => Value::String(u.to_string()),
        DynSolValue::Int(i, _) => Value::String(i.to_string()),
        DynSolValue::Bool(b) => Value::Bool(*b),
        DynSolValue::String(s) => Value::String(s.clone()),
        DynSolValue::FixedBytes(w, 3) if w[..3].iter().all(u8::is_ascii_alphanumeric) => {
            Value::String(String::from_utf8_lossy(&w[..3]).into_owned())
        }
        DynSolValue::FixedBytes(w, n) => Value::String(format!("0x{}", hex::encode(&w[..*n]))),
        DynSolValue::Bytes(b) => Value::String(format!("0x{}", hex::encode(b))),
        other => Value::String(format!("{other:?}")),
    }
}

/// Decodes any suite event generically: (contract, event name, data as canonical JSON, orderId).
pub(crate) fn decode_generic(log: &alloy::primitives::Log) -> Option<(&'static str, String, String, Option<i64>)> {
    let topic = log.topics().first()?;
    let (contract, ev) = CATALOG.by_topic.get(topic)?;
    let decoded = ev.decode_log(&log.data).ok()?;
    let (mut indexed, mut body) = (decoded.indexed.into_iter(), decoded.body.into_iter());
    let mut fields = std::collections::BTreeMap::new();
    let mut order_id = None;
    for input in &ev.inputs {
        let value = if input.indexed { indexed.next() } else { body.next() }?;
        if input.name == "orderId" {
            order_id = value.as_uint().and_then(|(u, _)| i64::try_from(u).ok());
        }
        fields.insert(input.name.clone(), value_json(&value));
    }
    let data = serde_json::to_string(&fields).ok()?;
    Some((contract, ev.name.clone(), data, order_id))
}

fn u256_i64(v: U256) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn state_str(s: tradechain_contracts::OrderState) -> String {
    s.as_str().to_string()
}

/// The ISO 20022 EndToEndId of a payment attempt, `TC{chain}-{order}-{milestone}-{attempt}`:
/// the settlement worker's own derivation, so the read model and the bank name a payment alike.
pub fn end_to_end_id(chain_id: u64, order: i64, milestone: i32, attempt: i32) -> String {
    tradechain_money::identifier::end_to_end_id(
        chain_id,
        U256::from(u64::try_from(order).unwrap_or_default()),
        U256::from(u64::try_from(milestone).unwrap_or_default()),
        u32::try_from(attempt).unwrap_or_default(),
    )
    .as_str()
    .to_string()
}

/// A bank's payment reference as text when it is printable ASCII padded with zeros, else hex.
pub fn reference_text(r: &B256) -> String {
    let trimmed: Vec<u8> = r.iter().copied().take_while(|b| *b != 0).collect();
    if !trimmed.is_empty()
        && r[trimmed.len()..].iter().all(|b| *b == 0)
        && trimmed.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        String::from_utf8_lossy(&trimmed).into_owned()
    } else {
        format!("0x{}", hex::encode(r))
    }
}

/// The most blocks indexed in one database transaction when the indexer is behind.
const RUN: u64 = 64;
/// Events written per statement: 8 columns each, well under SQLite's and PostgreSQL's
/// bounds on a statement's parameters.
const EVENT_ROWS: usize = 100;

/// Follows the chain and writes the read model.
#[derive(Clone)]
pub struct Indexer {
    db: DatabaseConnection,
    chain: Arc<dyn Chain>,
    suite: SuiteAddresses,
    operator: Address,
    cursor: Arc<watch::Sender<u64>>,
    changes: broadcast::Sender<OrderChange>,
    writes: Arc<tokio::sync::Mutex<()>>,
}

impl Indexer {
    /// An indexer of `chain` into `db`; `operator` sees every change.
    pub fn new(db: DatabaseConnection, chain: Arc<dyn Chain>, operator: Address) -> Self {
        let (cursor, _) = watch::channel(0);
        let (changes, _) = broadcast::channel(4096);
        Self {
            db,
            chain,
            suite: SuiteAddresses::for_operator(operator),
            operator,
            cursor: Arc::new(cursor),
            changes,
            writes: Arc::default(),
        }
    }

    /// This process's turn to write the read model, on SQLite (`None` on PostgreSQL, whose
    /// writers lock rows, not the database). SQLite lets one connection write at a time,
    /// and a connection that finds the lock taken sleeps and tries again, 1, 2, 5, 10 ...
    /// up to 100 ms a time, never woken when the lock frees: under a stream of writes,
    /// the API's writes and the indexer's blocks slept one for every two creations
    /// (`perf stat`, 300/s), and an unlucky one 100 ms and more, the open loop's p99.
    /// Writers that take their turn here queue instead, each woken as the one before it
    /// commits. Hold the guard until the write (or transaction) is committed.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.db.get_database_backend() {
            sea_orm::DatabaseBackend::Sqlite => Some(self.writes.clone().lock_owned().await),
            _ => None,
        }
    }

    /// Live order changes (for SSE).
    pub fn subscribe(&self) -> broadcast::Receiver<OrderChange> {
        self.changes.subscribe()
    }

    /// The last indexed block, as it moves: for a reader woken by each indexed block that
    /// needs no change's viewers (the private-data planner reads the events itself).
    pub(crate) fn indexed_blocks(&self) -> watch::Receiver<u64> {
        self.cursor.subscribe()
    }

    /// Whether a stream listens for live changes ([`Self::subscribe`]). Building them for
    /// no one read each changed order's viewers and parsed each event's fields again; a
    /// stream opened later sees the blocks indexed after it opened, as it would anyway.
    fn listened(&self) -> bool {
        self.changes.receiver_count() > 0
    }

    /// The last indexed block.
    pub fn indexed(&self) -> u64 {
        *self.cursor.borrow()
    }

    /// Wait until block `number` is indexed (or `timeout`); whether it is.
    pub async fn wait_for(&self, number: u64, timeout: Duration) -> bool {
        let mut rx = self.cursor.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c >= number)).await.is_ok_and(|r| r.is_ok())
    }

    /// Read the cursor; on an empty read model seed block 0 (the operator, registered at
    /// genesis, which has no receipts).
    pub async fn init(&self) -> Result<u64, DbErr> {
        if let Some(c) = cursor::Entity::find_by_id(1).one(&self.db).await? {
            let n = u64::try_from(c.last_block).unwrap_or(0);
            self.cursor.send_replace(n);
            return Ok(n);
        }
        let txn = self.db.begin().await?;
        organisation::Entity::insert(organisation::ActiveModel {
            address: Set(addr(&self.operator)),
            name: Set("operator".into()),
            roles: Set(i64::from(role::OPERATOR)),
            suspended: Set(false),
            registered_block: Set(0),
        })
        .exec(&txn)
        .await?;
        cursor::Entity::insert(cursor::ActiveModel { id: Set(1), last_block: Set(0) }).exec(&txn).await?;
        txn.commit().await?;
        self.cursor.send_replace(0);
        Ok(0)
    }

    /// Index every block up to the chain's head.
    pub async fn catch_up(&self) -> Result<u64, IndexError> {
        let head = self.chain.head().await.map_err(|e| IndexError::Chain(e.to_string()))?;
        let mut at = self.indexed();
        while at < head {
            at = self.index_blocks(at + 1, head.min(at + RUN)).await?;
        }
        Ok(at)
    }

    /// Follow the chain until `shutdown` flips to true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = self.catch_up().await {
                // A block's transaction can lose a race with the API's own writes to the
                // same SQLite file (SQLITE_BUSY on upgrading a read to a write, which the
                // busy timeout does not wait out): the next try usually succeeds at once.
                // Back off from 5 ms to 500 ms, so a write waiting for its block to be
                // indexed waits milliseconds, not half a second.
                let delay = Duration::from_millis((5u64 << failures.min(7)).min(500));
                failures += 1;
                if failures > 3 {
                    tracing::error!(error = %e, failures, ?delay, "indexer failed; retrying");
                } else {
                    tracing::debug!(error = %e, failures, ?delay, "indexer failed; retrying");
                }
                tokio::time::sleep(delay).await;
                continue;
            }
            failures = 0;
            let known = self.indexed();
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = self.chain.wait_new_head(known, Duration::from_secs(1)) => {}
            }
        }
    }

    /// Drop the chain-derived tables and index again from block 0.
    pub async fn rebuild(&self) -> Result<u64, IndexError> {
        readmodel::drop_chain_tables(&self.db).await?;
        readmodel::create_chain_tables(&self.db).await?;
        self.cursor.send_replace(0);
        self.init().await?;
        self.catch_up().await
    }

    /// Index blocks `from..=to` in one database transaction (a run of blocks while the
    /// indexer is behind: one commit for many small blocks); the last block indexed.
    async fn index_blocks(&self, from: u64, to: u64) -> Result<u64, IndexError> {
        let mut blocks = Vec::new();
        for number in from..=to {
            let block = self
                .chain
                .block_logs(number)
                .await
                .map_err(|e| IndexError::Chain(e.to_string()))?
                .ok_or_else(|| IndexError::Chain(format!("block {number} missing")))?;
            blocks.push((number, block));
        }
        let _turn = self.write_turn().await;
        let txn = self.db.begin().await?;
        // Another API process on the same database may have indexed these blocks already:
        // the cursor moves only from below `from` (its row locked for the transaction on
        // PostgreSQL; SQLite has one writer), and when it does not, the block is skipped
        // rather than applied twice. One statement a block where a read and a write were.
        let moved = cursor::Entity::update_many()
            .col_expr(cursor::Column::LastBlock, Expr::value(i64_of(to)))
            .filter(cursor::Column::Id.eq(1))
            .filter(cursor::Column::LastBlock.lt(i64_of(from)))
            .exec(&txn)
            .await?
            .rows_affected;
        if moved == 0 {
            txn.rollback().await?;
            if cursor::Entity::find_by_id(1).one(&self.db).await?.is_none() {
                return Err(IndexError::Db(DbErr::RecordNotFound("the indexer cursor".into())));
            }
            // Its live changes still go to this process's subscribers (SSE), from the rows
            // the other process wrote, built exactly as if indexed here.
            if self.listened() {
                let rows = event::Entity::find()
                    .filter(event::Column::Block.eq(i64_of(from)))
                    .order_by_asc(event::Column::LogIndex)
                    .all(&self.db)
                    .await?;
                for c in changes_of(&self.db, &rows).await? {
                    let _ = self.changes.send(c);
                }
            }
            self.cursor.send_replace(from);
            return Ok(from);
        }
        let (mut rows, mut inserts, mut facts) = (Vec::new(), apply::Inserts::default(), credit::Pending::default());
        for (number, block) in &blocks {
            self.apply_block(&txn, *number, block, &mut rows, &mut inserts, &mut facts).await?;
        }
        inserts.write(&txn).await?;
        facts.write(&txn).await?;
        // The events in a few statements, not one each; nothing is read back.
        for chunk in rows.chunks(EVENT_ROWS) {
            event::Entity::insert_many(chunk.iter().cloned().map(event::ActiveModel::from))
                .exec_without_returning(&txn)
                .await?;
        }
        let changes = if self.listened() { changes_of(&txn, &rows).await? } else { Vec::new() };
        txn.commit().await?;
        // Committed: the changes go out before the cursor moves, so whoever waits for the
        // block (`wait_for`) finds its changes already sent.
        for c in changes {
            let _ = self.changes.send(c);
        }
        self.cursor.send_replace(to);
        Ok(to)
    }

    /// Apply block `number`'s events of the suite in `txn`, appending their rows to `rows`,
    /// the rows they create to `inserts` (written out before any other event) and their
    /// credit facts to `facts`.
    async fn apply_block(
        &self,
        txn: &DatabaseTransaction,
        number: u64,
        block: &BlockLogs,
        rows: &mut Vec<event::Model>,
        inserts: &mut apply::Inserts,
        facts: &mut credit::Pending,
    ) -> Result<(), IndexError> {
        for (at, log) in block.logs.iter().enumerate() {
            let addr_ = log.log.address;
            if addr_ != self.suite.consortium
                && addr_ != self.suite.trade_orders
                && addr_ != self.suite.receivables
                && addr_ != self.suite.consents
            {
                continue;
            }
            let Some((contract, kind, data, order_id)) = decode_generic(&log.log) else { continue };
            let row = event::Model {
                block: i64_of(number),
                log_index: i64_of(log.log_index),
                tx_hash: format!("{:#x}", log.tx_hash),
                contract: contract.into(),
                kind: kind.clone(),
                order_id,
                data,
                timestamp: i64_of(block.timestamp),
            };
            if addr_ != self.suite.trade_orders || !apply::QUEUED.contains(&kind.as_str()) {
                // Whatever this event reads or updates may be a row still queued.
                std::mem::take(inserts).write(txn).await?;
            }
            let later = block.logs.get(at + 1..).unwrap_or_default();
            let ctx = Ctx { txn, block: i64_of(number), ts: i64_of(block.timestamp), log, later };
            if addr_ == self.suite.trade_orders {
                apply::apply_order_event(&ctx, self.chain.chain_id(), inserts).await?;
                if let Some(id) = order_id
                    && credit::KINDS.contains(&kind.as_str())
                {
                    // Parsed only for the facts that read them, not for every event.
                    let fields: serde_json::Value = serde_json::from_str(&row.data).unwrap_or_default();
                    facts.record(txn, id, &row, &fields).await?;
                }
            } else if addr_ == self.suite.consortium {
                apply::apply_consortium_event(&ctx).await?;
            } else if addr_ == self.suite.consents {
                apply::apply_consent_event(&ctx).await?;
            } else if addr_ == self.suite.receivables {
                financing::apply_receivables_event(&ctx).await?;
            }
            rows.push(row);
        }
        Ok(())
    }
}

/// The live changes (SSE) of indexed events, `rows` in chain order: each names
/// its order, financing or consent request and the parties who may see it.
async fn changes_of<C: ConnectionTrait>(db: &C, rows: &[event::Model]) -> Result<Vec<OrderChange>, DbErr> {
    let mut changes = Vec::new();
    for e in rows {
        let fields: serde_json::Value = serde_json::from_str(&e.data).unwrap_or_default();
        let field = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let number_field = |k: &str| field(k).and_then(|v| v.parse::<i64>().ok());
        let mut change = OrderChange {
            order_id: e.order_id,
            financing_id: None,
            request_id: None,
            kind: e.kind.clone(),
            block: u64::try_from(e.block).unwrap_or(0),
            tx_hash: e.tx_hash.clone(),
            parties: Vec::new(),
        };
        match e.contract.as_str() {
            "Receivables" => {
                // The financing row names the order too.
                change.financing_id = number_field("financingId");
                if let Some(id) = change.financing_id
                    && let Some(f) = readmodel::financing::Entity::find_by_id(id).one(db).await?
                {
                    let o = order::Entity::find_by_id(f.order_id).one(db).await?;
                    change.parties.extend(readmodel::access::financing_viewers(&f, o.as_ref()));
                    change.order_id = Some(f.order_id);
                    // Its viewers are the financing's, not the order's.
                    changes.push(change);
                    continue;
                }
            }
            "Consents" => {
                change.request_id = number_field("requestId");
                change.parties.extend([field("firm"), field("financier")].into_iter().flatten());
            }
            // An organisation's own standing: its live stream ends when it is suspended.
            "Consortium" => change.parties.extend(field("account")),
            _ => {}
        }
        if change.order_id.is_some() || !change.parties.is_empty() {
            changes.push(change);
        }
    }
    // The orders' viewers read together: one read per order was most of a busy block's cost.
    let mut ids: Vec<i64> = changes.iter().filter(|c| c.financing_id.is_none()).filter_map(|c| c.order_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let parties = readmodel::access::orders_viewers(db, &ids).await?;
    for c in &mut changes {
        let Some(order_id) = c.order_id else { continue };
        if c.financing_id.is_some() {
            continue;
        }
        c.parties.extend(parties.get(&order_id).cloned().unwrap_or_default());
    }
    Ok(changes)
}

/// Why indexing a block failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The read model refused a write.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The chain did not answer.
    #[error("chain: {0}")]
    Chain(String),
}

struct Ctx<'a> {
    txn: &'a DatabaseTransaction,
    block: i64,
    ts: i64,
    log: &'a BlockLog,
    /// The block's logs after this one (a `MilestoneDefined` finds its `OrderProposed` there).
    later: &'a [BlockLog],
}
