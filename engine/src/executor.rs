//! revm execution: whole blocks against an overlay of the committed state, and read-only
//! calls (eth_call / eth_estimateGas).
//!
//! Every block environment field is set explicitly (number, timestamp, gas limit, basefee 0,
//! beneficiary = sealer). Gas price is 0 for every transaction, so accounts need no balance;
//! nonce checks, the block gas limit and the EIP-170 contract size limit stay on. The per-tx gas
//! cap (EIP-7825) is raised to the block gas limit.

use std::collections::HashSet;
use std::sync::Arc;

use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use revm::context::result::{EVMError, ExecutionResult, HaltReason, InvalidTransaction, Output};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::{ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use crate::receipt::StoredReceipt;
use crate::state::{Overlay, StateDiff, WorldState};
use crate::transaction::PendingTx;

/// The block a transaction executes in.
#[derive(Debug, Clone, Copy)]
pub struct BlockParams {
    /// EIP-155 chain id (the CHAINID opcode; transactions must match it).
    pub chain_id: u64,
    /// Height of the block (the NUMBER opcode).
    pub number: u64,
    /// Block time in unix seconds (the TIMESTAMP opcode): the clock for payment terms.
    pub timestamp: u64,
    /// Block gas limit; also the per-transaction gas cap.
    pub gas_limit: u64,
    /// The sealer's address (the COINBASE opcode).
    pub beneficiary: Address,
}

fn cfg(p: &BlockParams) -> CfgEnv {
    let mut cfg = CfgEnv::default();
    cfg.chain_id = p.chain_id;
    cfg.tx_gas_limit_cap = Some(p.gas_limit);
    cfg
}

fn block_env(p: &BlockParams) -> BlockEnv {
    BlockEnv {
        number: U256::from(p.number),
        timestamp: U256::from(p.timestamp),
        gas_limit: p.gas_limit,
        basefee: 0,
        beneficiary: p.beneficiary,
        difficulty: U256::ZERO,
        prevrandao: Some(B256::ZERO),
        ..Default::default()
    }
}

/// The outcome of executing a block's candidate transactions.
#[derive(Debug, Default)]
pub struct ExecutedBlock {
    /// Transactions that made it into the block, with their receipts (same order).
    pub included: Vec<Arc<PendingTx>>,
    /// One receipt per included transaction, reverted ones too.
    pub receipts: Vec<StoredReceipt>,
    /// Transactions that are invalid in this state (e.g. wrong nonce); they are dropped.
    pub rejected: Vec<(B256, String)>,
    /// Gas the included transactions used together.
    pub gas_used: u64,
    /// The block's state changes, not yet applied to the base state.
    pub diff: StateDiff,
}

/// Execute `candidates` in order on top of `base`. A transaction that does not fit in the
/// remaining block gas stays out (not rejected), and so do its sender's later ones: run
/// without it, the next would find a nonce gap and be rejected, dropped from the pool with
/// its sender waiting for a receipt that never comes. An invalid one is rejected.
pub fn execute_block(base: &WorldState, params: &BlockParams, candidates: &[Arc<PendingTx>]) -> ExecutedBlock {
    let mut overlay = Overlay::new(base);
    let mut out = ExecutedBlock::default();
    {
        let mut evm = Context::mainnet()
            .with_db(&mut overlay)
            .with_cfg(cfg(params))
            .with_block(block_env(params))
            .build_mainnet();
        let mut log_index = 0u64;
        let mut deferred: HashSet<Address> = HashSet::new();
        for tx in candidates {
            if deferred.contains(&tx.sender) {
                continue;
            }
            if out.gas_used.saturating_add(tx.gas_limit()) > params.gas_limit {
                deferred.insert(tx.sender);
                continue;
            }
            match evm.transact_commit(tx.tx_env()) {
                Ok(result) => {
                    let gas = result.tx_gas_used();
                    out.gas_used += gas;
                    let index = out.receipts.len() as u32;
                    let receipt = receipt_of(tx, result, params.number, index, out.gas_used, log_index);
                    log_index += receipt.logs.len() as u64;
                    out.receipts.push(receipt);
                    out.included.push(tx.clone());
                }
                Err(e) => out.rejected.push((tx.hash, describe_error(&e))),
            }
        }
    }
    out.diff = overlay.diff;
    out
}

fn receipt_of(
    tx: &PendingTx,
    result: ExecutionResult<HaltReason>,
    block: u64,
    index: u32,
    cumulative: u64,
    first_log_index: u64,
) -> StoredReceipt {
    let gas_used = result.tx_gas_used();
    let (success, contract_address, logs) = match result {
        ExecutionResult::Success { output, logs, .. } => {
            let created = match output {
                Output::Create(_, addr) => addr,
                Output::Call(_) => None,
            };
            (true, created, logs)
        }
        ExecutionResult::Revert { .. } | ExecutionResult::Halt { .. } => (false, None, Vec::new()),
    };
    StoredReceipt {
        tx_hash: tx.hash,
        block_number: block,
        index,
        from: tx.sender,
        to: tx.to(),
        tx_type: tx.tx_type(),
        success,
        gas_used,
        cumulative_gas_used: cumulative,
        contract_address,
        first_log_index,
        logs,
    }
}

fn describe_error<DB: std::fmt::Debug>(e: &EVMError<DB, InvalidTransaction>) -> String {
    match e {
        EVMError::Transaction(t) => t.to_string(),
        other => format!("{other:?}"),
    }
}

/// Execute one system transaction (genesis) and keep its changes in `overlay`.
pub(crate) fn execute_system(
    overlay: &mut Overlay<'_>,
    params: &BlockParams,
    tx: TxEnv,
) -> Result<ExecutionResult<HaltReason>, String> {
    let mut evm =
        Context::mainnet().with_db(overlay).with_cfg(cfg(params)).with_block(block_env(params)).build_mainnet();
    evm.transact_commit(tx).map_err(|e| describe_error(&e))
}

/// A read-only call request (eth_call / eth_estimateGas).
#[derive(Debug, Clone, Default)]
pub struct CallRequest {
    /// The caller (`msg.sender`); needs no balance or key.
    pub from: Address,
    /// The called contract; `None` simulates a creation with `input` as init code.
    pub to: Option<Address>,
    /// Gas limit, capped at the block gas limit; `None` means the block gas limit.
    pub gas: Option<u64>,
    /// Wei sent with the call.
    pub value: U256,
    /// Calldata.
    pub input: Bytes,
}

/// What a read-only call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// The call returned normally.
    Success {
        /// Return data (for a creation, the deployed code).
        output: Bytes,
        /// Gas the call used.
        gas_used: u64,
    },
    /// The call reverted; a contract's custom error is decoded from `data`.
    Revert {
        /// Revert data: a custom error, `Error(string)`, a panic, or empty.
        data: Bytes,
        /// Gas the call used.
        gas_used: u64,
    },
    /// The EVM stopped the call (out of gas, invalid opcode, stack overflow, ...).
    Halt {
        /// revm's halt reason, as debug text.
        reason: String,
        /// Gas the call used.
        gas_used: u64,
    },
}

