//! The remote backend against a Hardhat node.

use std::time::Duration;

use serde_json::{Value, json};
use tradechain_chain::Chain;
use tradechain_chain::remote::{RemoteChain, RemoteSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_heads_arrive_by_websocket_subscription() {
    let Some(url) = test_support::hardhat::url() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ws = url.replacen("http", "ws", 1);
    // Polling once a minute: within the 30 s wait below, only the subscription can wake it.
    let settings =
        RemoteSettings { ws_url: Some(ws), poll_interval: Duration::from_secs(60), ..RemoteSettings::new(&url) };
    let chain = RemoteChain::connect(settings).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let known = chain.head().await.expect("head");
    let client = test_support::hardhat::connect(&url).await;
    let started = std::time::Instant::now();
    let miner = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _: Value = client.rpc().request("evm_mine", json!([])).await.expect("mine");
    });
    chain.wait_new_head(known, Duration::from_secs(30)).await;
    assert!(chain.head().await.expect("head") > known, "a new head");
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the subscription, not the minute's poll");
    // Whatever else mined meanwhile, the new head came over the WebSocket.
    assert!(chain.subscribed_head().expect("subscribed") > known, "announced by newHeads");
    miner.await.expect("miner");
}
