//! The scenarios on an external EVM network: a Hardhat node (real gas, EIP-1559 fees,
//! its own clock) behind the remote backend. The suite is deployed with
//! `tradechain_chain::deploy::deploy`, the API runs on `RemoteChain` with a SQLite read
//! model, and every scenario plays through it by URL with the same outcomes (states,
//! payments, balances, credit figures) as on the embedded node: the reviewed timelines of
//! `play.rs`.
//!
//! Without TRADECHAIN_TEST_HARDHAT_URL the test is skipped locally, and fails when
//! TRADECHAIN_REQUIRE_HARDHAT=1 (scripts/test.sh sets it) so CI never skips it silently.

use tradechain_api::config::{Backend, ChainConfig};
use tradechain_api::{ApiConfig, Platform};
use tradechain_chain::Chain;
use tradechain_chain::deploy::{Deployment, deploy};
use tradechain_scenarios::{Options, play_file};

use crate::common::{file, normalise, reviewed};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenarios_play_on_hardhat_through_the_remote_backend_with_the_embedded_outcomes() {
    let Some(url) = test_support::hardhat::url() else { return };
    // A fresh operator of its own (other tests share this Hardhat node), funded.
    let operator = test_support::hardhat::fresh_key("scenario operator");
    let client = test_support::hardhat::connect(&url).await;
    test_support::hardhat::fund(&client, operator.address()).await;
    let suite = match deploy(&url, &operator).await.expect("deploy") {
        Deployment::Deployed { suite, transactions } => {
            assert_eq!(transactions.len(), 6, "four contracts and the two calls that link them");
            suite
        }
        other @ Deployment::Existing { .. } => panic!("a fresh operator deploys: {other:?}"),
    };
    assert_eq!(deploy(&url, &operator).await.expect("again"), Deployment::Existing { suite }, "never twice");
    let spent = client.balance(operator.address()).await.expect("balance");
    assert!(
        spent
            < alloy::primitives::U256::from(1000u64)
                * alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18u64)),
        "gas was paid"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let config = ApiConfig {
        data_dir: dir.path().join("api"),
        database_url: Some(format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display())),
        dev: true,
        chain: ChainConfig {
            backend: Backend::Remote,
            rpc_url: Some(url.clone()),
            // New heads by subscription (Hardhat serves WebSocket on the same port).
            ws_url: Some(url.replacen("http", "ws", 1)),
            poll_interval_ms: 50,
            // 10 ETH to each custodial organisation, for its gas.
            fund_wei: "10000000000000000000".into(),
            ..ChainConfig::default()
        },
        ..ApiConfig::default()
    };
    let platform = Platform::start_remote(operator, config.clone()).await.expect("platform on Hardhat");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(platform.serve(listener, async {
        let _ = stopped.await;
    }));
    let token = std::fs::read_to_string(config.operator_token_file()).expect("operator token").trim().to_string();

    let options = Options { url: Some(base), operator_token: Some(token), ..Options::default() };
    for name in [
        "coffee-at-sight",
        "machinery-30-70",
        "discrepant-document",
        "expiry-nothing-paid",
        "receivable-assigned",
        "payables-extended",
        "bank-outage",
        "coffee-exporter-credit",
    ] {
        let played = match play_file(&file(name), &options).await {
            Ok(p) => p,
            Err(e) => panic!("{name} on Hardhat: {e}"),
        };
        assert_eq!(normalise(&played.timeline), reviewed(name), "{name} on Hardhat");
    }
    let _ = stop.send(());
    server.await.expect("server").expect("serve");
}
