//! The worker's view of the chain: a small Ethereum JSON-RPC client over HTTP.
//!
//! Why not alloy's provider: the worker needs nine standard methods, exact control over
//! what is retried (a "nonce too low" is handled, a revert is not), and one HTTP client for
//! the chain and the banks alike (reqwest, already used for the rails). alloy supplies the
//! types, ABI encoding and transaction signing; this module only moves JSON. Because it uses
//! nothing but standard methods, it works against the embedded node and any EVM network.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("chain unreachable: {0}")]
    Transport(String),
    #[error("JSON-RPC error {code}: {message}")]
    Rpc { code: i64, message: String, data: Option<Bytes> },
    #[error("unexpected JSON-RPC answer to {method}: {detail}")]
    Decode { method: &'static str, detail: String },
    #[error("transaction {0} reverted")]
    Reverted(B256),
    #[error("transaction {0} not included in time")]
    NotIncluded(B256),
    #[error("cannot sign: {0}")]
    Sign(String),
    /// The node refused a custodial call (HTTP status, stable code, message): the
    /// contract's refusal found by simulation, or the node's own.
    #[error("the node refused the call: HTTP {status} {code}: {message}")]
    Api { status: u16, code: String, message: String },
}

/// Who signs a bank's transactions.
#[derive(Debug, Clone)]
pub enum Signer {
    /// The bank holds its key: transactions are signed here and sent by JSON-RPC.
    Local(PrivateKeySigner),
    /// A tradechain node holds the bank's key (custodial): each contract call goes to the
    /// node's `POST /v1/transactions` (`to`, `data`) under the bank's API token, and the
    /// node signs it with that key. The same worker then needs no key material at all.
    Custodial { api: String, token: String, address: Address },
}

impl Signer {
    /// The bank's address on chain.
    pub fn address(&self) -> Address {
        match self {
            Signer::Local(key) => key.address(),
            Signer::Custodial { address, .. } => *address,
        }
    }
}

impl From<PrivateKeySigner> for Signer {
    fn from(key: PrivateKeySigner) -> Self {
        Signer::Local(key)
    }
}

impl ChainError {
    fn is_nonce_too_low(&self) -> bool {
        matches!(self, ChainError::Rpc { message, .. } if message.to_ascii_lowercase().contains("nonce too low"))
    }

    /// The stable code and message of a contract revert, when this is one.
    pub fn revert_reason(&self) -> Option<String> {
        match self {
            ChainError::Rpc { data: Some(data), .. } => tradechain_contracts::revert::decode(data)
                .map(|r| format!("{r:?}"))
                .or_else(|| Some(format!("0x{}", hex::encode(data)))),
            ChainError::Api { code, message, .. } => Some(format!("{code}: {message}")),
            _ => None,
        }
    }
}

/// A log as `eth_getLogs` returns it (only the fields the worker reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    pub address: Address,
    pub topics: Vec<B256>,
    pub data: Bytes,
    pub block_number: Option<U256>,
    pub transaction_hash: Option<B256>,
    pub log_index: Option<U256>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RpcReceipt {
    status: Option<U256>,
}

#[derive(Debug, Clone, Deserialize)]
struct RpcBlock {
    timestamp: U256,
}

/// A JSON-RPC client for one node URL.
#[derive(Debug)]
pub struct ChainClient {
    url: String,
    http: reqwest::Client,
    next_id: AtomicU64,
    /// The chain id never changes for a URL; asked once.
    chain_id: tokio::sync::OnceCell<u64>,
    /// How long to wait for a receipt before giving up (interval-mined chains).
    pub receipt_timeout: Duration,
}

fn quantity(n: u64) -> String {
    format!("0x{n:x}")
}

fn u256_to_u64(v: U256, method: &'static str) -> Result<u64, ChainError> {
    u64::try_from(v).map_err(|_| ChainError::Decode { method, detail: format!("{v} does not fit u64") })
}

