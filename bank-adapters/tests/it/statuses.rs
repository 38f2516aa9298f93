//! Booked means booked: `confirmPayment` cannot be undone, so only a booking (ACSC, ACCC,
//! or the booked debit in the bank's camt.054) confirms on chain. Each interim status the
//! sandbox bank answers (ACCP, ACWC, ACSP, PDNG) keeps the instruction in flight, asked
//! about again later; a rejection after ACSP fails the milestone with its reason.

use std::time::Duration;

use test_support::settlement::*;
use tradechain_bank_adapters::outbox::State;
use tradechain_bank_adapters::sandbox::Faults;
use tradechain_contracts::{Cover, MilestoneState};

struct Held {
    chain: Chain,
    bank: SandboxBank,
    p: Parties,
    order: alloy::primitives::U256,
    w: tradechain_bank_adapters::settlement::SettlementWorker<tradechain_bank_adapters::iso20022_http::IsoHttpRails>,
    id: String,
    _dir: tempfile::TempDir,
}

/// An at-sight milestone the worker sends, the bank holding it at `interim`.
async fn held_at(interim: &str) -> Held {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 10_000_000).await;
    bank.faults(Faults { hold_next: Some(interim.into()), ..Faults::default() }).await;
    let order = due_order(&chain, &p, 4_000_000, &[10_000], Cover::BankRisk).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(2)).await;
    let id = e2e(chain.node.config().chain_id, order, 0, 1);
    drive_until(&w, Duration::from_secs(20), || async { bank.payment(&id).await["status"] == interim }).await;
    Held { chain, bank, p, order, w, id, _dir: dir }
}

impl Held {
    async fn milestone(&self) -> u8 {
        self.chain.milestone(self.order, 0).await.state
    }

    /// Passes change nothing on chain while the bank has not booked it.
    async fn stays_in_flight(&self, interim: &str) {
        for _ in 0..4 {
            self.w.step().await.expect("pass");
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        assert_eq!(self.milestone().await, MilestoneState::Due as u8, "{interim}: nothing confirmed on chain");
        let ins = self.w.outbox().get(&self.id).await.expect("outbox").expect("recorded");
        assert_eq!(ins.state(), Some(State::Sent), "{interim}: in flight");
        assert!(ins.reason.as_deref().unwrap_or_default().starts_with(interim), "{:?}", ins.reason);
        assert_eq!(self.chain.confirmations(self.order, 0).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_is_not_booked_each_interim_status_waits_and_the_booking_confirms() {
    for interim in ["ACCP", "ACWC", "ACSP", "PDNG"] {
        let h = held_at(interim).await;
        h.stays_in_flight(interim).await;
        h.bank.settle_held(&h.id, true).await;
        drive_until(&h.w, Duration::from_secs(20), || async { h.milestone().await == MilestoneState::Paid as u8 })
            .await;
        assert_eq!(h.bank.received(&h.id).await, 1, "{interim}: asked about, never sent again");
        assert_eq!(h.bank.balance(&h.p.account(h.p.seller.address())).await, 4_000_000, "{interim}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_after_acsp_fails_the_milestone_with_its_reason() {
    let h = held_at("ACSP").await;
    h.stays_in_flight("ACSP").await;
    h.bank.reject_held(&h.id, "AM04").await;
    drive_until(&h.w, Duration::from_secs(20), || async { h.milestone().await == MilestoneState::Failed as u8 }).await;
    let ins = h.w.outbox().get(&h.id).await.expect("outbox").expect("recorded");
    assert_eq!(ins.state(), Some(State::Rejected));
    assert!(ins.chain_recorded_at.is_some(), "failPayment is on chain");
    assert_eq!(h.bank.balance(&h.p.account(h.p.seller.address())).await, 0, "nothing moved");
}

/// A bank whose status report lags its books: the pain.002 still says ACSP, the camt.054
/// of the debtor's account shows the booked debit with the EndToEndId: booked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_notified_in_camt_054_confirms_while_the_status_report_still_says_acsp() {
    let h = held_at("ACSP").await;
    h.stays_in_flight("ACSP").await;
    let record = h.bank.settle_held(&h.id, false).await;
    assert_eq!(record["status"], "ACSP", "the status report lags: {record}");
    drive_until(&h.w, Duration::from_secs(20), || async { h.milestone().await == MilestoneState::Paid as u8 }).await;
    let ins = h.w.outbox().get(&h.id).await.expect("outbox").expect("recorded");
    assert_eq!(ins.state(), Some(State::Settled));
    assert!(ins.bank_reference.as_deref().is_some_and(|r| r.starts_with("SBX")), "the booking's reference: {ins:?}");
    assert_eq!(h.chain.confirmations(h.order, 0).await, 1);
}
