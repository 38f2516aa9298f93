//! The chain embedded in this process ([`tradechain_engine::Node`]) as a [`Chain`].
//!
//! Reads go to the node's store directly; submission and calls run on tokio's blocking
//! pool, because the node's methods block (an automine submission seals and fsyncs its
//! block before it returns). Refusals come as the engine's typed
//! [`tradechain_engine::TxRejection`], turned into a [`Rejection`] without any text.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use tradechain_engine::Node;
use tradechain_engine::block::SealedBlock;
use tradechain_engine::executor::{CallOutcome, CallRequest};

use crate::{
    BlockHeader, BlockLog, BlockLogs, BoxFut, CallResult, Chain, ChainError, Fees, LogFilter, Receipt, Rejection,
};

/// The node in this process (see the module docs).
#[derive(Clone, Debug)]
pub struct EmbeddedChain {
    node: Node,
}

impl EmbeddedChain {
    /// Resolve when a block after `known` that `wakes` accepts is sealed, when blocks were
    /// missed (one of them may have been it), or after `timeout`. Subscribed before the head
    /// is read: a block sealed in between is either seen here or counted in the head, and
    /// then the caller looks at once.
    async fn wait_for_block(&self, known: u64, timeout: Duration, wakes: impl Fn(&SealedBlock) -> bool) {
        let mut blocks = self.node.subscribe_blocks();
        if self.node.head().header.number > known {
            return;
        }
        let _ = tokio::time::timeout(timeout, async {
            loop {
                match blocks.recv().await {
                    Ok(b) if b.header.number > known && wakes(&b) => return,
                    Ok(_) => {}
                    Err(_) => return, // lagged or closed
                }
            }
        })
        .await;
    }

    /// Wrap `node`.
    #[must_use]
    pub fn new(node: Node) -> Arc<Self> {
        Arc::new(Self { node })
    }

    /// The node itself.
    #[must_use]
    pub fn node(&self) -> &Node {
        &self.node
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

/// The logs of block `number` that `keep` selects, with the block's timestamp.
fn logs_of(
    node: &Node,
    number: u64,
    keep: impl Fn(&alloy::primitives::Log) -> bool,
) -> Result<Option<BlockLogs>, ChainError> {
    let store = node.store();
    let Some(block) = store.block(number).map_err(store_err)? else { return Ok(None) };
    let mut logs = Vec::new();
    if !block.transactions.is_empty() {
        for r in store.block_receipts(number).map_err(store_err)? {
            for (i, log) in r.logs.into_iter().enumerate() {
                if keep(&log) {
                    logs.push(BlockLog {
                        block: number,
                        tx_hash: r.tx_hash,
                        log_index: r.first_log_index + i as u64,
                        log,
                    });
                }
            }
        }
    }
    Ok(Some(BlockLogs { number, timestamp: block.header.timestamp, logs }))
}

/// The gas limit for a call that used `gas_used`, at most `cap`. Gas is free here: a
/// generous margin costs nothing and absorbs state changes between the simulation and the
/// block.
fn margin(gas_used: u64, cap: u64) -> u64 {
    (gas_used.saturating_mul(3) / 2 + 50_000).min(cap)
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
        Box::pin(self.blocking(move |node| node.submit_raw(&raw).map_err(|e| ChainError::Rejected(e.into()))))
    }

    fn send_own(&self, raw: Bytes, from: Address) -> BoxFut<'_, Result<B256, ChainError>> {
        Box::pin(self.blocking(move |node| node.submit_own(&raw, from).map_err(|e| ChainError::Rejected(e.into()))))
    }

    fn receipt(&self, hash: B256) -> BoxFut<'_, Result<Option<Receipt>, ChainError>> {
        Box::pin(async move {
            let r = self.node.store().receipt(&hash).map_err(store_err)?;
            Ok(r.map(|r| Receipt { tx_hash: r.tx_hash, block: r.block_number, success: r.success, logs: r.logs }))
        })
    }

    fn dropped(&self, hash: B256) -> BoxFut<'_, Result<Option<String>, ChainError>> {
        Box::pin(async move { Ok(self.node.dropped(&hash)) })
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

    fn estimate_gas(
        &self,
        from: Address,
        to: Option<Address>,
        value: U256,
        input: Bytes,
    ) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(self.blocking(move |node| {
            let req = CallRequest { from, to, value, input, gas: None };
            match node.call(&req).map_err(ChainError::Unavailable)? {
                CallOutcome::Success { gas_used, .. } => Ok(margin(gas_used, node.config().block_gas_limit)),
                CallOutcome::Revert { data, .. } => Err(ChainError::Rejected(Rejection::Reverted { data })),
                CallOutcome::Halt { .. } => Err(ChainError::Rejected(Rejection::Reverted { data: Bytes::new() })),
            }
        }))
    }

    fn gas_limit_for(&self, gas_used: u64) -> Option<u64> {
        Some(margin(gas_used, self.node.config().block_gas_limit))
    }

    fn fees(&self) -> BoxFut<'_, Result<Fees, ChainError>> {
        Box::pin(async { Ok(Fees::Eip1559 { max_fee_per_gas: 0, max_priority_fee_per_gas: 0 }) })
    }

    fn head(&self) -> BoxFut<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.node.head().header.number) })
    }

    fn block_logs(&self, number: u64) -> BoxFut<'_, Result<Option<BlockLogs>, ChainError>> {
        Box::pin(self.blocking(move |node| logs_of(&node, number, |_| true)))
    }

    fn logs(&self, filter: LogFilter) -> BoxFut<'_, Result<Vec<BlockLog>, ChainError>> {
        Box::pin(self.blocking(move |node| {
            let to = filter.to.min(node.head().header.number);
            let mut out = Vec::new();
            for n in filter.from..=to {
                if let Some(block) = logs_of(&node, n, |l| filter.matches(l))? {
                    out.extend(block.logs);
                }
            }
            Ok(out)
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

    fn balance(&self, address: Address) -> BoxFut<'_, Result<U256, ChainError>> {
        Box::pin(async move { Ok(self.node.with_state(|s| s.balance(&address))) })
    }

    fn wait_new_head(&self, known: u64, timeout: Duration) -> BoxFut<'_, ()> {
        Box::pin(self.wait_for_block(known, timeout, |_| true))
    }

    fn wait_for_transaction(&self, hash: B256, known: u64, timeout: Duration) -> BoxFut<'_, ()> {
        // Its own block, or a block whose building dropped it: any other block is passed
        // over without reading the store.
        Box::pin(self.wait_for_block(known, timeout, move |b| {
            b.transactions.contains(&hash) || self.node.dropped(&hash).is_some()
        }))
    }
}
