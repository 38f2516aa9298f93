//! `tradechain scenario run --network` starts a consortium of member nodes on an EVM
//! network (a Hardhat node of the test's own) and plays a scenario across them: the
//! coffee trade with the importer's side on node b, the exporter's on node a, and node c
//! serving two firms with no part in it.

use std::process::Command;

#[test]
fn a_scenario_plays_across_three_member_nodes_from_the_command_line() {
    let Some(hardhat) = test_support::hardhat::OwnHardhat::start() else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["scenario", "run", concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/coffee-three-nodes.toml")])
        .args(["--network", &hardhat.url])
        .env_remove("RUST_LOG")
        .output()
        .expect("the tradechain binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "scenario failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("approves the member nodes b, a, c"), "{stdout}");
    assert!(stdout.contains("Nordbank             accepts the bill of lading"), "{stdout}");
    assert!(stdout.contains("completed — paid USD 240,000.00 of USD 240,000.00"), "{stdout}");
    assert!(stdout.contains("1 scenarios played green"), "{stdout}");
}
