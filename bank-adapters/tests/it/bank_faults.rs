//! The sandbox bank misbehaves; every payment is still made exactly once, or parked safely.

use std::time::Duration;

use alloy::primitives::U256;
use test_support::settlement::*;
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::{Instruction, State};
use tradechain_bank_adapters::sandbox::{Corruption, Faults};
use tradechain_bank_adapters::settlement::SettlementWorker;
use tradechain_contracts::{MilestoneState, TradeOrders};

const AMOUNT: u128 = 1_000_000; // USD 10,000.00; milestone 0 pays 3,000.00

struct Setup {
    chain: Chain,
    bank: SandboxBank,
    p: Parties,
    order: U256,
    w: SettlementWorker<IsoHttpRails>,
    id: String,
    _dir: tempfile::TempDir,
}

async fn setup(buyer_funds: i64, faults: Faults, timeout: Duration) -> Setup {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, buyer_funds).await;
    bank.faults(faults).await;
    let order = committed_trade(&chain, &p, AMOUNT, false).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), timeout).await;
    let id = e2e(chain.node.config().chain_id, order, 0, 1);
    Setup { chain, bank, p, order, w, id, _dir: dir }
}

impl Setup {
    async fn instruction(&self) -> Instruction {
        self.w.outbox().get(&self.id).await.expect("outbox").expect("instruction recorded")
    }

    async fn recorded(&self) -> Option<Instruction> {
        self.w.outbox().get(&self.id).await.expect("outbox")
    }

    async fn milestone_state(&self) -> u8 {
        self.chain.milestone(self.order, 0).await.state
    }

    async fn until_paid(&self) {
        drive_until(&self.w, Duration::from_secs(30), || async {
            self.milestone_state().await == MilestoneState::Paid as u8
        })
        .await;
    }

