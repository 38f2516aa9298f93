//! `tradechain scenario run --url` plays a scenario against a node started by
//! `tradechain node --dev` in another process: only HTTP between the two.

use std::process::Command;

#[test]
fn a_scenario_plays_against_a_node_running_in_another_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = crate::start_node(dir.path(), None);
    let (base, token) = (&node.url, &node.operator_token);

    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["scenario", "run", concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/coffee-at-sight.toml"), "--url"])
        .arg(base)
        .env("TRADECHAIN_OPERATOR_TOKEN", token)
        .env_remove("RUST_LOG")
        .output()
        .expect("the tradechain binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scenario failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("USD 240,000.00 → Santos Coffee"), "the seller is paid through the bank:\n{stdout}");
    assert!(stdout.contains("completed — paid USD 240,000.00 of USD 240,000.00"), "{stdout}");
    assert!(stdout.contains("1 scenarios played green"), "{stdout}");
}
