//! End-to-end settlement throughput against the sandbox bank (a separate process) on the
//! embedded node: N orders each with one at-sight milestone fall due at once; the worker
//! releases, records, pays and confirms them all. Prints instructions settled per second end
//! to end, and the bank-only rate (pain.001 round trips) side by side.
//!
//! `cargo bench -p tradechain-bank-adapters --bench settlement` (N: `BENCH_INSTRUCTIONS`, default 200).

use std::time::{Duration, Instant};

use alloy::primitives::{U256, keccak256};
use test_support::settlement::*;
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::payment::CreditTransfer;
use tradechain_bank_adapters::rails::Rails;
use tradechain_contracts::TradeOrders;
use tradechain_money::identifier::EndToEndId;
use tradechain_money::money::{Currency, Money};

async fn at_sight_order(chain: &Chain, p: &Parties, amount: u128, now: u64) -> U256 {
    let to = chain.suite.trade_orders;
    let ms = vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }];
    let order = committed_order(chain, p, p.terms(now, amount), ms).await;
    let hash = keccak256(order.to_be_bytes::<32>());
    chain
        .send(&p.seller, to, TradeOrders::submitDocumentCall { orderId: order, docType: 0, hash, uri: String::new() })
        .await;
    order
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_INSTRUCTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, i64::MAX / 4).await;
    let now = chain.now().await;
    let setup = Instant::now();
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        orders.push(at_sight_order(&chain, &p, 10_000 + i as u128, now).await);
    }
    // Accepting the invoice triggers each milestone, due at once.
    for order in &orders {
        let call = TradeOrders::acceptDocumentCall { orderId: *order, docType: 0 };
        chain.send(&p.buyer_bank, chain.suite.trade_orders, call).await;
    }
    eprintln!("set up {n} orders in {:.1?}", setup.elapsed());

    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(10)).await;
    let start = Instant::now();
    let last = *orders.last().expect("orders");
    drive_until(&w, Duration::from_secs(600), || async {
        chain.milestone(last, 0).await.state == tradechain_contracts::MilestoneState::Paid as u8
    })
    .await;
    let mut settled = 0;
    for order in &orders {
        settled +=
            usize::from(chain.milestone(*order, 0).await.state == tradechain_contracts::MilestoneState::Paid as u8);
    }
    let e2e_secs = start.elapsed().as_secs_f64();
    assert_eq!(settled, n, "every instruction settles");
    assert_eq!(bank.ledger_sum("USD").await, "0");

    // The bank alone: pain.001 round trips with the same concurrency, no chain.
    let rails = IsoHttpRails::new(&bank.url, "Harbour Bank", Duration::from_secs(10)).expect("rails");
    let usd = Currency::from_code("USD").expect("usd");
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let debtor = p.account(p.buyer.address());
    let creditor = p.account(p.seller.address());
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    for i in 0..n {
        let transfer = CreditTransfer {
            end_to_end_id: EndToEndId::parse(&format!("BENCH-{i}")).expect("id"),
            debtor: debtor.clone(),
            creditor: creditor.clone(),
            amount: Money::new(100, usd),
            requested_execution_date: chrono::Utc::now().date_naive(),
            remittance: "bench".into(),
            charges: tradechain_bank_adapters::payment::ChargeBearer::Shared,
        };
        let rails = rails.clone();
        let permits = permits.clone();
        tasks.spawn(async move {
            let _p = permits.acquire_owned().await;
            rails.pay(&transfer).await.expect("pay").is_booked()
        });
    }
    let mut booked = 0;
    while let Some(r) = tasks.join_next().await {
        booked += usize::from(r.expect("task"));
    }
    let bank_secs = start.elapsed().as_secs_f64();
    assert_eq!(booked, n);

    println!(
        "settlement/end_to_end: {n} instructions settled in {e2e_secs:.2} s = {:.1} instructions/s",
        n as f64 / e2e_secs
    );
    println!(
        "settlement/bank_only:  {n} pain.001 booked in {bank_secs:.2} s = {:.1} instructions/s",
        n as f64 / bank_secs
    );
}
