//! `tradechain scenario run --url` plays a scenario against a node started by
//! `tradechain node --dev` in another process: only HTTP between the two.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the node when the test ends, however it ends.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_scenario_plays_against_a_node_running_in_another_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let _node = Node(
        Command::new(env!("CARGO_BIN_EXE_tradechain"))
            .args(["node", "--dev", "--data-dir"])
            .arg(dir.path())
            .env("TRADECHAIN_LISTEN", format!("127.0.0.1:{port}"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tradechain node starts"),
    );
    let token_file = dir.path().join("api/operator.token");
    let deadline = Instant::now() + Duration::from_secs(60);
    let token = loop {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if let (true, Ok(t)) = (up, std::fs::read_to_string(&token_file)) {
            break t.trim().to_string();
        }
        assert!(Instant::now() < deadline, "the node did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };

    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["scenario", "run", concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/coffee-at-sight.toml"), "--url"])
        .arg(format!("http://127.0.0.1:{port}"))
        .env("TRADECHAIN_OPERATOR_TOKEN", &token)
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
