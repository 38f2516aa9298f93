//! The [`Chain`] trait every backend implements, and what it answers.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, Log, U256};
use alloy::sol_types::SolCall;

use crate::Rejection;

/// A boxed future (the trait is used as `dyn Chain`).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What can go wrong talking to the chain.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// The chain refused the transaction or the call (see [`Rejection`]).
    #[error("{0}")]
    Rejected(Rejection),
    /// The chain did not answer, or answered something that is not what was asked.
    #[error("chain unavailable: {0}")]
    Unavailable(String),
    /// Waited too long (for a receipt, a block).
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

impl ChainError {
    /// The refusal inside, when this is one.
    #[must_use]
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            ChainError::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

impl From<crate::rpc::RpcError> for ChainError {
    fn from(e: crate::rpc::RpcError) -> Self {
        match e.rejection() {
            Some(r) => ChainError::Rejected(r),
            None => ChainError::Unavailable(e.to_string()),
        }
    }
}

/// The result of a read-only call.
#[derive(Debug, Clone)]
pub enum CallResult {
    /// It returned `output`, using `gas_used` (0 where the network does not say).
    Success {
        /// ABI-encoded return data.
        output: Bytes,
        /// Gas the call used.
        gas_used: u64,
    },
    /// It reverted with `data` (a custom error, decodable by `tradechain_contracts::revert`).
    Revert {
        /// ABI-encoded revert data.
        data: Bytes,
    },
    /// It stopped without reverting (out of gas, invalid opcode).
    Halt {
        /// What the EVM said.
        reason: String,
    },
}

/// A mined transaction's receipt, as far as tradechain needs it.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The transaction.
    pub tx_hash: B256,
    /// The block that holds it.
    pub block: u64,
    /// Whether it succeeded (did not revert).
    pub success: bool,
    /// The logs it emitted.
    pub logs: Vec<Log>,
}

/// One log of a block, with where it sits.
#[derive(Debug, Clone)]
pub struct BlockLog {
    /// The block that holds it.
    pub block: u64,
    /// The transaction that emitted it.
    pub tx_hash: B256,
    /// Its index in the block.
    pub log_index: u64,
    /// The log.
    pub log: Log,
}

/// A block's number, timestamp and logs (in order).
#[derive(Debug, Clone)]
pub struct BlockLogs {
    /// Block number.
    pub number: u64,
    /// Unix seconds.
    pub timestamp: u64,
    /// Every log of the block, in order.
    pub logs: Vec<BlockLog>,
}

/// A sealed block's identity: number, hash and timestamp.
#[derive(Debug, Clone)]
pub struct BlockHeader {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Unix seconds.
    pub timestamp: u64,
}

/// Which logs to read: in blocks `from..=to`, of any of `addresses`, whose first topic
/// (the event signature) is one of `topic0`; an empty list matches any.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// First block.
    pub from: u64,
    /// Last block (inclusive).
    pub to: u64,
    /// Emitting contracts.
    pub addresses: Vec<Address>,
    /// Event signatures.
    pub topic0: Vec<B256>,
}

impl LogFilter {
    /// Whether `log` passes the address and topic filter (not the block range).
    #[must_use]
    pub fn matches(&self, log: &Log) -> bool {
        (self.addresses.is_empty() || self.addresses.contains(&log.address))
            && (self.topic0.is_empty() || log.topics().first().is_some_and(|t| self.topic0.contains(t)))
    }
}

/// The fees a transaction offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fees {
    /// EIP-1559: the most per gas, and the priority fee within it. Zero on the embedded
    /// chain and on free-gas networks.
    Eip1559 {
        /// Max fee per gas (wei).
        max_fee_per_gas: u128,
        /// Max priority fee per gas (wei).
        max_priority_fee_per_gas: u128,
    },
    /// A network without EIP-1559 (no base fee): one gas price.
    Legacy {
        /// Gas price (wei).
        gas_price: u128,
    },
}

