//! Ethereum JSON-RPC over HTTP, with typed replies.
//!
//! Why not alloy's provider: tradechain needs a dozen standard methods, exact control over
//! what is retried (see [`crate::transaction`]), and one HTTP stack for the chain and the
//! banks alike (reqwest). alloy supplies the primitive types, ABI encoding and signing;
//! this module moves JSON and deserialises each answer into the few fields tradechain
//! reads ([`RpcBlock`], [`RpcReceipt`], [`RpcLog`]), so a node that answers something else
//! is reported as such instead of being half-read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U64, U256};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::Rejection;

/// What can go wrong with one JSON-RPC request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// The request did not get an answer (connection, timeout, TLS).
    #[error("chain unreachable: {0}")]
    Transport(String),
    /// The node answered with a JSON-RPC error.
    #[error("JSON-RPC error {code}: {message}")]
    Rpc {
        /// The JSON-RPC error code.
        code: i64,
        /// The node's message (at most 500 characters).
        message: String,
        /// Revert data, when the error carried any (a hex string, or Hardhat's object).
        data: Option<Bytes>,
    },
    /// The answer was not what the method returns.
    #[error("unexpected JSON-RPC answer to {method}: {detail}")]
    Decode {
        /// The method asked.
        method: &'static str,
        /// What did not fit.
        detail: String,
    },
}

impl RpcError {
    /// The node's refusal, when this is one.
    #[must_use]
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            RpcError::Rpc { code, message, data } => Some(Rejection::from_rpc(*code, message, data.clone())),
            _ => None,
        }
    }
}

/// A block, as far as tradechain reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcBlock {
    /// Block number.
    pub number: U64,
    /// Block hash.
    pub hash: B256,
    /// Unix seconds.
    pub timestamp: U64,
    /// The block gas limit.
    pub gas_limit: U64,
    /// The EIP-1559 base fee; absent on a network without EIP-1559.
    #[serde(default)]
    pub base_fee_per_gas: Option<U256>,
}

/// A log, as `eth_getLogs` and receipts carry it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcLog {
    /// The emitting contract.
    pub address: Address,
    /// Topics; the first is the event signature.
    pub topics: Vec<B256>,
    /// ABI-encoded non-indexed fields.
    pub data: Bytes,
    /// The block, absent for a pending log.
    #[serde(default)]
    pub block_number: Option<U64>,
    /// The transaction, absent for a pending log.
    #[serde(default)]
    pub transaction_hash: Option<B256>,
    /// Position in the block.
    #[serde(default)]
    pub log_index: Option<U64>,
    /// True when a reorganisation removed it.
    #[serde(default)]
    pub removed: bool,
}

impl RpcLog {
    /// The primitive log (address, topics, data).
    #[must_use]
    pub fn to_log(&self) -> alloy::primitives::Log {
        alloy::primitives::Log {
            address: self.address,
            data: alloy::primitives::LogData::new_unchecked(self.topics.clone(), self.data.clone()),
        }
    }
}

/// A transaction receipt, as far as tradechain reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcReceipt {
    /// The transaction.
    pub transaction_hash: B256,
    /// The block that holds it.
    pub block_number: U64,
    /// 1 for success, 0 for a revert (post-Byzantium).
    #[serde(default)]
    pub status: Option<U64>,
    /// The logs it emitted.
    #[serde(default)]
    pub logs: Vec<RpcLog>,
}

/// A JSON-RPC client for one node URL.
#[derive(Debug)]
pub struct RpcClient {
    url: String,
    http: reqwest::Client,
    /// Sent as `Authorization: Bearer …` (a tradechain node outside dev mode asks for one).
    bearer: Option<String>,
    next_id: AtomicU64,
    /// The chain id never changes for a URL; asked once.
    chain_id: tokio::sync::OnceCell<u64>,
}

fn quantity(n: u64) -> String {
    format!("0x{n:x}")
}

fn to_u64(v: U256, method: &'static str) -> Result<u64, RpcError> {
    u64::try_from(v).map_err(|_| RpcError::Decode { method, detail: format!("{v} does not fit u64") })
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

/// One JSON-RPC answer: a result or an error.
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<ErrorObject>,
}

impl Answer {
    fn into_result<T: DeserializeOwned>(self, method: &'static str) -> Result<T, RpcError> {
        if let Some(err) = self.error {
            // Revert data: a hex string (geth, Besu, the embedded node) or, from Hardhat, an
            // object carrying it as `data`.
            let data = err
                .data
                .as_ref()
                .and_then(|d| d.as_str().or_else(|| d.get("data").and_then(Value::as_str)))
                .and_then(|s| s.parse::<Bytes>().ok());
            return Err(RpcError::Rpc { code: err.code, message: err.message.chars().take(500).collect(), data });
        }
        serde_json::from_value(self.result.unwrap_or(Value::Null))
            .map_err(|e| RpcError::Decode { method, detail: e.to_string() })
    }
}

