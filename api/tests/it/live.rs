//! Over HTTP: server-sent events, the non-custodial relay, the docs, health, body limits.

use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use reqwest::StatusCode;
use serde_json::json;
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_contracts::TradeOrders;

fn order_for(seller: &str, bank: &str) -> serde_json::Value {
    json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": bank,
        "amount_minor": "500000", "currency": "EUR", "incoterm": "CIF",
        "latest_shipment": date_in(20), "expiry": date_in(40),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_party_watches_its_orders_change_live() {
    for db in test_support::api::backends() {
        a_party_watches_its_orders_change_live_on(db).await;
    }
}

async fn a_party_watches_its_orders_change_live_on(db: Db) {
    let mut net = Net::start(db).await;
    let (_, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bank", &["bank"]).await;
    let mut stream =
        net.http.get(format!("{}/v1/events", net.base)).bearer_auth(&seller_t).send().await.expect("subscribe");
    assert_eq!(stream.status(), StatusCode::OK);
    let (s, order) = net.post("/v1/orders", &buyer_t, order_for(&seller, &bank)).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: OrderProposed") {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.expect("event in time").expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("open stream")));
    }
    assert!(seen.contains(&format!("\"order_id\":{}", order["id"])), "{seen}");
    // Graceful shutdown ends the live stream instead of waiting for the client forever.
    tokio::time::timeout(Duration::from_secs(10), net.stop()).await.expect("shutdown with an open event stream");
    let rest =
        tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(rest.is_ok(), "the event stream ended");
}

fn sign(signer: &PrivateKeySigner, nonce: u64, to: Address, input: Vec<u8>) -> String {
    let mut tx = TxEip1559 {
        chain_id: 7431,
        nonce,
        gas_limit: 3_000_000,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to: TxKind::Call(to),
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    format!("0x{}", hex::encode(TxEnvelope::from(tx.into_signed(sig)).encoded_2718()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_non_custodial_organisation_relays_its_own_signed_transactions() {
    for db in test_support::api::backends() {
        a_non_custodial_organisation_relays_its_own_signed_transactions_on(db).await;
    }
}

async fn a_non_custodial_organisation_relays_its_own_signed_transactions_on(db: Db) {
    let mut net = Net::start(db).await;
    let own = PrivateKeySigner::random();
    let (s, body) = net
        .post(
            "/v1/organisations",
            &net.operator_token,
            json!({ "name": "Self-Custody Trading", "roles": ["trader"], "address": format!("{:#x}", own.address()),
                    "bank_account": { "iban": "DE89 3704 0044 0532 0130 00", "bic": "COBADEFFXXX" } }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["organisation"]["custody"], "external");
    assert_eq!(body["organisation"]["bank_account"]["iban"], "DE89370400440532013000");
    let own_t = body["token"].as_str().expect("token").to_string();
    let (seller, _) = net.onboard("Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bank", &["bank"]).await;

    // A proposal the chain would refuse (its seller unknown to the consortium) is answered with the
    // contract's reason, before the missing key: the key is read while the chain simulates.
    let stranger = format!("{:#x}", PrivateKeySigner::random().address());
    let (s, body) = net.post("/v1/orders", &own_t, order_for(&stranger, &bank)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("UNKNOWN_ORGANISATION")), "{body}");
    // The node holds no key for it.
    let (s, body) = net.post("/v1/orders", &own_t, order_for(&seller, &bank)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("NON_CUSTODIAL")));

    let (_, chain) = net.get("/v1/chain", &own_t).await;
    let orders: Address = chain["trade_orders"].as_str().expect("address").parse().expect("address");
    let t = TradeOrders::OrderTerms {
        seller: seller.parse().expect("seller"),
        buyerBank: bank.parse().expect("bank"),
        sellerBank: bank.parse().expect("bank"),
        carrier: Address::ZERO,
        inspector: Address::ZERO,
        amount: 500_000,
        currency: "EUR".as_bytes().try_into().expect("bytes3"),
        incoterm: "CIF".as_bytes().try_into().expect("bytes3"),
        // The details of the refused request above (none: `line_items` empty), in canonical JSON.
        detailsHash: alloy::primitives::keccak256(br#"{"line_items":[]}"#),
        latestShipment: tradechain_engine::node::unix_now() + 86_400 * 20,
        expiry: tradechain_engine::node::unix_now() + 86_400 * 40,
        examinationDays: 0,
        charges: tradechain_contracts::Charges::Shared as u8,
    };
    let terms = vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }];
    let input = TradeOrders::proposeCall { t, terms }.abi_encode();

    // Signed by someone else: refused, nothing sent.
    let other = PrivateKeySigner::random();
    let (s, body) =
        net.post("/v1/transactions", &own_t, json!({ "raw": sign(&other, 0, orders, input.clone()) })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("WRONG_SENDER")), "{body}");
    // Its own signature: relayed, mined, indexed.
    let (s, body) = net.post("/v1/transactions", &own_t, json!({ "raw": sign(&own, 0, orders, input) })).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let (_, page) = net.get("/v1/orders?role=buyer", &own_t).await;
    assert_eq!(page["items"][0]["amount"], "5000.00", "{page}");
    // The refused request stored nothing: no details of it are kept for the order that
    // anchors their hash (refused before anything was stored, not after).
    let (s, order) = net.get(&format!("/v1/orders/{}", page["items"][0]["id"]), &own_t).await;
    assert_eq!(s, StatusCode::OK, "{order}");
    assert_eq!(order["details"], serde_json::Value::Null, "{order}");
    // A relayed transaction that would revert is answered with the contract's code.
    let accept = TradeOrders::acceptCall { orderId: U256::from(1) }.abi_encode();
    let (s, body) = net.post("/v1/transactions", &own_t, json!({ "raw": sign(&own, 1, orders, accept) })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NOT_ORDER_SELLER")), "{body}");
    // It cannot have the node sign for it: the node holds no key.
    let accept = TradeOrders::acceptCall { orderId: U256::from(1) }.abi_encode();
    let call = json!({ "to": format!("{orders:#x}"), "data": format!("0x{}", hex::encode(&accept)) });
    let (s, body) = net.post("/v1/transactions", &own_t, call).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("NON_CUSTODIAL")), "{body}");
    net.stop().await;
}

/// A custodial organisation's own software (a bank's settlement worker) has the node sign
/// a contract call with the organisation's key: `POST /v1/transactions` with `to` and
/// `data`; the contract's rules apply, a refusal is answered with its code and sends
/// nothing, and only contracts of the suite may be called.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_custodial_organisation_has_the_node_sign_its_contract_calls() {
    let mut net = Net::start(Db::Sqlite).await;
    let (buyer, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bank", &["bank"]).await;
    let (s, order) = net.post("/v1/orders", &buyer_t, order_for(&seller, &bank)).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let id = order["id"].as_u64().expect("id");
    let (_, chain) = net.get("/v1/chain", &seller_t).await;
    let orders = chain["trade_orders"].as_str().expect("address").to_string();
    let accept = |who: &str| json!({ "to": who, "data": format!("0x{}", hex::encode(TradeOrders::acceptCall { orderId: U256::from(id) }.abi_encode())) });

    // Refused, each with a stable code, and nothing sent.
    let head = net.state.chain.head().await.expect("head");
    let (s, body) = net.post("/v1/transactions", &buyer_t, accept(&orders)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NOT_ORDER_SELLER")), "{body}");
    let (s, body) = net.post("/v1/transactions", &seller_t, accept(&buyer)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_TRANSACTION")));
    let (s, body) = net.post("/v1/transactions", &seller_t, json!({ "to": orders, "data": "0xnothex" })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_TRANSACTION")));
    let (s, body) = net.post("/v1/transactions", &seller_t, json!({ "to": orders })).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("VALIDATION_FAILED")));
    let mut both = accept(&orders);
    both["raw"] = json!("0x00");
    let (s, body) = net.post("/v1/transactions", &seller_t, both).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("VALIDATION_FAILED")));
    assert_eq!(net.state.chain.head().await.expect("head"), head, "nothing was sent");

    // The seller's call, signed by the node with the seller's key: mined and indexed.
    let (s, body) = net.post("/v1/transactions", &seller_t, accept(&orders)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true, "{body}");
    let (_, order) = net.get(&format!("/v1/orders/{id}"), &seller_t).await;
    assert_eq!(order["state"], "accepted", "{order}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn docs_health_and_limits() {
    for db in test_support::api::backends() {
        docs_health_and_limits_on(db).await;
    }
}

async fn docs_health_and_limits_on(db: Db) {
    let mut net = Net::start(db).await;
    let (s, doc) = net.call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/v1/orders"].is_object());
    let (s, page) = net.call("GET", "/docs", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.as_str().is_some_and(|p| p.contains("/openapi.json")));
    let (s, h) = net.call("GET", "/v1/health", None, None).await;
    assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, r) = net.call("GET", "/v1/ready", None, None).await;
    assert_eq!((s, r["ready"].as_bool()), (StatusCode::OK, Some(true)), "{r}");
    // The JSON-RPC of the engine answers on the same port.
    let (s, rpc) = net
        .call("POST", "/rpc", None, Some(json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [] })))
        .await;
    assert_eq!((s, rpc["result"].as_str()), (StatusCode::OK, Some("0x1d07")), "{rpc}");
    // Requests carry an id back.
    let res =
        net.http.get(format!("{}/v1/health", net.base)).header("x-request-id", "abc-1").send().await.expect("get");
    assert_eq!(res.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("abc-1"));
    // Bodies over the limit are refused before anything is parsed (last: the server
    // closes that connection).
    let (_, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let big = json!({ "details": { "notes": "x".repeat(1024 * 1024 + 1) } });
    let (s, body) = net.post("/v1/orders", &buyer_t, big).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("BODY_TOO_LARGE")), "{body}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_amendment_needs_the_other_party_and_a_proposal_can_be_withdrawn() {
    for db in test_support::api::backends() {
        an_amendment_needs_the_other_party_and_a_proposal_can_be_withdrawn_on(db).await;
    }
}

