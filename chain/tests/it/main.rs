//! The chain crate's tests: the same [`tradechain_chain::Chain`] calls and refusals against
//! the embedded node and against a Hardhat node (software nobody here wrote), and the
//! remote backend's new-heads subscription. One test binary, a module per feature.

mod rejection;
mod remote;
mod wait;
