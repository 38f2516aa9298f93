//! A whole trade on the embedded node with the sandbox bank: each milestone pays on its due
//! date, to the right creditor (the financier for the assigned receivable), for the exact
//! amount, and the bank's ledger balances.

use std::time::Duration;

use test_support::settlement::*;
use tradechain_bank_adapters::outbox::State;
use tradechain_contracts::{MilestoneState, OrderState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_milestone_pays_on_its_due_date_to_the_right_creditor_and_the_ledger_balances() {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 100_000_000).await;
    let amount: u128 = 25_000_000; // USD 250,000.00
    let order = committed_trade(&chain, &p, amount, true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(5)).await;
    let chain_id = chain.node.config().chain_id;

    // At sight: milestone 0 is released and paid to the seller; milestone 1 is not yet due.
    drive_until(&w, Duration::from_secs(20), || async {
        chain.milestone(order, 0).await.state == MilestoneState::Paid as u8
    })
    .await;
    let first = w.outbox().get(&e2e(chain_id, order, 0, 1)).await.expect("outbox").expect("instruction 0");
    assert_eq!(first.state(), Some(State::Settled));
    assert!(first.sent_at.is_some() && first.accepted_at.is_some() && first.settled_at.is_some());
    assert_eq!(chain.milestone(order, 1).await.state, MilestoneState::Triggered as u8, "paid before its due date");
    for _ in 0..3 {
        w.step().await.expect("pass");
    }
    assert_eq!(bank.received(&e2e(chain_id, order, 1, 1)).await, 0, "milestone 1 instructed before its due date");
    let seller = p.account(p.seller.address());
    let financier = p.account(p.financier.address());
    let buyer = p.account(p.buyer.address());
    assert_eq!(bank.balance(&seller).await, 7_500_000);

    // Thirty days later the usance milestone falls due; its proceeds are assigned to the financier.
    chain.advance(29 * DAY).await;
    for _ in 0..3 {
        w.step().await.expect("pass");
    }
    assert_eq!(chain.milestone(order, 1).await.state, MilestoneState::Triggered as u8, "released a day early");
    chain.advance(DAY + 60).await;
    drive_until(&w, Duration::from_secs(20), || async {
        chain.milestone(order, 1).await.state == MilestoneState::Paid as u8
    })
    .await;

    assert_eq!(bank.balance(&seller).await, 7_500_000, "the seller is paid milestone 0 only");
    assert_eq!(bank.balance(&financier).await, 17_500_000, "the assigned milestone pays the financier");
    // The bank paid both at its own risk (the commitment's cover); the buyer reimburses it.
    drive_until(&w, Duration::from_secs(20), || async { bank.balance(&buyer).await == 100_000_000 - 25_000_000 }).await;
    assert_eq!(bank.balance(&p.account(p.buyer_bank.address())).await, 0, "the bank's own account is made whole");
    assert_eq!(bank.ledger_sum("USD").await, "0", "debits and credits must sum to zero");
    let o = chain.order(order).await;
    assert_eq!((o.state, o.paid), (OrderState::Completed as u8, amount));
    for m in 0..2 {
        assert_eq!(bank.received(&e2e(chain_id, order, m, 1)).await, 1);
        assert_eq!(chain.confirmations(order, m).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payables_finance_pays_the_seller_from_the_financier_and_the_buyer_repays_at_the_extended_date() {
    use alloy::primitives::U256;
    use tradechain_bank_adapters::settlement::repayment_end_to_end_id;
    use tradechain_contracts::{FinancingState, Receivables};

    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 50_000_000).await;
    let financier = p.account(p.financier.address());
    bank.fund(&financier, 50_000_000).await;
    let order = committed_trade(&chain, &p, 10_000_000, false).await;
    // The financier takes over milestone 1 (70%) for 60 extra days at 1%.
    let offer = Receivables::offerPayablesFinanceCall {
        orderId: order,
        milestone: U256::from(1),
        extraDays: 60,
        feeBps: 100,
        deadlineDays: 10,
        fps: Receivables::Fingerprints { invoice: alloy::primitives::B256::ZERO, documents: vec![] },
        near: Receivables::NearKeys::NONE,
    };
    let rc = chain.suite.receivables;
    chain.send(&p.financier, rc, offer).await;
    let id: U256 = chain.read(rc, Receivables::financingCountCall {}).await;
    chain.send(&p.buyer, rc, Receivables::acceptCall { financingId: id }).await;
    // The payer changes only with the seller's and the buyer's bank's approval.
    chain.send(&p.seller, rc, Receivables::approveCall { financingId: id }).await;
    chain.send(&p.buyer_bank, rc, Receivables::approveCall { financingId: id }).await;
    assert_eq!(chain.financing(id).await.state, FinancingState::Live as u8);

    let dir = tempfile::tempdir().expect("tempdir");
    let buyer_bank = worker(&chain, &bank, &p, &sqlite_url(&dir, "buyer-bank.db"), Duration::from_secs(5)).await;
    let financier_worker =
        worker_for(&chain, &bank, &p, &p.financier, &sqlite_url(&dir, "financier.db"), Duration::from_secs(5)).await;
    drive_until(&buyer_bank, Duration::from_secs(20), || async {
        chain.milestone(order, 0).await.state == MilestoneState::Paid as u8
    })
    .await;

    chain.advance(30 * DAY + 60).await;
    drive_until(&financier_worker, Duration::from_secs(20), || async {
        chain.milestone(order, 1).await.state == MilestoneState::Paid as u8
    })
    .await;
    let seller = p.account(p.seller.address());
    assert_eq!(bank.balance(&seller).await, 10_000_000, "the seller is paid in full on the due date");
    assert_eq!(bank.balance(&financier).await, 50_000_000 - 7_000_000, "the financier paid milestone 1");

    for _ in 0..3 {
        buyer_bank.step().await.expect("pass");
    }
    assert_eq!(
        chain.financing(id).await.state,
        FinancingState::AwaitingRepayment as u8,
        "repaid before the extended date"
    );

    // Due 60 days after the financier paid, on the buyer's bank's banking day.
    let due = chain.financing(id).await.repaymentDue;
    assert!(due >= chain.now().await + 59 * DAY, "repayment due {due}");
    chain.advance(due + 60 - chain.now().await).await;
    drive_until(&buyer_bank, Duration::from_secs(20), || async {
        chain.financing(id).await.state == FinancingState::Settled as u8
    })
    .await;
    let buyer = p.account(p.buyer.address());
    assert_eq!(
        bank.balance(&buyer).await,
        50_000_000 - 3_000_000 - 7_070_000,
        "milestone 0 plus the repayment with its fee"
    );
    assert_eq!(bank.balance(&financier).await, 50_000_000 + 70_000, "the financier earns its fee");
    assert_eq!(bank.received(repayment_end_to_end_id(chain.node.config().chain_id, id).as_str()).await, 1);
    assert_eq!(bank.ledger_sum("USD").await, "0");
}