async fn an_amendment_needs_the_other_party_and_a_proposal_can_be_withdrawn_on(db: Db) {
    let mut net = Net::start(db).await;
    let (_, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bank", &["bank"]).await;
    let (_, order) = net.post("/v1/orders", &buyer_t, order_for(&seller, &bank)).await;
    let o = format!("/v1/orders/{}", order["id"]);
    let amendment = json!({ "latest_shipment": date_in(25), "expiry": date_in(50),
        "details": { "notes": "ship from Santos instead of Rio" } });
    let (s, body) = net.post(&format!("{o}/amendments"), &seller_t, amendment).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["pending_amendment"]["amendment_id"], "1", "{body}");
    let (s, body) = net.post(&format!("{o}/amendments/1/approve"), &seller_t, json!({})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("CANNOT_APPROVE_OWN_PROPOSAL")));
    let (s, body) = net.post(&format!("{o}/amendments/1/approve"), &buyer_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["details"]["notes"], "ship from Santos instead of Rio");
    assert_eq!(body["expiry"], date_in(50));
    assert!(body["pending_amendment"].is_null());
    let (s, body) = net.post(&format!("{o}/cancel"), &seller_t, json!({})).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NOT_ORDER_BUYER")));
    let (s, body) = net.post(&format!("{o}/cancel"), &buyer_t, json!({})).await;
    assert_eq!((s, body["state"].as_str()), (StatusCode::OK, Some("cancelled")), "{body}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_financier_reads_a_firm_history_only_under_a_live_consent() {
    for db in test_support::api::backends() {
        a_financier_reads_a_firm_history_only_under_a_live_consent_on(db).await;
    }
}

