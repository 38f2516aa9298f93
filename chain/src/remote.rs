//! The chain behind an external EVM network's JSON-RPC endpoint (Hyperledger Besu with
//! QBFT, GoQuorum, Hardhat in the tests), as the same [`Chain`] the embedded node offers.
//!
//! What a real network changes, handled here:
//! - blocks take seconds and transactions stay pending meanwhile: receipts and new heads
//!   are polled every `poll_interval`, and with a WebSocket endpoint a `newHeads`
//!   subscription wakes the waiters as soon as a block arrives (reconnecting when dropped;
//!   polling continues underneath, so a lost subscription only costs latency);
//! - finality is a setting: a receipt counts, and a block is offered to readers, only once
//!   it has `confirmations` blocks (1 on a BFT network, which does not fork);
//! - nonces: each sender's next nonce is kept here after every accepted transaction, so
//!   back-to-back sends of one sender (serialised by [`crate::transaction::Sender`]) do not
//!   depend on the node's view of its pending pool; a refusal resynchronises it;
//! - fees: EIP-1559 from the latest base fee (zero on a free-gas network), or the network's
//!   gas price where blocks have no base fee; gas limits from `eth_estimateGas`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::primitives::{Address, B256, Bytes, U256};

use crate::rpc::{RpcClient, RpcError, RpcLog};
use crate::{
    BlockHeader, BlockLog, BlockLogs, BoxFut, CallResult, Chain, ChainError, Fees, LogFilter, Receipt, Rejection,
};

/// Most `eth_call`s in one JSON-RPC batch: a tradechain node's members-only gate takes up to
/// 100 requests in one.
const CALLS_PER_BATCH: usize = 100;

/// An `eth_call`'s answer as the [`Chain`] trait gives it: a revert or halt is an outcome of
/// the call, anything else an error of the node.
fn call_outcome(answer: Result<Bytes, RpcError>) -> Result<CallResult, ChainError> {
    match answer {
        Ok(output) => Ok(CallResult::Success { output, gas_used: 0 }),
        Err(e) => match e.rejection() {
            Some(Rejection::Reverted { data }) => Ok(CallResult::Revert { data }),
            Some(other) => Ok(CallResult::Halt { reason: other.to_string() }),
            None => Err(e.into()),
        },
    }
}

/// How to reach a remote network.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    /// The JSON-RPC endpoint (HTTP).
    pub url: String,
    /// A WebSocket endpoint for `newHeads`, if any.
    pub ws_url: Option<String>,
    /// Blocks a receipt needs before it counts (at least 1).
    pub confirmations: u64,
    /// How often to poll for receipts and heads.
    pub poll_interval: Duration,
    /// A bearer credential for every request and the WebSocket (a tradechain node's
    /// JSON-RPC outside dev mode: the organisation's API token).
    pub bearer: Option<String>,
}

impl RemoteSettings {
    /// Polling `url` every 100 ms, one confirmation, no WebSocket.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        RemoteSettings {
            url: url.into(),
            ws_url: None,
            confirmations: 1,
            poll_interval: Duration::from_millis(100),
            bearer: None,
        }
    }
}

/// A remote EVM network (see the module docs).
#[derive(Debug)]
pub struct RemoteChain {
    rpc: RpcClient,
    chain_id: u64,
    gas_cap: u64,
    confirmations: u64,
    poll: Duration,
    /// Each sender's next nonce, as far as this process has sent.
    next_nonce: Mutex<HashMap<Address, u64>>,
    /// The latest block number a `newHeads` subscription announced (with a WebSocket URL).
    heads: Option<tokio::sync::watch::Receiver<u64>>,
}

fn block_log(l: &RpcLog) -> Result<BlockLog, ChainError> {
    match (l.block_number, l.transaction_hash, l.log_index) {
        (Some(block), Some(tx_hash), Some(index)) => {
            Ok(BlockLog { block: block.to(), tx_hash, log_index: index.to(), log: l.to_log() })
        }
        _ => Err(ChainError::Unavailable("a mined log without its block, transaction or index".into())),
    }
}

