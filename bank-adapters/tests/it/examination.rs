//! Nobody has to chase a silent bank: the settlement workers of the buyer's and the
//! seller's bank watch every presentation on their orders and, once its examination
//! period has passed without a decision, record its deemed acceptance (UCP 600 art.
//! 16(f)); a refusal in time ends the watch. A financier payer that defaults hands the
//! milestone back to the buyer's bank, whose worker pays it without being told.

use std::time::Duration;

use alloy::primitives::{B256, FixedBytes, U256, keccak256};
use test_support::settlement::*;
use tradechain_contracts::{DocState, FinancingState, MilestoneState, Receivables, TradeOrders};

const INVOICE: u8 = 0;

/// A committed order of `amount` USD cents paying at sight (or `tenor_days` later) on the
/// commercial invoice, the invoice presented and not examined.
async fn presented(chain: &Chain, p: &Parties, amount: u128, tenor_days: u16) -> U256 {
    let to = chain.suite.trade_orders;
    let ms =
        vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: tenor_days }];
    let order = committed_order(chain, p, p.terms(chain.now().await, amount), ms).await;
    let doc = TradeOrders::submitDocumentCall {
        orderId: order,
        docType: INVOICE,
        hash: keccak256(b"invoice"),
        uri: String::new(),
    };
    chain.send(&p.seller, to, doc).await;
    order
}

/// The chain, the sandbox bank (the buyer funded) and the registered parties.
async fn start() -> (Chain, SandboxBank, Parties) {
    let chain = start_chain().await;
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
    let p = Parties::new();
    p.register(&chain).await;
    open_accounts(&bank, &p, 5_000_000).await;
    (chain, bank, p)
}

async fn invoice(chain: &Chain, order: U256) -> TradeOrders::Document {
    chain.read(chain.suite.trade_orders, TradeOrders::getDocumentCall { orderId: order, docType: INVOICE }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_buyers_bank_is_deemed_to_accept_and_its_worker_pays() {
    let (chain, bank, p) = start().await;
    let order = presented(&chain, &p, 4_000_000, 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(5)).await;

    // Within the period: passes change nothing.
    for _ in 0..3 {
        w.step().await.expect("pass");
    }
    assert_eq!(invoice(&chain, order).await.state, DocState::Submitted as u8, "the bank may still examine");
    // The period passes in silence: the next passes record the deemed acceptance and pay.
    let by = invoice(&chain, order).await.examineBy;
    chain.advance(by + 1 - chain.now().await).await;
    drive_until(&w, Duration::from_secs(20), || async {
        chain.milestone(order, 0).await.state == MilestoneState::Paid as u8
    })
    .await;
    let d = invoice(&chain, order).await;
    assert_eq!((d.state, d.deemed), (DocState::Accepted as u8, true));
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, 4_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sellers_bank_records_the_deemed_acceptance_when_the_buyers_bank_runs_no_worker() {
    let (chain, bank, p) = start().await;
    let order = presented(&chain, &p, 4_000_000, 30).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let sellers_bank =
        worker_for(&chain, &bank, &p, &p.seller_bank, &sqlite_url(&dir, "seller-bank.db"), Duration::from_secs(5))
            .await;
    let by = invoice(&chain, order).await.examineBy;
    chain.advance(by + 1 - chain.now().await).await;
    drive_until(&sellers_bank, Duration::from_secs(20), || async {
        chain.milestone(order, 0).await.state == MilestoneState::Triggered as u8
    })
    .await;
    assert!(invoice(&chain, order).await.deemed);
    // The due date runs from the end of the period it was deemed accepted at, plus the tenor.
    let due = chain.milestone(order, 0).await.dueDate;
    assert!(due >= (by / DAY + 30) * DAY && due <= (by / DAY + 33) * DAY, "due {due}, period ended {by}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_in_time_ends_the_watch_without_a_transaction() {
    let (chain, bank, p) = start().await;
    let order = presented(&chain, &p, 4_000_000, 0).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(5)).await;
    w.step().await.expect("the presentation is watched");
    let refusal = TradeOrders::rejectDocumentCall {
        orderId: order,
        docType: INVOICE,
        discrepancies: vec!["quantity differs from the order".into()],
    };
    chain.send(&p.buyer_bank, chain.suite.trade_orders, refusal).await;
    let by = invoice(&chain, order).await.examineBy;
    chain.advance(by + 1 - chain.now().await).await;
    let nonce = chain.nonce(p.buyer_bank.address()).await;
    for _ in 0..3 {
        let report = w.step().await.expect("pass");
        assert_eq!(report.released, 0, "{report:?}");
    }
    assert_eq!(chain.nonce(p.buyer_bank.address()).await, nonce, "the worker sent nothing");
    assert_eq!(invoice(&chain, order).await.state, DocState::Rejected as u8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_financier_payer_in_default_hands_the_payment_back_to_the_buyers_bank_which_pays() {
    let (chain, bank, p) = start().await;
    let order = presented(&chain, &p, 4_000_000, 30).await;
    let rc = chain.suite.receivables;
    let offer = Receivables::offerPayablesFinanceCall {
        orderId: order,
        milestone: U256::ZERO,
        extraDays: 60,
        feeBps: 100,
        deadlineDays: 10,
        fps: Receivables::Fingerprints { invoice: keccak256(b"INV-1"), documents: vec![] },
        near: Receivables::NearKeys::NONE,
    };
    chain.send(&p.financier, rc, offer).await;
    let id: U256 = chain.read(rc, Receivables::financingCountCall {}).await;
    chain.send(&p.buyer, rc, Receivables::acceptCall { financingId: id }).await;
    chain.send(&p.seller, rc, Receivables::approveCall { financingId: id }).await;
    chain.send(&p.buyer_bank, rc, Receivables::approveCall { financingId: id }).await;
    let to = chain.suite.trade_orders;
    chain.send(&p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: INVOICE }).await;
    assert_eq!(chain.milestone(order, 0).await.payer, p.financier.address());

    // The buyer's bank's worker has nothing to pay while the financier is the payer.
    let dir = tempfile::tempdir().expect("tempdir");
    let w = worker(&chain, &bank, &p, &sqlite_url(&dir, "outbox.db"), Duration::from_secs(5)).await;
    let due = chain.milestone(order, 0).await.dueDate;
    chain.advance(due + 1 - chain.now().await).await;
    for _ in 0..3 {
        w.step().await.expect("pass");
    }
    assert_eq!(chain.milestone(order, 0).await.state, MilestoneState::Triggered as u8, "not the bank's to release");
    // The financier does not pay: three failures, each with its ISO reason, the seller
    // demanding again after each.
    let index = U256::ZERO;
    for attempt in 1..=3u8 {
        chain.send(&p.seller, to, TradeOrders::releasePaymentCall { orderId: order, index }).await;
        let fail = TradeOrders::failPaymentCall {
            orderId: order,
            index,
            paymentReference: B256::repeat_byte(attempt),
            reasonCode: FixedBytes(*b"AM04"),
            reason: "insufficient funds".into(),
        };
        chain.send(&p.financier, to, fail).await;
    }
    let m = chain.milestone(order, 0).await;
    assert_eq!((m.payer, m.state), (p.buyer_bank.address(), MilestoneState::Triggered as u8), "back to the bank");
    assert_eq!(chain.financing(id).await.state, FinancingState::Defaulted as u8);
    // Nobody tells the bank's worker: it sees the payer change and pays the seller.
    drive_until(&w, Duration::from_secs(20), || async {
        chain.milestone(order, 0).await.state == MilestoneState::Paid as u8
    })
    .await;
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, 4_000_000);
}
