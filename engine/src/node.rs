//! The running chain: state, pool, store, sealing, and the in-process API other crates use.
//!
//! Concurrency: the committed state and head sit behind one `RwLock` (`Chain`); block
//! production (one at a time, under the seal lock) executes against a read guard, commits the
//! block to the store, then takes the write lock only to apply the diff. Lock order is always
//! chain → pool. All methods are blocking; async callers use `spawn_blocking`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::local::PrivateKeySigner;
use tokio::sync::{Notify, broadcast};

use crate::block::{SealError, SealedBlock, header_for};
use crate::config::{ConfigError, NodeConfig};
use crate::executor::{self, BlockParams, CallOutcome, CallRequest, ExecutedBlock};
use crate::genesis::{GenesisCall, GenesisError, GenesisSpec};
use crate::mempool::{Mempool, PoolLimits};
use crate::receipt::StoredReceipt;
use crate::state::WorldState;
use crate::store::{BlockWrite, Store, StoreError};
use crate::transaction::{self, Limits, PendingTx, TxRejection};

/// Node failures (start-up, storage, sealing, dev methods).
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Settings or keys could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory could not be read or written.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A genesis call failed on first start; nothing was written.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// A block could not be signed.
    #[error("sealing: {0}")]
    Seal(#[from] SealError),
    /// The data directory holds a chain with another chain id or sealer than configured.
    #[error("data directory belongs to another chain: {0}")]
    ChainMismatch(String),
    /// A request the node refuses (a dev method outside dev mode, a timestamp in the past) or
    /// an inconsistent store.
    #[error("{0}")]
    Invalid(String),
    /// Dev-mode revert could not rebuild the state by replaying the chain.
    #[error("replay failed: {0}")]
    Replay(String),
}

/// Committed state and the head block, always consistent with each other.
#[derive(Debug)]
struct Chain {
    state: WorldState,
    head: Arc<SealedBlock>,
}

#[derive(Debug, Default)]
struct DevClock {
    offset: u64,
    next_timestamp: Option<u64>,
    snapshots: Vec<(u64, u64)>,
    next_snapshot: u64,
}

/// What one sealing round did.
#[derive(Debug, Clone)]
pub struct SealOutcome {
    /// The block, durably committed.
    pub block: Arc<SealedBlock>,
    /// Transactions dropped as invalid in this state (hash, reason); they are out of the pool.
    pub rejected: Vec<(B256, String)>,
    /// Executable transactions had no room in this block (its count, its gas, a sender's
    /// share of it): a backlog, for the next block at once.
    pub backlog: bool,
}

struct Inner {
    config: NodeConfig,
    limits: Limits,
    sealer: PrivateKeySigner,
    store: Store,
    chain: RwLock<Chain>,
    pool: Mutex<Mempool>,
    seal_lock: Mutex<()>,
    dev: Mutex<DevClock>,
    rejections: Mutex<Dropped>,
    blocks: broadcast::Sender<Arc<SealedBlock>>,
    wake: Notify,
    admission: RwLock<Option<Arc<dyn Admission>>>,
    /// Why `evm_revert` is refused, once something follows the chain that a revert would
    /// leave ahead of it (the platform's read model); `None`: reverts allowed (dev).
    reverts_refused: RwLock<Option<String>>,
}

/// Who may put a transaction into the pool, beyond the checks every transaction passes
/// (encoding, chain id, signature, size, gas, nonce): the embedding application's rule.
/// tradechain's API installs "active members of the Consortium only, contract creation
/// the operator's only, bounded calldata". Checked at submission, before the pool, so a
/// refused transaction never reaches a block or the disk.
pub trait Admission: Send + Sync {
    /// `Err(reason)` refuses `tx` (answered as [`TxRejection::NotPermitted`]). May read the
    /// committed state through [`Node::call`].
    fn admit(&self, node: &Node, tx: &PendingTx) -> Result<(), String>;
}

/// A handle to the running chain; cheap to clone.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("chain_id", &self.inner.config.chain_id).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Wall-clock unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The last transactions dropped when a block was built, with the reason, looked up by hash
/// (every wait for a receipt that misses the store asks).
#[derive(Default)]
struct Dropped {
    order: VecDeque<B256>,
    reasons: HashMap<B256, String>,
}

impl Dropped {
    /// How many are remembered.
    const KEPT: usize = 4096;

    fn record(&mut self, hash: B256, reason: String) {
        if self.reasons.insert(hash, reason).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > Self::KEPT {
            if let Some(old) = self.order.pop_front() {
                self.reasons.remove(&old);
            }
        }
    }

