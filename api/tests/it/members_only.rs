//! Need to know and members only, over real HTTP and WebSocket against a node outside dev
//! mode: what each caller gets from each JSON-RPC method (anonymous, a party, a
//! non-party, a suspended organisation, the operator); writes from non-members, a member's
//! contract creation and a calldata flood refused with the chain file unchanged; a
//! suspended organisation refused on REST, SSE, JSON-RPC and WebSocket; a financier without
//! the firm's consent unable to find any of the firm's figures through any interface, and
//! able to with it, audited; ethers (v6, from npm) driving a trade with a bearer token,
//! and refused without one.

use std::path::Path;
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tradechain_contracts::{Consortium, TradeOrders};

/// The order's amount, in minor units, and how it would show on each interface.
const AMOUNT: u64 = 24_000_000;

/// One JSON-RPC request over HTTP with an optional bearer token: (HTTP status, answer).
async fn rpc(net: &Net, token: Option<&str>, method: &str, params: Value) -> (u16, Value) {
    let mut req = net
        .http
        .post(format!("{}/", net.base))
        .header("content-type", "application/json")
        .body(json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// The parties of one committed order, and where its proposal is on chain.
struct Trade {
    buyer: (String, String),
    seller: (String, String),
    bank: (String, String),
    seller_bank: (String, String),
    outsider: (String, String),
    order_id: i64,
    orders: Address,
    consortium: Address,
    proposal_tx: String,
    proposal_block: String,
}

async fn trade(net: &Net) -> Trade {
    let buyer = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let seller = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let bank = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let seller_bank = net.onboard("Banco Paulista SA", &["bank"]).await;
    let outsider = net.onboard("Unrelated Trading Co", &["trader"]).await;
    let proposal = json!({
        "seller": seller.0, "buyer_bank": bank.0, "seller_bank": seller_bank.0,
        "amount_minor": AMOUNT.to_string(), "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 30 }]
    });
    let (s, order) = net.post("/v1/orders", &buyer.1, proposal).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    let order_id = order["id"].as_i64().expect("id");
    for (path, token) in
        [(format!("/v1/orders/{order_id}/accept"), &seller.1), (format!("/v1/orders/{order_id}/commit"), &bank.1)]
    {
        let (s, body) = net.post(&path, token, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    let (_, chain) = net.get("/v1/chain", &net.operator_token).await;
    let orders: Address = chain["trade_orders"].as_str().expect("orders").parse().expect("address");
    let consortium: Address = chain["consortium"].as_str().expect("consortium").parse().expect("address");
    let filter =
        json!([{ "fromBlock": "0x0", "address": orders, "topics": [TradeOrders::OrderProposed::SIGNATURE_HASH] }]);
    let (_, logs) = rpc(net, Some(&net.operator_token), "eth_getLogs", filter).await;
    let log = logs["result"].as_array().and_then(|l| l.last().cloned()).expect("the proposal's log");
    Trade {
        buyer,
        seller,
        bank,
        seller_bank,
        outsider,
        order_id,
        orders,
        consortium,
        proposal_tx: log["transactionHash"].as_str().expect("tx").to_string(),
        proposal_block: log["blockNumber"].as_str().expect("block").to_string(),
    }
}

/// The operator suspends `org`; returns once the node's read model knows (its own REST
/// call is refused).
async fn suspend(net: &Net, consortium: Address, org: &(String, String)) {
    let call =
        Consortium::suspendCall { account: org.0.parse().expect("address"), reason: "sanctions screening".into() };
    let body = json!({ "to": format!("{consortium:#x}"), "data": hex0x(&call.abi_encode()) });
    let (s, answer) = net.post("/v1/transactions", &net.operator_token, body).await;
    assert_eq!(s, StatusCode::OK, "suspend: {answer}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while net.get("/v1/organisations/me", &org.1).await.0 != StatusCode::FORBIDDEN {
        assert!(tokio::time::Instant::now() < deadline, "the suspension reached the read model");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A person-readable summary of one JSON-RPC answer, for the matrix.
fn cell(status: u16, answer: &Value) -> String {
    let http = if status == 200 { String::new() } else { format!("HTTP {status} ") };
    if let Some(e) = answer.get("error") {
        let code = e["code"].as_i64().unwrap_or_default();
        let revert = e["data"]
            .as_str()
            .and_then(|d| hex::decode(d.trim_start_matches("0x")).ok())
            .and_then(|d| tradechain_contracts::revert::decode(&d))
            .map(|r| format!(" {}", r.name))
            .unwrap_or_default();
        return format!("{http}{code}{revert}");
    }
    let summary = match &answer["result"] {
        Value::Null => "null".to_string(),
        Value::Array(a) => format!("{} items", a.len()),
        Value::Object(o) if o.contains_key("transactions") => {
            format!("block, {} txs", o["transactions"].as_array().map_or(0, Vec::len))
        }
        Value::Object(o) if o.contains_key("logs") => {
            format!("receipt, {} logs", o["logs"].as_array().map_or(0, Vec::len))
        }
        Value::Object(o) if o.contains_key("input") => "the transaction".to_string(),
        Value::Object(_) => "object".to_string(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) => "value".to_string(),
    };
    format!("{http}{summary}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_caller_gets_from_each_json_rpc_method_what_it_may_see() {
    let mut net = Net::start_members_only(Db::Sqlite).await;
    let t = trade(&net).await;
    let op = net.operator_token.clone();
    // The seller's bank is a party that could read the order yesterday.
    suspend(&net, t.consortium, &t.seller_bank).await;

    let id = U256::from(t.order_id);
    let get_order = hex0x(&TradeOrders::getOrderCall { orderId: id }.abi_encode());
    let orders = format!("{:#x}", t.orders);
    let expire = hex0x(&TradeOrders::expireCall { orderId: id }.abi_encode());
    let buyer = t.buyer.0.clone();
    let override_ = json!({ orders.clone(): { "code": "0x00" } });
    let rows: Vec<(&str, &str, Value)> = vec![
        ("eth_chainId", "eth_chainId", json!([])),
        ("eth_blockNumber", "eth_blockNumber", json!([])),
        ("eth_gasPrice", "eth_gasPrice", json!([])),
        ("eth_getCode (TradeOrders)", "eth_getCode", json!([orders, "latest"])),
        ("eth_accounts", "eth_accounts", json!([])),
        ("eth_getBalance (the buyer's)", "eth_getBalance", json!([buyer, "latest"])),
        ("eth_getTransactionCount (the buyer's)", "eth_getTransactionCount", json!([buyer, "latest"])),
        (
            "eth_call getOrder, from the buyer",
            "eth_call",
            json!([{ "from": buyer, "to": orders, "data": get_order }, "latest"]),
        ),
        (
            "eth_call getOrder, state override",
            "eth_call",
            json!([{ "to": orders, "data": get_order }, "latest", override_]),
        ),
        ("eth_estimateGas getOrder", "eth_estimateGas", json!([{ "from": buyer, "to": orders, "data": get_order }])),
        // Anyone may call expire (so nothing waits on one party): its refusal would tell a
        // stranger the order's state and expiry.
        ("eth_call expire (permissionless)", "eth_call", json!([{ "to": orders, "data": expire }, "latest"])),
        ("eth_getLogs TradeOrders from 0", "eth_getLogs", json!([{ "fromBlock": "0x0", "address": orders }])),
        ("eth_getTransactionByHash (proposal)", "eth_getTransactionByHash", json!([t.proposal_tx])),
        ("eth_getTransactionReceipt (proposal)", "eth_getTransactionReceipt", json!([t.proposal_tx])),
        ("eth_getBlockByNumber (proposal's, full)", "eth_getBlockByNumber", json!([t.proposal_block, true])),
        ("eth_getStorageAt", "eth_getStorageAt", json!([orders, "0x0", "latest"])),
        ("eth_getProof", "eth_getProof", json!([orders, [], "latest"])),
        ("eth_newFilter", "eth_newFilter", json!([{ "address": orders }])),
        ("debug_traceTransaction", "debug_traceTransaction", json!([t.proposal_tx])),
        ("eth_subscribe (over HTTP)", "eth_subscribe", json!(["newHeads"])),
    ];
    let callers: [(&str, Option<&str>); 5] = [
        ("anonymous", None),
        ("party (buyer)", Some(&t.buyer.1)),
        ("non-party", Some(&t.outsider.1)),
        ("suspended", Some(&t.seller_bank.1)),
        ("operator", Some(&op)),
    ];
    let mut table = format!("{:<42}", "method");
    for (who, _) in &callers {
        table.push_str(&format!(" | {who:<24}"));
    }
    table.push('\n');
    let mut cells = std::collections::HashMap::new();
    for (label, method, params) in &rows {
        table.push_str(&format!("{label:<42}"));
        for (who, token) in &callers {
            let (status, answer) = rpc(&net, *token, method, params.clone()).await;
            let c = cell(status, &answer);
            table.push_str(&format!(" | {c:<24}"));
            cells.insert((*label, *who), (c, answer));
        }
        table.push('\n');
    }
    let at = |label: &str, who: &str| cells[&(label, who)].0.clone();
    // The rules, stated, before the whole table is compared with the reviewed one.
    for (label, _, _) in &rows {
        assert_eq!(at(label, "anonymous"), "HTTP 401 -32001", "{label}: anonymous gets a 401 and nothing else");
        assert_eq!(at(label, "suspended"), "HTTP 403 -32003", "{label}: a suspended organisation gets nothing");
    }
    assert_eq!(at("eth_call getOrder, from the buyer", "non-party"), "3 NotEntitled", "from is the caller");
    assert_eq!(at("eth_call getOrder, from the buyer", "party (buyer)"), "value");
    assert_eq!(at("eth_call expire (permissionless)", "non-party"), "3 NotEntitled");
    assert_eq!(at("eth_call expire (permissionless)", "party (buyer)"), "3 NotExpiredYet");
    assert_eq!(at("eth_getLogs TradeOrders from 0", "non-party"), "0 items");
    assert_eq!(at("eth_getLogs TradeOrders from 0", "party (buyer)"), at("eth_getLogs TradeOrders from 0", "operator"));
    assert_eq!(at("eth_getTransactionByHash (proposal)", "non-party"), "null");
    assert_eq!(at("eth_getBlockByNumber (proposal's, full)", "non-party"), "block, 0 txs");
    assert_eq!(at("eth_getBlockByNumber (proposal's, full)", "party (buyer)"), "block, 1 txs");
    assert_eq!(at("eth_getStorageAt", "party (buyer)"), "-32003");
    assert_eq!(at("eth_getStorageAt", "operator"), "value");
    // A non-party's filtered block says nothing through its blooms either.
    let block = &cells[&("eth_getBlockByNumber (proposal's, full)", "non-party")].1["result"];
    assert_eq!(block["logsBloom"], format!("0x{}", "0".repeat(512)), "{block}");
    insta::assert_snapshot!("json_rpc_matrix", table);
    net.stop().await;
}

/// Every file under `dir`, summed: what the chain takes on disk.
fn disk_size(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        total += if meta.is_dir() { disk_size(&entry.path()) } else { meta.len() };
    }
    total
}

fn signed(signer: &PrivateKeySigner, nonce: u64, to: TxKind, input: Vec<u8>, gas_limit: u64) -> String {
    let mut tx = TxEip1559 {
        chain_id: 7431,
        nonce,
        gas_limit,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    hex0x(&TxEnvelope::from(tx.into_signed(sig)).encoded_2718())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_come_from_members_only_and_the_chain_file_does_not_grow() {
    let mut net = Net::start_members_only(Db::Sqlite).await;
    let t = trade(&net).await;
    // A member that holds its own key (the node signs nothing for it).
    let own = PrivateKeySigner::random();
    let body =
        json!({ "name": "Self-Custody Trading", "roles": ["trader"], "address": format!("{:#x}", own.address()) });
    let (s, created) = net.post("/v1/organisations", &net.operator_token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let own_t = created["token"].as_str().expect("token").to_string();
    // Another member holding its own key: its transactions are its own to send.
    let other = PrivateKeySigner::random();
    let body = json!({ "name": "Other Self-Custody Trading", "roles": ["trader"],
        "address": format!("{:#x}", other.address()) });
    let (s, created) = net.post("/v1/organisations", &net.operator_token, body).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    // Let the indexer and the node settle, then measure.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let chain_dir = net.dir.path().join("chain");
    let (size, head) =
        (disk_size(&chain_dir), rpc(&net, Some(&net.operator_token), "eth_blockNumber", json!([])).await.1);

    let accept = TradeOrders::acceptCall { orderId: U256::from(t.order_id) }.abi_encode();
    let to = TxKind::Call(t.orders);
    let refused = |answer: &Value, code: i64, needle: &str| {
        assert_eq!(answer["error"]["code"], code, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle:?} in {message}");
    };

    // 1. A key that belongs to no member, even relayed by the operator (whose requests the
    //    gate forwards as asked): the node's admission refuses it.
    let stranger = PrivateKeySigner::random();
    let raw = signed(&stranger, 0, to, accept.clone(), 200_000);
    let (_, answer) = rpc(&net, Some(&net.operator_token), "eth_sendRawTransaction", json!([raw])).await;
    refused(&answer, -32007, "no active member");
    // A member's token with someone else's signature: not its transaction to send.
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([raw])).await;
    refused(&answer, -32003, "its own key");
    // Another member's transaction in a shape the gate might not read but the engine does
    // (an array of bytes), or beside a second parameter: refused at the gate, not passed on
    // unchecked (the engine would admit it: the signer is an active member).
    let theirs = signed(&other, 0, to, accept.clone(), 500_000);
    let bytes = hex::decode(theirs.trim_start_matches("0x")).expect("hex");
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([bytes])).await;
    refused(&answer, -32602, "one signed transaction");
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([theirs, "latest"])).await;
    refused(&answer, -32602, "one signed transaction");
    // 2. A member's contract creation: an infinite loop (JUMPDEST PUSH1 0 JUMP) that would
    //    fill a whole block with free gas.
    let create = signed(&own, 0, TxKind::Create, vec![0x5b, 0x60, 0x00, 0x56], 10_000_000);
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([create])).await;
    refused(&answer, -32007, "contract creation");
    // 3. A calldata flood: 120 KB a transaction, as fast as it can send.
    for nonce in 0..30 {
        let flood = signed(&own, nonce, to, vec![0xab; 120_000], 5_000_000);
        let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([flood])).await;
        refused(&answer, -32007, "calldata");
    }
    // 4. More gas than one sender may use in a block.
    let greedy = signed(&own, 0, to, accept.clone(), 25_000_000);
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([greedy])).await;
    assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("gas")), "{answer}");
    // The suite's own calls still go through for a member: its ordinary transaction is
    // refused by the contract (it is not the seller), not by the node.
    let ordinary = signed(&own, 0, to, accept, 500_000);
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([ordinary])).await;
    assert!(answer["result"].is_string(), "a member's call is admitted: {answer}");
    // The gate recovers the sender once and hands the transaction to the pool as it is: the
    // chain's own refusals still come back as the chain words them, and a second copy of
    // the admitted call is no second transaction.
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([ordinary])).await;
    refused(&answer, -32000, "already");
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!(["0x02c0ffee"])).await;
    assert_eq!(answer["error"]["code"], -32000, "an undecodable transaction, the chain's reason: {answer}");
    let mut elsewhere = TxEip1559 {
        chain_id: 1,
        nonce: 1,
        gas_limit: 500_000,
        max_fee_per_gas: 0,
        max_priority_fee_per_gas: 0,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input: vec![0u8; 4].into(),
    };
    let sig = own.sign_transaction_sync(&mut elsewhere).expect("sign");
    let elsewhere = hex0x(&TxEnvelope::from(elsewhere.into_signed(sig)).encoded_2718());
    let (_, answer) = rpc(&net, Some(&own_t), "eth_sendRawTransaction", json!([elsewhere])).await;
    refused(&answer, -32000, "chain id");

    // Nothing refused reached a block or the disk (the one admitted call is its own block).
    let (_, now) = rpc(&net, Some(&net.operator_token), "eth_blockNumber", json!([])).await;
    let blocks =
        |v: &Value| u64::from_str_radix(v["result"].as_str().expect("head").trim_start_matches("0x"), 16).expect("hex");
    assert_eq!(blocks(&now), blocks(&head) + 1, "only the member's ordinary call was sealed");
    let grown = disk_size(&chain_dir).saturating_sub(size);
    assert!(grown < 64 * 1024, "the chain grew by {grown} bytes for one ordinary transaction and 33 refusals");
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_suspended_organisation_is_refused_on_every_interface() {
    let mut net = Net::start_members_only(Db::Sqlite).await;
    let t = trade(&net).await;
    let who = &t.seller_bank;
    let order = format!("/v1/orders/{}", t.order_id);
    // Before: it reads its order on every interface.
    assert_eq!(net.get(&order, &who.1).await.0, StatusCode::OK);
    let mut sse = net.http.get(format!("{}/v1/events", net.base)).bearer_auth(&who.1).send().await.expect("sse");
    assert_eq!(sse.status(), StatusCode::OK);
    let ws_url = format!("ws://{}/", net.addr);
    let mut request = ws_url.clone().into_client_request().expect("ws request");
    request.headers_mut().insert("authorization", format!("Bearer {}", who.1).parse().expect("header"));
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.expect("ws connects with a bearer");
    ws.send(Message::text(
        json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"] }).to_string(),
    ))
    .await
    .expect("send");
    let first =
        tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("answer").expect("frame").expect("ok");
    assert!(first.to_text().expect("text").contains("\"result\""), "{first}");

    suspend(&net, t.consortium, who).await;

    // REST, reads included.
    let (s, body) = net.get(&order, &who.1).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("ORGANISATION_SUSPENDED")), "{body}");
    let (s, body) = net.get("/v1/orders", &who.1).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    // The SSE stream open before says so and ends.
    let mut seen = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(chunk)) = sse.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends: {seen}");
    assert!(seen.contains("suspended"), "{seen}");
    // A new SSE stream is refused.
    let again = net.http.get(format!("{}/v1/events", net.base)).bearer_auth(&who.1).send().await.expect("sse");
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    // JSON-RPC over HTTP, reads included.
    let (status, answer) = rpc(&net, Some(&who.1), "eth_blockNumber", json!([])).await;
    assert_eq!((status, answer["error"]["code"].as_i64()), (403, Some(-32003)), "{answer}");
    // The WebSocket open before is closed at its next block or request; a new one is refused.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        // A block for the subscription to notice.
        let _ = net.post(&format!("{order}/documents/commercial_invoice/reject"), &t.bank.1, json!({})).await;
        loop {
            let _ =
                ws.send(Message::text(json!({ "jsonrpc": "2.0", "id": 2, "method": "eth_chainId" }).to_string())).await;
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Close(_))) => return,
                Some(Ok(m)) if m.to_text().is_ok_and(|t| t.contains("suspended")) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the WebSocket of a suspended organisation is closed");
    let mut request = ws_url.into_client_request().expect("ws request");
    request.headers_mut().insert("authorization", format!("Bearer {}", who.1).parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(request).await.is_err(), "a new WebSocket is refused");
    // The other parties are unaffected.
    assert_eq!(net.get(&order, &t.buyer.1).await.0, StatusCode::OK);

    // Suspension stops a firm, never its control over who reads its history: a suspended
    // seller still withdraws the consent it gave, and the financier loses its view.
    let (financier, financier_t) = net.onboard_financier("Nordic Trade Capital", &[&t.seller.1]).await;
    let get_order = hex0x(&TradeOrders::getOrderCall { orderId: U256::from(t.order_id) }.abi_encode());
    let call = json!([{ "to": format!("{:#x}", t.orders), "data": get_order }, "latest"]);
    assert!(rpc(&net, Some(&financier_t), "eth_call", call.clone()).await.1["result"].is_string());
    suspend(&net, t.consortium, &t.seller).await;
    let (s, body) = net.post(&format!("/v1/consents/{financier}/revoke"), &t.seller.1, json!({})).await;
    assert_eq!(s, StatusCode::OK, "a suspended firm revokes its consent: {body}");
    let (_, answer) = rpc(&net, Some(&financier_t), "eth_call", call).await;
    assert_eq!(cell(200, &answer), "3 NotEntitled", "{answer}");
    net.stop().await;
}

