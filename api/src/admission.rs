//! Who may write to the embedded chain: the rule the platform installs in the engine's pool
//! ([`tradechain_engine::Admission`]). A transaction enters only from an account the
//! Consortium contract lists as an active organisation, or from the operator; a contract is
//! created by the operator only (the suite is deployed at genesis; a member's own contract
//! is how an infinite loop fills a block); and a member's calldata is bounded (the suite's
//! calls are a few KiB), so gas being free does not make the disk free. The engine's
//! per-sender limits (pending transactions and bytes, gas per block) apply on top.
//!
//! On a remote network the same rule is the network's account permissioning (Besu's or
//! GoQuorum's permissioning contracts or allowlists, docs/privacy.md); the contracts refuse
//! a non-member's call anyway.

use alloy::consensus::Transaction as _;
use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use tradechain_contracts::{Consents, Consortium, role};
use tradechain_engine::Node;
use tradechain_engine::executor::{CallOutcome, CallRequest};
use tradechain_engine::transaction::PendingTx;

/// Members only (see the module doc).
#[derive(Debug, Clone)]
pub(crate) struct MembersOnly {
    pub(crate) consortium: Address,
    /// A suspended organisation may still withdraw its consents (`Consents.revoke`):
    /// suspension stops it, never the firm's control over who reads its history.
    pub(crate) consents: Address,
    pub(crate) operator: Address,
    /// Largest calldata a member's transaction may carry, in bytes.
    pub(crate) max_calldata: usize,
}

impl MembersOnly {
    /// A Consortium view at the head; `None` if it cannot be read.
    fn read<C: SolCall>(&self, node: &Node, call: &C) -> Option<C::Return> {
        let request = CallRequest {
            from: Address::ZERO,
            to: Some(self.consortium),
            gas: None,
            value: U256::ZERO,
            input: call.abi_encode().into(),
        };
        match node.call(&request) {
            Ok(CallOutcome::Success { output, .. }) => C::abi_decode_returns(&output).ok(),
            Ok(_) | Err(_) => None,
        }
    }
}

impl tradechain_engine::Admission for MembersOnly {
    fn admit(&self, node: &Node, tx: &PendingTx) -> Result<(), String> {
        if tx.sender == self.operator {
            return Ok(());
        }
        if tx.envelope.to().is_none() {
            return Err("contract creation is the consortium operator's only".into());
        }
        let size = tx.envelope.input().len();
        if size > self.max_calldata {
            return Err(format!(
                "calldata of {size} bytes exceeds the {} a member's transaction may carry",
                self.max_calldata
            ));
        }
        let ask = Consortium::hasRoleCall { account: tx.sender, role: role::ALL };
        if self.read(node, &ask).unwrap_or(false) {
            return Ok(());
        }
        let revoking = tx.envelope.to() == Some(self.consents)
            && tx.envelope.input().starts_with(&Consents::revokeCall::SELECTOR)
            && self
                .read(node, &Consortium::organisationCall { account: tx.sender })
                .is_some_and(|o| o.registered && o.suspended);
        if revoking { Ok(()) } else { Err(format!("{} is no active member of the consortium", tx.sender)) }
    }
}
