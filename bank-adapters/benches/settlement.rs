//! End-to-end settlement throughput against the sandbox bank (a separate process) on the
//! embedded node: N orders each with one at-sight milestone fall due at once; the worker
//! (which followed the orders as they were committed and presented) releases, records, pays
//! and confirms them all. Side by side in one run: the worker as it
//! runs (batches: one pain.001 for many transfers, one `releasePayments` and one
//! `confirmPayments` transaction for many milestones, bank and chain pipelined), the same
//! worker one instruction at a time (batches of one), and the bank alone (pain.001 round
//! trips of one transfer, 8 at once).
//!
//! `cargo bench -p tradechain-bank-adapters --bench settlement` (N: `BENCH_INSTRUCTIONS`, default 1000).

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

/// Make `n` milestones due at once, then run a worker configured by `configure` until every
/// one is paid on chain: the seconds that took. The worker has followed the orders'
/// commitments and presentations as they happened (as a running worker does), so what is
/// timed is the settlement itself: following the acceptances, releasing, recording, paying
/// and confirming.
async fn settle_all(
    chain: &Chain,
    bank: &SandboxBank,
    p: &Parties,
    n: usize,
    db: &str,
    configure: impl FnOnce(&mut tradechain_bank_adapters::settlement::WorkerConfig),
) -> f64 {
    use tradechain_chain::Chain as _;
    // This worker follows the chain from here: the other run's payments are not its own.
    let from = chain.rpc.head().await.expect("head") + 1;
    let now = chain.now().await;
    let setup = Instant::now();
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        orders.push(at_sight_order(chain, p, 10_000 + i as u128, now).await);
    }
    let w = worker_configured(chain, bank, p, db, Duration::from_secs(10), |c| {
        c.start_block = from;
        configure(c);
    })
    .await;
    let follow = Instant::now();
    while !w.step().await.expect("catching up").is_idle() {}
    let caught_up = follow.elapsed();
    // Accepting the invoice triggers each milestone, due at once.
    for order in &orders {
        let call = TradeOrders::acceptDocumentCall { orderId: *order, docType: 0 };
        chain.send(&p.buyer_bank, chain.suite.trade_orders, call).await;
    }
    eprintln!(
        "set up {n} orders in {:.1?} (the worker followed their commitments and presentations in {caught_up:.1?})",
        setup.elapsed()
    );
    let start = Instant::now();
    // Done when the outbox holds every payment settled (confirmed on chain by a successful
    // receipt); the chain is checked below.
    let bank_id = format!("{:#x}", p.buyer_bank.address());
    let all_settled = || async {
        let rows = w.outbox().all(&bank_id).await.expect("outbox");
        rows.iter().filter(|r| r.kind == "milestone" && r.state == "settled").count() == n
    };
    drive_until(&w, Duration::from_secs(900), all_settled).await;
    let secs = start.elapsed().as_secs_f64();
    let paid = tradechain_contracts::MilestoneState::Paid as u8;
    let mut settled = 0;
    for order in &orders {
        settled += usize::from(chain.milestone(*order, 0).await.state == paid);
    }
    assert_eq!(settled, n, "every instruction settles");
    secs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Where a pass spends its time: the worker's debug lines ("pass done", "batch answered",
    // "batch confirmed") with `RUST_LOG=tradechain_bank_adapters::settlement=debug`.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let n: usize = std::env::var("BENCH_INSTRUCTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, i64::MAX / 4).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let batched = settle_all(&chain, &bank, &p, n, &sqlite_url(&dir, "batched.db"), |_| {}).await;
    let single = settle_all(&chain, &bank, &p, n, &sqlite_url(&dir, "single.db"), |c| {
        c.batch_size = 1;
        c.chain_batch = 1;
    })
    .await;
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
            payment_information_id: None,
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
        "settlement/batched:    {n} instructions settled in {batched:.2} s = {:.1} instructions/s",
        n as f64 / batched
    );
    println!(
        "settlement/one_by_one: {n} instructions settled in {single:.2} s = {:.1} instructions/s (batched is {:.1}x)",
        n as f64 / single,
        single / batched
    );
    println!(
        "settlement/bank_only:  {n} pain.001 booked in {bank_secs:.2} s = {:.1} instructions/s",
        n as f64 / bank_secs
    );
}