/// Everything an answer could carry of the trade's figures: the amount (decimal, as shown,
/// and as an ABI word), and the buyer's identity (hex, as in a topic or an ABI word).
fn figures(t: &Trade) -> Vec<String> {
    vec![
        AMOUNT.to_string(),
        "240000.00".into(),
        "240,000.00".into(),
        format!("{:064x}", AMOUNT),
        t.buyer.0.trim_start_matches("0x").to_lowercase(),
        "hanseatic".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_financier_without_consent_finds_none_of_the_firms_figures_on_any_interface() {
    let mut net = Net::start_members_only(Db::Sqlite).await;
    let (financier, financier_t) = net.onboard("Nordic Trade Capital", &["financier"]).await;
    // Its live streams are open before the trade happens.
    let mut sse = net.http.get(format!("{}/v1/events", net.base)).bearer_auth(&financier_t).send().await.expect("sse");
    assert_eq!(sse.status(), StatusCode::OK);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/", net.addr)).await.expect("ws");
    // No header: the first message authenticates (as a browser would).
    let auth = json!({ "jsonrpc": "2.0", "id": 1, "method": "tradechain_authenticate", "params": [financier_t] });
    ws.send(Message::text(auth.to_string())).await.expect("send");
    let ok = ws.next().await.expect("frame").expect("ok");
    assert!(ok.to_text().expect("text").contains("\"result\":true"), "{ok}");
    let t = trade(&net).await;
    let sub =
        json!({ "jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["logs", { "address": t.orders }] });
    ws.send(Message::text(sub.to_string())).await.expect("send");
    let heads = json!({ "jsonrpc": "2.0", "id": 3, "method": "eth_subscribe", "params": ["newHeads"] });
    ws.send(Message::text(heads.to_string())).await.expect("send");

    // The seller presents its invoice: logs the financier's subscription must not carry.
    let order = format!("/v1/orders/{}", t.order_id);
    let (s, body) = net
        .put_bytes(&format!("{order}/documents/commercial_invoice"), &t.seller.1, b"%PDF invoice 2026-001".to_vec())
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let invoice_hash = body["documents"][0]["hash"].as_str().expect("hash").to_string();

    let id = U256::from(t.order_id);
    let mut seen: Vec<String> = Vec::new();
    // REST.
    let seller = &t.seller.0;
    for (path, its_own) in [
        (order.clone(), false),
        ("/v1/orders?limit=100".to_string(), true),
        (format!("/v1/firms/{seller}/orders"), false),
        (format!("/v1/firms/{seller}/credit-profile"), false),
        (format!("/v1/authenticity?order_id={}", t.order_id), false),
        (format!("/v1/proofs/{}?log_index=0", t.proposal_tx), false),
        ("/v1/financings".to_string(), true),
    ] {
        let (s, body) = net.get(&path, &financier_t).await;
        // Its own lists answer (empty); everything about the firm's order is refused.
        assert_eq!(s == StatusCode::OK, its_own, "{path}: {s} {body}");
        seen.push(format!("{path}: {body}"));
    }
    let check = json!({ "order_id": t.order_id, "milestone": 0, "kind": "receivable", "rate_bps": 100, "advance_minor": "1000",
        "invoice": { "number": "2026-001", "date": date_in(0), "amount_minor": AMOUNT.to_string(), "currency": "USD" } });
    let (s, body) = net.post("/v1/financings/check", &financier_t, check.clone()).await;
    assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("ORDER_NOT_FOUND")), "{body}");
    seen.push(format!("check: {body}"));
    // JSON-RPC.
    let orders = format!("{:#x}", t.orders);
    for (method, params) in [
        ("eth_getLogs", json!([{ "fromBlock": "0x0" }])),
        ("eth_getTransactionByHash", json!([t.proposal_tx])),
        ("eth_getTransactionReceipt", json!([t.proposal_tx])),
        ("eth_getBlockByNumber", json!([t.proposal_block, true])),
        (
            "eth_call",
            json!([{ "to": orders, "data": hex0x(&TradeOrders::getOrderCall { orderId: id }.abi_encode()) }, "latest"]),
        ),
        (
            "eth_call",
            json!([{ "to": orders, "data": hex0x(&TradeOrders::getMilestoneCall { orderId: id, index: U256::ZERO }.abi_encode()) }, "latest"]),
        ),
        (
            "eth_call",
            json!([{ "to": orders, "data": hex0x(&TradeOrders::getDocumentCall { orderId: id, docType: 0 }.abi_encode()) }, "latest"]),
        ),
        ("eth_getStorageAt", json!([orders, "0x0", "latest"])),
    ] {
        let (_, mut answer) = rpc(&net, Some(&financier_t), method, params).await;
        if method == "eth_getLogs" {
            // The membership directory (the Consortium's registrations: names, addresses,
            // roles) is shared among members by design: it is how parties name each other.
            // Nothing else is the financier's to see.
            let consortium = format!("{:#x}", t.consortium);
            let logs = answer["result"].as_array_mut().expect("logs");
            logs.retain(|l| l["address"].as_str().is_none_or(|a| !a.eq_ignore_ascii_case(&consortium)));
            assert_eq!(logs.len(), 0, "{answer}");
        }
        seen.push(format!("{method}: {answer}"));
    }
    // WebSocket and SSE: what arrived while all this happened (new heads, so the
    // subscription is live; the order's logs are not among what arrived).
    let mut ws_frames = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(m)) = ws.next().await {
            ws_frames.push_str(m.to_text().unwrap_or_default());
            ws_frames.push('\n');
        }
    })
    .await;
    assert!(ws_frames.contains("\"parentHash\""), "new heads arrive: {ws_frames}");
    assert!(!ws_frames.contains("\"topics\""), "no log of the order arrives: {ws_frames}");
    seen.push(ws_frames);
    let mut sse_text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(Some(chunk)) = sse.chunk().await {
            sse_text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    seen.push(sse_text);

    let everything = seen.join("\n").to_lowercase();
    for needle in figures(&t).iter().chain([invoice_hash.trim_start_matches("0x").to_lowercase()].iter()) {
        assert!(!everything.contains(needle.as_str()), "{needle} leaked to a financier without consent:\n{everything}");
    }

    // With the seller's consent: the same financier reads the order on chain and through
    // REST, and the seller sees each read in its audit.
    net.consent(&t.seller.1, &financier).await;
    let call =
        json!([{ "to": orders, "data": hex0x(&TradeOrders::getOrderCall { orderId: id }.abi_encode()) }, "latest"]);
    let (_, answer) = rpc(&net, Some(&financier_t), "eth_call", call).await;
    let data = hex::decode(answer["result"].as_str().expect("a result").trim_start_matches("0x")).expect("hex");
    let got = TradeOrders::getOrderCall::abi_decode_returns(&data).expect("an order");
    assert_eq!((got.amount, format!("{:#x}", got.buyer)), (u128::from(AMOUNT), t.buyer.0.to_lowercase()));
    let (s, body) = net.get(&format!("/v1/authenticity?order_id={}", t.order_id), &financier_t).await;
    assert_eq!((s, body["amount_minor"].as_str()), (StatusCode::OK, Some("24000000")), "{body}");
    let (s, body) = net.get(&format!("/v1/proofs/{}?log_index=0", t.proposal_tx), &financier_t).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = net.post("/v1/financings/check", &financier_t, check).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, overview) = net.get("/v1/consents", &t.seller.1).await;
    let reads: Vec<&str> = overview["reads"]
        .as_array()
        .expect("reads")
        .iter()
        .filter(|r| r["reader"] == json!(financier))
        .filter_map(|r| r["action"].as_str())
        .collect();
    for action in ["rpc_read", "authenticity_read", "proof_read"] {
        assert!(reads.contains(&action), "{action} audited: {reads:?}");
    }
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ethers_drives_a_trade_through_the_gate_with_a_bearer_token_and_gets_401_without() {
    let Some(js) = crate::js_tests("the ethers test") else { return };
    let mut net = Net::start_members_only(Db::Sqlite).await;
    let mut parties = serde_json::Map::new();
    for (key, name, role) in [
        ("buyer", "Hanseatic Coffee Importers GmbH", "trader"),
        ("seller", "Fazenda Boa Vista Ltda", "trader"),
        ("bank", "Deutsche Handelsbank AG", "bank"),
    ] {
        let signer = PrivateKeySigner::random();
        let body = json!({ "name": name, "roles": [role], "address": format!("{:#x}", signer.address()) });
        let (s, created) = net.post("/v1/organisations", &net.operator_token, body).await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        parties.insert(
            key.into(),
            json!({ "key": hex0x(&signer.to_bytes()[..]), "address": format!("{:#x}", signer.address()), "token": created["token"] }),
        );
    }
    let (outsider, outsider_t) = net.onboard("Unrelated Trading Co", &["trader"]).await;
    let (_, chain) = net.get("/v1/chain", &net.operator_token).await;
    let now = tradechain_engine::node::unix_now();
    let config = json!({
        "url": format!("{}/", net.base),
        "orders": chain["trade_orders"],
        "abi": Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts-sol/artifacts/TradeOrders.json"),
        "parties": parties,
        "outsider": { "address": outsider, "token": outsider_t },
        "latest_shipment": now + 30 * 86_400,
        "expiry": now + 60 * 86_400,
    });
    let out = std::process::Command::new("node")
        .arg(js.join("members.mjs"))
        .arg(config.to_string())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "ethers client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ALL MEMBERS-ONLY CHECKS PASSED"), "{stdout}");
    // What ethers did is what the platform sees: the order is committed and its invoice
    // accepted in the read model.
    let (_, page) = net.get("/v1/orders?role=buyer", parties["buyer"]["token"].as_str().expect("token")).await;
    assert_eq!(page["items"][0]["state"], "committed", "{page}");
    net.stop().await;
}