impl ChainClient {
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<Self, ChainError> {
        let http = crate::rails::http_client(timeout).map_err(|e| ChainError::Transport(e.to_string()))?;
        Ok(ChainClient {
            url: url.into(),
            http,
            next_id: AtomicU64::new(1),
            chain_id: tokio::sync::OnceCell::new(),
            receipt_timeout: Duration::from_secs(60),
        })
    }

    /// One JSON-RPC call.
    pub async fn request<T: DeserializeOwned>(&self, method: &'static str, params: Value) -> Result<T, ChainError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let resp = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        let bytes = resp.bytes().await.map_err(|e| ChainError::Transport(e.to_string()))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| ChainError::Decode { method, detail: e.to_string() })?;
        if let Some(err) = value.get("error") {
            // Revert data: a hex string (geth, Besu, the embedded node) or, from Hardhat, an
            // object carrying it as `data`.
            let data = err
                .get("data")
                .and_then(|d| d.as_str().or_else(|| d.get("data").and_then(Value::as_str)))
                .and_then(|s| s.parse::<Bytes>().ok());
            return Err(ChainError::Rpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: err.get("message").and_then(Value::as_str).unwrap_or("").chars().take(500).collect(),
                data,
            });
        }
        let result = value.get("result").cloned().unwrap_or(Value::Null);
        serde_json::from_value(result).map_err(|e| ChainError::Decode { method, detail: e.to_string() })
    }

    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        let id = self
            .chain_id
            .get_or_try_init(|| async { u256_to_u64(self.request("eth_chainId", json!([])).await?, "eth_chainId") })
            .await?;
        Ok(*id)
    }

    pub async fn block_number(&self) -> Result<u64, ChainError> {
        u256_to_u64(self.request("eth_blockNumber", json!([])).await?, "eth_blockNumber")
    }

    /// The timestamp of block `number` (unix seconds).
    pub async fn block_timestamp(&self, number: u64) -> Result<u64, ChainError> {
        let block: Option<RpcBlock> = self.request("eth_getBlockByNumber", json!([quantity(number), false])).await?;
        let block =
            block.ok_or(ChainError::Decode { method: "eth_getBlockByNumber", detail: format!("no block {number}") })?;
        u256_to_u64(block.timestamp, "eth_getBlockByNumber")
    }

    /// Logs of `address` in `from..=to` whose first topic (the event signature) is one of `topic0`.
    pub async fn logs(&self, address: Address, from: u64, to: u64, topic0: &[B256]) -> Result<Vec<RpcLog>, ChainError> {
        let filter = json!({
            "address": address,
            "fromBlock": quantity(from),
            "toBlock": quantity(to),
            "topics": [topic0],
        });
        self.request("eth_getLogs", json!([filter])).await
    }

    /// `eth_call` of a typed contract call at the latest block.
    pub async fn call<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, ChainError> {
        let data = Bytes::from(call.abi_encode());
        let out: Bytes = self.request("eth_call", json!([{ "to": to, "data": data }, "latest"])).await?;
        C::abi_decode_returns(&out).map_err(|e| ChainError::Decode { method: "eth_call", detail: e.to_string() })
    }

    /// Sign `call` with `signer`, send it, and wait for its receipt. Returns the transaction
    /// hash when it succeeded; [`ChainError::Reverted`] when it was included and reverted.
    /// A "nonce too low" (another transaction of ours got in first) is retried with a fresh nonce.
    pub async fn send<C: SolCall>(&self, signer: &PrivateKeySigner, to: Address, call: &C) -> Result<B256, ChainError> {
        self.send_input(signer, Some(to), Bytes::from(call.abi_encode())).await
    }

    /// Send `call` to `to` as the bank `signer` names: signed here ([`Signer::Local`], as
    /// [`ChainClient::send`]) or by the node holding the bank's key ([`Signer::Custodial`],
    /// which answers once the transaction is mined and indexed). The transaction hash when it
    /// succeeded.
    pub async fn send_as<C: SolCall>(&self, signer: &Signer, to: Address, call: &C) -> Result<B256, ChainError> {
        let (api, token) = match signer {
            Signer::Local(key) => return self.send(key, to, call).await,
            Signer::Custodial { api, token, .. } => (api, token),
        };
        let body = json!({ "to": to, "data": Bytes::from(call.abi_encode()) });
        let resp = self
            .http
            .post(format!("{}/v1/transactions", api.trim_end_matches('/')))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| ChainError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|e| ChainError::Transport(e.to_string()))?;
        let decode = |detail: String| ChainError::Decode { method: "POST /v1/transactions", detail };
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| decode(e.to_string()))?;
        if status != 200 {
            let text = |k: &str| value["error"][k].as_str().unwrap_or("").chars().take(500).collect::<String>();
            return Err(ChainError::Api { status, code: text("code"), message: text("message") });
        }
        let hash: B256 =
            value["tx_hash"].as_str().and_then(|h| h.parse().ok()).ok_or_else(|| decode(value.to_string()))?;
        match value["success"].as_bool() {
            Some(true) => Ok(hash),
            _ => Err(ChainError::Reverted(hash)),
        }
    }

    /// Sign a transaction carrying `input` (a contract creation when `to` is `None`), send it
    /// and wait for its receipt, as [`ChainClient::send`] does.
    ///
    /// Fees: the price is the node's `eth_gasPrice`, so the same code pays nothing on a
    /// zero-gas-price network (the embedded node, Besu free gas) and pays the going price
    /// on one that charges gas (Hardhat, a public testnet). The signer must then hold enough
    /// native currency for `gas_limit * gas_price`.
    pub async fn send_input(
        &self,
        signer: &PrivateKeySigner,
        to: Option<Address>,
        input: Bytes,
    ) -> Result<B256, ChainError> {
        let from = signer.address();
        let chain_id = self.chain_id().await?;
        let gas_price: U256 = self.request("eth_gasPrice", json!([])).await?;
        let gas_price = u128::try_from(gas_price)
            .map_err(|_| ChainError::Decode { method: "eth_gasPrice", detail: "too large".into() })?;
        let mut estimate_tx = json!({ "from": from, "data": input });
        if let Some(to) = to {
            estimate_tx["to"] = json!(to);
        }
        let estimate: U256 = self.request("eth_estimateGas", json!([estimate_tx])).await?;
        let gas_limit = u256_to_u64(estimate, "eth_estimateGas")?.saturating_mul(5) / 4 + 10_000;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let nonce: U256 = self.request("eth_getTransactionCount", json!([from, "pending"])).await?;
            let mut tx = TxLegacy {
                chain_id: Some(chain_id),
                nonce: u256_to_u64(nonce, "eth_getTransactionCount")?,
                gas_price,
                gas_limit,
                to: to.map_or(TxKind::Create, TxKind::Call),
                value: U256::ZERO,
                input: input.clone(),
            };
            let sig = signer.sign_transaction_sync(&mut tx).map_err(|e| ChainError::Sign(e.to_string()))?;
            let raw = Bytes::from(TxEnvelope::from(tx.into_signed(sig)).encoded_2718());
            match self.request::<B256>("eth_sendRawTransaction", json!([raw])).await {
                Ok(hash) => return self.wait(hash).await,
                Err(e) if e.is_nonce_too_low() && attempts < 5 => {
                    tracing::warn!(%from, "nonce too low; retrying with a fresh nonce");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The native balance of `who` at the latest block (what pays for gas).
    pub async fn balance(&self, who: Address) -> Result<U256, ChainError> {
        self.request("eth_getBalance", json!([who, "latest"])).await
    }

    async fn wait(&self, hash: B256) -> Result<B256, ChainError> {
        let deadline = tokio::time::Instant::now() + self.receipt_timeout;
        loop {
            let receipt: Option<RpcReceipt> = self.request("eth_getTransactionReceipt", json!([hash])).await?;
            if let Some(r) = receipt {
                return match r.status {
                    Some(s) if s == U256::from(1) => Ok(hash),
                    _ => Err(ChainError::Reverted(hash)),
                };
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ChainError::NotIncluded(hash));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