/// The operations tradechain needs from a chain.
pub trait Chain: Send + Sync + 'static {
    /// The chain id transactions are signed for.
    fn chain_id(&self) -> u64;
    /// Largest gas limit a transaction may ask for.
    fn gas_cap(&self) -> u64;
    /// The next nonce of `address`, counting its pending transactions.
    fn nonce(&self, address: Address) -> BoxFut<'_, Result<u64, ChainError>>;
    /// Submit a signed raw transaction; its hash.
    fn send_raw(&self, raw: Bytes) -> BoxFut<'_, Result<B256, ChainError>>;
    /// [`Chain::send_raw`] of a transaction whose sender the caller knows already: it signed
    /// it with `from`'s key ([`crate::transaction::Sender`]), or recovered `from` from these
    /// very bytes. The backend need not recover it again. Never with a `from` merely claimed.
    fn send_own(&self, raw: Bytes, from: Address) -> BoxFut<'_, Result<B256, ChainError>> {
        let _ = from;
        self.send_raw(raw)
    }
    /// Why `hash` was dropped without a receipt, when the chain knows: the embedded node
    /// remembers the last 4,096 transactions it dropped while building blocks (invalid in
    /// the state they met). `None` otherwise, and always on a remote network.
    fn dropped(&self, hash: B256) -> BoxFut<'_, Result<Option<String>, ChainError>> {
        let _ = hash;
        Box::pin(async { Ok(None) })
    }
    /// The receipt of a mined (and, on a remote network, confirmed) transaction.
    fn receipt(&self, hash: B256) -> BoxFut<'_, Result<Option<Receipt>, ChainError>>;
    /// `eth_call` from `from` against the latest state.
    fn call(&self, from: Address, to: Address, input: Bytes) -> BoxFut<'_, Result<CallResult, ChainError>>;
    /// Many `eth_call`s from `from` against the latest state: each one's outcome, in order.
    /// One after another here; a node reached over the network answers them as one batch.
    fn call_many(
        &self,
        from: Address,
        calls: Vec<(Address, Bytes)>,
    ) -> BoxFut<'_, Result<Vec<Result<CallResult, ChainError>>, ChainError>> {
        Box::pin(async move { Ok(calls_one_by_one(self, from, calls).await) })
    }
    /// The gas limit to give a transaction from `from` (a creation when `to` is `None`):
    /// its simulation's gas with a margin, at most [`Chain::gas_cap`]. A simulation that
    /// reverts is [`Rejection::Reverted`] with its data.
    fn estimate_gas(
        &self,
        from: Address,
        to: Option<Address>,
        value: U256,
        input: Bytes,
    ) -> BoxFut<'_, Result<u64, ChainError>>;
    /// The gas limit [`Chain::estimate_gas`] would give a call whose simulation, just run
    /// with [`Chain::call`], used `gas_used`, where it follows from that figure alone (the
    /// embedded node: gas is free, so its margin is fixed and generous); `None` where only
    /// the node's own estimate will do. Saves running the same call twice before it is sent.
    fn gas_limit_for(&self, gas_used: u64) -> Option<u64> {
        let _ = gas_used;
        None
    }
    /// The fees to offer now.
    fn fees(&self) -> BoxFut<'_, Result<Fees, ChainError>>;
    /// The latest block number (on a remote network: the latest confirmed one).
    fn head(&self) -> BoxFut<'_, Result<u64, ChainError>>;
    /// A block's timestamp and logs (`None` past the head).
    fn block_logs(&self, number: u64) -> BoxFut<'_, Result<Option<BlockLogs>, ChainError>>;
    /// The logs `filter` selects, in chain order.
    fn logs(&self, filter: LogFilter) -> BoxFut<'_, Result<Vec<BlockLog>, ChainError>>;
    /// A mined transaction's raw signed bytes (EIP-2718), if known.
    fn transaction(&self, hash: B256) -> BoxFut<'_, Result<Option<Bytes>, ChainError>>;
    /// A sealed block's number, hash and timestamp (`None` past the head).
    fn block_header(&self, number: u64) -> BoxFut<'_, Result<Option<BlockHeader>, ChainError>>;
    /// The native balance of `address` (what pays for gas where gas costs).
    fn balance(&self, address: Address) -> BoxFut<'_, Result<U256, ChainError>>;
    /// Resolve when the head passes `known`, or after `timeout` (whichever first).
    fn wait_new_head(&self, known: u64, timeout: Duration) -> BoxFut<'_, ()>;
    /// Resolve when a block after `known` may have mined or dropped `hash`, or after
    /// `timeout`: [`wait_receipt`] then looks again. By default any new head may have; a chain
    /// that sees its blocks' transactions in memory wakes a waiter for its own block only, so
    /// each block is not a receipt lookup for every transaction still waiting.
    fn wait_for_transaction(&self, hash: B256, known: u64, timeout: Duration) -> BoxFut<'_, ()> {
        let _ = hash;
        self.wait_new_head(known, timeout)
    }
}

