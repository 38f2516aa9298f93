//! The chain behind an external EVM network's JSON-RPC endpoint (Hyperledger Besu with
//! QBFT, GoQuorum, Hardhat in the tests): the same [`Chain`] the embedded node offers, so
//! the API, the indexer and the bank adapters run on it unchanged.
//!
//! What a real network changes, handled here:
//! - blocks take seconds and transactions stay pending meanwhile: receipts and new heads
//!   are polled every `poll_interval`, and with a WebSocket endpoint a `newHeads`
//!   subscription wakes the waiters as soon as a block arrives (reconnecting when dropped;
//!   polling continues underneath, so a lost subscription only costs latency);
//! - finality is a setting: a receipt counts, and a block is offered to the indexer, only
//!   once it has `confirmations` blocks (1 on a BFT network, which does not fork);
//! - nonces: each sender's next nonce is kept here after every accepted transaction, so
//!   back-to-back sends of one organisation (serialised by the API's per-sender lock) do not
//!   depend on the node's view of its pending pool; a refusal resynchronises it;
//! - fees: EIP-1559 from the latest base fee (zero on a free-gas network) and gas limits
//!   from `eth_estimateGas`.
//!
//! JSON-RPC goes through the bank adapters' small client (standard methods only, one HTTP
//! stack for the whole workspace) rather than alloy's provider, which would add a second
//! transport stack to the build for the same dozen calls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::{Decodable2718, Encodable2718};
use alloy::primitives::{Address, B256, Bytes, Log, LogData, U256};
use serde_json::{Value, json};
use tradechain_bank_adapters::chain::{ChainClient, ChainError as RpcError};

use crate::chain::{BlockHeader, BlockLog, BlockLogs, BoxFut, CallResult, Chain, ChainError, Receipt};

/// A remote EVM network (see the module docs).
#[derive(Debug)]
pub struct RemoteChain {
    rpc: ChainClient,
    chain_id: u64,
    gas_cap: u64,
    confirmations: u64,
    poll: Duration,
    /// Each sender's next nonce, as far as this process has sent.
    next_nonce: Mutex<HashMap<Address, u64>>,
    /// The latest block number a `newHeads` subscription announced (with a WebSocket URL).
    heads: Option<tokio::sync::watch::Receiver<u64>>,
}

fn unavailable(e: RpcError) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

fn quantity(v: &Value) -> Option<u64> {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
}

fn quantity128(v: &Value) -> Option<u128> {
    v.as_str().and_then(|s| u128::from_str_radix(s.trim_start_matches("0x"), 16).ok())
}

fn bad(what: &str, v: &Value) -> ChainError {
    ChainError::Unavailable(format!(
        "unexpected {what} from the network: {}",
        v.to_string().chars().take(200).collect::<String>()
    ))
}

fn parse_log(v: &Value) -> Option<(B256, u64, Log)> {
    let address: Address = v["address"].as_str()?.parse().ok()?;
    let topics: Vec<B256> =
        v["topics"].as_array()?.iter().map(|t| t.as_str().and_then(|t| t.parse().ok())).collect::<Option<_>>()?;
    let data: Bytes = v["data"].as_str()?.parse().ok()?;
    let tx_hash: B256 = v["transactionHash"].as_str()?.parse().ok()?;
    let index = quantity(&v["logIndex"])?;
    Some((tx_hash, index, Log { address, data: LogData::new_unchecked(topics, data) }))
}

impl RemoteChain {
    /// Connect to `url` (and subscribe to new heads at `ws_url`, when given): reads the chain
    /// id and the block gas limit.
    pub async fn connect_with(
        url: &str,
        ws_url: Option<&str>,
        confirmations: u64,
        poll: Duration,
    ) -> Result<Arc<Self>, ChainError> {
        let mut chain = Self::open(url, confirmations, poll).await?;
        if let Some(ws) = ws_url {
            let (tx, rx) = tokio::sync::watch::channel(0u64);
            tokio::spawn(follow_heads(ws.to_string(), tx));
            chain.heads = Some(rx);
        }
        Ok(Arc::new(chain))
    }

