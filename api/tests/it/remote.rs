//! The API on an external EVM network (a Hardhat node, real gas) through the remote
//! backend: two API processes' worth of platforms on one PostgreSQL read model and one
//! chain answer the same, with concurrent writes of one organisation through both; and a
//! confirmation depth holds receipts and the indexer back until blocks are that deep.
//!
//! Needs TRADECHAIN_TEST_HARDHAT_URL (scripts/with-hardhat.sh) and, for the shared read
//! model, TRADECHAIN_TEST_POSTGRES_URL (scripts/with-postgres.sh); skipped without them
//! locally, failing when TRADECHAIN_REQUIRE_HARDHAT=1 as in CI.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::fixtures::date_after;
use test_support::hardhat::url as hardhat_url;
use tradechain_chain::Chain;
use tradechain_chain::remote::RemoteChain;

/// An order body with dates counted from the chain's clock (other tests move Hardhat's).
async fn order(chain: &RemoteChain, seller: &str, bank: &str, amount: u64) -> Value {
    let head = chain.head().await.expect("head");
    let now = chain.block_header(head).await.expect("header").expect("head").timestamp;
    json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": bank,
        "amount_minor": amount.to_string(), "currency": "EUR", "incoterm": "CIF",
        "latest_shipment": date_after(now, 20), "expiry": date_after(now, 40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_api_processes_on_one_postgres_and_one_network_answer_the_same() {
    let Some(url) = hardhat_url() else { return };
    let Some(test_support::api::Db::Postgres(pg)) = test_support::api::Db::postgres() else {
        assert!(std::env::var("TRADECHAIN_REQUIRE_HARDHAT").as_deref() != Ok("1"), "CI runs this with PostgreSQL");
        eprintln!("skipped: no TRADECHAIN_TEST_POSTGRES_URL (run under scripts/with-postgres.sh)");
        return;
    };
    let (operator, client) = test_support::hardhat::deployed(&url).await;
    let database_url = test_support::api::fresh_postgres(&pg).await;
    let (a, b) = (
        test_support::api::RemoteApi::start(&url, &operator, &database_url, 1).await,
        test_support::api::RemoteApi::start(&url, &operator, &database_url, 1).await,
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
    let head = client.rpc().block_number().await.expect("head");
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
    let (operator, client) = test_support::hardhat::deployed(&url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display());
    let api = test_support::api::RemoteApi::start(&url, &operator, &db, 3).await;
    // Blocks come on their own, as on a network with a block time (Hardhat automines
    // only when a transaction arrives).
    let miner = {
        let client = test_support::hardhat::connect(&url).await;
        tokio::spawn(async move {
            loop {
                let _: Result<Value, _> = client.rpc().request("evm_mine", json!([])).await;
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
        let latest = client.rpc().block_number().await.expect("head");
        let indexed = api.state.indexer.indexed();
        assert!(indexed + 2 <= latest, "the indexer stays 2 blocks behind the tip: indexed {indexed}, tip {latest}");
        let block = created["created_block"].as_u64().expect("created_block");
        assert!(block + 2 <= latest, "answered only once its block had 3 confirmations: {block} vs tip {latest}");
    }
    miner.abort();
}