impl RemoteChain {
    /// Connect as `settings` say: read the chain id and the block gas limit, and follow new
    /// heads by WebSocket when `ws_url` is set.
    ///
    /// # Errors
    /// When the network does not answer.
    pub async fn connect(settings: RemoteSettings) -> Result<Arc<Self>, ChainError> {
        let rpc = RpcClient::new(&settings.url, Duration::from_secs(30))?.with_bearer(settings.bearer.clone());
        let chain_id = rpc.chain_id().await?;
        let gas_cap = rpc.latest_block().await?.gas_limit.to();
        let heads = settings.ws_url.map(|ws| {
            let (tx, rx) = tokio::sync::watch::channel(0u64);
            tokio::spawn(follow_heads(ws, settings.bearer.clone(), tx));
            rx
        });
        Ok(Arc::new(Self {
            rpc,
            chain_id,
            gas_cap,
            confirmations: settings.confirmations.max(1),
            poll: settings.poll_interval,
            next_nonce: Mutex::new(HashMap::new()),
            heads,
        }))
    }

    /// The latest block number the `newHeads` subscription announced (`None` without a
    /// WebSocket URL, 0 before the first).
    #[must_use]
    pub fn subscribed_head(&self) -> Option<u64> {
        self.heads.as_ref().map(|rx| *rx.borrow())
    }

    /// The JSON-RPC client (for a method the trait does not carry).
    #[must_use]
    pub fn rpc(&self) -> &RpcClient {
        &self.rpc
    }

    fn nonces(&self) -> std::sync::MutexGuard<'_, HashMap<Address, u64>> {
        self.next_nonce.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Send `raw`, tracking its sender's next nonce: `from` when the caller knows it
    /// ([`Chain::send_own`]), recovered (k256, about 220 µs) otherwise.
    async fn send_tracked(&self, raw: Bytes, from: Option<Address>) -> Result<B256, ChainError> {
        let refuse = |message: String| ChainError::Rejected(Rejection::Other { code: -32602, message });
        let envelope = TxEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|e| refuse(format!("cannot decode the transaction: {e}")))?;
        let sender = match from {
            Some(from) => from,
            None => envelope.recover_signer().map_err(|e| refuse(format!("bad signature: {e}")))?,
        };
        let nonce = envelope.nonce();
        match self.rpc.send_raw(&raw).await {
            Ok(hash) => {
                let mut nonces = self.nonces();
                let next = nonces.entry(sender).or_insert(0);
                *next = (*next).max(nonce + 1);
                Ok(hash)
            }
            Err(e @ RpcError::Rpc { .. }) => {
                // The node's view wins next time (a nonce too low or too high, a replaced
                // transaction).
                self.nonces().remove(&sender);
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Chain for RemoteChain {
    fn chain_id(&self) -> u64 {
        self.chain_id
    }

    fn gas_cap(&self) -> u64 {
        self.gas_cap
    }

    fn nonce(&self, address: Address) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move {
            let pending = self.rpc.pending_nonce(address).await?;
            // A node's pending count can lag a transaction it just accepted: never go below
            // what this process has already used.
            let cached = self.nonces().get(&address).copied().unwrap_or(0);
            Ok(pending.max(cached))
        })
    }

    fn send_raw(&self, raw: Bytes) -> BoxFut<'_, Result<B256, ChainError>> {
        Box::pin(self.send_tracked(raw, None))
    }

