//! `verify`: replay a data directory from genesis in a fresh state and check every block's hash,
//! signature, parent link, transactions root, receipts (stored and root), logs bloom, gas used
//! and state root, then compare the final replayed state with the stored state. The first block
//! that does not match is named.

use std::path::Path;
use std::sync::Arc;

use alloy::primitives::{B256, keccak256};

use crate::block::{Header, SealedBlock, header_for};
use crate::executor::{BlockParams, execute_block};
use crate::state::WorldState;
use crate::store::{Store, StoreError};
use crate::transaction::{Limits, PendingTx, admit};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Number of blocks checked, genesis included.
    pub blocks: u64,
    /// Number of transactions replayed (genesis calls not counted).
    pub transactions: u64,
    /// Hash of the last block checked.
    pub head_hash: B256,
    /// State root of the last block checked, as recomputed.
    pub state_root: B256,
}

/// Why verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The directory holds no chain (no `chain.redb`, or no head).
    #[error("no chain found in {0}")]
    Empty(String),
    /// The store could not be opened or read (e.g. a running node holds its lock).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The first block whose records or replay disagree.
    #[error("block {block} does not match: {what}")]
    Block {
        /// Its number.
        block: u64,
        /// What differs.
        what: String,
    },
    /// Every block matched, but the stored state is not the replayed one.
    #[error("final state does not match the replayed state: {0}")]
    FinalState(String),
}

impl VerifyError {
    /// The first block that did not match, if the failure is about one.
    pub fn block(&self) -> Option<u64> {
        match self {
            Self::Block { block, .. } => Some(*block),
            _ => None,
        }
    }
}

/// Verify the chain in `data_dir` (the node must not be running: redb locks the file).
pub fn verify(data_dir: &Path) -> Result<VerifyReport, VerifyError> {
    let path = data_dir.join("chain.redb");
    if !path.exists() {
        return Err(VerifyError::Empty(path.display().to_string()));
    }
    let store = Store::open(data_dir)?;
    let (state, report) = replay(&store, None)?;
    let stored = store.load_state().map_err(|e| VerifyError::FinalState(e.to_string()))?;
    if stored != state {
        return Err(VerifyError::FinalState(describe_state_difference(&state, &stored)));
    }
    Ok(report)
}

/// Rebuild the state as of block `upto` by replaying (used by dev-mode revert).
pub(crate) fn replay_state(store: &Store, upto: u64) -> Result<WorldState, VerifyError> {
    Ok(replay(store, Some(upto))?.0)
}

fn mismatch(block: u64, what: impl Into<String>) -> VerifyError {
    VerifyError::Block { block, what: what.into() }
}

fn load_block(store: &Store, n: u64) -> Result<SealedBlock, VerifyError> {
    match store.block(n) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(mismatch(n, "block record missing")),
        Err(e) => Err(mismatch(n, format!("block record unreadable: {e}"))),
    }
}

/// Replay genesis and blocks 1..=upto (default: head), checking each block.
fn replay(store: &Store, upto: Option<u64>) -> Result<(WorldState, VerifyReport), VerifyError> {
    let head = store.head()?.ok_or_else(|| VerifyError::Empty("store has no head".into()))?;
    let last = upto.unwrap_or(head).min(head);
    let spec = store.genesis().map_err(|e| mismatch(0, format!("genesis record unreadable: {e}")))?;
    let spec = spec.ok_or_else(|| mismatch(0, "genesis record missing"))?;
    let (genesis_header, diff) = spec.build().map_err(|e| mismatch(0, e.to_string()))?;
    let stored = load_block(store, 0)?;
    stored.check_seal().map_err(|e| mismatch(0, e.to_string()))?;
    check_hash_index(store, 0, &stored.hash)?;
    if let Some(field) = first_difference(&genesis_header, &stored.header) {
        return Err(mismatch(0, format!("{field} differs from the replayed genesis")));
    }
    if !stored.transactions.is_empty() {
        return Err(mismatch(0, "genesis block lists transactions"));
    }
    let mut state = WorldState::default();
    state.apply(&diff);
    state.record_block_hash(0, stored.hash);
    let mut parent = stored;
    let mut transactions = 0u64;
    for n in 1..=last {
        let block = load_block(store, n)?;
        check_block(store, &spec, &mut state, &parent, &block)?;
        transactions += block.transactions.len() as u64;
        parent = block;
    }
    let report =
        VerifyReport { blocks: last + 1, transactions, head_hash: parent.hash, state_root: parent.header.state_root };
    Ok((state, report))
}

