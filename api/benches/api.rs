//! API benchmark over loopback HTTP (release build: `cargo bench -p tradechain-api`).
//!
//! 1. Order creations: concurrent clients (several buyers, two clients each) propose
//!    orders through `POST /v1/orders` against a dev node (automine, custodial signing,
//!    each response waits for the block and the indexer); prints orders/s and p50/p99.
//! 2. Reads with 100,000 orders in the read model: list (first page, filtered
//!    page, deep keyset page) and detail latency, p50/p99.
//!
//! 3. Open loop: order creations arriving at a fixed rate (`BENCH_RATE` per second for
//!    `BENCH_SECS`), whatever the answers, against the production producer with group
//!    commit. Each latency runs from the moment the request was due, not sent, so a queue
//!    anywhere (client, server, chain) shows in it (no coordinated omission); prints the rate
//!    achieved, p50/p99/max and errors by kind, then p99 and the process's CPU in each
//!    10 seconds of the run (a cost that grows with the stores, or a backlog, shows as a
//!    rising column). The generator is this bench (tokio tasks, one
//!    per request, on a schedule; each buyer a client from its own loopback address):
//!    `BENCH_RATE=1000 BENCH_SECS=60 cargo bench -p tradechain-api --bench api`.
//!
//! Sizes: `BENCH_ORDERS` (default 400), `BENCH_CLIENTS` (16), `BENCH_READ_ROWS` (100000),
//! `BENCH_RATE` (200), `BENCH_SECS` (10), `BENCH_BUYERS` (32).
//! 4. The indexer alone: `BENCH_INDEX_ORDERS` orders (default 2,000) taken through five
//!    signed steps each (propose, accept, commit, present the invoice, accept it: eight
//!    events an order) straight into the node, then the read model rebuilt from block 0,
//!    timed: events and orders indexed per second (`BENCH_ONLY=index`).
//!
//! `BENCH_ONLY=writes|open|reads|index` runs one part alone.
//! `BENCH_DB=postgres` runs against the server in `TRADECHAIN_TEST_POSTGRES_URL`
//! (`scripts/with-postgres.sh cargo bench -p tradechain-api` with `BENCH_DB=postgres`).

use std::time::{Duration, Instant};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use test_support::api::{Db, Net};
use test_support::fixtures::date_in;
use tradechain_api::readmodel::{milestone, order};

// The allocator the `tradechain` binary runs with: measured as shipped.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A count as a database integer.
fn n64(n: usize) -> i64 {
    i64::try_from(n).expect("a bench count fits")
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut lat: Vec<Duration>, wall: Option<Duration>) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rate = wall.map(|w| format!("{:>8.1}/s  ", lat.len() as f64 / w.as_secs_f64())).unwrap_or_default();
    println!(
        "{what:<44} n={:<6} {rate}p50 {:>7.2} ms  p99 {:>7.2} ms",
        lat.len(),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99))
    );
}

async fn creations(net: &Net, orders: usize, clients: usize) {
    let buyers = (clients / 2).max(1);
    let (seller, _) = net.onboard("Bench Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Bench Bank", &["bank"]).await;
    let mut tokens = Vec::new();
    for b in 0..buyers {
        tokens.push(net.onboard(&format!("Bench Buyer {b}"), &["trader"]).await.1);
    }
    let body = order_body(&seller, &bank);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let token = tokens[c % buyers].clone();
        let http = net.http.clone();
        let url = format!("{}/v1/orders", net.base);
        let body = body.clone();
        let n = orders / clients + usize::from(c < orders % clients);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n);
            for _ in 0..n {
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .expect("send");
                assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap_or_default());
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.expect("client"));
    }
    report(&format!("POST /v1/orders ({clients} clients, {buyers} buyers)"), lat, Some(started.elapsed()));
}

/// The body of an order `seller` proposes to sell through `bank`.
fn order_body(seller: &str, bank: &str) -> String {
    json!({
        "seller": seller, "buyer_bank": bank, "seller_bank": bank,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [
            { "share_bps": 3000, "documents": ["commercial_invoice"] },
            { "share_bps": 7000, "documents": ["commercial_invoice"], "tenor_days": 30 }
        ],
        "details": { "line_items": [{ "description": "copper cathodes", "quantity": "25", "unit": "t" }] }
    })
    .to_string()
}

