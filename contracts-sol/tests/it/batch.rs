//! Releases and confirmations in bulk (`releasePayments`, `confirmPayments`): a bank books
//! payments in batches, and each milestone in a batch is still paid exactly once. The
//! attacks: the same milestone twice in one batch, another bank's milestone slipped into
//! a batch, a batch of mismatched lists, a batch releasing a milestone before its day.

use alloy::primitives::{B256, U256};
use test_support::evm::{BL, TestChain, addr, bit, h, share, terms, u};
use tradechain_contracts::TradeOrders::{
    PaymentConfirmed, PaymentDue, commitCall, confirmPaymentsCall, proposeCall, releasePaymentsCall,
};
use tradechain_contracts::{MilestoneState, OrderState};

fn ids(v: &[u64]) -> Vec<U256> {
    v.iter().map(|i| u(*i)).collect()
}

fn refs(n: usize) -> Vec<B256> {
    (0..n).map(|i| h(&format!("booking {i}"))).collect()
}

/// Three orders of the buyer's bank, each with its one milestone triggered.
fn triggered(c: &mut TestChain, n: u64) -> Vec<u64> {
    (0..n)
        .map(|_| {
            let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
            c.present(id, BL);
            id
        })
        .collect()
}

fn mstate(c: &mut TestChain, id: u64) -> u8 {
    c.milestone(id, 0).state
}

#[test]
fn a_batch_releases_and_confirms_many_milestones_each_once() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let orders = triggered(&mut c, 3);
    c.exec(addr("keeper"), to, releasePaymentsCall { orderIds: ids(&orders), indexes: vec![u(0); 3] }).unwrap();
    assert_eq!(c.events::<PaymentDue>().len(), 3, "one PaymentDue per milestone");
    let call = confirmPaymentsCall { orderIds: ids(&orders), indexes: vec![u(0); 3], refs: refs(3) };
    c.exec(addr("buyer_bank"), to, call).unwrap();
    let confirmed = c.events::<PaymentConfirmed>();
    assert_eq!(confirmed.len(), 3);
    for (id, (e, r)) in orders.iter().zip(confirmed.iter().zip(refs(3))) {
        assert_eq!((e.orderId, e.paymentReference), (u(*id), r));
        assert_eq!(mstate(&mut c, *id), MilestoneState::Paid as u8);
        assert_eq!(c.order(*id).state, OrderState::Completed as u8);
        assert_eq!(c.order(*id).paid, 10_000_000);
    }
    // Confirming any of them again, alone or in a batch, is refused.
    let again = confirmPaymentsCall { orderIds: ids(&orders[..1]), indexes: vec![u(0)], refs: refs(1) };
    c.expect_revert(addr("buyer_bank"), to, again, "InvalidMilestoneState");
}

#[test]
fn the_same_milestone_twice_in_one_batch_pays_nothing() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let orders = triggered(&mut c, 2);
    c.exec(addr("keeper"), to, releasePaymentsCall { orderIds: ids(&orders), indexes: vec![u(0); 2] }).unwrap();
    let twice = vec![orders[0], orders[1], orders[0]];
    let call = confirmPaymentsCall { orderIds: ids(&twice), indexes: vec![u(0); 3], refs: refs(3) };
    c.expect_revert(addr("buyer_bank"), to, call, "InvalidMilestoneState");
    for id in &orders {
        assert_eq!(mstate(&mut c, *id), MilestoneState::Due as u8, "the batch never half-applies");
        assert_eq!(c.order(*id).paid, 0);
    }
    assert!(c.events::<PaymentConfirmed>().is_empty());
}

#[test]
fn a_bank_cannot_confirm_another_banks_milestone_inside_its_batch() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let mine = triggered(&mut c, 1)[0];
    // An order the seller's bank committed as the buyer's bank: its milestone is not ours.
    let mut t = terms(c.now);
    (t.buyerBank, t.sellerBank) = (addr("seller_bank"), addr("buyer_bank"));
    let theirs = c.exec(addr("buyer"), to, proposeCall { t, terms: vec![share(10_000, bit(BL), 0)] }).unwrap();
    let theirs = theirs.to::<u64>();
    c.exec(addr("seller"), to, tradechain_contracts::TradeOrders::acceptCall { orderId: u(theirs) }).unwrap();
    c.exec(addr("seller_bank"), to, commitCall { orderId: u(theirs), cover: 0 }).unwrap();
    c.submit(theirs, BL, "their bill of lading");
    c.exec(
        addr("seller_bank"),
        to,
        tradechain_contracts::TradeOrders::acceptDocumentCall { orderId: u(theirs), docType: BL },
    )
    .unwrap();
    let both = ids(&[mine, theirs]);
    c.exec(addr("keeper"), to, releasePaymentsCall { orderIds: both.clone(), indexes: vec![u(0); 2] }).unwrap();
    let call = confirmPaymentsCall { orderIds: both, indexes: vec![u(0); 2], refs: refs(2) };
    c.expect_revert(addr("buyer_bank"), to, call, "NotPayer");
    assert_eq!(mstate(&mut c, mine), MilestoneState::Due as u8);
    assert_eq!(mstate(&mut c, theirs), MilestoneState::Due as u8);
    // A stranger's batch of the bank's own milestones is refused as well.
    let call = confirmPaymentsCall { orderIds: ids(&[mine]), indexes: vec![u(0)], refs: refs(1) };
    c.expect_revert(addr("financier"), to, call, "NotPayer");
}

#[test]
fn batches_of_mismatched_lists_or_an_empty_reference_are_refused() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let orders = triggered(&mut c, 2);
    let short = releasePaymentsCall { orderIds: ids(&orders), indexes: vec![u(0)] };
    c.expect_revert(addr("keeper"), to, short, "InvalidReference");
    c.exec(addr("keeper"), to, releasePaymentsCall { orderIds: ids(&orders), indexes: vec![u(0); 2] }).unwrap();
    let short = confirmPaymentsCall { orderIds: ids(&orders), indexes: vec![u(0); 2], refs: refs(1) };
    c.expect_revert(addr("buyer_bank"), to, short, "InvalidReference");
    let empty_ref =
        confirmPaymentsCall { orderIds: ids(&orders), indexes: vec![u(0); 2], refs: vec![h("x"), B256::ZERO] };
    c.expect_revert(addr("buyer_bank"), to, empty_ref, "InvalidReference");
    assert_eq!(mstate(&mut c, orders[0]), MilestoneState::Due as u8, "the first of a refused batch stays due");
    // An empty batch changes nothing and costs nothing to refuse: it is simply empty.
    c.exec(addr("buyer_bank"), to, confirmPaymentsCall { orderIds: vec![], indexes: vec![], refs: vec![] }).unwrap();
    assert!(c.events::<PaymentConfirmed>().is_empty());
}

#[test]
fn a_batch_cannot_release_a_milestone_before_its_due_date() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let now_due = triggered(&mut c, 1)[0];
    let later = c.live_order(vec![share(10_000, bit(BL), 30)]);
    c.present(later, BL);
    let call = releasePaymentsCall { orderIds: ids(&[now_due, later]), indexes: vec![u(0); 2] };
    c.expect_revert(addr("keeper"), to, call, "NotDueYet");
    assert_eq!(mstate(&mut c, now_due), MilestoneState::Triggered as u8, "nothing released");
    assert!(c.events::<PaymentDue>().is_empty());
}
