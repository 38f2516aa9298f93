//! Which logs and transactions an organisation may see through JSON-RPC: the events of the
//! orders, financings and consents it may see through REST (`readmodel::access`), the
//! consortium's membership events, and its own transactions. Decided from the read model
//! once the indexer has reached the block in question, with one cache per request.

use std::collections::HashMap;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, Log};
use sea_orm::{DbErr, EntityTrait};

use crate::AppState;
use crate::auth::Caller;
use crate::readmodel::{access, financing, order};

/// How long a request waits for the indexer to reach a block it asks about; past it, what
/// the read model does not know yet is not shown.
const INDEX_WAIT: Duration = Duration::from_secs(5);

/// The entitlement of one caller, cached for one request.
pub(crate) struct Access<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    orders: HashMap<i64, bool>,
    financings: HashMap<i64, bool>,
    /// Block → the transactions with a log the caller may see.
    blocks: HashMap<u64, Vec<B256>>,
}

impl<'a> Access<'a> {
    pub(crate) fn new(state: &'a AppState, caller: &'a Caller) -> Self {
        Self { state, caller, orders: HashMap::new(), financings: HashMap::new(), blocks: HashMap::new() }
    }

    /// Wait (a bounded time) until the read model has indexed `block`.
    async fn reach(&self, block: u64) {
        if self.state.indexer.indexed() < block {
            self.state.indexer.wait_for(block, INDEX_WAIT).await;
        }
    }

    /// Whether the caller may see this log, emitted in `block`.
    pub(crate) async fn log(&mut self, log: &Log, block: u64) -> Result<bool, DbErr> {
        let suite = &self.state.suite;
        let Some((contract, _, data, order_id)) = crate::indexer::decode_generic(log) else { return Ok(false) };
        let expected = match contract {
            "TradeOrders" => suite.trade_orders,
            "Receivables" => suite.receivables,
            "Consents" => suite.consents,
            "Consortium" => suite.consortium,
            _ => return Ok(false),
        };
        if log.address != expected {
            return Ok(false);
        }
        let fields: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
        let field = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::to_ascii_lowercase);
        match contract {
            // The suite's own links (`Linked`) concern no order.
            "TradeOrders" => match order_id {
                Some(id) => {
                    self.reach(block).await;
                    self.order(id).await
                }
                None => Ok(true),
            },
            "Receivables" => match field("financingId").and_then(|v| v.parse::<i64>().ok()) {
                Some(id) => {
                    self.reach(block).await;
                    self.financing(id).await
                }
                None => Ok(false),
            },
            "Consents" => Ok(field("firm").as_deref() == Some(&self.caller.addr)
                || field("financier").as_deref() == Some(&self.caller.addr)),
            // Who the members are, their roles and the banks' calendars: every member's business.
            "Consortium" => Ok(true),
            _ => Ok(false),
        }
    }

    /// The same for a log as JSON-RPC renders it (`address`, `topics`, `data`, `blockNumber`).
    pub(crate) async fn log_json(&mut self, log: &serde_json::Value) -> Result<bool, DbErr> {
        let Some(parsed) = parse_log(log) else { return Ok(false) };
        let block = log.get("blockNumber").and_then(quantity).unwrap_or(u64::MAX);
        self.log(&parsed, block).await
    }

    async fn order(&mut self, id: i64) -> Result<bool, DbErr> {
        if let Some(v) = self.orders.get(&id) {
            return Ok(*v);
        }
        let visible = match order::Entity::find_by_id(id).one(&self.state.db).await? {
            Some(o) => access::may_view(&self.state.db, &o, &self.caller.addr).await?,
            None => false,
        };
        self.orders.insert(id, visible);
        Ok(visible)
    }

    async fn financing(&mut self, id: i64) -> Result<bool, DbErr> {
        if let Some(v) = self.financings.get(&id) {
            return Ok(*v);
        }
        let visible = match financing::Entity::find_by_id(id).one(&self.state.db).await? {
            Some(f) => {
                let o = order::Entity::find_by_id(f.order_id).one(&self.state.db).await?;
                access::financing_viewers(&f, o.as_ref()).contains(&self.caller.addr)
            }
            None => false,
        };
        self.financings.insert(id, visible);
        Ok(visible)
    }

    /// Whether the caller may see transaction `hash` of `block`, sent by `from`: its own, or
    /// one that emitted a log it may see.
    pub(crate) async fn transaction(&mut self, hash: B256, from: Address, block: u64) -> Result<bool, DbErr> {
        if from == self.caller.address {
            return Ok(true);
        }
        if !self.blocks.contains_key(&block) {
            let logs = match self.state.chain.block_logs(block).await {
                Ok(Some(b)) => b.logs,
                Ok(None) => Vec::new(),
                Err(e) => return Err(DbErr::Custom(format!("chain: {e}"))),
            };
            let mut txs = Vec::new();
            for l in &logs {
                if !txs.contains(&l.tx_hash) && self.log(&l.log, block).await? {
                    txs.push(l.tx_hash);
                }
            }
            self.blocks.insert(block, txs);
        }
        Ok(self.blocks.get(&block).is_some_and(|txs| txs.contains(&hash)))
    }
}

/// A quantity (`"0x1a"`) as a number.
pub(crate) fn quantity(v: &serde_json::Value) -> Option<u64> {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()).or_else(|| v.as_u64())
}

/// A JSON-RPC log object as an alloy log.
pub(crate) fn parse_log(v: &serde_json::Value) -> Option<Log> {
    let address: Address = v.get("address")?.as_str()?.parse().ok()?;
    let topics: Vec<B256> =
        v.get("topics")?.as_array()?.iter().filter_map(|t| t.as_str().and_then(|t| t.parse().ok())).collect();
    let data: Bytes = v.get("data").and_then(|d| d.as_str()).and_then(|d| d.parse().ok()).unwrap_or_default();
    Some(Log::new_unchecked(address, topics, data))
}