    fn send_own(&self, raw: Bytes, from: Address) -> BoxFut<'_, Result<B256, ChainError>> {
        Box::pin(self.send_tracked(raw, Some(from)))
    }

    fn receipt(&self, hash: B256) -> BoxFut<'_, Result<Option<Receipt>, ChainError>> {
        Box::pin(async move {
            let Some(r) = self.rpc.receipt(hash).await? else { return Ok(None) };
            let block: u64 = r.block_number.to();
            if self.rpc.block_number().await? < block + self.confirmations - 1 {
                return Ok(None);
            }
            let success = r.status.is_some_and(|s| s.to::<u64>() == 1);
            Ok(Some(Receipt { tx_hash: hash, block, success, logs: r.logs.iter().map(RpcLog::to_log).collect() }))
        })
    }

    fn call(&self, from: Address, to: Address, input: Bytes) -> BoxFut<'_, Result<CallResult, ChainError>> {
        Box::pin(async move { call_outcome(self.rpc.call(from, to, &input).await) })
    }

    fn call_many(
        &self,
        from: Address,
        calls: Vec<(Address, Bytes)>,
    ) -> BoxFut<'_, Result<Vec<Result<CallResult, ChainError>>, ChainError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(calls.len());
            for chunk in calls.chunks(CALLS_PER_BATCH) {
                match self.rpc.call_batch(from, chunk).await {
                    Ok(answers) => out.extend(answers.into_iter().map(call_outcome)),
                    // A node (or proxy) that refuses batches: the calls one by one.
                    Err(e) if !matches!(e, RpcError::Transport(_)) => {
                        tracing::debug!(error = %e, "batch of eth_call refused; calling one by one");
                        out.extend(crate::backend::calls_one_by_one(self, from, chunk.to_vec()).await);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(out)
        })
    }

    fn estimate_gas(
        &self,
        from: Address,
        to: Option<Address>,
        value: U256,
        input: Bytes,
    ) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move {
            let estimate = self.rpc.estimate_gas(from, to, value, &input).await?;
            Ok((estimate.saturating_mul(5) / 4 + 10_000).min(self.gas_cap))
        })
    }

    fn fees(&self) -> BoxFut<'_, Result<Fees, ChainError>> {
        Box::pin(async move {
            let latest = self.rpc.latest_block().await?;
            let Some(base) = latest.base_fee_per_gas else {
                // No EIP-1559 on this network: a legacy transaction at its gas price.
                return Ok(Fees::Legacy { gas_price: self.rpc.gas_price().await? });
            };
            let base = u128::try_from(base).unwrap_or(u128::MAX);
            if base == 0 {
                // A free-gas network (Besu `zeroBaseFee`, GoQuorum).
                return Ok(Fees::Eip1559 { max_fee_per_gas: 0, max_priority_fee_per_gas: 0 });
            }
            let tip = self.rpc.max_priority_fee().await.unwrap_or(1_000_000_000);
            Ok(Fees::Eip1559 {
                max_fee_per_gas: base.saturating_mul(2).saturating_add(tip),
                max_priority_fee_per_gas: tip,
            })
        })
    }

    fn head(&self) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.rpc.block_number().await?.saturating_sub(self.confirmations - 1)) })
    }

    fn block_logs(&self, number: u64) -> BoxFut<'_, Result<Option<BlockLogs>, ChainError>> {
        Box::pin(async move {
            if number > self.head().await? {
                return Ok(None);
            }
            let Some(block) = self.rpc.block(number).await? else { return Ok(None) };
            let raw = self.rpc.block_logs(block.hash).await?;
            let mut logs = raw.iter().filter(|l| !l.removed).map(block_log).collect::<Result<Vec<_>, _>>()?;
            logs.sort_by_key(|l| l.log_index);
            Ok(Some(BlockLogs { number, timestamp: block.timestamp.to(), logs }))
        })
    }

    fn logs(&self, filter: LogFilter) -> BoxFut<'_, Result<Vec<BlockLog>, ChainError>> {
        Box::pin(async move {
            let raw = self.rpc.logs(&filter).await?;
            let mut logs = raw.iter().filter(|l| !l.removed).map(block_log).collect::<Result<Vec<_>, _>>()?;
            logs.sort_by_key(|l| (l.block, l.log_index));
            Ok(logs)
        })
    }

    fn transaction(&self, hash: B256) -> BoxFut<'_, Result<Option<Bytes>, ChainError>> {
        Box::pin(async move {
            if let Ok(raw) = self.rpc.raw_transaction(hash).await {
                return Ok(raw);
            }
            // Not every node serves raw transactions (Hardhat does not): rebuild the signed
            // envelope from its fields; the hash proves it is the same bytes.
            let Some(tx) = self.rpc.transaction(hash).await? else { return Ok(None) };
            let raw = Bytes::from(tx.inner.inner().encoded_2718());
            if alloy::primitives::keccak256(&raw) != hash {
                return Err(ChainError::Unavailable(format!("the fields of transaction {hash} do not hash to it")));
            }
            Ok(Some(raw))
        })
    }

    fn block_header(&self, number: u64) -> BoxFut<'_, Result<Option<BlockHeader>, ChainError>> {
        Box::pin(async move {
            if number > self.head().await? {
                return Ok(None);
            }
            let block = self.rpc.block(number).await?;
            Ok(block.map(|b| BlockHeader { number, hash: b.hash, timestamp: b.timestamp.to() }))
        })
    }

    fn balance(&self, address: Address) -> BoxFut<'_, Result<U256, ChainError>> {
        Box::pin(async move { Ok(self.rpc.balance(address).await?) })
    }

    fn wait_new_head(&self, known: u64, timeout: Duration) -> BoxFut<'_, ()> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            let mut heads = self.heads.clone();
            loop {
                if self.head().await.is_ok_and(|h| h > known) || tokio::time::Instant::now() >= deadline {
                    return;
                }
                let nap = self.poll.min(deadline - tokio::time::Instant::now());
                match heads.as_mut() {
                    // Woken by the subscription, or by the poll interval if it is quiet.
                    Some(rx) => {
                        let _ = tokio::time::timeout(nap, rx.changed()).await;
                    }
                    None => tokio::time::sleep(nap).await,
                }
            }
        })
    }
}

