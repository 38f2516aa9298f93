//! The scenarios' tests: every file in `scenarios/` played on a fresh embedded platform
//! with its reviewed timeline, the same files by URL against a running node, and on a
//! Hardhat network through the remote backend with the same outcomes, and across a
//! consortium of member nodes. One test binary, a module per feature.

mod common;
mod consortium;
mod hardhat;
mod play;
mod url;
