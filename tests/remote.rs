//! The command line on an external EVM network (a Hardhat node, as `scripts/test.sh`
//! starts one): `tradechain deploy --rpc` writes the `[chain]` table, `tradechain node`
//! runs the API on it, and `tradechain scenario run --url` plays a scenario through that
//! node — three processes and Hardhat, only HTTP between them.
//!
//! Without TRADECHAIN_TEST_HARDHAT_URL the test is skipped locally, and fails when
//! TRADECHAIN_REQUIRE_HARDHAT=1 (scripts/test.sh sets it) so CI never skips it silently.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hardhat_url() -> Option<String> {
    match std::env::var("TRADECHAIN_TEST_HARDHAT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("TRADECHAIN_REQUIRE_HARDHAT").as_deref() != Ok("1"),
                "TRADECHAIN_REQUIRE_HARDHAT=1 but TRADECHAIN_TEST_HARDHAT_URL is unset: run under scripts/with-hardhat.sh"
            );
            eprintln!("skipped: no TRADECHAIN_TEST_HARDHAT_URL (run under scripts/with-hardhat.sh)");
            None
        }
    }
}

#[test]
fn deploy_then_run_a_node_on_the_network_and_play_a_scenario_through_it() {
    let Some(url) = hardhat_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("tradechain.toml");
    // Hardhat charges gas: the node funds the organisations it onboards.
    std::fs::write(&config, "[chain]\nfund_wei = \"10000000000000000000\"\n").expect("write");
    let bin = env!("CARGO_BIN_EXE_tradechain");

    // --dev: the operator is Hardhat's account #0 (the well-known dev key).
    let deploy = Command::new(bin)
        .args(["deploy", "--dev", "--rpc", &url, "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("deploy runs");
    let out = String::from_utf8_lossy(&deploy.stdout);
    assert!(deploy.status.success(), "deploy failed:\n{out}\n{}", String::from_utf8_lossy(&deploy.stderr));
    assert!(out.contains("wrote the [chain] table"), "{out}");
    let written = std::fs::read_to_string(&config).expect("config");
    for needle in
        ["backend = \"remote\"", "rpc_url", "fund_wei = \"10000000000000000000\"", "[chain.suite]", "trade_orders"]
    {
        assert!(written.contains(needle), "{needle} in:\n{written}");
    }
    // Again: nothing is deployed twice.
    let again = Command::new(bin)
        .args(["deploy", "--dev", "--rpc", &url, "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("deploy runs");
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already deployed"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let _node = Node(
        Command::new(bin)
            .args(["node", "--dev", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tradechain node starts"),
    );
    let token_file = dir.path().join("api/operator.token");
    let deadline = Instant::now() + Duration::from_secs(120);
    let token = loop {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if let (true, Ok(t)) = (up, std::fs::read_to_string(&token_file)) {
            break t.trim().to_string();
        }
        assert!(Instant::now() < deadline, "the node did not come up on the remote network");
        std::thread::sleep(Duration::from_millis(100));
    };

    let play = Command::new(bin)
        .args(["scenario", "run", concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/coffee-at-sight.toml"), "--url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .env("TRADECHAIN_OPERATOR_TOKEN", &token)
        .env_remove("RUST_LOG")
        .output()
        .expect("scenario runs");
    let stdout = String::from_utf8_lossy(&play.stdout);
    assert!(play.status.success(), "scenario failed:\n{stdout}\n{}", String::from_utf8_lossy(&play.stderr));
    assert!(stdout.contains("USD 240,000.00 → Santos Coffee"), "the seller is paid through the bank:\n{stdout}");
    assert!(stdout.contains("completed — paid USD 240,000.00 of USD 240,000.00"), "{stdout}");
}
