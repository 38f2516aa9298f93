//! tradechain-engine: the chain tradechain runs on by default, embedded in its own process.
//!
//! What it does: admits signed Ethereum transactions (EIP-1559, EIP-2930 and legacy; chain id
//! checked; sender recovered with libsecp256k1, the EVM's own ecrecover linked by revm, which
//! also signs the block seals) into a per-sender, nonce-ordered mempool; seals blocks
//! ([`block::SealedBlock`]) that are hash-linked to their parent, carry transactions/receipts roots
//! ([`receipt::StoredReceipt`]) and a state commitment, and are signed by the node's sealing key;
//! executes them in revm ([`executor`]) against a persistent world state
//! ([`state::WorldState`]); commits every sealed block in one durable redb write transaction
//! ([`store::Store`]); and serves the standard Ethereum JSON-RPC over HTTP ([`rpc::router`]).
//! [`verify::verify`] replays a data directory from genesis and names the first block that does
//! not match.
//!
//! Acknowledgment: in automine mode (dev default) `eth_sendRawTransaction` returns only after
//! the transaction's block is durably committed. In interval mode the hash returns at pool
//! admission and the receipt is the acknowledgment of inclusion: the pool is in memory, so a
//! transaction admitted but not yet sealed is lost on kill -9 (its client never saw a receipt).
//! WebSocket clients (GET upgrade on the same paths) can `eth_subscribe` to `newHeads` and `logs`;
//! in-process code uses [`Node::subscribe_blocks`] and [`store::Store::block_receipts`].
//!
//! What it must never do:
//! - acknowledge a transaction as included (return a receipt for it) before the block holding it
//!   is durably committed;
//! - execute a transaction without a gas limit bounded by the block gas limit, or skip nonce,
//!   chain-id or signature checks;
//! - panic on anything a client sends (every client input is validated and answered with a
//!   JSON-RPC error);
//! - import anything from a crate above it (api, bank-adapters, scenarios).
//!
//! Main types: [`Node`] (the running chain: submit, call, seal, subscribe), [`NodeConfig`],
//! [`genesis::GenesisCall`] (the genesis hook), [`rpc::router`] (the axum JSON-RPC router),
//! [`verify::verify`].
//!
//! Start a node in-process:
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = tradechain_engine::NodeConfig::dev_in(std::env::temp_dir().join("tc-demo"));
//! let node = tradechain_engine::Node::open(config, Vec::new())?;
//! let _producer = node.spawn_producer();
//! let app = tradechain_engine::rpc::router(node.clone());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

pub mod block;
pub mod config;
pub mod executor;
pub mod genesis;
mod mempool;
pub mod node;
mod producer;
pub mod receipt;
pub mod rpc;
pub mod signal;
pub mod state;
pub mod store;
pub mod transaction;
pub mod verify;

pub use config::NodeConfig;
pub use genesis::GenesisCall;
pub use node::{Admission, Node, NodeError};
pub use transaction::TxRejection;