/// Execute a call against `base` without keeping any change. Nonce checks are off for calls.
pub(crate) fn call(base: &WorldState, params: &BlockParams, req: &CallRequest) -> Result<CallOutcome, String> {
    let mut overlay = Overlay::new(base);
    let mut cfg = cfg(params);
    cfg.disable_nonce_check = true;
    let mut evm = Context::mainnet().with_db(&mut overlay).with_cfg(cfg).with_block(block_env(params)).build_mainnet();
    let tx = TxEnv {
        caller: req.from,
        gas_limit: req.gas.unwrap_or(params.gas_limit).min(params.gas_limit),
        gas_price: 0,
        kind: req.to.map_or(TxKind::Create, TxKind::Call),
        value: req.value,
        data: req.input.clone(),
        chain_id: Some(params.chain_id),
        ..Default::default()
    };
    let result = evm.transact(tx).map_err(|e| describe_error(&e))?.result;
    let gas_used = result.tx_gas_used();
    Ok(match result {
        ExecutionResult::Success { output, .. } => CallOutcome::Success { output: output.into_data(), gas_used },
        ExecutionResult::Revert { output, .. } => CallOutcome::Revert { data: output, gas_used },
        ExecutionResult::Halt { reason, .. } => CallOutcome::Halt { reason: format!("{reason:?}"), gas_used },
    })
}

