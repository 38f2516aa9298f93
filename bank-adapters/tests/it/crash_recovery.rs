//! The worker dies (abort, as a kill -9 would) between "sent" and "confirmed on chain", in
//! its own process; a restarted worker finishes the payment: the bank saw the instruction
//! once, the chain shows it paid once. Also in the middle of a batch: many instructions in
//! one pain.001, to be confirmed in one transaction, each paid exactly once after restart.

use std::process::{Command, Stdio};
use std::time::Duration;

use alloy::primitives::U256;
use test_support::settlement::*;
use tradechain_bank_adapters::config::{BankSettings, RailsSettings};
use tradechain_bank_adapters::outbox::{Outbox, State};
use tradechain_bank_adapters::settlement::CrashPoint;
use tradechain_contracts::{Cover, MilestoneState};

struct WorkerProcess(std::process::Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn settings(chain: &Chain, bank: &SandboxBank, p: &Parties, db: &str, crash_at: Option<CrashPoint>) -> BankSettings {
    BankSettings {
        rpc_url: chain.url.clone(),
        rpc_token: None,
        trade_orders: chain.suite.trade_orders,
        receivables: Some(chain.suite.receivables),
        bank_key: format!("0x{}", hex::encode(p.buyer_bank.to_bytes())),
        database_url: db.to_string(),
        rails: RailsSettings::Iso20022 {
            url: bank.url.clone(),
            initiating_party: "Harbour Bank".into(),
            timeout_ms: 2_000,
        },
        parties: p.directory().parties,
        escrow_account: Some(p.escrow()),
        confirmations: 0,
        start_block: 0,
        poll_interval_ms: 50,
        backoff_initial_ms: 50,
        backoff_max_ms: 400,
        concurrency: 4,
        batch_size: 500,
        chain_batch: 100,
        crash_at,
    }
}

fn spawn_worker(dir: &tempfile::TempDir, name: &str, settings: &BankSettings) -> WorkerProcess {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(settings).expect("json")).expect("write settings");
    let child = Command::new(env!("CARGO_BIN_EXE_settlement-worker"))
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn settlement-worker");
    WorkerProcess(child)
}

