//! The engine's tests: the chain end to end over JSON-RPC (blocks, receipts, restarts),
//! hostile JSON-RPC input, and ethers (a client nobody here wrote) against the node. One
//! test binary, a module per feature.

mod admission;
mod chain;
mod client_ethers;
mod common;
mod rpc_bad_input;
