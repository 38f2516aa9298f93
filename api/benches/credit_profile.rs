//! Credit-profile latency over loopback HTTP with a large read model (release build:
//! `cargo bench -p tradechain-api --bench credit_profile`).
//!
//! Fills the SQLite read model with `BENCH_PROFILE_ORDERS` orders (default 1,000,000) by
//! bulk inserts straight into the tables, spread over many firms (about 100 orders each),
//! each completed order with its MilestoneTriggered, PaymentConfirmed and OrderCompleted
//! events; then a financier with the firm's live consent (granted on chain) reads the
//! credit profile of one firm with ~100 orders, and the latency p50/p99 is printed.
//! The facts a profile is computed from are seeded the way the indexer records them (the
//! same `Fact::of` and `append_facts`). Target: under 10 ms p99. Measured on 2 cores
//! (2026-11-25, 1,000,000 orders, the firm with 175 completed orders): p50 2.7 ms, p99
//! 4.7 ms (was p50 17 ms, p99 25 ms when the profile read the firm's orders and events,
//! ~725 rows). The second line printed (the consent check and audit alone) is the floor.
//! `BENCH_PROFILE_ORDERS` sets the size; `BENCH_KEEP=1` keeps the read model file.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use sea_orm::{EntityTrait, TransactionTrait};
use serde_json::json;
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_api::indexer::credit::Fact;
use tradechain_api::indexer::credit::append_facts;
use tradechain_api::readmodel::{event, order};

