//! tradechain-test-support: what the test suites of several tradechain crates share, so
//! each is written once. Dev-only: no production crate depends on it.
//!
//! Always available: [`clock`] (a test's day 0, a Monday morning), [`hardhat::url`] (the
//! Hardhat node the test script started, or a skip), [`redact`] (volatile hex and order numbers out of snapshots), [`process`]
//! (`tradechain node` in a process of its own).
//! With feature `evm`: [`evm::TestChain`], the contract suite on a bare revm.
//! With feature `node`: [`api`] (the embedded platform with its REST API, and the API on a
//! remote network), [`settlement`] (a chain, the sandbox bank and settlement workers),
//! [`fixtures`] (order proposals as the REST API takes them).
//! With feature `browser`: [`browser`] (headless Chromium through ChromeDriver, for the web app).
//!
//! What it must never do: hide a failure (every helper panics with what went wrong), or
//! reach anything but loopback.

#[cfg(feature = "node")]
pub mod api;
#[cfg(feature = "browser")]
pub mod browser;
pub mod clock;
#[cfg(feature = "evm")]
pub mod evm;
#[cfg(feature = "node")]
pub mod fixtures;
pub mod hardhat;
pub mod process;
pub mod redact;
#[cfg(feature = "node")]
pub mod settlement;
