//! Genesis: block 0, deterministic from the chain id, operator, sealer, timestamp, gas limit and
//! a list of [`GenesisCall`]s (the contract suite's deployment plan) executed as the operator
//! from nonce 0 upward, without signatures and at gas price 0.
//!
//! The spec is stored with block 0 so `verify` replays it without any settings. Block 0's
//! `transactions_root` is `GenesisSpec::digest`, so the genesis block hash covers the spec.
//! Genesis calls produce no receipts.

use alloy::primitives::{Address, B256, Bytes, TxKind, keccak256};
use revm::context::TxEnv;
use revm::context::result::ExecutionResult;
use serde::{Deserialize, Serialize};

use crate::block::Header;
use crate::executor::{BlockParams, execute_system};
use crate::state::{Overlay, StateDiff, WorldState};

/// One genesis step: create (`to = None`) or call a contract as the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisCall {
    /// The contract called; `None` creates one at the operator's next CREATE address.
    pub to: Option<Address>,
    /// Calldata, or for a creation the init code with its constructor arguments.
    pub input: Bytes,
}

/// Everything block 0 is made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisSpec {
    /// EIP-155 chain id of the network.
    pub chain_id: u64,
    /// Who the genesis calls run as, from nonce 0.
    pub operator: Address,
    /// The only key allowed to seal this chain's blocks.
    pub sealer: Address,
    /// Block 0's timestamp, unix seconds.
    pub timestamp: u64,
    /// Block gas limit, also each genesis call's gas limit.
    pub gas_limit: u64,
    /// The deployment plan, executed in order.
    pub calls: Vec<GenesisCall>,
}

/// A genesis call failed; the node refuses to start.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("genesis call {index} failed: {reason}")]
pub struct GenesisError {
    /// Position of the failing call in the plan (0-based, = the operator's nonce).
    pub index: usize,
    /// Revert data, halt reason or EVM error, as text.
    pub reason: String,
}

impl GenesisSpec {
    /// keccak256 over the spec's canonical encoding.
    pub(crate) fn digest(&self) -> B256 {
        let mut b = Vec::new();
        b.extend_from_slice(b"tradechain/genesis/v1");
        b.extend_from_slice(&self.chain_id.to_be_bytes());
        b.extend_from_slice(self.operator.as_slice());
        b.extend_from_slice(self.sealer.as_slice());
        b.extend_from_slice(&self.timestamp.to_be_bytes());
        b.extend_from_slice(&self.gas_limit.to_be_bytes());
        for call in &self.calls {
            match call.to {
                Some(to) => {
                    b.push(1);
                    b.extend_from_slice(to.as_slice());
                }
                None => b.push(0),
            }
            b.extend_from_slice(&(call.input.len() as u64).to_be_bytes());
            b.extend_from_slice(&call.input);
        }
        keccak256(b)
    }

    /// Execute the genesis calls on an empty state: block 0's header (unsigned) and state diff.
    pub(crate) fn build(&self) -> Result<(Header, StateDiff), GenesisError> {
        let empty = WorldState::default();
        let mut overlay = Overlay::new(&empty);
        let params = BlockParams {
            chain_id: self.chain_id,
            number: 0,
            timestamp: self.timestamp,
            gas_limit: self.gas_limit,
            beneficiary: self.sealer,
        };
        for (index, call) in self.calls.iter().enumerate() {
            let tx = TxEnv {
                caller: self.operator,
                gas_limit: self.gas_limit,
                gas_price: 0,
                kind: call.to.map_or(TxKind::Create, TxKind::Call),
                data: call.input.clone(),
                nonce: index as u64,
                chain_id: Some(self.chain_id),
                ..Default::default()
            };
            match execute_system(&mut overlay, &params, tx) {
                Ok(ExecutionResult::Success { .. }) => {}
                Ok(ExecutionResult::Revert { output, .. }) => {
                    return Err(GenesisError { index, reason: format!("reverted with 0x{}", hex::encode(output)) });
                }
                Ok(ExecutionResult::Halt { reason, .. }) => {
                    return Err(GenesisError { index, reason: format!("halted: {reason:?}") });
                }
                Err(reason) => return Err(GenesisError { index, reason }),
            }
        }
        let diff = overlay.diff;
        let header = Header {
            parent_hash: B256::ZERO,
            number: 0,
            timestamp: self.timestamp,
            gas_limit: self.gas_limit,
            gas_used: 0,
            state_root: diff.chained_root(B256::ZERO),
            transactions_root: self.digest(),
            receipts_root: alloy::consensus::constants::EMPTY_ROOT_HASH,
            logs_bloom: Default::default(),
            sealer: self.sealer,
            chain_id: self.chain_id,
        };
        Ok((header, diff))
    }
}