    /// Connect to `url`, polling only: reads the chain id and the block gas limit.
    pub async fn connect(url: &str, confirmations: u64, poll: Duration) -> Result<Arc<Self>, ChainError> {
        Ok(Arc::new(Self::open(url, confirmations, poll).await?))
    }

    async fn open(url: &str, confirmations: u64, poll: Duration) -> Result<Self, ChainError> {
        let rpc = ChainClient::new(url, Duration::from_secs(30)).map_err(unavailable)?;
        let chain_id = rpc.chain_id().await.map_err(unavailable)?;
        let latest: Value = rpc.request("eth_getBlockByNumber", json!(["latest", false])).await.map_err(unavailable)?;
        let gas_cap = quantity(&latest["gasLimit"]).ok_or_else(|| bad("block", &latest))?;
        Ok(Self {
            rpc,
            chain_id,
            gas_cap,
            confirmations: confirmations.max(1),
            poll,
            next_nonce: Mutex::new(HashMap::new()),
            heads: None,
        })
    }

    /// The latest block number the `newHeads` subscription announced (`None` without a
    /// WebSocket URL, 0 before the first).
    pub fn subscribed_head(&self) -> Option<u64> {
        self.heads.as_ref().map(|rx| *rx.borrow())
    }

    /// The JSON-RPC client (for callers that need a method the trait does not carry).
    pub fn rpc(&self) -> &ChainClient {
        &self.rpc
    }

    async fn latest(&self) -> Result<u64, ChainError> {
        self.rpc.block_number().await.map_err(unavailable)
    }

    async fn block(&self, number: u64) -> Result<Option<Value>, ChainError> {
        let b: Value = self
            .rpc
            .request("eth_getBlockByNumber", json!([format!("0x{number:x}"), false]))
            .await
            .map_err(unavailable)?;
        Ok((!b.is_null()).then_some(b))
    }