impl RpcClient {
    /// A client for `url` whose requests time out after `timeout`.
    ///
    /// # Errors
    /// When the HTTP stack cannot be built.
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<Self, RpcError> {
        let http = crate::http::client(timeout).map_err(|e| RpcError::Transport(e.to_string()))?;
        Ok(RpcClient {
            url: url.into(),
            http,
            bearer: None,
            next_id: AtomicU64::new(1),
            chain_id: tokio::sync::OnceCell::new(),
        })
    }

    /// The same client, sending `token` as a bearer credential with every request (a
    /// tradechain node's JSON-RPC outside dev mode takes the organisation's API token).
    #[must_use]
    pub fn with_bearer(mut self, token: Option<String>) -> Self {
        self.bearer = token.filter(|t| !t.trim().is_empty());
        self
    }

    /// The node's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One JSON-RPC call, its `result` deserialised as `T`.
    ///
    /// # Errors
    /// [`RpcError::Rpc`] for the node's error (with revert data extracted), the others for
    /// transport and shape.
    pub async fn request<T: DeserializeOwned>(&self, method: &'static str, params: Value) -> Result<T, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let bytes = self.post(body.to_string()).await?;
        let answer: Answer =
            serde_json::from_slice(bytes.as_ref()).map_err(|e| RpcError::Decode { method, detail: e.to_string() })?;
        answer.into_result(method)
    }

