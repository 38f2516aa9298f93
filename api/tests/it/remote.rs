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

/// One JSON-RPC request to `url`, with a bearer token when given: (HTTP status, answer).
async fn json_rpc(url: &str, token: Option<&str>, method: &str, params: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, serde_json::from_str(&res.text().await.expect("body")).expect("json"))
}

/// The custom error an answer reverted with, by name.
fn revert_name(answer: &Value) -> Option<String> {
    let data = answer["error"]["data"].as_str().or_else(|| answer["error"]["data"]["data"].as_str())?;
    let bytes = alloy::hex::decode(data.trim_start_matches("0x")).ok()?;
    tradechain_contracts::revert::decode(&bytes).map(|r| r.name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_hardhat_the_views_refuse_a_stranger_and_the_gate_answers_each_member_its_own() {
    use alloy::sol_types::SolCall;
    use tradechain_contracts::{Consents, TradeOrders};
    let Some(url) = hardhat_url() else { return };
    let (operator, client) = test_support::hardhat::deployed(&url).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display());
    let api = test_support::api::RemoteApi::start_with(&url, &operator, &database_url, 0, false).await;
    let (buyer, buyer_t) = api.onboard("Hanseatic Importers", &["trader"]).await;
    let (seller, seller_t) = api.onboard("Fazenda Boa Vista", &["trader"]).await;
    let (bank, bank_t) = api.onboard("Handelsbank", &["bank"]).await;
    let (_, outsider_t) = api.onboard("Unrelated Trading", &["trader"]).await;
    let (s, created) = api.post("/v1/orders", &buyer_t, order(&client, &seller, &bank, 2_400_000).await).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(api.post(&format!("/v1/orders/{id}/accept"), &seller_t, json!({})).await.0, StatusCode::OK);
    assert_eq!(api.post(&format!("/v1/orders/{id}/commit"), &bank_t, json!({})).await.0, StatusCode::OK);
    let suite = api.state.suite;
    let orders = format!("{:#x}", suite.trade_orders);

    // Directly on the network, past any node of ours: the views check who asks.
    let get_order = format!(
        "0x{}",
        alloy::hex::encode(TradeOrders::getOrderCall { orderId: alloy::primitives::U256::from(id) }.abi_encode())
    );
    let stranger = format!("{:#x}", alloy::signers::local::PrivateKeySigner::random().address());
    for from in [stranger.as_str(), "0x0000000000000000000000000000000000000000"] {
        let (_, answer) =
            json_rpc(&url, None, "eth_call", json!([{ "from": from, "to": orders, "data": get_order }, "latest"]))
                .await;
        assert_eq!(revert_name(&answer).as_deref(), Some("NotEntitled"), "getOrder from {from}: {answer}");
    }
    let (_, answer) =
        json_rpc(&url, None, "eth_call", json!([{ "from": buyer, "to": orders, "data": get_order }, "latest"])).await;
    assert!(answer["result"].as_str().is_some_and(|r| r.len() > 2), "the buyer reads its order: {answer}");
    let consent =
        Consents::hasConsentCall { firm: seller.parse().expect("seller"), financier: buyer.parse().expect("buyer") };
    let data = format!("0x{}", alloy::hex::encode(consent.abi_encode()));
    let (_, answer) = json_rpc(
        &url,
        None,
        "eth_call",
        json!([{ "from": stranger, "to": format!("{:#x}", suite.consents), "data": data }, "latest"]),
    )
    .await;
    assert_eq!(revert_name(&answer).as_deref(), Some("NotEntitled"), "hasConsent from a stranger: {answer}");
    // A stranger's write is refused by the contracts too (on a permissioned network it
    // would not reach the pool at all).
    let accept = format!(
        "0x{}",
        alloy::hex::encode(TradeOrders::acceptCall { orderId: alloy::primitives::U256::from(id) }.abi_encode())
    );
    let (_, answer) =
        json_rpc(&url, None, "eth_estimateGas", json!([{ "from": stranger, "to": orders, "data": accept }])).await;
    assert!(answer.get("error").is_some(), "a stranger's call is refused: {answer}");

    // Through the node's gate in front of the same network.
    let gate = format!("{}/", api.base);
    let (status, _) = json_rpc(&gate, None, "eth_blockNumber", json!([])).await;
    assert_eq!(status, 401);
    let all_logs = json!([{ "fromBlock": "0x0", "address": orders }]);
    let (_, mine) = json_rpc(&gate, Some(&buyer_t), "eth_getLogs", all_logs.clone()).await;
    let (_, theirs) = json_rpc(&gate, Some(&outsider_t), "eth_getLogs", all_logs).await;
    // An order's events carry its id as their first indexed argument; the suite's own
    // wiring at deployment (which contract reads which) is public and carries none.
    let topic = format!("{id:#066x}");
    let of_the_order = |logs: &Value| {
        logs["result"].as_array().expect("logs").iter().filter(|l| l["topics"][1] == json!(topic)).count()
    };
    assert!(of_the_order(&mine) >= 3, "the buyer sees its order's events: {mine}");
    assert_eq!(of_the_order(&theirs), 0, "an organisation that is no party sees none: {theirs}");
    assert!(
        theirs["result"].as_array().expect("logs").iter().all(|l| l["topics"].as_array().is_some_and(|t| t.len() == 1)),
        "{theirs}"
    );
    let call = json!([{ "from": buyer, "to": orders, "data": get_order }, "latest"]);
    let (_, answer) = json_rpc(&gate, Some(&outsider_t), "eth_call", call.clone()).await;
    assert_eq!(revert_name(&answer).as_deref(), Some("NotEntitled"), "from is the caller's own: {answer}");
    let (_, answer) = json_rpc(&gate, Some(&buyer_t), "eth_call", call).await;
    assert!(answer["result"].is_string(), "{answer}");
    let (_, answer) = json_rpc(&gate, Some(&buyer_t), "eth_getStorageAt", json!([orders, "0x0", "latest"])).await;
    assert_eq!(answer["error"]["code"], -32003, "{answer}");
    let (_, answer) = json_rpc(&gate, Some(&api.token), "eth_getStorageAt", json!([orders, "0x0", "latest"])).await;
    assert!(answer["result"].is_string(), "the operator reads raw state: {answer}");
}