    fn nonces(&self) -> std::sync::MutexGuard<'_, HashMap<Address, u64>> {
        self.next_nonce.lock().unwrap_or_else(|e| e.into_inner())
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
            let pending: U256 =
                self.rpc.request("eth_getTransactionCount", json!([address, "pending"])).await.map_err(unavailable)?;
            let pending = u64::try_from(pending).unwrap_or(u64::MAX);
            let known = self.nonces().get(&address).copied().unwrap_or(0);
            Ok(pending.max(known))
        })
    }

    fn send_raw(&self, raw: Bytes) -> BoxFut<'_, Result<B256, ChainError>> {
        Box::pin(async move {
            let envelope = TxEnvelope::decode_2718(&mut raw.as_ref())
                .map_err(|e| ChainError::Rejected(format!("cannot decode the transaction: {e}")))?;
            let sender = envelope.recover_signer().map_err(|e| ChainError::Rejected(format!("bad signature: {e}")))?;
            let nonce = envelope.nonce();
            match self.rpc.request::<B256>("eth_sendRawTransaction", json!([raw])).await {
                Ok(hash) => {
                    let mut nonces = self.nonces();
                    let next = nonces.entry(sender).or_insert(0);
                    *next = (*next).max(nonce + 1);
                    Ok(hash)
                }
                Err(RpcError::Rpc { message, .. }) => {
                    // The node's view wins next time (a nonce too low or too high, a replaced
                    // transaction).
                    self.nonces().remove(&sender);
                    Err(ChainError::Rejected(message))
                }
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn receipt(&self, hash: B256) -> BoxFut<'_, Result<Option<Receipt>, ChainError>> {
        Box::pin(async move {
            let r: Value = self.rpc.request("eth_getTransactionReceipt", json!([hash])).await.map_err(unavailable)?;
            if r.is_null() {
                return Ok(None);
            }
            let Some(block) = quantity(&r["blockNumber"]) else { return Ok(None) };
            if self.latest().await? < block + self.confirmations - 1 {
                return Ok(None);
            }
            let logs = r["logs"]
                .as_array()
                .ok_or_else(|| bad("receipt", &r))?
                .iter()
                .map(|l| parse_log(l).map(|(_, _, log)| log).ok_or_else(|| bad("log", l)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Some(Receipt { tx_hash: hash, block, success: quantity(&r["status"]) == Some(1), logs }))
        })
    }

    fn call(&self, from: Address, to: Address, input: Bytes) -> BoxFut<'_, Result<CallResult, ChainError>> {
        Box::pin(async move {
            let tx = json!({ "from": from, "to": to, "data": input });
            match self.rpc.request::<Bytes>("eth_call", json!([tx, "latest"])).await {
                Ok(output) => Ok(CallResult::Success { output, gas_used: 0 }),
                Err(RpcError::Rpc { data: Some(data), .. }) => Ok(CallResult::Revert { data }),
                Err(RpcError::Rpc { message, .. }) if message.to_ascii_lowercase().contains("revert") => {
                    Ok(CallResult::Revert { data: Bytes::new() })
                }
                Err(RpcError::Rpc { message, .. }) => Ok(CallResult::Halt { reason: message }),
                Err(e) => Err(unavailable(e)),
            }
        })
    }

    fn gas_limit(
        &self,
        from: Address,
        to: Address,
        input: Bytes,
        _simulated: u64,
    ) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move {
            let tx = json!({ "from": from, "to": to, "data": input });
            let estimate: U256 = self.rpc.request("eth_estimateGas", json!([tx])).await.map_err(unavailable)?;
            let estimate = u64::try_from(estimate).unwrap_or(self.gas_cap);
            Ok((estimate.saturating_mul(5) / 4 + 10_000).min(self.gas_cap))
        })
    }

    fn fees(&self) -> BoxFut<'_, Result<(u128, u128), ChainError>> {
        Box::pin(async move {
            let latest = self.block(self.latest().await?).await?.ok_or_else(|| bad("block", &Value::Null))?;
            let Some(base) = quantity128(&latest["baseFeePerGas"]) else {
                // No EIP-1559 on this network: offer its gas price as both caps.
                let price: U256 = self.rpc.request("eth_gasPrice", json!([])).await.map_err(unavailable)?;
                let price = u128::try_from(price).unwrap_or(u128::MAX);
                return Ok((price, price));
            };
            if base == 0 {
                // A free-gas network (Besu `zeroBaseFee`, GoQuorum).
                return Ok((0, 0));
            }
            let tip = match self.rpc.request::<U256>("eth_maxPriorityFeePerGas", json!([])).await {
                Ok(t) => u128::try_from(t).unwrap_or(0),
                Err(_) => 1_000_000_000,
            };
            Ok((base.saturating_mul(2).saturating_add(tip), tip))
        })
    }

    fn head(&self) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.latest().await?.saturating_sub(self.confirmations - 1)) })
    }

    fn block_logs(&self, number: u64) -> BoxFut<'_, Result<Option<BlockLogs>, ChainError>> {
        Box::pin(async move {
            if number > self.head().await? {
                return Ok(None);
            }
            let Some(block) = self.block(number).await? else { return Ok(None) };
            let hash = block["hash"].as_str().ok_or_else(|| bad("block", &block))?;
            let timestamp = quantity(&block["timestamp"]).ok_or_else(|| bad("block", &block))?;
            let raw: Value =
                self.rpc.request("eth_getLogs", json!([{ "blockHash": hash }])).await.map_err(unavailable)?;
            let mut logs = raw
                .as_array()
                .ok_or_else(|| bad("logs", &raw))?
                .iter()
                .filter(|l| l["removed"].as_bool() != Some(true))
                .map(|l| {
                    parse_log(l)
                        .map(|(tx_hash, log_index, log)| BlockLog { tx_hash, log_index, log })
                        .ok_or_else(|| bad("log", l))
                })
                .collect::<Result<Vec<_>, _>>()?;
            logs.sort_by_key(|l| l.log_index);
            Ok(Some(BlockLogs { number, timestamp, logs }))
        })
    }

    fn transaction(&self, hash: B256) -> BoxFut<'_, Result<Option<Bytes>, ChainError>> {
        Box::pin(async move {
            if let Ok(raw) = self.rpc.request::<Option<Bytes>>("eth_getRawTransactionByHash", json!([hash])).await {
                return Ok(raw);
            }
            // Not every node serves raw transactions (Hardhat does not): rebuild the signed
            // envelope from its fields; the hash proves it is the same bytes.
            let v: Value = self.rpc.request("eth_getTransactionByHash", json!([hash])).await.map_err(unavailable)?;
            if v.is_null() {
                return Ok(None);
            }
            let tx: alloy::rpc::types::Transaction =
                serde_json::from_value(v.clone()).map_err(|_| bad("transaction", &v))?;
            let raw = Bytes::from(tx.inner.inner().encoded_2718());
            if alloy::primitives::keccak256(&raw) != hash {
                return Err(bad("transaction (its fields do not hash to it)", &v));
            }
            Ok(Some(raw))
        })
    }

    fn block_header(&self, number: u64) -> BoxFut<'_, Result<Option<BlockHeader>, ChainError>> {
        Box::pin(async move {
            if number > self.head().await? {
                return Ok(None);
            }
            let Some(block) = self.block(number).await? else { return Ok(None) };
            let hash = block["hash"].as_str().and_then(|h| h.parse().ok()).ok_or_else(|| bad("block", &block))?;
            let timestamp = quantity(&block["timestamp"]).ok_or_else(|| bad("block", &block))?;
            Ok(Some(BlockHeader { number, hash, timestamp }))
        })
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