    fn forget(&mut self, hash: &B256) {
        if self.reasons.remove(hash).is_some() {
            self.order.retain(|h| h != hash);
        }
    }

    fn reason(&self, hash: &B256) -> Option<String> {
        self.reasons.get(hash).cloned()
    }
}

impl Node {
    /// Open the data directory; on first start run genesis with `genesis_calls`.
    pub fn open(config: NodeConfig, genesis_calls: Vec<GenesisCall>) -> Result<Self, NodeError> {
        config.validate()?;
        let sealer = config.sealer_signer()?;
        let store = Store::open(&config.data_dir)?;
        let (state, head) = match store.head()? {
            Some(head) => {
                let spec =
                    store.genesis()?.ok_or_else(|| NodeError::Invalid("store has blocks but no genesis".into()))?;
                if spec.chain_id != config.chain_id {
                    return Err(NodeError::ChainMismatch(format!(
                        "chain id {} in the store, {} configured",
                        spec.chain_id, config.chain_id
                    )));
                }
                let block =
                    store.block(head)?.ok_or_else(|| NodeError::Invalid(format!("head block {head} missing")))?;
                if block.header.sealer != sealer.address() {
                    return Err(NodeError::ChainMismatch(format!(
                        "blocks are sealed by {}, the configured sealing key is {}",
                        block.header.sealer,
                        sealer.address()
                    )));
                }
                (store.load_state()?, block)
            }
            None => {
                let spec = GenesisSpec {
                    chain_id: config.chain_id,
                    operator: config.operator_address()?,
                    sealer: sealer.address(),
                    timestamp: config.genesis_timestamp,
                    gas_limit: config.block_gas_limit,
                    calls: genesis_calls,
                };
                let (header, diff) = spec.build()?;
                let block = SealedBlock::seal(header, Vec::new(), &sealer)?;
                store.commit_block(BlockWrite {
                    block: &block,
                    transactions: Vec::new(),
                    receipts: &[],
                    diff: &diff,
                    genesis: Some(&spec),
                })?;
                let mut state = WorldState::default();
                state.apply(&diff);
                state.record_block_hash(0, block.hash);
                tracing::info!(hash = %block.hash, operator = %spec.operator, "genesis sealed");
                (state, block)
            }
        };
        let limits = Limits {
            chain_id: config.chain_id,
            max_tx_bytes: config.max_tx_bytes,
            block_gas_limit: config.sender_block_gas(),
        };
        let (blocks, _) = broadcast::channel(1024);
        let pool = Mempool::new(PoolLimits {
            max_txs: config.max_pool_txs,
            max_nonce_gap: config.max_nonce_gap,
            per_sender: config.max_pending_per_sender,
            bytes_per_sender: config.max_pending_bytes_per_sender,
            sender_block_gas: config.sender_block_gas(),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                limits,
                sealer,
                store,
                chain: RwLock::new(Chain { state, head: Arc::new(head) }),
                pool: Mutex::new(pool),
                seal_lock: Mutex::new(()),
                dev: Mutex::new(DevClock::default()),
                rejections: Mutex::new(Dropped::default()),
                blocks,
                wake: Notify::new(),
                admission: RwLock::new(None),
                reverts_refused: RwLock::new(None),
            }),
        })
    }

    /// The settings the node was opened with.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// The durable store (blocks, transactions, receipts by hash or number).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The sealing key's address.
    pub(crate) fn sealer(&self) -> Address {
        self.inner.sealer.address()
    }

    /// The latest sealed block.
    pub fn head(&self) -> Arc<SealedBlock> {
        read(&self.inner.chain).head.clone()
    }

    /// Run `f` on the committed state (hold it briefly: block application waits for it).
    pub fn with_state<R>(&self, f: impl FnOnce(&WorldState) -> R) -> R {
        f(&read(&self.inner.chain).state)
    }

    /// New sealed blocks, in order, as they are committed. Receipts and logs: `store().block_receipts(block.header.number)`.
    pub fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<SealedBlock>> {
        self.inner.blocks.subscribe()
    }

    /// The next nonce of `address`: committed, or counting contiguous pending transactions.
    pub fn nonce(&self, address: &Address, pending: bool) -> u64 {
        let chain = read(&self.inner.chain);
        let n = chain.state.nonce(address);
        if pending { lock(&self.inner.pool).pending_nonce(address, n) } else { n }
    }

    /// A transaction still waiting in the pool.
    pub(crate) fn pending_transaction(&self, hash: &B256) -> Option<Arc<PendingTx>> {
        lock(&self.inner.pool).get(hash)
    }

    /// Number of transactions in the pool.
    pub fn pool_len(&self) -> usize {
        lock(&self.inner.pool).len()
    }

    /// Decode, check, recover and admit a raw signed transaction. In automine mode the
    /// transaction is sealed into a block, durably committed, before this returns.
    pub fn submit_raw(&self, raw: &[u8]) -> Result<B256, TxRejection> {
        self.submit(self.admit_raw(raw)?)
    }

    /// [`Node::submit_raw`] of a transaction whose sender this process knows already (it
    /// signed it with `sender`'s key, or recovered `sender` from these bytes): not recovered
    /// again, see [`transaction::admit_own`]. Every other rule holds: the checks, the node's
    /// admission, the pool's.
    pub fn submit_own(&self, raw: &[u8], sender: Address) -> Result<B256, TxRejection> {
        self.submit(transaction::admit_own(raw, &self.inner.limits, sender)?)
    }

    /// Decode, check (chain id, size, gas) and recover a raw signed transaction against this
    /// node's limits, without putting it in the pool: for a front that must know the sender
    /// before it lets the transaction through (the API's gate), which then [`Node::submit`]s
    /// it, recovered once.
    pub fn admit_raw(&self, raw: &[u8]) -> Result<PendingTx, TxRejection> {
        transaction::admit(raw, &self.inner.limits)
    }

    /// Install the rule transactions must pass to enter the pool (replacing any earlier one).
    pub fn set_admission(&self, admission: Arc<dyn Admission>) {
        *write(&self.inner.admission) = Some(admission);
    }

    /// Refuse `evm_revert` from now on, saying `why`: something follows this chain (an
    /// indexer) that a revert would leave ahead of it, answering for blocks that no longer
    /// exist.
    pub fn refuse_reverts(&self, why: impl Into<String>) {
        *write(&self.inner.reverts_refused) = Some(why.into());
    }

    /// Admit an already recovered transaction (see [`transaction::admit`]).
    pub fn submit(&self, tx: PendingTx) -> Result<B256, TxRejection> {
        let hash = tx.hash;
        let admission = read(&self.inner.admission).clone();
        if let Some(rule) = admission {
            rule.admit(self, &tx).map_err(|reason| {
                tracing::info!(%hash, sender = %tx.sender, %reason, "transaction not admitted");
                TxRejection::NotPermitted(reason)
            })?;
        }
        {
            let chain = read(&self.inner.chain);
            if self.inner.store.position(&hash).ok().flatten().is_some() {
                return Err(TxRejection::AlreadyKnown);
            }
            let state_nonce = chain.state.nonce(&tx.sender);
            lock(&self.inner.pool).insert(Arc::new(tx), state_nonce)?;
            // Dropped once and sent again (the same bytes): its earlier fate is no answer now.
            lock(&self.inner.rejections).forget(&hash);
        }
        if self.inner.config.automine() {
            while lock(&self.inner.pool).contains(&hash) {
                match self.seal_next(false, None) {
                    Ok(Some(outcome)) => {
                        if let Some((_, reason)) = outcome.rejected.iter().find(|(h, _)| *h == hash) {
                            return Err(TxRejection::Invalid(reason.clone()));
                        }
                    }
                    Ok(None) => break, // waiting for an earlier nonce
                    Err(e) => {
                        tracing::error!(error = %e, "sealing failed");
                        return Err(TxRejection::Invalid(format!("block could not be sealed: {e}")));
                    }
                }
            }
            if let Some(reason) = lock(&self.inner.rejections).reason(&hash) {
                return Err(TxRejection::Invalid(reason));
            }
        } else if self.inner.config.batch_window_ms > 0
            || lock(&self.inner.pool).len() >= self.inner.config.max_block_txs
        {
            // The producer seals this one with whatever else arrives within the batch window
            // (a permit is kept if it is sealing now: it comes back at once for the rest).
            self.inner.wake.notify_one();
        }
        Ok(hash)
    }

    pub(crate) async fn wait_for_work(&self) {
        self.inner.wake.notified().await;
    }

    fn next_timestamp(&self, parent: u64, explicit: Option<u64>) -> u64 {
        let dev = lock(&self.inner.dev);
        let ts = explicit.or(dev.next_timestamp).unwrap_or_else(|| unix_now().saturating_add(dev.offset));
        ts.max(parent)
    }

    /// Block parameters the next block would have (also used for eth_call).
    pub fn next_block_params(&self) -> BlockParams {
        let head = self.head();
        BlockParams {
            chain_id: self.inner.config.chain_id,
            number: head.header.number + 1,
            timestamp: self.next_timestamp(head.header.timestamp, None),
            gas_limit: self.inner.config.block_gas_limit,
            beneficiary: self.sealer(),
        }
    }

    /// Seal the next block from the pool. Returns `None` if there was nothing to seal (unless
    /// `force`, which seals an empty block). `timestamp` overrides the block time (dev).
    pub fn seal_next(&self, force: bool, timestamp: Option<u64>) -> Result<Option<SealOutcome>, NodeError> {
        let _sealing = lock(&self.inner.seal_lock);
        let max = if self.inner.config.automine() { 1 } else { self.inner.config.max_block_txs };
        let backlog;
        let (block, executed) = {
            let chain = read(&self.inner.chain);
            let (candidates, left) = lock(&self.inner.pool).select(max, |a| chain.state.nonce(a));
            if candidates.is_empty() && !force {
                return Ok(None);
            }
            let parent = &chain.head;
            let params = BlockParams {
                chain_id: self.inner.config.chain_id,
                number: parent.header.number + 1,
                timestamp: self.next_timestamp(parent.header.timestamp, timestamp),
                gas_limit: self.inner.config.block_gas_limit,
                beneficiary: self.sealer(),
            };
            let span = tracing::info_span!("block", number = params.number, candidates = candidates.len());
            let _enter = span.enter();
            let executed = executor::execute_block(&chain.state, &params, &candidates);
            // Left out for the block's gas (with their senders' later ones), or left in the pool.
            backlog = left || executed.included.len() + executed.rejected.len() < candidates.len();
            if executed.included.is_empty() && !force {
                drop(chain);
                self.forget_rejected(&executed);
                return Ok(None);
            }
            let header = header_for(&parent.header, parent.hash, &params, &executed);
            let hashes = executed.included.iter().map(|t| t.hash).collect();
            (SealedBlock::seal(header, hashes, &self.inner.sealer)?, executed)
        };
        self.inner.store.commit_block(BlockWrite {
            block: &block,
            transactions: executed.included.iter().map(|t| (t.hash, &t.raw)).collect(),
            receipts: &executed.receipts,
            diff: &executed.diff,
            genesis: None,
        })?;
        let block = Arc::new(block);
        {
            let mut chain = write(&self.inner.chain);
            chain.state.apply(&executed.diff);
            chain.state.record_block_hash(block.header.number, block.hash);
            chain.head = block.clone();
        }
        lock(&self.inner.dev).next_timestamp = None;
        self.forget_rejected(&executed);
        {
            let chain = read(&self.inner.chain);
            let mut pool = lock(&self.inner.pool);
            pool.remove(executed.included.iter().map(|t| t.hash));
            pool.prune(|a| chain.state.nonce(a));
        }
        tracing::debug!(number = block.header.number, txs = block.transactions.len(), hash = %block.hash, "block sealed");
        let _ = self.inner.blocks.send(block.clone());
        Ok(Some(SealOutcome { block, rejected: executed.rejected, backlog }))
    }

    /// Why `hash` was dropped when a block was built (invalid in the state it met), if it
    /// was among the last 4,096 dropped and is not back in the pool: a receipt will never
    /// come, and whoever waits for one can stop.
    pub fn dropped(&self, hash: &B256) -> Option<String> {
        // Most who ask wait for a pooled transaction: answered without the other lock.
        if lock(&self.inner.pool).contains(hash) {
            return None;
        }
        lock(&self.inner.rejections).reason(hash)
    }

    fn forget_rejected(&self, executed: &ExecutedBlock) {
        if executed.rejected.is_empty() {
            return;
        }
        for (hash, reason) in &executed.rejected {
            tracing::warn!(%hash, %reason, "transaction dropped");
        }
        lock(&self.inner.pool).remove(executed.rejected.iter().map(|(h, _)| *h));
        let mut recent = lock(&self.inner.rejections);
        for (hash, reason) in &executed.rejected {
            recent.record(*hash, reason.clone());
        }
    }

    /// eth_call against the latest state.
    pub fn call(&self, req: &CallRequest) -> Result<CallOutcome, String> {
        let params = self.next_block_params();
        executor::call(&read(&self.inner.chain).state, &params, req)
    }

    /// eth_estimateGas against the latest state.
    pub(crate) fn estimate_gas(&self, req: &CallRequest) -> Result<Result<u64, CallOutcome>, String> {
        let params = self.next_block_params();
        executor::estimate_gas(&read(&self.inner.chain).state, &params, req)
    }

    // ---- dev mode ----

    fn dev_only(&self) -> Result<(), NodeError> {
        if self.inner.config.dev {
            Ok(())
        } else {
            Err(NodeError::Invalid("method not available outside dev mode".into()))
        }
    }

    /// Move the clock forward by `seconds`; returns the total offset.
    pub fn increase_time(&self, seconds: u64) -> Result<u64, NodeError> {
        self.dev_only()?;
        let mut dev = lock(&self.inner.dev);
        dev.offset = dev.offset.saturating_add(seconds);
        Ok(dev.offset)
    }

    /// Fix the next block's timestamp (not before the head's).
    pub(crate) fn set_next_timestamp(&self, timestamp: u64) -> Result<(), NodeError> {
        self.dev_only()?;
        let head = self.head().header.timestamp;
        if timestamp < head {
            return Err(NodeError::Invalid(format!("timestamp {timestamp} is before the latest block's {head}")));
        }
        let mut dev = lock(&self.inner.dev);
        // Later blocks keep following the clock from this point on.
        dev.offset = dev.offset.max(timestamp.saturating_sub(unix_now()));
        dev.next_timestamp = Some(timestamp);
        Ok(())
    }

    /// Seal a block now, even if empty (evm_mine).
    pub fn mine(&self, timestamp: Option<u64>) -> Result<Arc<SealedBlock>, NodeError> {
        self.dev_only()?;
        match self.seal_next(true, timestamp)? {
            Some(o) => Ok(o.block),
            None => Ok(self.head()),
        }
    }

    /// Remember the current head; returns the snapshot id.
    pub(crate) fn snapshot(&self) -> Result<u64, NodeError> {
        self.dev_only()?;
        let head = self.head().header.number;
        let mut dev = lock(&self.inner.dev);
        dev.next_snapshot += 1;
        let id = dev.next_snapshot;
        dev.snapshots.push((id, head));
        Ok(id)
    }

    /// Go back to a snapshot: later blocks are deleted, the state rebuilt by replay, the pool
    /// emptied. The snapshot and later ones are used up. `false` if the id is unknown.
    pub(crate) fn revert(&self, id: u64) -> Result<bool, NodeError> {
        self.dev_only()?;
        if let Some(why) = read(&self.inner.reverts_refused).clone() {
            return Err(NodeError::Invalid(format!("evm_revert refused: {why}")));
        }
        let target = {
            let mut dev = lock(&self.inner.dev);
            let Some(pos) = dev.snapshots.iter().position(|(i, _)| *i == id) else { return Ok(false) };
            let target = dev.snapshots[pos].1;
            dev.snapshots.truncate(pos);
            target
        };
        let _sealing = lock(&self.inner.seal_lock);
        let state =
            crate::verify::replay_state(&self.inner.store, target).map_err(|e| NodeError::Replay(e.to_string()))?;
        self.inner.store.truncate(target, &state)?;
        let head =
            self.inner.store.block(target)?.ok_or_else(|| NodeError::Invalid(format!("block {target} missing")))?;
        let mut chain = write(&self.inner.chain);
        chain.state = state;
        chain.head = Arc::new(head);
        lock(&self.inner.pool).clear();
        Ok(true)
    }

    /// Raw transaction bytes and the stored receipt, for a sealed transaction.
    pub(crate) fn sealed_transaction(&self, hash: &B256) -> Result<Option<(Bytes, StoredReceipt)>, StoreError> {
        let Some(raw) = self.inner.store.transaction(hash)? else { return Ok(None) };
        Ok(self.inner.store.receipt(hash)?.map(|r| (raw, r)))
    }
}

#[cfg(test)]
mod tests {
    use super::Dropped;
    use alloy::primitives::B256;

    #[test]
    fn the_dropped_are_kept_up_to_their_limit_and_forgotten_when_sent_again() {
        let mut d = Dropped::default();
        let hash = |i: usize| B256::left_padding_from(&(i as u64).to_be_bytes());
        for i in 0..Dropped::KEPT {
            d.record(hash(i), format!("reason {i}"));
        }
        assert_eq!(d.reason(&hash(0)).as_deref(), Some("reason 0"), "the first of KEPT still known");
        d.record(hash(Dropped::KEPT), "one more".into());
        assert_eq!(d.reason(&hash(0)), None, "the oldest goes when one more comes");
        assert_eq!(d.reason(&hash(1)).as_deref(), Some("reason 1"));
        // Sent again after it was dropped: its old fate is no answer any more.
        d.forget(&hash(1));
        assert_eq!(d.reason(&hash(1)), None);
        assert_eq!(d.order.len(), Dropped::KEPT - 1);
        assert_eq!(d.reasons.len(), Dropped::KEPT - 1);
    }
}
