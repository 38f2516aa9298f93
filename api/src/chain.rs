//! The chain as the API sees it: one small trait, [`Chain`], so the embedded node
//! ([`EmbeddedChain`]) and a remote EVM JSON-RPC network ([`crate::remote::RemoteChain`])
//! are interchangeable.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, Log};
use tradechain_engine::Node;
use tradechain_engine::executor::{CallOutcome, CallRequest};

/// A boxed future (the trait is used as `dyn Chain`).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What can go wrong talking to the chain.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// The chain refused the transaction before executing it (nonce, size, signature, pool).
    #[error("{0}")]
    Rejected(String),
    #[error("chain unavailable: {0}")]
    Unavailable(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// The result of a read-only call.
#[derive(Debug, Clone)]
pub enum CallResult {
    Success { output: Bytes, gas_used: u64 },
    Revert { data: Bytes },
    Halt { reason: String },
}

/// A mined transaction's receipt, as far as the API needs it.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub tx_hash: B256,
    pub block: u64,
    pub success: bool,
    pub logs: Vec<Log>,
}

/// One log of a block, with where it sits.
#[derive(Debug, Clone)]
pub struct BlockLog {
    pub tx_hash: B256,
    pub log_index: u64,
    pub log: Log,
}

/// A block's number, timestamp and logs (in order).
#[derive(Debug, Clone)]
pub struct BlockLogs {
    pub number: u64,
    pub timestamp: u64,
    pub logs: Vec<BlockLog>,
}

/// A sealed block's identity: number, hash and timestamp.
#[derive(Debug, Clone)]
pub struct BlockHeader {
    pub number: u64,
    pub hash: B256,
    pub timestamp: u64,
}

/// The operations the API needs from a chain.
pub trait Chain: Send + Sync + 'static {
    fn chain_id(&self) -> u64;
    /// The next nonce of `address`, counting its pending transactions.
    fn nonce(&self, address: Address) -> BoxFut<'_, Result<u64, ChainError>>;
    /// Submit a signed raw transaction; its hash.
    fn send_raw(&self, raw: Bytes) -> BoxFut<'_, Result<B256, ChainError>>;
    /// The receipt of a mined transaction, if mined.
    fn receipt(&self, hash: B256) -> BoxFut<'_, Result<Option<Receipt>, ChainError>>;
    /// eth_call against the latest state.
    fn call(&self, from: Address, to: Address, input: Bytes) -> BoxFut<'_, Result<CallResult, ChainError>>;
    /// The latest block number.
    fn head(&self) -> BoxFut<'_, Result<u64, ChainError>>;
    /// A block's timestamp and logs (`None` past the head).
    fn block_logs(&self, number: u64) -> BoxFut<'_, Result<Option<BlockLogs>, ChainError>>;
    /// A mined transaction's raw signed bytes (EIP-2718), if known.
    fn transaction(&self, hash: B256) -> BoxFut<'_, Result<Option<Bytes>, ChainError>>;
    /// A sealed block's number, hash and timestamp (`None` past the head).
    fn block_header(&self, number: u64) -> BoxFut<'_, Result<Option<BlockHeader>, ChainError>>;
    /// Resolve when the head passes `known`, or after `timeout` (whichever first).
    fn wait_new_head(&self, known: u64, timeout: Duration) -> BoxFut<'_, ()>;
    /// Largest gas limit a transaction may ask for.
    fn gas_cap(&self) -> u64;
    /// The fees to offer (EIP-1559): (max fee per gas, max priority fee per gas). Zero on
    /// the embedded chain and on free-gas networks.
    fn fees(&self) -> BoxFut<'_, Result<(u128, u128), ChainError>> {
        Box::pin(async { Ok((0, 0)) })
    }
    /// The gas limit for `input` to `to` from `from`, which simulated with `simulated` gas.
    fn gas_limit(
        &self,
        from: Address,
        to: Address,
        input: Bytes,
        simulated: u64,
    ) -> BoxFut<'_, Result<u64, ChainError>> {
        let _ = (from, to, input);
        Box::pin(async move { Ok((simulated.saturating_mul(3) / 2 + 50_000).min(self.gas_cap())) })
    }
}