    async fn seller_balance(&self) -> i64 {
        self.bank.balance(&self.p.account(self.p.seller.address())).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_down_for_a_while_is_retried_with_backoff_and_paid_exactly_once_when_it_returns() {
    let s = setup(10_000_000, Faults { down: true, ..Faults::default() }, Duration::from_secs(2)).await;
    drive_until(&s.w, Duration::from_secs(20), || async { s.recorded().await.is_some_and(|i| i.retries >= 3) }).await;
    let ins = s.instruction().await;
    assert_eq!(ins.state(), Some(State::Sent), "an instruction whose outcome is unknown stays sent");
    assert!(ins.reason.as_deref().unwrap_or_default().contains("unavailable"), "{:?}", ins.reason);
    assert_eq!(s.bank.received(&s.id).await, 0);
    assert_eq!(s.milestone_state().await, MilestoneState::Due as u8);

    s.bank.faults(Faults::default()).await;
    s.until_paid().await;
    assert_eq!(s.bank.received(&s.id).await, 1, "the bank must see the instruction once");
    assert_eq!(s.chain.confirmations(s.order, 0).await, 1);
    assert_eq!(s.seller_balance().await, 300_000);
    assert_eq!(s.instruction().await.state(), Some(State::Settled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_after_the_bank_booked_leads_to_a_status_enquiry_and_no_second_booking() {
    let faults = Faults { timeout_after_booking: 1, hang_ms: 3_000, ..Faults::default() };
    let s = setup(10_000_000, faults, Duration::from_millis(500)).await;
    s.until_paid().await;
    assert_eq!(s.bank.received(&s.id).await, 1, "a timed-out instruction must not be sent again once booked");
    assert_eq!(s.seller_balance().await, 300_000, "booked once");
    assert_eq!(s.chain.confirmations(s.order, 0).await, 1);
    assert_eq!(s.instruction().await.send_count, 1);
    assert_eq!(s.bank.ledger_sum("USD").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_status_reports_do_not_cause_a_second_payment() {
    let s = setup(10_000_000, Faults { duplicate_responses: true, ..Faults::default() }, Duration::from_secs(2)).await;
    s.until_paid().await;
    assert_eq!(s.bank.received(&s.id).await, 1);
    assert_eq!(s.seller_balance().await, 300_000);
    assert_eq!(s.chain.confirmations(s.order, 0).await, 1);
}

/// The bank itself refuses the payment (AM04: its own account short, a limit): the failure
/// is on chain with its ISO 20022 reason code, and nothing moves. (A buyer short of funds no
/// longer fails anything: the bank pays under its undertaking, see `undertaking.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_by_the_bank_is_recorded_on_chain_as_failed_and_nothing_moves() {
    let s = setup(0, Faults { reject_next: Some("AM04".into()), ..Faults::default() }, Duration::from_secs(2)).await;
    drive_until(&s.w, Duration::from_secs(20), || async { s.milestone_state().await == MilestoneState::Failed as u8 })
        .await;
    let ins = s.instruction().await;
    assert_eq!(ins.state(), Some(State::Rejected));
    assert!(ins.reason.as_deref().unwrap_or_default().starts_with("AM04"), "{:?}", ins.reason);
    assert!(ins.chain_recorded_at.is_some());
    let order = s.chain.order(s.order).await;
    assert_eq!(order.paid, 0, "nothing is paid on chain");
    assert_eq!(s.seller_balance().await, 0, "nothing moves at the bank");
    assert_eq!(s.bank.balance(&s.p.account(s.p.buyer.address())).await, 0);
    assert_eq!(s.chain.confirmations(s.order, 0).await, 0);
    // The parties see the failure with its reason on chain.
    use alloy::sol_types::SolEvent;
    let head = tradechain_chain::Chain::head(s.chain.rpc.as_ref()).await.expect("head");
    let filter = tradechain_chain::LogFilter {
        from: 0,
        to: head,
        addresses: vec![s.chain.suite.trade_orders],
        topic0: vec![TradeOrders::PaymentFailed::SIGNATURE_HASH],
    };
    let logs = tradechain_chain::Chain::logs(s.chain.rpc.as_ref(), filter).await.expect("logs");
    let failed: Vec<_> =
        logs.iter().filter_map(|l| TradeOrders::PaymentFailed::decode_log_data(&l.log.data).ok()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(&failed[0].reasonCode.0, b"AM04", "the ISO 20022 status reason code: {}", failed[0].reason);
    assert!(!failed[0].reason.is_empty());
    for _ in 0..3 {
        s.w.step().await.expect("pass");
    }
    assert_eq!(s.bank.received(&s.id).await, 1, "a rejected instruction is not sent again");
}

async fn hostile_answer_is_parked_for_review(corruption: Corruption, expect: &str) {
    let s =
        setup(10_000_000, Faults { corrupt_next: Some(corruption), ..Faults::default() }, Duration::from_secs(2)).await;
    drive_until(&s.w, Duration::from_secs(20), || async {
        s.recorded().await.is_some_and(|i| i.state() == Some(State::NeedsReview))
    })
    .await;
    let ins = s.instruction().await;
    let reason = ins.reason.unwrap_or_default();
    assert!(reason.contains(expect), "{corruption:?}: reason {reason:?} should mention {expect}");
    for _ in 0..3 {
        s.w.step().await.expect("pass");
    }
    assert_eq!(s.bank.received(&s.id).await, 1, "a parked instruction is never resent automatically");
    assert_eq!(s.milestone_state().await, MilestoneState::Due as u8, "nothing is confirmed on a bad answer");
    assert_eq!(s.instruction().await.state(), Some(State::NeedsReview));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_xml_from_the_bank_parks_the_instruction_for_review() {
    hostile_answer_is_parked_for_review(Corruption::BadXml, "XML").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_report_about_another_end_to_end_id_parks_the_instruction_for_review() {
    hostile_answer_is_parked_for_review(Corruption::WrongEndToEndId, "OrgnlEndToEndId").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_report_with_a_different_amount_parks_the_instruction_for_review() {
    hostile_answer_is_parked_for_review(Corruption::AmountMismatch, "Amt").await;
}
