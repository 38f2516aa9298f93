//! What the members-only JSON-RPC gate costs (`cargo bench -p tradechain-api --bench gate`):
//! the same requests, interleaved in one run against one node outside dev mode, as the
//! operator (forwarded as asked) and as a party to the orders (authenticated, `from`
//! forced, the order's `mayView` checked, logs filtered through the read model). Prints
//! p50/p99 of each and the ratio of medians.
//!
//! Sizes: `BENCH_GATE_ORDERS` (default 40), `BENCH_GATE_ROUNDS` (300).

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_contracts::TradeOrders;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median_and_p99(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort();
    let at = |p: f64| {
        let i = ((lat.len() - 1) as f64 * p).round() as usize;
        lat[i].as_secs_f64() * 1000.0
    };
    (at(0.5), at(0.99))
}

async fn rpc(net: &Net, token: &str, body: &str) -> Duration {
    let start = Instant::now();
    let res = net
        .http
        .post(format!("{}/", net.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let text = res.text().await.expect("body");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert!(v.get("result").is_some(), "{v}");
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (orders, rounds) = (env("BENCH_GATE_ORDERS", 40), env("BENCH_GATE_ROUNDS", 300));
    let mut net = Net::start_members_only(Db::Sqlite).await;
    let (buyer, buyer_t) = net.onboard("Hanseatic Coffee Importers GmbH", &["trader"]).await;
    let (seller, seller_t) = net.onboard("Fazenda Boa Vista Ltda", &["trader"]).await;
    let (bank, bank_t) = net.onboard("Deutsche Handelsbank AG", &["bank"]).await;
    let _ = (&buyer, &seller_t, &bank_t);
    for _ in 0..orders {
        let proposal = json!({
            "seller": seller, "buyer_bank": bank, "seller_bank": bank,
            "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
            "latest_shipment": date_in(30), "expiry": date_in(60),
            "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"], "tenor_days": 30 }]
        });
        let (s, body) = net.post("/v1/orders", &buyer_t, proposal).await;
        assert!(s.is_success(), "{body}");
    }
    let (_, chain) = net.get("/v1/chain", &net.operator_token).await;
    let to = chain["trade_orders"].as_str().expect("orders").to_string();
    // The operator's requests go through as asked: it names itself (a party's `from` is
    // forced to the party by the gate whatever it says).
    let operator = format!("{:#x}", net.state.operator.address());
    let data = format!("0x{}", hex::encode(TradeOrders::getOrderCall { orderId: U256::from(orders / 2) }.abi_encode()));
    let requests = [
        (
            "eth_call getOrder",
            json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{ "from": operator, "to": to, "data": data }, "latest"] }),
        ),
        (
            "eth_getLogs TradeOrders from 0",
            json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_getLogs",
            "params": [{ "fromBlock": "0x0", "address": to }] }),
        ),
        ("eth_blockNumber", json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": [] })),
    ];
    println!("members-only JSON-RPC gate, {orders} orders, {rounds} rounds, operator and party interleaved");
    for (what, request) in &requests {
        let body = request.to_string();
        let (mut operator, mut party) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            operator.push(rpc(&net, &net.operator_token, &body).await);
            party.push(rpc(&net, &buyer_t, &body).await);
        }
        let ((o50, o99), (p50, p99)) = (median_and_p99(operator), median_and_p99(party));
        println!(
            "{what:<32} operator p50 {o50:>7.3} ms p99 {o99:>7.3} ms | party p50 {p50:>7.3} ms p99 {p99:>7.3} ms | x{:.2}",
            p50 / o50
        );
    }
    net.stop().await;
}