/// Waits for a transaction's receipt.
pub async fn wait_receipt(chain: &dyn Chain, hash: B256, timeout: Duration) -> Result<Receipt, ChainError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(r) = chain.receipt(hash).await? {
            return Ok(r);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ChainError::Timeout(format!("receipt of {hash}")));
        }
        let head = chain.head().await?;
        chain.wait_new_head(head, (deadline - now).min(Duration::from_millis(250))).await;
    }
}

/// The chain embedded in this process ([`tradechain_engine::Node`]). Node methods block,
/// so each runs on tokio's blocking pool.
#[derive(Clone, Debug)]
pub struct EmbeddedChain {
    node: Node,
}

impl EmbeddedChain {
    pub fn new(node: Node) -> Arc<Self> {
        Arc::new(Self { node })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Node) -> Result<T, ChainError> + Send + 'static,
    ) -> Result<T, ChainError> {
        let node = self.node.clone();
        tokio::task::spawn_blocking(move || f(node)).await.map_err(|e| ChainError::Unavailable(e.to_string()))?
    }
}

fn store_err(e: impl std::fmt::Display) -> ChainError {
    ChainError::Unavailable(e.to_string())
}

impl Chain for EmbeddedChain {
    fn chain_id(&self) -> u64 {
        self.node.config().chain_id
    }

    fn gas_cap(&self) -> u64 {
        self.node.config().block_gas_limit
    }

    fn nonce(&self, address: Address) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.node.nonce(&address, true)) })
    }

    fn send_raw(&self, raw: Bytes) -> BoxFut<'_, Result<B256, ChainError>> {
        Box::pin(self.blocking(move |node| node.submit_raw(&raw).map_err(|e| ChainError::Rejected(e.to_string()))))
    }

    fn receipt(&self, hash: B256) -> BoxFut<'_, Result<Option<Receipt>, ChainError>> {
        Box::pin(async move {
            let r = self.node.store().receipt(&hash).map_err(store_err)?;
            Ok(r.map(|r| Receipt { tx_hash: r.tx_hash, block: r.block_number, success: r.success, logs: r.logs }))
        })
    }

    fn call(&self, from: Address, to: Address, input: Bytes) -> BoxFut<'_, Result<CallResult, ChainError>> {
        Box::pin(self.blocking(move |node| {
            let req = CallRequest { from, to: Some(to), input, ..CallRequest::default() };
            Ok(match node.call(&req).map_err(ChainError::Unavailable)? {
                CallOutcome::Success { output, gas_used } => CallResult::Success { output, gas_used },
                CallOutcome::Revert { data, .. } => CallResult::Revert { data },
                CallOutcome::Halt { reason, .. } => CallResult::Halt { reason },
            })
        }))
    }

    fn head(&self) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.node.head().header.number) })
    }

    fn block_logs(&self, number: u64) -> BoxFut<'_, Result<Option<BlockLogs>, ChainError>> {
        Box::pin(self.blocking(move |node| {
            let store = node.store();
            let Some(block) = store.block(number).map_err(store_err)? else { return Ok(None) };
            let receipts = store.block_receipts(number).map_err(store_err)?;
            let mut logs = Vec::new();
            for r in receipts {
                for (i, log) in r.logs.into_iter().enumerate() {
                    logs.push(BlockLog { tx_hash: r.tx_hash, log_index: r.first_log_index + i as u64, log });
                }
            }
            Ok(Some(BlockLogs { number, timestamp: block.header.timestamp, logs }))
        }))
    }

    fn transaction(&self, hash: B256) -> BoxFut<'_, Result<Option<Bytes>, ChainError>> {
        Box::pin(self.blocking(move |node| node.store().transaction(&hash).map_err(store_err)))
    }

    fn block_header(&self, number: u64) -> BoxFut<'_, Result<Option<BlockHeader>, ChainError>> {
        Box::pin(self.blocking(move |node| {
            let block = node.store().block(number).map_err(store_err)?;
            Ok(block.map(|b| BlockHeader { number, hash: b.hash, timestamp: b.header.timestamp }))
        }))
    }

    fn wait_new_head(&self, known: u64, timeout: Duration) -> BoxFut<'_, ()> {
        Box::pin(async move {
            let mut blocks = self.node.subscribe_blocks();
            if self.node.head().header.number > known {
                return;
            }
            let _ = tokio::time::timeout(timeout, async {
                loop {
                    match blocks.recv().await {
                        Ok(b) if b.header.number > known => return,
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            })
            .await;
        })
    }
}