/// A count as a database integer.
fn n64(n: usize) -> i64 {
    i64::try_from(n).expect("a bench count fits")
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len().max(1) as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// Firm `k`'s address; firm 0 is the profiled one (its real address).
fn firm(k: usize, profiled: &str) -> String {
    if k == 0 { profiled.to_string() } else { format!("0x{:040x}", 0xf1_0000_0000u64 + k as u64) }
}

fn order_model(i: usize, buyer: String, seller: String) -> order::Model {
    let id = 1_000_000 + n64(i);
    let completed = i % 4 != 3;
    order::Model {
        id,
        buyer,
        seller,
        buyer_bank: format!("0x{:040x}", 0xba4c_0000u64 + (i % 13) as u64),
        seller_bank: format!("0x{:040x}", 0xba4c_1000u64 + (i % 11) as u64),
        carrier: format!("0x{:040x}", 0),
        inspector: format!("0x{:040x}", 0),
        amount: format!("{}", 1_000_000 + i),
        paid: if completed { format!("{}", 1_000_000 + i) } else { "0".into() },
        currency: if i.is_multiple_of(3) { "EUR" } else { "USD" }.into(),
        incoterm: "FOB".into(),
        charges: "shared".into(),
        cover: Some("bank_risk".into()),
        details_hash: format!("0x{i:064x}"),
        latest_shipment: 1_900_000_000,
        expiry: 1_900_500_000,
        state: if completed { "completed" } else { "committed" }.into(),
        created_block: id,
        created_at: 1_700_000_000 + n64(i) * 30,
        updated_block: id,
        cancel_requested_by: None,
        disputes: 0,
        dispute_raised_by: None,
        amendments: 0,
        pending_amendment: None,
    }
}

async fn seed(net: &Net, rows: usize, profiled: &str) {
    const PER_FIRM: usize = 100;
    let firms = (rows / PER_FIRM).max(2);
    let db = &net.state.db;
    let started = Instant::now();
    // Facts are appended per firm every 50,000 orders (as many blocks' worth at once), so
    // the seed does not take hours; the indexer appends per event with the same function.
    let mut pending: BTreeMap<String, Vec<Fact>> = BTreeMap::new();
    let chunks: Vec<Vec<usize>> = (0..rows).collect::<Vec<_>>().chunks(1000).map(<[usize]>::to_vec).collect();
    let last = chunks.len().saturating_sub(1);
    for (n, chunk) in chunks.iter().enumerate() {
        let txn = db.begin().await.expect("begin");
        // Order i is between firm i % firms (buyer on even rounds, seller on odd) and
        // another firm; so each firm has ~100 orders as buyer or seller plus ~100 as
        // counterparty.
        let parties = |i: usize| {
            let (a, b) = (i % firms, (i / firms + 1 + i % firms) % firms);
            let (a, b) = (firm(a, profiled), firm(b, profiled));
            if (i / firms).is_multiple_of(2) { (a, b) } else { (b, a) }
        };
        let orders: Vec<order::Model> = chunk
            .iter()
            .map(|&i| {
                let (buyer, seller) = parties(i);
                order_model(i, buyer, seller)
            })
            .collect();
        order::Entity::insert_many(orders.iter().cloned().map(order::ActiveModel::from))
            .exec_without_returning(&txn)
            .await
            .expect("orders");
        let events = chunk.iter().filter(|&&i| i % 4 != 3).flat_map(|&i| {
            let id = 1_000_000 + n64(i);
            let block = 10_000_000 + n64(i);
            let ts = 1_700_000_000 + n64(i) * 30;
            let due = if i % 10 == 0 { ts - 5 * 86_400 } else { ts };
            [
                ("MilestoneTriggered", json!({ "orderId": id.to_string(), "index": "0", "dueDate": due.to_string() })),
                (
                    "PaymentConfirmed",
                    json!({ "orderId": id.to_string(), "milestone": "0", "amount": (1_000_000 + i).to_string() }),
                ),
                ("OrderCompleted", json!({ "orderId": id.to_string(), "paid": (1_000_000 + i).to_string() })),
            ]
            .into_iter()
            .enumerate()
            .map(move |(k, (kind, data))| event::Model {
                block,
                log_index: n64(k),
                tx_hash: format!("0x{:064x}", block * 4 + n64(k)),
                contract: "TradeOrders".into(),
                kind: kind.into(),
                order_id: Some(id),
                data: data.to_string(),
                timestamp: ts,
            })
        });
        let events: Vec<event::Model> = events.collect();
        // Each party's credit facts, recorded as the indexer records them (the same functions).
        let by_id: HashMap<i64, &order::Model> = orders.iter().map(|o| (o.id, o)).collect();
        for e in &events {
            let Some(o) = e.order_id.and_then(|id| by_id.get(&id)) else { continue };
            let fields: serde_json::Value = serde_json::from_str(&e.data).expect("event data");
            let fact = Fact::of(o, e, &fields);
            pending.entry(o.buyer.clone()).or_default().push(fact.clone());
            pending.entry(o.seller.clone()).or_default().push(fact);
        }
        event::Entity::insert_many(events.iter().cloned().map(event::ActiveModel::from))
            .exec_without_returning(&txn)
            .await
            .expect("events");
        if n % 50 == 49 || n == last {
            for (firm, facts) in std::mem::take(&mut pending) {
                append_facts(&txn, &firm, &facts).await.expect("credit facts");
            }
        }
        txn.commit().await.expect("commit");
    }
    sea_orm::ConnectionTrait::execute_unprepared(db, "ANALYZE").await.expect("analyze");
    println!("seeded {rows} orders of {firms} firms (+events) in {:.1} s", started.elapsed().as_secs_f64());
}

fn main() {
    let rows = env("BENCH_PROFILE_ORDERS", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let mut net = Net::start(Db::Sqlite).await;
        let (profiled, profiled_t) = net.onboard("Bench Firm", &["trader"]).await;
        let (_, financier_t) = net.onboard("Bench Financier", &["financier"]).await;
        let (_, req) =
            net.post("/v1/verification-requests", &financier_t, json!({ "firm": profiled, "purpose": "bench" })).await;
        let rid = req["id"].as_i64().expect("request id");
        let (s, body) = net
            .post(&format!("/v1/verification-requests/{rid}/grant"), &profiled_t, json!({ "expires_at": date_in(30) }))
            .await;
        assert_eq!(s.as_u16(), 200, "{body}");
        seed(&net, rows, &profiled).await;
        let path = format!("/v1/firms/{profiled}/credit-profile");
        let (s, profile) = net.get(&path, &financier_t).await;
        assert_eq!(s.as_u16(), 200, "{profile}");
        let count =
            profile["figures"][0]["value"].as_u64().unwrap_or(0) + profile["figures"][1]["value"].as_u64().unwrap_or(0);
        let n = 300;
        let measure = |path: String| {
            let (http, url, token) = (net.http.clone(), format!("{}{path}", net.base), financier_t.clone());
            async move {
                let mut lat = Vec::with_capacity(n);
                for _ in 0..n {
                    let t = Instant::now();
                    let res = http.get(&url).bearer_auth(&token).send().await.expect("send");
                    assert_eq!(res.status().as_u16(), 200);
                    let _ = res.bytes().await.expect("body");
                    lat.push(t.elapsed());
                }
                lat.sort();
                lat
            }
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        for (what, path) in [
            (format!("GET /v1/firms/{{id}}/credit-profile ({count} completed orders of the firm)"), path.clone()),
            (
                "GET /v1/firms/{id}/orders?limit=1 (same consent check and audit)".to_string(),
                format!("/v1/firms/{profiled}/orders?limit=1"),
            ),
        ] {
            let lat = measure(path).await;
            println!(
                "{what:<72} n={n} p50 {:>6.2} ms  p99 {:>6.2} ms",
                ms(percentile(&lat, 0.50)),
                ms(percentile(&lat, 0.99))
            );
        }
        if std::env::var("BENCH_KEEP").is_ok() {
            println!("read model kept at {}", net.database_url);
            std::mem::forget(net);
            return;
        }
        net.stop().await;
    });
}