async fn a_financier_reads_a_firm_history_only_under_a_live_consent_on(db: Db) {
    use sea_orm::EntityTrait;
    use tradechain_api::readmodel::{audit, consent};

    let mut net = Net::start(db).await;
    let (_, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bank", &["bank"]).await;
    let (financier, financier_t) = net.onboard("Financier", &["financier"]).await;
    let (_, order) = net.post("/v1/orders", &buyer_t, order_for(&seller, &bank)).await;
    let history = format!("/v1/firms/{seller}/orders");
    let (s, body) = net.get(&history, &financier_t).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NO_LIVE_CONSENT")));

    // The seller grants consent.
    let state = &net.state;
    let grant = json!({ "financier": financier, "expires_at": date_in(30) });
    let (s, body) = net.post("/v1/consents", &seller_t, grant).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let c = consent::Entity::find_by_id((seller.clone(), financier.clone())).one(&state.db).await.expect("db");
    assert_eq!(c.map(|c| c.state), Some("granted".to_string()));

    let (s, page) = net.get(&history, &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["id"], order["id"]);
    let audited = audit::Entity::find().all(&state.db).await.expect("audit");
    let actions: Vec<&str> = audited.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["firm_history_refused", "firm_history"], "the refusal and the read are audited");

    let (s, body) = net.post(&format!("/v1/consents/{financier}/revoke"), &seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.get(&history, &financier_t).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("NO_LIVE_CONSENT")));
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_wait_for_interval_sealed_blocks() {
    let mut net = Net::start_with(Db::Sqlite, false).await;
    let (_, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bank", &["bank"]).await;
    // Concurrent proposals by one buyer: nonces are handed out in order under its lock.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (http, base, token, body) =
            (net.http.clone(), net.base.clone(), buyer_t.clone(), order_for(&seller, &bank));
        tasks.push(tokio::spawn(async move {
            let res = http
                .post(format!("{base}/v1/orders"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .expect("send");
            res.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), StatusCode::CREATED);
    }
    let (_, page) = net.get("/v1/orders?role=seller", &seller_t).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(4), "{page}");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_financier_watches_its_consents_and_financings_live() {
    let mut net = Net::start(Db::Sqlite).await;
    let (_, buyer_t) = net.onboard("Buyer", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Seller", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Bank", &["bank"]).await;
    let (_, financier_t) = net.onboard("Harbour Capital", &["financier"]).await;
    let (_, other_t) = net.onboard("Other Capital", &["financier"]).await;
    let open = |token: String| {
        let req = net.http.get(format!("{}/v1/events", net.base)).bearer_auth(token);
        async move { req.send().await.expect("subscribe") }
    };
    let mut mine = open(financier_t.clone()).await;
    let mut other = open(other_t.clone()).await;

    let (s, req) =
        net.post("/v1/verification-requests", &financier_t, json!({ "firm": seller, "purpose": "credit line" })).await;
    assert_eq!(s, StatusCode::CREATED, "{req}");
    let rid = req["id"].as_i64().expect("request id");
    let (s, body) = net
        .post(&format!("/v1/verification-requests/{rid}/grant"), &seller_t, json!({ "expires_at": date_in(30) }))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, order) = net.post("/v1/orders", &buyer_t, order_for(&seller, &bank)).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let o = format!("/v1/orders/{}", order["id"]);
    assert_eq!(net.post(&format!("{o}/accept"), &seller_t, json!({})).await.0, StatusCode::OK);
    assert_eq!(net.post(&format!("{o}/commit"), &bank_t, json!({})).await.0, StatusCode::OK);
    let (s, body) = net.put_bytes(&format!("{o}/documents/commercial_invoice"), &seller_t, b"%PDF inv".to_vec()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let offer = json!({
        "kind": "receivable", "advance_minor": "450000", "rate_bps": 300,
        "invoice": { "number": "INV-77", "date": "2026-11-20", "amount_minor": "500000", "currency": "EUR" }
    });
    let (s, offer) = net.post(&format!("{o}/milestones/0/financing-offers"), &financier_t, offer).await;
    assert_eq!(s, StatusCode::CREATED, "{offer}");
    let fid = offer["id"].as_i64().expect("financing id");
    let (s, body) = net.post(&format!("/v1/financings/{fid}/accept"), &seller_t, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // The financier sees its request answered and its financing taken, not the order's
    // own events (it is not a party of the order).
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: FinancingAccepted") {
        let chunk = tokio::time::timeout_at(deadline, mine.chunk()).await.expect("event in time").expect("chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("open stream")));
    }
    for expected in ["event: VerificationRequested", "event: ConsentGranted", "event: FinancingOffered"] {
        assert!(seen.contains(expected), "{expected} missing from {seen}");
    }
    assert!(seen.contains(&format!("\"request_id\":{rid}")), "{seen}");
    assert!(seen.contains(&format!("\"financing_id\":{fid}")), "{seen}");
    assert!(!seen.contains("event: OrderProposed"), "{seen}");
    // Another financier sees none of it.
    let quiet = tokio::time::timeout(Duration::from_millis(500), other.chunk()).await;
    if let Ok(Ok(Some(chunk))) = quiet {
        let text = String::from_utf8_lossy(&chunk);
        assert!(!text.contains("event: "), "another financier was told: {text}");
    }
    net.stop().await;
}

/// The live changes of many orders indexed in one block go each to its own order's
/// parties: the indexer reads the viewers of a block's orders together, and a change paired
/// with another order's viewers would show a rival's trade on its live stream. Twelve
/// orders of six unrelated pairs, interleaved in one block.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_indexed_together_go_each_to_its_own_orders_parties_only() {
    for db in test_support::api::backends() {
        changes_indexed_together_go_each_to_its_own_orders_parties_only_on(db).await;
    }
}

async fn changes_indexed_together_go_each_to_its_own_orders_parties_only_on(db: Db) {
    use tradechain_contracts::genesis::SuiteAddresses;
    use tradechain_contracts::{Consortium, role};
    // Blocks gather what arrives within 300 ms: the twelve proposals share one.
    let mut net = Net::start_gathering(db, 300).await;
    let operator: PrivateKeySigner = tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("the dev key");
    let suite = SuiteAddresses::for_operator(operator.address());
    let key = |i: usize| PrivateKeySigner::from_bytes(&alloy::primitives::keccak256(format!("live {i}"))).expect("key");
    // Pair p: buyer 4p, seller 4p+1, their banks 4p+2 and 4p+3.
    let keys: Vec<PrivateKeySigner> = (0..24).map(key).collect();
    let first_nonce = net.node.nonce(&operator.address(), true);
    for (nonce, (i, k)) in (first_nonce..).zip(keys.iter().enumerate()) {
        let roles = if i % 4 < 2 { role::TRADER } else { role::BANK };
        let call = Consortium::registerCall { account: k.address(), name: format!("member {i}"), roles };
        let raw = sign(&operator, nonce, suite.consortium, call.abi_encode());
        net.node.submit_raw(&hex::decode(&raw[2..]).expect("hex")).expect("admitted");
    }
    while net.node.pool_len() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let registered = net.node.head().header.number;
    assert!(net.state.indexer.wait_for(registered, Duration::from_secs(20)).await, "registrations indexed");
    let mut changes = net.state.indexer.subscribe();
    let now = net.node.next_block_params().timestamp;
    for round in 0..2u64 {
        for p in 0..6 {
            let k = |r: usize| &keys[4 * p + r];
            let n = round * 6 + u64::try_from(p).expect("small");
            let call =
                test_support::fixtures::proposal(k(1).address(), k(2).address(), k(3).address(), 500_000, now, n);
            let raw = sign(k(0), round, suite.trade_orders, call.abi_encode());
            net.node.submit_raw(&hex::decode(&raw[2..]).expect("hex")).expect("admitted");
        }
    }
    let mut seen = std::collections::HashMap::new();
    let mut blocks = std::collections::HashSet::new();
    while seen.len() < 12 {
        let c =
            tokio::time::timeout(Duration::from_secs(20), changes.recv()).await.expect("in time").expect("a change");
        if c.kind != "OrderProposed" {
            continue;
        }
        blocks.insert(c.block);
        seen.insert(c.order_id.expect("an order"), c.parties);
    }
    assert_eq!(blocks.len(), 1, "the twelve proposals were indexed together");
    for (id, parties) in seen {
        let (_, o) = net.get(&format!("/v1/orders/{id}"), &net.operator_token).await;
        let mut expected: Vec<String> = ["buyer", "seller", "buyer_bank", "seller_bank"]
            .iter()
            .map(|r| o[r].as_str().expect("a party").to_lowercase())
            .collect();
        expected.sort();
        assert_eq!(parties, expected, "order {id}'s change goes to its parties and no one else");
    }
    net.stop().await;
}
