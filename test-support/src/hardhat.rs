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