/// `calls` made with [`Chain::call`], one after another: each one's outcome, in order.
pub(crate) async fn calls_one_by_one<C: Chain + ?Sized>(
    chain: &C,
    from: Address,
    calls: Vec<(Address, Bytes)>,
) -> Vec<Result<CallResult, ChainError>> {
    let mut out = Vec::with_capacity(calls.len());
    for (to, input) in calls {
        out.push(chain.call(from, to, input).await);
    }
    out
}

/// Waits for a transaction's receipt.
///
/// # Errors
/// [`ChainError::Timeout`] when none came within `timeout`; [`ChainError::Rejected`] as soon
/// as the chain says it dropped the transaction ([`Chain::dropped`]); the chain's own errors.
pub async fn wait_receipt(chain: &dyn Chain, hash: B256, timeout: Duration) -> Result<Receipt, ChainError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // The head before the receipt: a block sealed between the two is either seen by
        // the receipt or is newer than `head`, so the wait below returns at once. (Read
        // after, a block sealed in between made the wait sit out its whole timeout.)
        let head = chain.head().await?;
        if let Some(r) = chain.receipt(hash).await? {
            return Ok(r);
        }
        // Dropped when its block was built: no receipt will come, so say why now rather than
        // at the timeout (read again: a block sealed in between may hold it after all).
        if let Some(reason) = chain.dropped(hash).await? {
            if let Some(r) = chain.receipt(hash).await? {
                return Ok(r);
            }
            let message = format!("transaction dropped: {reason}");
            return Err(ChainError::Rejected(Rejection::Other { code: -32000, message }));
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ChainError::Timeout(format!("receipt of {hash}")));
        }
        chain.wait_for_transaction(hash, head, (deadline - now).min(Duration::from_millis(250))).await;
    }
}

/// Typed contract reads of one function, many at once ([`Chain::call_many`]): each one's
/// return decoded, or its error as [`call_sol`] gives it.
///
/// # Errors
/// When the reads could not be made at all.
pub async fn call_sol_many<C: SolCall>(
    chain: &dyn Chain,
    from: Address,
    calls: &[(Address, C)],
) -> Result<Vec<Result<C::Return, ChainError>>, ChainError> {
    let encoded = calls.iter().map(|(to, c)| (*to, Bytes::from(c.abi_encode()))).collect();
    let answers = chain.call_many(from, encoded).await?;
    Ok(answers.into_iter().map(|a| a.and_then(decode_call::<C>)).collect())
}

fn decode_call<C: SolCall>(result: CallResult) -> Result<C::Return, ChainError> {
    match result {
        CallResult::Success { output, .. } => C::abi_decode_returns(&output)
            .map_err(|e| ChainError::Unavailable(format!("cannot decode {}: {e}", C::SIGNATURE))),
        CallResult::Revert { data } => Err(ChainError::Rejected(Rejection::Reverted { data })),
        CallResult::Halt { reason } => Err(ChainError::Unavailable(format!("{} halted: {reason}", C::SIGNATURE))),
    }
}

/// A typed contract read: `call` from `from` to `to`, its return decoded. A revert is
/// [`Rejection::Reverted`] with its data; a halt or an undecodable answer is
/// [`ChainError::Unavailable`].
///
/// # Errors
/// As described.
pub async fn call_sol<C: SolCall>(
    chain: &dyn Chain,
    from: Address,
    to: Address,
    call: &C,
) -> Result<C::Return, ChainError> {
    decode_call::<C>(chain.call(from, to, Bytes::from(call.abi_encode())).await?)
}