/// The indexer alone: `orders` orders through five signed steps each, submitted straight
/// to the node (no REST, no custodial signing), then the read model rebuilt from block 0
/// and timed.
async fn indexing(net: &Net, orders: usize) {
    use alloy::primitives::{Address, U256, keccak256};
    use alloy::signers::local::PrivateKeySigner;
    use alloy::sol_types::SolCall;
    use tradechain_contracts::genesis::SuiteAddresses;
    use tradechain_contracts::{Consortium, DocType, TradeOrders, role};
    use tradechain_engine::transaction::sign_eip1559;

    let operator: PrivateKeySigner = tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("the dev key");
    let suite = SuiteAddresses::for_operator(operator.address());
    let chain_id = net.node.config().chain_id;
    let key = |name: String| PrivateKeySigner::from_bytes(&keccak256(name)).expect("a key");
    let traders: Vec<PrivateKeySigner> = (0..20).map(|i| key(format!("index trader {i}"))).collect();
    let banks: Vec<PrivateKeySigner> = (0..4).map(|i| key(format!("index bank {i}"))).collect();
    let mut nonces = std::collections::HashMap::new();
    let mut send = |k: &PrivateKeySigner, to: Address, input: Vec<u8>| {
        let nonce = nonces.entry(k.address()).or_insert_with(|| net.node.nonce(&k.address(), true));
        let raw = sign_eip1559(k, chain_id, *nonce, Some(to), input.into(), 1_000_000).expect("signs");
        *nonce += 1;
        net.node.submit_raw(&raw).expect("admitted");
    };
    for (k, roles) in traders.iter().map(|k| (k, role::TRADER)).chain(banks.iter().map(|k| (k, role::BANK))) {
        let call = Consortium::registerCall { account: k.address(), name: "index member".into(), roles };
        send(&operator, suite.consortium, call.abi_encode());
    }
    let settle = || async {
        while net.node.pool_len() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let head = net.node.head().header.number;
        assert!(net.state.indexer.wait_for(head, Duration::from_secs(600)).await, "indexed");
    };
    settle().await;
    let first = net.node.head().header.number;
    let now = net.node.next_block_params().timestamp;
    let parties = |i: usize| (&traders[i % 20], &traders[(i + 1) % 20], &banks[i % 4]);
    let orders_before = tradechain_api::readmodel::order::Entity::find().count(&net.state.db).await.expect("count");
    let id = |i: usize| U256::from(orders_before + u64::try_from(i).expect("a count") + 1);
    let to = suite.trade_orders;
    let invoice = DocType::CommercialInvoice as u8;
    for i in 0..orders {
        let (buyer, seller, bank) = parties(i);
        let n = u64::try_from(i).expect("a count");
        let call =
            test_support::fixtures::proposal(seller.address(), bank.address(), bank.address(), 1_000_000, now, n);
        send(buyer, to, call.abi_encode());
    }
    for i in 0..orders {
        send(parties(i).1, to, TradeOrders::acceptCall { orderId: id(i) }.abi_encode());
    }
    for i in 0..orders {
        let call = TradeOrders::commitCall { orderId: id(i), cover: tradechain_contracts::Cover::BankRisk as u8 };
        send(parties(i).2, to, call.abi_encode());
    }
    for i in 0..orders {
        let call = TradeOrders::submitDocumentCall {
            orderId: id(i),
            docType: invoice,
            hash: keccak256(i.to_le_bytes()),
            uri: String::new(),
        };
        send(parties(i).1, to, call.abi_encode());
    }
    for i in 0..orders {
        let call = TradeOrders::acceptDocumentCall { orderId: id(i), docType: invoice };
        send(parties(i).2, to, call.abi_encode());
    }
    settle().await;
    let head = net.node.head().header.number;
    let started = Instant::now();
    net.state.indexer.rebuild().await.expect("rebuilt");
    let took = started.elapsed();
    let events = tradechain_api::readmodel::event::Entity::find()
        .filter(tradechain_api::readmodel::event::Column::Block.gt(i64::try_from(first).expect("a block")))
        .count(&net.state.db)
        .await
        .expect("count");
    let committed = tradechain_api::readmodel::order::Entity::find()
        .filter(tradechain_api::readmodel::order::Column::State.eq("committed"))
        .count(&net.state.db)
        .await
        .expect("count");
    assert!(committed >= u64::try_from(orders).expect("a count"), "every order committed in the read model");
    println!(
        "index {orders} orders x 5 steps ({events} events, {} blocks): rebuilt from block 0 in {:.0} ms: {:.0} events/s, {:.0} orders/s",
        head - first,
        took.as_secs_f64() * 1e3,
        events as f64 / took.as_secs_f64(),
        orders as f64 / took.as_secs_f64()
    );
}