/// A gas limit with which the call is proven to succeed: its gas used plus a margin when
/// that works (one run), else the smallest by binary search; or the failing outcome.
pub(crate) fn estimate_gas(
    base: &WorldState,
    params: &BlockParams,
    req: &CallRequest,
) -> Result<Result<u64, CallOutcome>, String> {
    let cap = req.gas.unwrap_or(params.gas_limit).min(params.gas_limit);
    let mut probe = req.clone();
    probe.gas = Some(cap);
    let used = match call(base, params, &probe)? {
        CallOutcome::Success { gas_used, .. } => gas_used,
        failed => return Ok(Err(failed)),
    };
    let succeeds = |gas: u64| -> Result<bool, String> {
        let mut r = req.clone();
        r.gas = Some(gas);
        Ok(matches!(call(base, params, &r)?, CallOutcome::Success { .. }))
    };
    // Most calls succeed with a margin over the gas they used (an eighth, for the 63/64 of
    // EIP-150 at each nested call and state that moves before inclusion, plus the 2,300
    // stipend): proven by one run at that limit, it is the answer. Bisecting on from there
    // to a tighter limit cost five more runs of the whole call for every transaction a
    // member sends (a batch of 100 confirmations: five more runs of 100), and a tighter
    // limit only leaves less room when the state moves. Only a call that needs more is
    // bisected.
    let mut lo = used.saturating_sub(1).max(20_999);
    let mut hi = cap;
    let guess = (used + used / 8 + 2_300).min(cap);
    if succeeds(guess)? {
        return Ok(Ok(guess));
    }
    lo = lo.max(guess);
    while hi - lo > 1_000.max(hi / 200) {
        let mid = lo + (hi - lo) / 2;
        if succeeds(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(Ok(hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Limits, admit};
    use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy::eips::eip2718::Encodable2718;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    const CHAIN: u64 = 7431;

    /// A transfer of nothing (21,000 gas used, whatever the limit) at gas price 0.
    fn transfer(key: &PrivateKeySigner, nonce: u64, gas_limit: u64) -> Arc<PendingTx> {
        let tx = TxEip1559 {
            chain_id: CHAIN,
            nonce,
            gas_limit,
            to: TxKind::Call(Address::repeat_byte(9)),
            ..Default::default()
        };
        let sig = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
        let raw = TxEnvelope::from(tx.into_signed(sig)).encoded_2718();
        let limits = Limits { chain_id: CHAIN, max_tx_bytes: 4096, block_gas_limit: 100_000 };
        Arc::new(admit(&raw, &limits).expect("admitted"))
    }

    /// Other senders have used most of the block when a sender's transaction asks for more
    /// gas than is left; its next one asks for less. Run in its place, that one would find a
    /// nonce gap and be dropped from the pool, its sender never getting a receipt (a REST
    /// write waited out the full receipt timeout). Both wait for the next block instead.
    #[test]
    fn a_transaction_left_out_for_gas_keeps_its_senders_later_ones_for_the_next_block() {
        let (other, sender) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let params =
            BlockParams { chain_id: CHAIN, number: 1, timestamp: 1, gas_limit: 100_000, beneficiary: Address::ZERO };
        let candidates = [
            transfer(&other, 0, 50_000),  // uses 21,000: 79,000 left
            transfer(&sender, 0, 90_000), // does not fit
            transfer(&sender, 1, 30_000), // would fit, but nonce 0 is not in
        ];
        let executed = execute_block(&WorldState::default(), &params, &candidates);
        assert_eq!(executed.rejected, Vec::new(), "nothing dropped");
        let included: Vec<B256> = executed.included.iter().map(|t| t.hash).collect();
        assert_eq!(included, vec![candidates[0].hash]);
        // On the boundary: a limit that fits exactly what is left goes in, the sender's next too.
        let candidates = [transfer(&other, 0, 50_000), transfer(&sender, 0, 79_000), transfer(&sender, 1, 21_000)];
        let executed = execute_block(&WorldState::default(), &params, &candidates);
        assert_eq!(executed.rejected, Vec::new());
        assert_eq!(executed.included.len(), 3, "79,000 fits in 79,000, then 21,000 in 21,000");
    }
}