async fn wait_for_exit(w: &mut WorkerProcess, timeout: Duration) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(status) = w.0.try_wait().expect("try_wait") {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "worker did not crash within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn crash_then_restart(crash_at: CrashPoint, state_after_crash: State) {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 10_000_000).await;
    let order: U256 = committed_trade(&chain, &p, 1_000_000, false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(&dir, "outbox.db");
    let id = e2e(chain.node.config().chain_id, order, 0, 1);

    let mut first = spawn_worker(&dir, "crashing.json", &settings(&chain, &bank, &p, &db, Some(crash_at)));
    let status = wait_for_exit(&mut first, Duration::from_secs(30)).await;
    assert!(!status.success(), "the worker was meant to die");
    let outbox = Outbox::connect(&db).await.expect("outbox");
    let ins = outbox.get(&id).await.expect("read").expect("recorded before the crash");
    assert_eq!(ins.state(), Some(state_after_crash));
    assert_eq!(bank.received(&id).await, 1, "the bank booked it before the crash");
    assert_eq!(chain.milestone(order, 0).await.state, MilestoneState::Due as u8, "not yet confirmed on chain");

    let _second = spawn_worker(&dir, "restarted.json", &settings(&chain, &bank, &p, &db, None));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while chain.milestone(order, 0).await.state != MilestoneState::Paid as u8 {
        assert!(tokio::time::Instant::now() < deadline, "restarted worker did not finish the payment");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while outbox.get(&id).await.expect("read").and_then(|i| i.state()) != Some(State::Settled) {
        assert!(tokio::time::Instant::now() < deadline, "outbox not marked settled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bank.received(&id).await, 1, "the bank must see the instruction exactly once");
    assert_eq!(chain.confirmations(order, 0).await, 1, "the chain must show it paid exactly once");
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, 300_000);
    assert_eq!(bank.ledger_sum("USD").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_after_the_bank_answered_pays_once_after_restart() {
    crash_then_restart(CrashPoint::AfterBankAnswer, State::Sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_before_confirming_on_chain_confirms_once_after_restart() {
    crash_then_restart(CrashPoint::BeforeChainConfirm, State::Accepted).await;
}

/// `n` orders of one at-sight milestone each, all due, paid at the bank's risk.
struct DueBatch {
    chain: Chain,
    bank: SandboxBank,
    p: Parties,
    orders: Vec<U256>,
    /// Each order's EndToEndId.
    ids: Vec<String>,
    dir: tempfile::TempDir,
    /// The outbox database's URL.
    db: String,
}

async fn due_batch(n: usize) -> DueBatch {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 10_000_000).await;
    let mut orders = Vec::with_capacity(n);
    for i in 0..n {
        orders.push(due_order(&chain, &p, 10_000 + i as u128, &[10_000], Cover::BankRisk).await);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(&dir, "outbox.db");
    let chain_id = chain.node.config().chain_id;
    let ids = orders.iter().map(|o| e2e(chain_id, *o, 0, 1)).collect();
    DueBatch { chain, bank, p, orders, ids, dir, db }
}

/// Wait for each row to settle; then each milestone is paid, the bank saw each instruction
/// once and the chain shows each paid once.
async fn each_paid_once(chain: &Chain, bank: &SandboxBank, outbox: &Outbox, ids: &[String], orders: &[U256]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for (id, order) in ids.iter().zip(orders) {
        while outbox.get(id).await.expect("read").and_then(|i| i.state()) != Some(State::Settled) {
            assert!(tokio::time::Instant::now() < deadline, "{id} not settled");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(chain.milestone(*order, 0).await.state, MilestoneState::Paid as u8);
        assert_eq!(bank.received(id).await, 1, "the bank must see {id} exactly once");
        assert_eq!(chain.confirmations(*order, 0).await, 1, "the chain must show {id} paid exactly once");
    }
}

/// Many payments fall due at once; the worker sends them in one pain.001 (one payment
/// information block: one debtor account, one date) and dies at `crash_at`. Restarted, it
/// pays each exactly once: the bank saw each once, the chain confirms each once, the
/// seller holds the sum, the books balance.
async fn crash_in_a_batch_then_restart(crash_at: CrashPoint, state_after_crash: State) {
    const N: usize = 12;
    let DueBatch { chain, bank, p, orders, ids, dir, db } = due_batch(N).await;

    let mut first = spawn_worker(&dir, "crashing.json", &settings(&chain, &bank, &p, &db, Some(crash_at)));
    let status = wait_for_exit(&mut first, Duration::from_secs(30)).await;
    assert!(!status.success(), "the worker was meant to die");
    let outbox = Outbox::connect(&db).await.expect("outbox");
    let mut blocks = std::collections::BTreeSet::new();
    for (id, order) in ids.iter().zip(&orders) {
        let ins = outbox.get(id).await.expect("read").expect("recorded before the crash");
        assert_eq!(ins.state(), Some(state_after_crash), "{id}");
        blocks.insert(ins.payment_information_id.clone().expect("sent in a shared block"));
        assert_eq!(bank.received(id).await, 1, "the bank booked {id} before the crash");
        assert_eq!(chain.milestone(*order, 0).await.state, MilestoneState::Due as u8, "not yet confirmed on chain");
    }
    assert_eq!(blocks.len(), 1, "one debtor account and date: one payment information block");

    let _second = spawn_worker(&dir, "restarted.json", &settings(&chain, &bank, &p, &db, None));
    each_paid_once(&chain, &bank, &outbox, &ids, &orders).await;
    let sum: i64 = (0..i64::try_from(N).expect("small")).map(|i| 10_000 + i).sum();
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, sum);
    assert_eq!(bank.ledger_sum("USD").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_after_the_bank_answered_a_batch_pays_each_once_after_restart() {
    crash_in_a_batch_then_restart(CrashPoint::AfterBankAnswer, State::Sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_before_confirming_a_batch_confirms_each_once_after_restart() {
    crash_in_a_batch_then_restart(CrashPoint::BeforeChainConfirm, State::Accepted).await;
}

/// Batches of four: two pain.001 on their way to the bank at once (and, once booked, several
/// `confirmPayments` at once). The worker dies as the first answer comes back, with the other
/// message gone or going; restarted, it asks the bank about every row it marked sent and
/// sends the rest, so each instruction is paid and confirmed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_killed_with_batches_in_flight_pays_each_once_after_restart() {
    const N: usize = 12;
    let DueBatch { chain, bank, p, orders, ids, dir, db } = due_batch(N).await;
    let small = |crash_at| BankSettings { batch_size: 4, chain_batch: 3, ..settings(&chain, &bank, &p, &db, crash_at) };

    let mut first = spawn_worker(&dir, "crashing.json", &small(Some(CrashPoint::AfterBankAnswer)));
    let status = wait_for_exit(&mut first, Duration::from_secs(30)).await;
    assert!(!status.success(), "the worker was meant to die");
    let outbox = Outbox::connect(&db).await.expect("outbox");
    let mut sent = 0;
    for id in &ids {
        let state = outbox.get(id).await.expect("read").and_then(|i| i.state()).expect("recorded before the crash");
        assert!(matches!(state, State::New | State::Sent), "{id} is {state:?}: nothing was recorded past the bank");
        sent += usize::from(state == State::Sent);
        assert!(bank.received(id).await <= 1);
    }
    assert!(sent >= 4, "at least the answered batch was marked sent ({sent})");

    let _second = spawn_worker(&dir, "restarted.json", &small(None));
    each_paid_once(&chain, &bank, &outbox, &ids, &orders).await;
    let sum: i64 = (0..i64::try_from(N).expect("small")).map(|i| 10_000 + i).sum();
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, sum);
    assert_eq!(bank.ledger_sum("USD").await, "0");
}

/// The bank booked a batch and the worker died before confirming it; meanwhile the operator
/// suspends the bank, so the chain refuses it every read. The restarted worker keeps the
/// booked rows `accepted` (a payment the bank made is never parked for want of a read:
/// parked, the seller's payment would never show on chain) and, once the bank is
/// reinstated, confirms each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booked_payments_of_a_bank_suspended_before_confirming_are_confirmed_once_it_is_reinstated() {
    const N: usize = 4;
    let DueBatch { chain, bank, p, orders, ids, dir, db } = due_batch(N).await;

    let mut first =
        spawn_worker(&dir, "crashing.json", &settings(&chain, &bank, &p, &db, Some(CrashPoint::BeforeChainConfirm)));
    assert!(!wait_for_exit(&mut first, Duration::from_secs(30)).await.success(), "the worker was meant to die");
    let consortium = chain.suite.consortium;
    let bank_address = p.buyer_bank.address();
    let suspend = tradechain_contracts::Consortium::suspendCall { account: bank_address, reason: "review".into() };
    chain.send(&operator(), consortium, suspend).await;

    let _second = spawn_worker(&dir, "restarted.json", &settings(&chain, &bank, &p, &db, None));
    let outbox = Outbox::connect(&db).await.expect("outbox");
    tokio::time::sleep(Duration::from_secs(2)).await; // many passes at 50 ms
    for (id, order) in ids.iter().zip(&orders) {
        let state = outbox.get(id).await.expect("read").and_then(|i| i.state());
        assert_eq!(state, Some(State::Accepted), "{id} waits, booked, for the bank to be reinstated");
        assert_eq!(chain.milestone(*order, 0).await.state, MilestoneState::Due as u8);
    }

    chain
        .send(&operator(), consortium, tradechain_contracts::Consortium::reinstateCall { account: bank_address })
        .await;
    each_paid_once(&chain, &bank, &outbox, &ids, &orders).await;
}
