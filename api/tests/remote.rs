//! The API on an external EVM network (a Hardhat node, real gas) through the remote
//! backend: two API processes' worth of platforms on one PostgreSQL read model and one
//! chain answer the same, with concurrent writes of one organisation through both; and a
//! confirmation depth holds receipts and the indexer back until blocks are that deep.
//!
//! Needs TRADECHAIN_TEST_HARDHAT_URL (scripts/with-hardhat.sh) and, for the shared read
//! model, TRADECHAIN_TEST_POSTGRES_URL (scripts/with-postgres.sh); skipped without them
//! locally, failing when TRADECHAIN_REQUIRE_HARDHAT=1 as in CI.

mod common;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tradechain_bank_adapters::chain::ChainClient;

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

/// An order body with dates counted from the chain's clock (other tests move Hardhat's).
async fn order(client: &ChainClient, seller: &str, bank: &str, amount: u64) -> Value {
    let now = client.block_timestamp(client.block_number().await.expect("head")).await.expect("time");
    let date = |days: u64| {
        chrono::DateTime::from_timestamp((now + days * 86_400) as i64, 0).expect("date").format("%Y-%m-%d").to_string()
    };
    json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": bank,
        "amount_minor": amount.to_string(), "currency": "EUR", "incoterm": "CIF",
        "latest_shipment": date(20), "expiry": date(40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_on_one_postgres_and_one_network_answer_the_same() {
    let Some(url) = hardhat_url() else { return };
    let Some(common::Db::Postgres(pg)) = common::Db::postgres() else {
        assert!(std::env::var("TRADECHAIN_REQUIRE_HARDHAT").as_deref() != Ok("1"), "CI runs this with PostgreSQL");
        eprintln!("skipped: no TRADECHAIN_TEST_POSTGRES_URL (run under scripts/with-postgres.sh)");
        return;
    };
    let (operator, client) = common::deployed(&url).await;
    let database_url = common::fresh_postgres(&pg).await;
    let (a, b) = (
        common::RemoteApi::start(&url, &operator, &database_url, 1).await,
        common::RemoteApi::start(&url, &operator, &database_url, 1).await,
    );
    let (_, buyer_t) = a.onboard("Hanseatic Importers", &["trader"]).await;
    let (seller, seller_t) = b.onboard("Fazenda Boa Vista", &["trader"]).await;
    let (bank, bank_t) = a.onboard("Handelsbank", &["bank"]).await;

    // Ten proposals of one buyer at once, half through each process: every one lands
    // (each process serialises its sends; a nonce taken by the other is retried).
    let mut writes = Vec::new();
    for i in 0..10u64 {
        let api = if i % 2 == 0 { &a } else { &b };
        let body = order(&client, &seller, &bank, 100_000 + i).await;
        writes.push(api.post("/v1/orders", &buyer_t, body));
    }
    let mut ids = Vec::new();
    for (s, body) in futures_util::future::join_all(writes).await {
        assert_eq!(s, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().expect("id"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "ten distinct orders: {ids:?}");

    // A lifecycle across both processes; both answer the same at every step, and each
    // process's live subscribers see every change, whichever process indexed the block.
    let id = ids[0];
    let (mut live_a, mut live_b) = (a.state.indexer.subscribe(), b.state.indexer.subscribe());
    let (s, body) = b.post(&format!("/v1/orders/{id}/accept"), &seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = a.post(&format!("/v1/orders/{id}/commit"), &bank_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let head = client.block_number().await.expect("head");
    for api in [&a, &b] {
        assert!(api.state.indexer.wait_for(head, Duration::from_secs(30)).await, "both indexers reach the head");
    }
    for live in [&mut live_a, &mut live_b] {
        let mut kinds = Vec::new();
        while let Ok(c) = live.try_recv() {
            if c.order_id == Some(id) {
                kinds.push(c.kind);
            }
        }
        assert!(kinds.contains(&"OrderAccepted".to_string()), "{kinds:?}");
        assert!(kinds.contains(&"OrderCommitted".to_string()), "{kinds:?}");
    }
    let (_, from_a) = a.get(&format!("/v1/orders/{id}"), &buyer_t).await;
    let (_, from_b) = b.get(&format!("/v1/orders/{id}"), &buyer_t).await;
    assert_eq!(from_a["state"], "committed", "{from_a}");
    assert_eq!(from_a, from_b, "the two processes answer the same");
    let (_, list_a) = a.get("/v1/orders?role=buyer&limit=50", &buyer_t).await;
    let (_, list_b) = b.get("/v1/orders?role=buyer&limit=50", &buyer_t).await;
    assert_eq!(list_a["items"].as_array().map(Vec::len), Some(10), "{list_a}");
    assert_eq!(list_a, list_b);
    // Gas was paid by the organisations the operator funded.
    let buyer: alloy::primitives::Address = from_a["buyer"].as_str().expect("buyer").parse().expect("address");
    let left = client.balance(buyer).await.expect("balance");
    assert!(left < alloy::primitives::U256::from(10_000_000_000_000_000_000u128), "the buyer paid gas: {left}");
    assert!(!left.is_zero());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn receipts_and_the_indexer_wait_for_the_confirmation_depth() {
    let Some(url) = hardhat_url() else { return };
    let (operator, client) = common::deployed(&url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display());
    let api = common::RemoteApi::start(&url, &operator, &db, 3).await;
    // Blocks come on their own, as on a network with a block time (Hardhat automines
    // only when a transaction arrives).
    let miner = {
        let client = ChainClient::new(&url, Duration::from_secs(30)).expect("client");
        tokio::spawn(async move {
            loop {
                let _: Result<Value, _> = client.request("evm_mine", json!([])).await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let (seller, _) = api.onboard("Seller", &["trader"]).await;
    let (bank, _) = api.onboard("Bank", &["bank"]).await;
    let (_, buyer_t) = api.onboard("Buyer", &["trader"]).await;
    for n in 0..3u64 {
        let body = order(&client, &seller, &bank, 500_000 + n).await;
        let (s, created) = api.post("/v1/orders", &buyer_t, body).await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let latest = client.block_number().await.expect("head");
        let indexed = api.state.indexer.indexed();
        assert!(indexed + 2 <= latest, "the indexer stays 2 blocks behind the tip: indexed {indexed}, tip {latest}");
        let block = created["created_block"].as_u64().expect("created_block");
        assert!(block + 2 <= latest, "answered only once its block had 3 confirmations: {block} vs tip {latest}");
    }
    miner.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_heads_arrive_by_websocket_subscription() {
    use tradechain_api::chain::Chain;
    let Some(url) = hardhat_url() else { return };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ws = url.replacen("http", "ws", 1);
    // Polling once a minute: within the 30 s wait below, only the subscription can wake it.
    let chain = tradechain_api::remote::RemoteChain::connect_with(&url, Some(&ws), 1, Duration::from_secs(60))
        .await
        .expect("connect");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let known = chain.head().await.expect("head");
    let client = ChainClient::new(&url, Duration::from_secs(30)).expect("client");
    let started = std::time::Instant::now();
    let miner = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _: Value = client.request("evm_mine", json!([])).await.expect("mine");
    });
    chain.wait_new_head(known, Duration::from_secs(30)).await;
    assert!(chain.head().await.expect("head") > known, "a new head");
    assert!(started.elapsed() < Duration::from_secs(10), "woken by the subscription, not the minute's poll");
    // Whatever else mined meanwhile, the new head came over the WebSocket.
    assert!(chain.subscribed_head().expect("subscribed") > known, "announced by newHeads");
    miner.await.expect("miner");
}
