//! The `tradechain` binary's tests, each driving real processes: the demo, a node killed
//! at random points and restarted (nothing acknowledged lost), scenarios played by URL
//! against a node in another process, deploy plus two nodes on a Hardhat network, and a
//! scenario across three member nodes, and the web app clicked through in Chromium.
//! One test binary, a module per feature.

mod connections;
mod consortium;
mod demo;
mod engine_crash;
mod remote;
mod url;
mod web;

use std::path::Path;

use test_support::process::NodeProcess;

/// `tradechain node --dev` in a process of its own, serving on a free loopback port.
fn start_node(dir: &Path, config: Option<&Path>) -> NodeProcess {
    NodeProcess::start(Path::new(env!("CARGO_BIN_EXE_tradechain")), dir, config)
}