fn check_block(
    store: &Store,
    spec: &crate::genesis::GenesisSpec,
    state: &mut WorldState,
    parent: &SealedBlock,
    block: &SealedBlock,
) -> Result<(), VerifyError> {
    let n = parent.header.number + 1;
    let h = &block.header;
    if h.number != n {
        return Err(mismatch(n, format!("header says number {}", h.number)));
    }
    if h.parent_hash != parent.hash {
        return Err(mismatch(n, "parent hash does not link to the previous block"));
    }
    block.check_seal().map_err(|e| mismatch(n, e.to_string()))?;
    check_hash_index(store, n, &block.hash)?;
    if h.sealer != spec.sealer {
        return Err(mismatch(n, format!("sealed by {}, the chain's sealer is {}", h.sealer, spec.sealer)));
    }
    if h.chain_id != spec.chain_id {
        return Err(mismatch(n, "chain id differs"));
    }
    if h.timestamp < parent.header.timestamp {
        return Err(mismatch(n, "timestamp goes backwards"));
    }
    let limits = Limits { chain_id: spec.chain_id, max_tx_bytes: usize::MAX, block_gas_limit: h.gas_limit };
    let raws = store.block_transactions(n).map_err(|e| mismatch(n, format!("transactions unreadable: {e}")))?;
    if raws.len() != block.transactions.len() {
        return Err(mismatch(
            n,
            format!("{} transactions stored, the block lists {}", raws.len(), block.transactions.len()),
        ));
    }
    let mut txs = Vec::with_capacity(raws.len());
    for (i, (hash, raw)) in block.transactions.iter().zip(raws).enumerate() {
        if keccak256(&raw) != *hash {
            return Err(mismatch(n, format!("transaction {i} ({hash}): stored bytes do not hash to it")));
        }
        match store.position(hash) {
            Ok(Some(pos)) if pos == crate::store::position(n, i as u32) => {}
            _ => return Err(mismatch(n, format!("transaction {i} ({hash}): hash index does not point to it"))),
        }
        let tx: PendingTx = admit(&raw, &limits).map_err(|e| mismatch(n, format!("transaction {i}: {e}")))?;
        txs.push(Arc::new(tx));
    }
    let params = BlockParams {
        chain_id: spec.chain_id,
        number: n,
        timestamp: h.timestamp,
        gas_limit: h.gas_limit,
        beneficiary: h.sealer,
    };
    let executed = execute_block(state, &params, &txs);
    if let Some((hash, reason)) = executed.rejected.first() {
        return Err(mismatch(n, format!("transaction {hash} is invalid on replay: {reason}")));
    }
    if executed.included.len() != txs.len() {
        return Err(mismatch(n, "transactions exceed the block gas limit on replay"));
    }
    let replayed = header_for(&parent.header, parent.hash, &params, &executed);
    if let Some(field) = first_difference(&replayed, h) {
        return Err(mismatch(n, format!("{field} differs from the replayed block")));
    }
    let stored = store.block_receipts(n).map_err(|e| mismatch(n, format!("receipt unreadable: {e}")))?;
    if stored.len() != executed.receipts.len() {
        return Err(mismatch(n, format!("{} receipts stored, {} replayed", stored.len(), executed.receipts.len())));
    }
    for (i, (mine, theirs)) in executed.receipts.iter().zip(stored).enumerate() {
        if theirs != *mine {
            return Err(mismatch(n, format!("stored receipt of transaction {i} ({}) differs", mine.tx_hash)));
        }
    }
    state.apply(&executed.diff);
    state.record_block_hash(n, block.hash);
    Ok(())
}

fn check_hash_index(store: &Store, n: u64, hash: &B256) -> Result<(), VerifyError> {
    match store.block_number(hash) {
        Ok(Some(m)) if m == n => Ok(()),
        _ => Err(mismatch(n, "block hash index does not point to this block")),
    }
}

fn first_difference(a: &Header, b: &Header) -> Option<&'static str> {
    let checks: [(&'static str, bool); 11] = [
        ("parent hash", a.parent_hash == b.parent_hash),
        ("number", a.number == b.number),
        ("timestamp", a.timestamp == b.timestamp),
        ("gas limit", a.gas_limit == b.gas_limit),
        ("gas used", a.gas_used == b.gas_used),
        ("state root", a.state_root == b.state_root),
        ("transactions root", a.transactions_root == b.transactions_root),
        ("receipts root", a.receipts_root == b.receipts_root),
        ("logs bloom", a.logs_bloom == b.logs_bloom),
        ("sealer", a.sealer == b.sealer),
        ("chain id", a.chain_id == b.chain_id),
    ];
    checks.iter().find(|(_, same)| !same).map(|(name, _)| *name)
}

fn describe_state_difference(replayed: &WorldState, stored: &WorldState) -> String {
    for (a, acc) in &replayed.accounts {
        if stored.accounts.get(a) != Some(acc) {
            return format!("account {a} differs");
        }
    }
    for a in stored.accounts.keys() {
        if !replayed.accounts.contains_key(a) {
            return format!("stored account {a} does not exist after replay");
        }
    }
    for (a, slots) in &replayed.storage {
        for (k, v) in slots {
            if stored.storage_at(a, k) != *v {
                return format!("storage slot {k} of {a} differs");
            }
        }
    }
    for (a, slots) in &stored.storage {
        for (k, v) in slots {
            if replayed.storage_at(a, k) != *v {
                return format!("stored storage slot {k} of {a} differs");
            }
        }
    }
    "code differs".into()
}