    /// Many calls of `method` in one JSON-RPC batch (one HTTP round trip; the node answers
    /// them in turn): each call's own outcome, in the order given. A node that does not take
    /// batches answers one error for the whole, which is the `Err`.
    ///
    /// # Errors
    /// Transport failures, and an answer that is not one result per call.
    pub async fn request_batch<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: Vec<Value>,
    ) -> Result<Vec<Result<T, RpcError>>, RpcError> {
        #[derive(Deserialize)]
        struct Numbered {
            id: u64,
            #[serde(flatten)]
            answer: Answer,
        }
        let first = self.next_id.fetch_add(params.len() as u64, Ordering::Relaxed);
        let n = params.len();
        let body: Vec<Value> = params
            .into_iter()
            .enumerate()
            .map(|(i, p)| json!({ "jsonrpc": "2.0", "id": first + i as u64, "method": method, "params": p }))
            .collect();
        let bytes = self.post(Value::Array(body).to_string()).await?;
        let answers: Vec<Numbered> =
            serde_json::from_slice(bytes.as_ref()).map_err(|e| RpcError::Decode { method, detail: e.to_string() })?;
        // Answers may come in any order: placed by id, each id once.
        let mut placed: Vec<Option<Answer>> = (0..n).map(|_| None).collect();
        for a in answers {
            let slot = a.id.checked_sub(first).and_then(|i| usize::try_from(i).ok()).and_then(|i| placed.get_mut(i));
            match slot {
                Some(s @ None) => *s = Some(a.answer),
                _ => {
                    return Err(RpcError::Decode {
                        method,
                        detail: format!("unexpected or repeated answer id {}", a.id),
                    });
                }
            }
        }
        placed
            .into_iter()
            .map(|a| match a {
                Some(a) => Ok(a.into_result(method)),
                None => Err(RpcError::Decode { method, detail: "a call of the batch went unanswered".into() }),
            })
            .collect()
    }

    async fn post(&self, body: String) -> Result<impl AsRef<[u8]>, RpcError> {
        let mut post = self.http.post(&self.url).header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.bearer {
            post = post.bearer_auth(token);
        }
        let resp = post.body(body).send().await.map_err(|e| RpcError::Transport(e.to_string()))?;
        resp.bytes().await.map_err(|e| RpcError::Transport(e.to_string()))
    }

    /// `eth_chainId`, asked once per client.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let id = self
            .chain_id
            .get_or_try_init(|| async { to_u64(self.request("eth_chainId", json!([])).await?, "eth_chainId") })
            .await?;
        Ok(*id)
    }

    /// `eth_blockNumber`.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn block_number(&self) -> Result<u64, RpcError> {
        to_u64(self.request("eth_blockNumber", json!([])).await?, "eth_blockNumber")
    }

    /// Block `number` (without transactions); `None` past the head.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn block(&self, number: u64) -> Result<Option<RpcBlock>, RpcError> {
        self.request("eth_getBlockByNumber", json!([quantity(number), false])).await
    }

    /// The latest block.
    ///
    /// # Errors
    /// As [`RpcClient::request`]; a node without a latest block is a decode error.
    pub async fn latest_block(&self) -> Result<RpcBlock, RpcError> {
        self.request::<Option<RpcBlock>>("eth_getBlockByNumber", json!(["latest", false]))
            .await?
            .ok_or(RpcError::Decode { method: "eth_getBlockByNumber", detail: "no latest block".into() })
    }

    /// Logs in `from..=to` of any of `addresses` whose first topic is one of `topic0`
    /// (empty: any); or, with `block_hash`, of that block only.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn logs(&self, filter: &crate::LogFilter) -> Result<Vec<RpcLog>, RpcError> {
        let mut f = json!({ "fromBlock": quantity(filter.from), "toBlock": quantity(filter.to) });
        if !filter.addresses.is_empty() {
            f["address"] = json!(filter.addresses);
        }
        if !filter.topic0.is_empty() {
            f["topics"] = json!([filter.topic0]);
        }
        self.request("eth_getLogs", json!([f])).await
    }

    /// Every log of the block with `hash`.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn block_logs(&self, hash: B256) -> Result<Vec<RpcLog>, RpcError> {
        self.request("eth_getLogs", json!([{ "blockHash": hash }])).await
    }

    /// `eth_getTransactionReceipt`.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn receipt(&self, hash: B256) -> Result<Option<RpcReceipt>, RpcError> {
        self.request("eth_getTransactionReceipt", json!([hash])).await
    }

    /// `eth_call` from `from` at the latest block: the output.
    ///
    /// # Errors
    /// [`RpcError::Rpc`] with the revert data when the call reverts.
    pub async fn call(&self, from: Address, to: Address, input: &Bytes) -> Result<Bytes, RpcError> {
        self.request("eth_call", json!([{ "from": from, "to": to, "data": input }, "latest"])).await
    }

    /// Many `eth_call`s from `from` at the latest block in one batch: each output or error.
    ///
    /// # Errors
    /// As [`RpcClient::request_batch`].
    pub async fn call_batch(
        &self,
        from: Address,
        calls: &[(Address, Bytes)],
    ) -> Result<Vec<Result<Bytes, RpcError>>, RpcError> {
        let params =
            calls.iter().map(|(to, input)| json!([{ "from": from, "to": to, "data": input }, "latest"])).collect();
        self.request_batch("eth_call", params).await
    }

    /// `eth_estimateGas` (a contract creation when `to` is `None`).
    ///
    /// # Errors
    /// [`RpcError::Rpc`] with the revert data when the transaction would revert.
    pub async fn estimate_gas(
        &self,
        from: Address,
        to: Option<Address>,
        value: U256,
        input: &Bytes,
    ) -> Result<u64, RpcError> {
        let mut tx = json!({ "from": from, "data": input, "value": value });
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        to_u64(self.request("eth_estimateGas", json!([tx])).await?, "eth_estimateGas")
    }

    /// The next nonce of `who`, counting its pending transactions.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn pending_nonce(&self, who: Address) -> Result<u64, RpcError> {
        to_u64(self.request("eth_getTransactionCount", json!([who, "pending"])).await?, "eth_getTransactionCount")
    }

    /// The number of transactions `who` sent that are mined.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn mined_nonce(&self, who: Address) -> Result<u64, RpcError> {
        to_u64(self.request("eth_getTransactionCount", json!([who, "latest"])).await?, "eth_getTransactionCount")
    }

    /// `eth_gasPrice`.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn gas_price(&self) -> Result<u128, RpcError> {
        let p: U256 = self.request("eth_gasPrice", json!([])).await?;
        u128::try_from(p).map_err(|_| RpcError::Decode { method: "eth_gasPrice", detail: "too large".into() })
    }

    /// `eth_maxPriorityFeePerGas`.
    ///
    /// # Errors
    /// As [`RpcClient::request`] (some networks do not serve it).
    pub async fn max_priority_fee(&self) -> Result<u128, RpcError> {
        let p: U256 = self.request("eth_maxPriorityFeePerGas", json!([])).await?;
        Ok(u128::try_from(p).unwrap_or(0))
    }

    /// `eth_sendRawTransaction`: the transaction hash.
    ///
    /// # Errors
    /// [`RpcError::Rpc`] with the node's refusal.
    pub async fn send_raw(&self, raw: &Bytes) -> Result<B256, RpcError> {
        self.request("eth_sendRawTransaction", json!([raw])).await
    }

    /// The native balance of `who` at the latest block (what pays for gas).
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn balance(&self, who: Address) -> Result<U256, RpcError> {
        self.request("eth_getBalance", json!([who, "latest"])).await
    }

    /// The code at `address` (empty for an account without code).
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn code(&self, address: Address) -> Result<Bytes, RpcError> {
        self.request("eth_getCode", json!([address, "latest"])).await
    }

    /// A mined transaction's raw signed bytes, where the node serves them
    /// (`eth_getRawTransactionByHash`); `Err` where it does not.
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn raw_transaction(&self, hash: B256) -> Result<Option<Bytes>, RpcError> {
        self.request("eth_getRawTransactionByHash", json!([hash])).await
    }

    /// A mined transaction's fields (`eth_getTransactionByHash`).
    ///
    /// # Errors
    /// As [`RpcClient::request`].
    pub async fn transaction(&self, hash: B256) -> Result<Option<alloy::rpc::types::Transaction>, RpcError> {
        self.request("eth_getTransactionByHash", json!([hash])).await
    }
}
