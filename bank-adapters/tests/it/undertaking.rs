//! An undertaking cannot bounce: whichever cover the buyer's bank states when it commits,
//! the seller is paid whatever the buyer's balance on the day. Earmark: the buyer's funds
//! move to the bank's escrow at commitment, milestones are paid from it, the rest goes back
//! when the order ends. Bank risk: the bank pays from its own account and claims the buyer
//! back; a buyer who cannot pay is the bank's problem, parked for a person.

use std::time::Duration;

use alloy::primitives::U256;
use test_support::settlement::*;
use tradechain_bank_adapters::outbox::State;
use tradechain_contracts::{Cover, MilestoneState, OrderState, TradeOrders};

struct Trade {
    chain: Chain,
    bank: SandboxBank,
    p: Parties,
    w: tradechain_bank_adapters::settlement::SettlementWorker<tradechain_bank_adapters::iso20022_http::IsoHttpRails>,
    _dir: tempfile::TempDir,
}

async fn trade(buyer_funds: i64) -> Trade {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, buyer_funds).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(2)).await;
    Trade { chain, bank, p, w, _dir: dir }
}

impl Trade {
    async fn balance(&self, who: &tradechain_bank_adapters::party::Party) -> i64 {
        self.bank.balance(who).await
    }

    async fn paid(&self, order: U256) -> bool {
        self.chain.order(order).await.state == OrderState::Completed as u8
    }

    async fn state_of(&self, e2e: &str) -> Option<State> {
        self.w.outbox().get(e2e).await.expect("outbox").and_then(|i| i.state())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_bank_risk_an_empty_buyer_account_still_pays_the_seller_and_leaves_the_bank_a_claim() {
    let t = trade(0).await;
    let order = due_order(&t.chain, &t.p, 4_000_000, &[10_000], Cover::BankRisk).await;
    drive_until(&t.w, Duration::from_secs(20), || async { t.paid(order).await }).await;
    let (seller, buyer, own) =
        (t.p.account(t.p.seller.address()), t.p.account(t.p.buyer.address()), t.p.account(t.p.buyer_bank.address()));
    assert_eq!(t.balance(&seller).await, 4_000_000, "the seller is paid under the undertaking");
    assert_eq!(t.chain.milestone(order, 0).await.failures, 0, "no failure on chain");
    // The bank's claim: the buyer's reimbursement is refused (AM04) and parked for a person.
    let chain_id = t.chain.node.config().chain_id;
    let claim = format!("TC{chain_id}-B{order}-0-1");
    drive_until(&t.w, Duration::from_secs(20), || async { t.state_of(&claim).await == Some(State::NeedsReview) }).await;
    let ins = t.w.outbox().get(&claim).await.expect("outbox").expect("claim");
    assert!(ins.reason.as_deref().unwrap_or_default().contains("did not reimburse"), "{:?}", ins.reason);
    assert_eq!(t.balance(&own).await, -4_000_000, "the bank carries it");
    assert_eq!(t.balance(&buyer).await, 0);
    assert_eq!(t.bank.ledger_sum("USD").await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earmark_holds_the_buyers_funds_from_commitment_and_pays_each_milestone_from_escrow() {
    let t = trade(10_000_000).await;
    let (seller, buyer, escrow) = (t.p.account(t.p.seller.address()), t.p.account(t.p.buyer.address()), t.p.escrow());
    let order = due_order(&t.chain, &t.p, 4_000_000, &[3_000, 7_000], Cover::Earmark).await;
    drive_until(&t.w, Duration::from_secs(20), || async { t.paid(order).await }).await;
    assert_eq!(t.balance(&seller).await, 4_000_000);
    assert_eq!(t.balance(&buyer).await, 6_000_000, "debited once, at commitment");
    assert_eq!(t.balance(&escrow).await, 0, "the escrow paid both milestones");
    let chain_id = t.chain.node.config().chain_id;
    assert_eq!(t.state_of(&format!("TC{chain_id}-E{order}")).await, Some(State::Settled), "the earmark");
    let payments = t.bank.payments().await;
    let debtors: Vec<_> = payments.as_array().expect("list").iter().map(|p| p["end_to_end_id"].clone()).collect();
    assert_eq!(debtors.len(), 3, "the earmark and two payments, no reimbursement: {payments}");
    assert_eq!(t.bank.ledger_sum("USD").await, "0");

    // An earmarked order that expires unperformed: the escrow gives it all back.
    let now = t.chain.now().await;
    let mut terms = t.p.terms(now, 2_500_000);
    (terms.latestShipment, terms.expiry) = (now + 5 * DAY, now + 10 * DAY);
    let ms = vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }];
    let unperformed = committed_order_with(&t.chain, &t.p, terms, ms, Cover::Earmark).await;
    drive_until(&t.w, Duration::from_secs(20), || async { t.balance(&escrow).await == 2_500_000 }).await;
    assert_eq!(t.balance(&buyer).await, 3_500_000, "held while the order runs");
    t.chain.advance(11 * DAY).await;
    t.chain.send(&t.p.buyer, t.chain.suite.trade_orders, TradeOrders::expireCall { orderId: unperformed }).await;
    drive_until(&t.w, Duration::from_secs(20), || async { t.balance(&buyer).await == 6_000_000 }).await;
    assert_eq!(t.balance(&escrow).await, 0, "released at expiry");
    assert_eq!(t.state_of(&format!("TC{chain_id}-X{unperformed}")).await, Some(State::Settled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earmark_the_buyer_cannot_fund_is_parked_and_the_bank_pays_at_its_own_risk() {
    let t = trade(0).await;
    let order = due_order(&t.chain, &t.p, 4_000_000, &[10_000], Cover::Earmark).await;
    drive_until(&t.w, Duration::from_secs(20), || async { t.paid(order).await }).await;
    assert_eq!(t.balance(&t.p.account(t.p.seller.address())).await, 4_000_000, "the seller is paid");
    assert_eq!(t.chain.milestone(order, 0).await.state, MilestoneState::Paid as u8);
    let chain_id = t.chain.node.config().chain_id;
    let earmark = t.w.outbox().get(&format!("TC{chain_id}-E{order}")).await.expect("outbox").expect("earmark");
    assert_eq!(earmark.state(), Some(State::NeedsReview));
    assert!(earmark.reason.as_deref().unwrap_or_default().contains("could not be earmarked"), "{:?}", earmark.reason);
    assert_eq!(t.balance(&t.p.account(t.p.buyer_bank.address())).await, -4_000_000, "paid from the bank's own account");
}