/// JSON-RPC at `/` and `/rpc` forwarded to the network's endpoint `url`, so clients of
/// this node (settlement workers, ethers, viem) keep one URL whichever the backend.
pub fn forward_router(url: &str) -> axum::Router {
    use axum::routing::post;
    let upstream = Arc::new(Upstream { url: url.to_string(), http: reqwest::Client::new() });
    axum::Router::new().route("/", post(forward)).route("/rpc", post(forward)).with_state(upstream)
}

struct Upstream {
    url: String,
    http: reqwest::Client,
}

async fn forward(
    axum::extract::State(up): axum::extract::State<Arc<Upstream>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::IntoResponse;
    let sent = up.http.post(&up.url).header(header::CONTENT_TYPE, "application/json").body(body).send().await;
    let answer = match sent {
        Ok(res) => {
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            res.bytes().await.map(|b| (status, b))
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok((status, bytes)) => {
            let mut res = (status, bytes).into_response();
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            res
        }
        Err(e) => {
            tracing::warn!(error = %e, "the network's JSON-RPC endpoint did not answer");
            let body = json!({ "jsonrpc": "2.0", "id": null,
                "error": { "code": -32603, "message": format!("the network's JSON-RPC endpoint did not answer: {e}") } });
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}

/// Keep an `eth_subscribe("newHeads")` subscription at `ws` open, announcing each head's
/// number on `heads`; reconnect after a second when it drops; end when nobody listens.
async fn follow_heads(ws: String, heads: tokio::sync::watch::Sender<u64>) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio_tungstenite::connect_async(ws.as_str()).await {
            Ok((mut stream, _)) => {
                let subscribe = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"] });
                if stream.send(Message::text(subscribe.to_string())).await.is_ok() {
                    while let Some(Ok(msg)) = stream.next().await {
                        let Message::Text(text) = msg else { continue };
                        let v: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                        if let Some(n) = quantity(&v["params"]["result"]["number"]) {
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

/// The contracts of `suite` that have no code on the network (empty when it is deployed).
pub async fn missing_contracts(
    rpc: &ChainClient,
    suite: &tradechain_contracts::genesis::SuiteAddresses,
) -> Result<Vec<(&'static str, Address)>, RpcError> {
    let mut missing = Vec::new();
    for (name, a) in [
        ("Consortium", suite.consortium),
        ("TradeOrders", suite.trade_orders),
        ("Receivables", suite.receivables),
        ("Consents", suite.consents),
    ] {
        let code: Bytes = rpc.request("eth_getCode", json!([a, "latest"])).await?;
        if code.is_empty() {
            missing.push((name, a));
        }
    }
    Ok(missing)
}

/// What `tradechain deploy` found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// The suite was deployed now, in these transactions.
    Deployed { suite: tradechain_contracts::genesis::SuiteAddresses, transactions: Vec<B256> },
    /// The suite was already there.
    Existing { suite: tradechain_contracts::genesis::SuiteAddresses },
}

/// Why a deployment did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{url}: {error}")]
    Network { url: String, error: RpcError },
    #[error(
        "the operator {operator} has already sent {nonce} transaction(s) on this network and the suite is not at its \
         addresses: the suite's addresses follow from the operator's first four nonces, so deploy from a fresh \
         operator account"
    )]
    OperatorUsed { operator: String, nonce: u64 },
    #[error("the operator {operator} has no funds to pay for gas on this network (gas price {gas_price} wei)")]
    NoFunds { operator: String, gas_price: u128 },
    #[error("deployment incomplete: no code at {what} {address}")]
    Incomplete { what: &'static str, address: String },
}

/// Deploy the contract suite and the consortium's genesis registrations
/// ([`tradechain_contracts::genesis::plan`]) to the network at `url` with `operator`'s
/// key and the network's gas price, each transaction awaited; or find it there already.
pub async fn deploy(url: &str, operator: &alloy::signers::local::PrivateKeySigner) -> Result<Deployment, DeployError> {
    let net = |error| DeployError::Network { url: url.to_string(), error };
    let rpc = ChainClient::new(url, Duration::from_secs(30)).map_err(net)?;
    rpc.chain_id().await.map_err(net)?;
    let address = operator.address();
    let suite = tradechain_contracts::genesis::SuiteAddresses::for_operator(address);
    if missing_contracts(&rpc, &suite).await.map_err(net)?.is_empty() {
        return Ok(Deployment::Existing { suite });
    }
    let nonce: U256 = rpc.request("eth_getTransactionCount", json!([address, "latest"])).await.map_err(net)?;
    if !nonce.is_zero() {
        return Err(DeployError::OperatorUsed {
            operator: crate::order::addr(&address),
            nonce: u64::try_from(nonce).unwrap_or(u64::MAX),
        });
    }
    let price: U256 = rpc.request("eth_gasPrice", json!([])).await.map_err(net)?;
    let balance = rpc.balance(address).await.map_err(net)?;
    if !price.is_zero() && balance.is_zero() {
        return Err(DeployError::NoFunds {
            operator: crate::order::addr(&address),
            gas_price: u128::try_from(price).unwrap_or(u128::MAX),
        });
    }
    let mut transactions = Vec::new();
    for call in tradechain_contracts::genesis::plan(address) {
        let hash = rpc.send_input(operator, call.to, call.input).await.map_err(net)?;
        tracing::info!(tx = %hash, "deployment transaction mined");
        transactions.push(hash);
    }
    if let Some((what, a)) = missing_contracts(&rpc, &suite).await.map_err(net)?.first() {
        return Err(DeployError::Incomplete { what, address: crate::order::addr(a) });
    }
    Ok(Deployment::Deployed { suite, transactions })
}
