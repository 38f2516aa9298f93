//! A real Ethereum client that nobody here wrote (ethers v6 from npm, run by node) against the
//! engine over HTTP: deploy, transact (EIP-1559 and legacy), receipts, logs, blocks, a custom
//! error decoded from revert data, a replay refused. Then `verify` replays the chain.

use std::path::Path;
use std::process::Command;

use crate::common::{TestNode, dev_config, node_js_available};

#[test]
fn ethers_client_deploys_transacts_reads_logs_and_decodes_custom_errors() {
    if !node_js_available() {
        eprintln!("\n\n*** SKIPPED: `node` is not installed; the ethers client test did not run ***\n\n");
        return;
    }
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js");
    if !js.join("node_modules/ethers").exists() {
        let status =
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&js).status().expect("npm runs");
        assert!(status.success(), "npm ci failed in {}", js.display());
    }
    let (_tmp, config) = dev_config();
    let n = TestNode::start(config);
    let out = Command::new("node").arg(js.join("client.mjs")).arg(n.url()).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "ethers client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ALL CLIENT CHECKS PASSED"));

    let dir = n.stop();
    let report = tradechain_engine::verify::verify(&dir).expect("chain verifies");
    assert_eq!(report.transactions, 4, "deploy + three increments: {report:?}");
}
