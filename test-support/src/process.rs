//! `tradechain node` in a process of its own, for the tests of the binary.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `tradechain node`, killed when dropped, however the test ends.
#[derive(Debug)]
pub struct NodeProcess {
    child: Child,
    /// Its REST and JSON-RPC base URL.
    pub url: String,
    /// Its dev operator's API token.
    pub operator_token: String,
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeProcess {
    /// Its process id (to read its memory in /proc).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `BIN node --dev --data-dir DIR [--config FILE]` on a free loopback port, once it
    /// serves (its operator token written).
    #[must_use]
    pub fn start(bin: &Path, dir: &Path, config: Option<&Path>) -> NodeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let mut cmd = Command::new(bin);
        cmd.args(["node", "--dev", "--data-dir"]).arg(dir).args(["--listen", &format!("127.0.0.1:{port}")]);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let child = cmd
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tradechain node starts");
        let mut node = NodeProcess { child, url: format!("http://127.0.0.1:{port}"), operator_token: String::new() };
        let token_file = dir.join("api/operator.token");
        let deadline = Instant::now() + Duration::from_secs(120);
        node.operator_token = loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if let (true, Ok(t)) = (up, std::fs::read_to_string(&token_file)) {
                break t.trim().to_string();
            }
            assert!(Instant::now() < deadline, "the node did not come up");
            std::thread::sleep(Duration::from_millis(100));
        };
        node
    }
}