/// Open loop: `rate` order creations a second for `secs` seconds, each sent when it is due
/// whatever the earlier ones are doing; latency from the due time.
async fn open_loop(net: &Net, rate: usize, secs: usize, buyers: usize) {
    let (seller, _) = net.onboard("Open Loop Seller", &["trader"]).await;
    let (bank, _) = net.onboard("Open Loop Bank", &["bank"]).await;
    let mut tokens = Vec::new();
    for b in 0..buyers.max(1) {
        tokens.push(net.onboard(&format!("Open Loop Buyer {b}"), &["trader"]).await.1);
    }
    let body = order_body(&seller, &bank);
    let url = format!("{}/v1/orders", net.base);
    // Each buyer a client of its own from an address of its own (127.0.0.2, ...), as the
    // firms behind 1,000 orders a second would be: from one address the node admits 256
    // connections (`max_connections_per_client`), and a backlog of more in-flight requests
    // was refused at the door, counted as failures of the node's writes.
    let clients: Vec<reqwest::Client> = (0..tokens.len())
        .map(|b| {
            let ip = std::net::Ipv4Addr::new(
                127,
                0,
                u8::try_from(b / 250).expect("buyers"),
                u8::try_from(2 + b % 250).expect("an address"),
            );
            // A deadline, so a request the node never answers is counted as a failure
            // (a timeout), not waited for without end.
            reqwest::Client::builder()
                .local_address(std::net::IpAddr::V4(ip))
                .timeout(Duration::from_secs(60))
                .build()
                .expect("a client")
        })
        .collect();
    let total = rate * secs;
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    // The indexer's lag behind the chain, sampled every 50 ms while the load runs.
    let (node, indexer) = (net.node.clone(), net.state.indexer.clone());
    let (stop_lag, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let lag = tokio::spawn(async move {
        let mut max = 0;
        loop {
            max = max.max(node.head().header.number.saturating_sub(indexer.indexed()));
            tokio::select! {
                _ = &mut stopped => return (max, node.head().header.number.saturating_sub(indexer.indexed())),
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    });
    // The process's CPU in each 10 seconds of the run: a cost per creation that grows with
    // the stores shows here.
    let cpu_by_stretch = tokio::spawn(async move {
        let mut seconds = Vec::new();
        let mut last = cpu_seconds();
        for _ in 0..secs.div_ceil(10) {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let now = cpu_seconds();
            seconds.push(format!("{:.1}", now - last));
            last = now;
        }
        seconds
    });
    let (cpu_before, head_before) = (cpu_seconds(), net.node.head().header.number);
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + interval * u32::try_from(i).expect("bench size");
        tokio::time::sleep_until(due).await;
        let b = i % tokens.len();
        let (http, url, body, token) = (clients[b].clone(), url.clone(), body.clone(), tokens[b].clone());
        tasks.spawn(async move {
            let res =
                http.post(&url).bearer_auth(&token).header("content-type", "application/json").body(body).send().await;
            let outcome = match res {
                Ok(r) if r.status().as_u16() == 201 => Ok(()),
                Ok(r) if r.status().as_u16() == 503 => Err(REFUSED.to_string()),
                Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                Err(e) if e.is_connect() => Err("connection refused or closed".to_string()),
                Err(e) => {
                    // The innermost cause names it (a reset, a closed connection, a timeout).
                    let mut cause: &dyn std::error::Error = &e;
                    while let Some(next) = cause.source() {
                        cause = next;
                    }
                    Err(format!("transport ({cause})"))
                }
            };
            (outcome, i, due.elapsed())
        });
    }
    let sent = start.elapsed();
    let (mut lat, mut errors) = (Vec::with_capacity(total), std::collections::BTreeMap::<String, usize>::new());
    // How fast the writes past the node's bound were turned away.
    let mut refused = Vec::new();
    // Latencies by the 10-second stretch of the run their request was due in: a tail that
    // grows over the run (a store that grows, a backlog) shows as a rising p99.
    let mut stretches = vec![Vec::new(); secs.div_ceil(10).max(1)];
    while let Some(r) = tasks.join_next().await {
        match r.expect("request task") {
            (Ok(()), i, l) => {
                let last = stretches.len() - 1;
                stretches[(i / rate.max(1) / 10).min(last)].push(l);
                lat.push(l);
            }
            (Err(kind), _, l) => {
                if kind == REFUSED {
                    refused.push(l);
                }
                *errors.entry(kind).or_default() += 1;
            }
        }
    }
    let errors = if errors.is_empty() {
        "0".to_string()
    } else {
        errors.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
    };
    let wall = start.elapsed();
    let (cpu, blocks) = (cpu_seconds() - cpu_before, net.node.head().header.number - head_before);
    let _ = stop_lag.send(());
    let (max_lag, end_lag) = lag.await.expect("lag sampler");
    lat.sort();
    let max = lat.last().copied().unwrap_or_default();
    let served = lat.len().max(1) as f64;
    report(&format!("open loop {rate}/s for {secs} s ({buyers} buyers)"), lat, Some(wall));
    println!(
        "{:<44} offered {:.1}/s over {:.1} s; max {:.2} ms; errors {errors}",
        "",
        total as f64 / sent.as_secs_f64(),
        sent.as_secs_f64(),
        max.as_secs_f64() * 1000.0
    );
    if !refused.is_empty() {
        refused.sort();
        println!(
            "{:<44} refused at the writes' bound: {} ({:.1}%), answered in p50 {:.2} ms, p99 {:.2} ms",
            "",
            refused.len(),
            refused.len() as f64 * 100.0 / total.max(1) as f64,
            percentile(&refused, 0.5).as_secs_f64() * 1000.0,
            percentile(&refused, 0.99).as_secs_f64() * 1000.0
        );
    }
    println!(
        "{:<44} indexer lag: at most {max_lag} blocks, {end_lag} at the end (head {}); peak RSS of this process \
         (node, API and generator) {}",
        "",
        net.node.head().header.number,
        peak_rss()
    );
    println!(
        "{:<44} CPU of this process (node, API and generator) {cpu:.1} s, {:.2} ms per creation served; \
         {blocks} blocks, {:.1} creations per block",
        "",
        cpu * 1000.0 / served,
        served / blocks.max(1) as f64
    );
    let by_stretch: Vec<String> = stretches
        .iter_mut()
        .map(|l| {
            l.sort();
            format!("{:.1}", percentile(l, 0.99).as_secs_f64() * 1000.0)
        })
        .collect();
    println!("{:<44} p99 by 10 s of the run (ms): {}", "", by_stretch.join(", "));
    let cpu_by_stretch = cpu_by_stretch.await.expect("CPU sampler");
    println!("{:<44} CPU by 10 s of the run (s): {}", "", cpu_by_stretch.join(", "));
}

/// A write refused at the node's bound (`503 OVERLOADED`), as the open loop counts it.
const REFUSED: &str = "HTTP 503 (OVERLOADED)";

/// User and system CPU this process has used, in seconds (Linux `/proc/self/stat`, at the
/// kernel's usual 100 ticks a second).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: Vec<u64> = after.split_whitespace().skip(11).take(2).filter_map(|f| f.parse().ok()).collect();
    ticks.iter().sum::<u64>() as f64 / 100.0
}

/// The process's peak resident set (Linux `VmHWM`).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l["VmHWM:".len()..].trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// The same rows as [`seed`], generated by PostgreSQL itself (`generate_series`, a million
/// orders a statement): ten million orders in minutes rather than an hour of round trips.
async fn seed_postgres(db: &sea_orm::DatabaseConnection, rows: usize, party: &str) {
    let hex40 = |base: u64, modulo: usize| format!("'0x' || lpad(to_hex({base}::bigint + i % {modulo}), 40, '0')");
    let zero = format!("'0x{:040x}'", 0);
    for lo in (0..rows).step_by(1_000_000) {
        let hi = (lo + 1_000_000).min(rows) - 1;
        let other = hex40(0xfeed_0000, 97);
        let sql = format!(
            "INSERT INTO orders (id, buyer, seller, buyer_bank, seller_bank, carrier, inspector, amount, paid, \
             currency, incoterm, charges, cover, details_hash, latest_shipment, expiry, state, created_block, \
             created_at, updated_block, cancel_requested_by, disputes, dispute_raised_by, amendments, \
             pending_amendment) \
             SELECT 1000000 + i, {other}, CASE WHEN i % 2 = 0 THEN '{party}' ELSE {other} END, {bb}, {sb}, {zero}, \
             {zero}, (1000000 + i)::text, '0', CASE WHEN i % 3 = 0 THEN 'EUR' ELSE 'USD' END, 'FOB', 'shared', \
             'bank_risk', '0x' || lpad(to_hex(i::bigint), 64, '0'), 1900000000, 1900500000, \
             (ARRAY['proposed', 'accepted', 'committed', 'completed', 'cancelled'])[i % 5 + 1], 1000000 + i, \
             1800000000, 1000000 + i, NULL, 0, NULL, 0, NULL \
             FROM generate_series({lo}, {hi}) AS i",
            bb = hex40(0xba4c_0000, 13),
            sb = hex40(0xba4c_1000, 11),
        );
        db.execute_unprepared(&sql).await.expect("orders");
        let sql = format!(
            "INSERT INTO milestones (order_id, idx, amount, required_docs, tenor_days, state, triggered_at, \
             due_date, paid_at, attempts, failures, payer, payee, financing_id, payment_ref) \
             SELECT 1000000 + i, m, '500000', 1 << (m * 2), 30 * m, 'pending', NULL, NULL, NULL, 0, 0, '', '', \
             NULL, NULL FROM generate_series({lo}, {hi}) AS i, generate_series(0, 1) AS m"
        );
        db.execute_unprepared(&sql).await.expect("milestones");
        eprintln!("  seeded {} orders", hi + 1);
    }
}

async fn seed(net: &Net, rows: usize, party: &str) {
    let db = &net.state.db;
    let started = Instant::now();
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        seed_postgres(db, rows, party).await;
        db.execute_unprepared("ANALYZE").await.expect("analyze");
        println!("seeded {rows} orders (+{} milestones) in {:.1} s", rows * 2, started.elapsed().as_secs_f64());
        return;
    }
    let states = ["proposed", "accepted", "committed", "completed", "cancelled"];
    for chunk in (0..rows).collect::<Vec<_>>().chunks(1000) {
        let txn = db.begin().await.expect("begin");
        let orders = chunk.iter().map(|&i| {
            let id = 1_000_000 + n64(i);
            let other = format!("0x{:040x}", 0xfeed_0000u64 + (i % 97) as u64);
            let (buyer, seller) =
                if i % 2 == 0 { (other.clone(), party.to_string()) } else { (other.clone(), other.clone()) };
            order::ActiveModel {
                id: Set(id),
                buyer: Set(buyer),
                seller: Set(seller),
                buyer_bank: Set(format!("0x{:040x}", 0xba4c_0000u64 + (i % 13) as u64)),
                seller_bank: Set(format!("0x{:040x}", 0xba4c_1000u64 + (i % 11) as u64)),
                carrier: Set(format!("0x{:040x}", 0)),
                inspector: Set(format!("0x{:040x}", 0)),
                amount: Set(format!("{}", 1_000_000 + i)),
                paid: Set("0".into()),
                currency: Set(if i % 3 == 0 { "EUR" } else { "USD" }.into()),
                incoterm: Set("FOB".into()),
                charges: Set("shared".into()),
                cover: Set(Some("bank_risk".into())),
                details_hash: Set(format!("0x{i:064x}")),
                latest_shipment: Set(1_900_000_000),
                expiry: Set(1_900_500_000),
                state: Set(states[i % states.len()].into()),
                created_block: Set(id),
                created_at: Set(1_800_000_000),
                updated_block: Set(id),
                cancel_requested_by: Set(None),
                disputes: Set(0),
                dispute_raised_by: Set(None),
                amendments: Set(0),
                pending_amendment: Set(None),
            }
        });
        order::Entity::insert_many(orders).exec_without_returning(&txn).await.expect("orders");
        let milestones = chunk.iter().flat_map(|&i| {
            (0..2).map(move |m| milestone::ActiveModel {
                order_id: Set(1_000_000 + n64(i)),
                idx: Set(m),
                amount: Set("500000".into()),
                required_docs: Set(1 << (m * 2)),
                tenor_days: Set(30 * m),
                state: Set("pending".into()),
                triggered_at: Set(None),
                due_date: Set(None),
                paid_at: Set(None),
                attempts: Set(0),
                failures: Set(0),
                payer: Set(String::new()),
                payee: Set(String::new()),
                financing_id: Set(None),
                payment_ref: Set(None),
            })
        });
        milestone::Entity::insert_many(milestones).exec_without_returning(&txn).await.expect("milestones");
        txn.commit().await.expect("commit");
    }
    // Fresh planner statistics, as autovacuum (PostgreSQL) or a periodic ANALYZE would give.
    db.execute_unprepared("ANALYZE").await.expect("analyze");
    println!("seeded {rows} orders (+{} milestones) in {:.1} s", rows * 2, started.elapsed().as_secs_f64());
}