/// Keep an `eth_subscribe("newHeads")` subscription at `ws` open, announcing each head's
/// number on `heads`; reconnect after a second when it drops; end when nobody listens.
async fn follow_heads(ws: String, bearer: Option<String>, heads: tokio::sync::watch::Sender<u64>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    #[derive(serde::Deserialize)]
    struct Head {
        number: alloy::primitives::U64,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        result: Head,
    }
    #[derive(serde::Deserialize)]
    struct Notification {
        params: Params,
    }

    loop {
        let mut request = match ws.as_str().into_client_request() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%ws, error = %e, "not a WebSocket URL; following heads by polling only");
                return;
            }
        };
        if let Some(value) = bearer.as_ref().and_then(|t| format!("Bearer {t}").parse().ok()) {
            request.headers_mut().insert(reqwest::header::AUTHORIZATION, value);
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((mut stream, _)) => {
                let subscribe =
                    serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"] });
                if stream.send(Message::text(subscribe.to_string())).await.is_ok() {
                    while let Some(Ok(msg)) = stream.next().await {
                        let Message::Text(text) = msg else { continue };
                        // The subscription's confirmation and anything else are not heads.
                        if let Ok(n) = serde_json::from_str::<Notification>(text.as_str()) {
                            let n: u64 = n.params.result.number.to();
                            heads.send_if_modified(|h| {
                                let newer = n > *h;
                                *h = (*h).max(n);
                                newer
                            });
                        }
                        if heads.is_closed() {
                            return;
                        }
                    }
                }
                tracing::warn!(%ws, "newHeads subscription ended; reconnecting");
            }
            Err(e) => tracing::warn!(%ws, error = %e, "cannot subscribe to new heads; polling meanwhile"),
        }
        if heads.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
