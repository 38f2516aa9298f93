//! Shared by the tests that run `tradechain node` in a process of its own.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `tradechain node`, killed when dropped, however the test ends.
pub struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tradechain node --dev --data-dir DIR [--config FILE]` on a free loopback port: the
/// process, its URL and its operator token, once it serves.
pub fn start_node(dir: &Path, config: Option<&Path>) -> (Node, String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradechain"));
    cmd.args(["node", "--dev", "--data-dir"]).arg(dir).args(["--listen", &format!("127.0.0.1:{port}")]);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let node = Node(
        cmd.env_remove("RUST_LOG").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("tradechain node starts"),
    );
    let token_file = dir.join("api/operator.token");
    let deadline = Instant::now() + Duration::from_secs(120);
    let token = loop {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        if let (true, Ok(t)) = (up, std::fs::read_to_string(&token_file)) {
            break t.trim().to_string();
        }
        assert!(Instant::now() < deadline, "the node did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };
    (node, format!("http://127.0.0.1:{port}"), token)
}