async fn reads(net: &Net, rows: usize) {
    let (seller, seller_t) = net.onboard("Bench Reader", &["trader"]).await;
    seed(net, rows, &seller).await;
    let get = |path: String| {
        let http = net.http.clone();
        let url = format!("{}{path}", net.base);
        let token = seller_t.clone();
        async move {
            let t = Instant::now();
            let res = http.get(&url).bearer_auth(&token).send().await.expect("send");
            assert_eq!(res.status().as_u16(), 200, "{path}");
            let _ = res.bytes().await.expect("body");
            t.elapsed()
        }
    };
    let n = 300;
    for (what, path) in [
        ("GET /v1/orders (first page of 20)", "/v1/orders?limit=20".to_string()),
        ("GET /v1/orders?state=completed&currency=EUR", "/v1/orders?state=completed&currency=EUR&limit=20".to_string()),
        (
            "GET /v1/orders?after=<deep keyset page>",
            format!("/v1/orders?limit=20&after={}", 1_000_000 + n64(rows) / 10),
        ),
    ] {
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            lat.push(get(path.clone()).await);
        }
        report(what, lat, None);
    }
    let mut lat = Vec::with_capacity(n);
    for k in 0..n {
        let id = 1_000_000 + n64((k * 7919) % rows / 2 * 2); // even ids: the reader is the seller
        lat.push(get(format!("/v1/orders/{id}")).await);
    }
    report("GET /v1/orders/{id} (detail)", lat, None);
}

