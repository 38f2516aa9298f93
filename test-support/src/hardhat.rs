//! The Hardhat node the test script starts (`scripts/with-hardhat.sh`), and what tests do
//! with it.

/// The Hardhat node's JSON-RPC URL, or `None` to skip (with a line saying so) when no node
/// was started; under `TRADECHAIN_REQUIRE_HARDHAT=1` (CI) a missing node fails the test.
#[must_use]
pub fn url() -> Option<String> {
    match std::env::var("TRADECHAIN_TEST_HARDHAT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !required(),
                "TRADECHAIN_REQUIRE_HARDHAT=1 but TRADECHAIN_TEST_HARDHAT_URL is unset: run under scripts/with-hardhat.sh"
            );
            eprintln!("skipped: no TRADECHAIN_TEST_HARDHAT_URL (run under scripts/with-hardhat.sh)");
            None
        }
    }
}

/// Whether CI requires the servers the test script starts (Hardhat, PostgreSQL).
#[must_use]
pub fn required() -> bool {
    std::env::var("TRADECHAIN_REQUIRE_HARDHAT").as_deref() == Ok("1")
}

#[cfg(feature = "node")]
mod network {
    use std::sync::Arc;

    use alloy::primitives::{Address, keccak256};
    use alloy::signers::local::PrivateKeySigner;
    use serde_json::{Value, json};
    use tradechain_chain::deploy::{Deployment, deploy};
    use tradechain_chain::remote::{RemoteChain, RemoteSettings};

    /// A key no other test (or earlier run against the same node) uses.
    #[must_use]
    pub fn fresh_key(label: &str) -> PrivateKeySigner {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let seed = keccak256(format!("{label}/{}/{nanos}", std::process::id()));
        PrivateKeySigner::from_bytes(&seed).expect("key")
    }

    /// The network at `url`, polled every 20 ms.
    pub async fn connect(url: &str) -> Arc<RemoteChain> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let settings =
            RemoteSettings { poll_interval: std::time::Duration::from_millis(20), ..RemoteSettings::new(url) };
        RemoteChain::connect(settings).await.expect("the Hardhat node answers")
    }

    /// Give `who` 1,000 ETH for gas (Hardhat's own cheat method).
    pub async fn fund(chain: &RemoteChain, who: Address) {
        let _: Value =
            chain.rpc().request("hardhat_setBalance", json!([who, "0x3635c9adc5dea00000"])).await.expect("setBalance");
    }

    /// A fresh, funded operator with the suite deployed by `tradechain deploy`'s code.
    pub async fn deployed(url: &str) -> (PrivateKeySigner, Arc<RemoteChain>) {
        let chain = connect(url).await;
        let operator = fresh_key("operator");
        fund(&chain, operator.address()).await;
        assert!(matches!(deploy(url, &operator).await.expect("deploy"), Deployment::Deployed { .. }));
        (operator, chain)
    }
}

#[cfg(feature = "node")]
pub use network::{connect, deployed, fresh_key, fund};

/// A Hardhat node of the test's own (the pinned one in `chains/hardhat`), for a test that
/// needs the network's clock to itself: the shared node's clock is moved days at a time by
/// the scenarios playing beside it. Stopped when dropped.
pub struct OwnHardhat {
    /// Its JSON-RPC URL.
    pub url: String,
    child: std::process::Child,
}

impl OwnHardhat {
    /// Start one on a free loopback port, where the shared node runs (`None`, skipping, where
    /// it does not: see [`url`]).
    #[must_use]
    pub fn start() -> Option<OwnHardhat> {
        url()?;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../chains/hardhat");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = std::process::Command::new(dir.join("node_modules/.bin/hardhat"))
            .args(["node", "--hostname", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(&dir)
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("hardhat starts (npm ci in chains/hardhat)");
        let node = OwnHardhat { url: format!("http://127.0.0.1:{port}"), child };
        for _ in 0..240 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(node);
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        panic!("the Hardhat node on port {port} did not start within a minute");
    }
}

impl Drop for OwnHardhat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
