//! tradechain-chain: the one way every part of tradechain reaches a chain.
//!
//! The API, the settlement worker, the scenario runner and `tradechain deploy` all talk to
//! the chain through this crate, whichever chain it is: the node embedded in the process
//! ([`embedded::EmbeddedChain`], feature `embedded`) or an external EVM network over its
//! Ethereum JSON-RPC ([`remote::RemoteChain`]: Besu QBFT, GoQuorum, Hardhat in the tests).
//!
//! - [`Chain`] is the small trait both implement: nonces, submission, receipts, calls,
//!   blocks, logs, fees.
//! - [`rpc::RpcClient`] moves JSON-RPC and answers typed replies ([`rpc::RpcBlock`],
//!   [`rpc::RpcReceipt`], [`rpc::RpcLog`]); nothing above it parses `serde_json::Value`.
//! - [`Rejection`] is the one place a node's refusal is understood (nonce too low,
//!   underpriced, already known, reverted with data), from a typed engine error or from a
//!   JSON-RPC error, so no caller matches on error text.
//! - [`transaction::Sender`] is the one signing, nonce and fee policy: EIP-1559 where the
//!   network has a base fee and legacy where it has not, the next nonce under a per-sender
//!   lock, a gas limit from the simulation, and a bounded retry when the nonce was taken.
//! - [`signer::Signer`] is who signs for an organisation: its own key here, or the tradechain
//!   node that holds it (custodial, over the node's REST API).
//!
//! What this crate must never do: retry a transaction that reverted, decide anything about
//! trade rules (the contracts do), or import a crate above it (bank adapters, api,
//! scenarios).

mod backend;
pub mod deploy;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod http;
mod rejection;
pub mod remote;
pub mod rpc;
pub mod signer;
pub mod transaction;

pub use backend::{
    BlockHeader, BlockLog, BlockLogs, BoxFut, CallResult, Chain, ChainError, Fees, LogFilter, Receipt, call_sol,
    call_sol_many, wait_receipt,
};
pub use rejection::Rejection;