fn main() {
    // RUST_LOG=warn (say) shows what the node logs while it is measured.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let orders = env("BENCH_ORDERS", 400);
    let clients = env("BENCH_CLIENTS", 16);
    let rows = env("BENCH_READ_ROWS", 100_000);
    let (rate, secs, buyers) = (env("BENCH_RATE", 200), env("BENCH_SECS", 10), env("BENCH_BUYERS", 32));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (db, name) = match (std::env::var("BENCH_DB").as_deref(), Db::postgres()) {
            (Ok("postgres"), Some(pg)) => (pg, "PostgreSQL"),
            _ => (Db::Sqlite, "SQLite"),
        };
        // Writes, side by side in one run: the production producer (a block at least every
        // second) with group commit, the same producer on its timer alone (as before group
        // commit), and dev automine (a block per transaction).
        let production = |window: u64, most: u64| {
            move |c: tradechain_engine::NodeConfig| tradechain_engine::NodeConfig {
                automine: Some(false),
                block_interval_ms: 1000,
                batch_window_ms: window,
                batch_window_max_ms: most,
                ..c
            }
        };
        println!("tradechain-api benchmark ({name} read model, loopback HTTP)");
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let part = |p: &str| only.is_empty() || only == p;
        let writes: [(&str, Option<(u64, u64)>); 4] = [
            ("production, group commit (2 ms window, more while writes keep coming, 10 ms at most)", Some((2, 10))),
            ("production, group commit (a fixed 2 ms window)", Some((2, 2))),
            ("production, timer only (1 s)", Some((0, 0))),
            ("dev automine", None),
        ];
        for (label, window) in writes.into_iter().filter(|_| part("writes")) {
            let mut net = match window {
                Some((w, most)) => Net::start_configured(db.clone(), production(w, most)).await,
                None => Net::start(db.clone()).await,
            };
            println!("-- {label}");
            creations(&net, orders, clients).await;
            net.stop().await;
        }
        if part("open") {
            // Side by side: each longest gathering in BENCH_WINDOW_MAX_MS (the window alone
            // where it equals BENCH_WINDOW_MS), one after the other on the same machine.
            let window = env("BENCH_WINDOW_MS", 2) as u64;
            let mosts = std::env::var("BENCH_WINDOW_MAX_MS").unwrap_or_else(|_| "2,10".into());
            for most in mosts.split(',').filter_map(|m| m.trim().parse::<u64>().ok()) {
                println!("-- production, group commit: open loop ({window} ms window, {most} ms at most)");
                let mut net = Net::start_configured(db.clone(), production(window, most)).await;
                open_loop(&net, rate, secs, buyers).await;
                net.stop().await;
            }
        }
        if part("index") {
            let mut net = Net::start_configured(db.clone(), production(2, 10)).await;
            indexing(&net, env("BENCH_INDEX_ORDERS", 2_000)).await;
            net.stop().await;
        }
        if part("reads") {
            let mut net = Net::start(db).await;
            reads(&net, rows).await;
            net.stop().await;
        }
    });
}
