//! Receivables: receivables finance with assignment of proceeds once the advance is paid
//! and acknowledged, payables finance with extended terms once the seller and the buyer's
//! bank approve, and the rule that a receivable (or its documents' fingerprints) is
//! financed at most once at a time.

use alloy::primitives::{B256, keccak256};
use alloy::sol_types::SolValue;
use test_support::evm::*;
use tradechain_contracts::Receivables::*;
use tradechain_contracts::TradeOrders::{PaymentDue, ProceedsAssigned};
use tradechain_contracts::{Consortium, FinancingState, OrderState};

pub(crate) fn fstate(c: &mut TestChain, id: u64) -> FinancingState {
    let to = c.suite.receivables;
    FinancingState::from_u8(c.view(to, getFinancingCall { financingId: u(id) }).state).expect("known state")
}

/// Fingerprints with no invoice's and these others.
pub(crate) fn docs(fps: Vec<B256>) -> Fingerprints {
    Fingerprints { invoice: B256::ZERO, documents: fps }
}

/// A fingerprint as the registry holds it: bound to the order's seller and buyer.
pub(crate) fn bound(fp: B256, seller: &str, buyer: &str) -> B256 {
    keccak256((fp, addr(seller), addr(buyer)).abi_encode())
}

pub(crate) fn offer_with(
    c: &mut TestChain,
    financier: &str,
    order: u64,
    milestone: u64,
    advance: u128,
    fps: Fingerprints,
) -> Result<u64, Failure> {
    let to = c.suite.receivables;
    c.exec(
        addr(financier),
        to,
        offerReceivableFinanceCall {
            orderId: u(order),
            milestone: u(milestone),
            advance,
            discountBps: 450,
            deadlineDays: 5,
            fps,
            near: NearKeys::NONE,
        },
    )
    .map(|id| id.to::<u64>())
}

fn offer(
    c: &mut TestChain,
    financier: &str,
    order: u64,
    milestone: u64,
    advance: u128,
    fps: Vec<B256>,
) -> Result<u64, Failure> {
    offer_with(c, financier, order, milestone, advance, docs(fps))
}

pub(crate) fn accept(c: &mut TestChain, firm: &str, financing: u64) -> Result<(), Failure> {
    let to = c.suite.receivables;
    c.exec(addr(firm), to, acceptCall { financingId: u(financing) }).map(|_| ())
}

/// The financier records the advance and the seller acknowledges it: the financing binds.
pub(crate) fn advance(c: &mut TestChain, financier: &str, financing: u64) {
    let to = c.suite.receivables;
    c.exec(addr(financier), to, confirmAdvanceCall { financingId: u(financing), paymentReference: h("adv") })
        .expect("advance recorded");
    c.exec(addr("seller"), to, acknowledgeAdvanceCall { financingId: u(financing) }).expect("advance acknowledged");
}

#[test]
fn an_offer_records_its_near_keys_on_chain_and_a_zero_key_records_nothing() {
    let mut c = TestChain::with_members();
    let order = c.live_order(vec![share(5_000, bit(BL), 30), share(5_000, bit(BL), 60)]);
    let to = c.suite.receivables;
    let keys = NearKeys { key: h("near"), amount: h("amount"), date: h("date"), buyer: h("buyer") };
    let call = |milestone: u64, near: NearKeys| offerReceivableFinanceCall {
        orderId: u(order),
        milestone: u(milestone),
        advance: 1_000,
        discountBps: 450,
        deadlineDays: 5,
        fps: docs(vec![]),
        near,
    };
    let fid = c.exec(addr("financier"), to, call(0, keys.clone())).unwrap();
    let recorded = c.events::<NearKeysRecorded>();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (recorded[0].financingId, recorded[0].nearKey, recorded[0].amount, recorded[0].date, recorded[0].buyer),
        (fid, keys.key, keys.amount, keys.date, keys.buyer)
    );
    c.exec(addr("financier"), to, call(1, NearKeys::NONE)).unwrap();
    assert!(c.events::<NearKeysRecorded>().is_empty(), "a zero near key records nothing");
}

#[test]
fn financed_receivable_pays_the_financier_at_maturity_and_then_settles() {
    let mut c = TestChain::with_members();
    let order = c.live_order(vec![share(10_000, bit(BL), 60)]);
    let fid = offer(&mut c, "financier", order, 0, 9_500_000, vec![h("fp invoice"), h("fp bl")]).unwrap();
    assert_eq!(c.events::<FinancingOffered>()[0].amount, 9_500_000);
    assert_eq!(fstate(&mut c, fid), FinancingState::Offered);
    assert_eq!(accept(&mut c, "buyer", fid).unwrap_err().name(), "NotFinancedFirm");
    accept(&mut c, "seller", fid).unwrap();
    assert_eq!(fstate(&mut c, fid), FinancingState::Accepted, "reserved, not yet binding");
    assert_eq!(c.events::<FingerprintRegistered>().len(), 2);
    assert!(c.events::<ProceedsAssigned>().is_empty(), "no assignment before the advance");
    assert_eq!(c.milestone(order, 0).payee, addr("seller"));

    let to = c.suite.receivables;
    c.expect_revert(addr("seller"), to, acknowledgeAdvanceCall { financingId: u(fid) }, "AdvanceNotRecorded");
    c.expect_revert(
        addr("financier2"),
        to,
        confirmAdvanceCall { financingId: u(fid), paymentReference: h("adv") },
        "NotFinancier",
    );
    c.exec(addr("financier"), to, confirmAdvanceCall { financingId: u(fid), paymentReference: h("adv") }).unwrap();
    assert_eq!(c.events::<AdvancePaid>()[0].amount, 9_500_000, "the advance the offer states");
    c.expect_revert(
        addr("financier"),
        to,
        confirmAdvanceCall { financingId: u(fid), paymentReference: h("adv again") },
        "InvalidFinancingState",
    );
    c.expect_revert(addr("financier"), to, acknowledgeAdvanceCall { financingId: u(fid) }, "NotFinancedFirm");
    c.exec(addr("seller"), to, acknowledgeAdvanceCall { financingId: u(fid) }).unwrap();
    assert_eq!(fstate(&mut c, fid), FinancingState::Live);
    let assigned = c.events::<ProceedsAssigned>();
    assert_eq!(assigned.len(), 1, "TradeOrders recorded the assignment");
    assert_eq!(assigned[0].payee, addr("financier"));

    c.present(order, BL);
    c.advance_days(60);
    c.release(order, 0).unwrap();
    let due = c.events::<PaymentDue>();
    assert_eq!(due[0].payee, addr("financier"), "assignment of proceeds");
    assert_eq!(due[0].payer, addr("buyer_bank"));
    assert_eq!(due[0].amount, 10_000_000);
    c.confirm("buyer_bank", order, 0).unwrap();
    assert_eq!(c.events::<FinancingSettled>().len(), 1, "settled without anyone chasing it");
    assert_eq!(fstate(&mut c, fid), FinancingState::Settled);
    let fp = bound(h("fp invoice"), "seller", "buyer");
    assert!(c.events::<FingerprintReleased>().iter().any(|e| e.fingerprint == fp), "fingerprints released");
    assert_eq!(OrderState::from_u8(c.order(order).state), Some(OrderState::Completed));
}

#[test]
fn second_financing_of_same_receivable_is_rejected() {
    let mut c = TestChain::with_members();
    let order = c.live_order(vec![share(5_000, bit(BL), 30), share(5_000, bit(INSPECTION), 60)]);
    // Two competing offers; the seller accepts the first, then tries the second.
    let first = offer(&mut c, "financier", order, 0, 4_000_000, vec![]).unwrap();
    let second = offer(&mut c, "financier2", order, 0, 4_500_000, vec![]).unwrap();
    accept(&mut c, "seller", first).unwrap();
    let err = accept(&mut c, "seller", second).unwrap_err();
    assert_eq!(err.name(), "ReceivableAlreadyFinanced");
    let err = offer(&mut c, "financier2", order, 0, 1, vec![]).unwrap_err();
    assert_eq!(err.name(), "ReceivableAlreadyFinanced");
    advance(&mut c, "financier", first);
    // The first financing is unaffected, and the other milestone is still financeable.
    assert_eq!(fstate(&mut c, first), FinancingState::Live);
    assert_eq!(fstate(&mut c, second), FinancingState::Offered);
    assert_eq!(c.milestone(order, 0).payee, addr("financier"));
    assert_eq!(offer(&mut c, "financier2", order, 0, 1, vec![]).unwrap_err().name(), "ReceivableAlreadyFinanced");
    offer(&mut c, "financier2", order, 1, 4_000_000, vec![]).unwrap();
}

#[test]
fn the_same_invoice_under_another_order_is_refused_by_fingerprint() {
    let mut c = TestChain::with_members();
    let a = c.live_order(vec![share(10_000, bit(BL), 30)]);
    let b = c.live_order(vec![share(10_000, bit(BL), 30)]);
    let fid = offer(&mut c, "financier", a, 0, 5_000_000, vec![h("invoice INV-1 seller buyer USD 100000.00")]).unwrap();
    accept(&mut c, "seller", fid).unwrap();
    let err =
        offer(&mut c, "financier2", b, 0, 5_000_000, vec![h("invoice INV-1 seller buyer USD 100000.00")]).unwrap_err();
    match err {
        Failure::Custom(r) => {
            assert_eq!(r.name, "DuplicateFingerprint");
            assert!(r.message.contains("financingId: 1"), "{}", r.message);
        }
        other @ Failure::Other(_) => panic!("unexpected {other:?}"),
    }
    // A different financier offered first, then the fingerprint went live before acceptance.
    let c2 = offer(&mut c, "financier2", b, 0, 5_000_000, vec![h("bl 42")]).unwrap();
    let c1 = offer(&mut c, "financier", a, 0, 1, vec![]).unwrap_err();
    assert_eq!(c1.name(), "ReceivableAlreadyFinanced");
    let other = c.live_order(vec![share(10_000, bit(BL), 30)]);
    let c3 = offer(&mut c, "financier", other, 0, 5_000_000, vec![h("bl 42")]).unwrap();
    accept(&mut c, "seller", c3).unwrap();
    assert_eq!(accept(&mut c, "seller", c2).unwrap_err().name(), "DuplicateFingerprint");
}

/// A payables offer of `days` extra days at `fee` basis points on the order's milestone 0.
pub(crate) fn payables(order: u64, days: u16, fee: u16) -> offerPayablesFinanceCall {
    offerPayablesFinanceCall {
        orderId: u(order),
        milestone: u(0),
        extraDays: days,
        feeBps: fee,
        deadlineDays: 5,
        fps: docs(vec![h(&format!("payable fp {order}"))]),
        near: NearKeys::NONE,
    }
}

#[test]
fn payables_finance_gives_the_buyer_extra_days_and_the_financier_pays_the_seller() {
    let mut c = TestChain::with_members();
    let to = c.suite.receivables;
    let order = c.live_order(vec![share(10_000, bit(BL), 30)]);
    c.expect_revert(addr("financier"), to, payables(order, 0, 100), "InvalidTenor");
    c.expect_revert(addr("financier"), to, payables(order, 361, 100), "InvalidTenor");
    c.expect_revert(addr("financier"), to, payables(order, 90, 2_501), "InvalidFee");
    let fid = c.exec(addr("financier"), to, payables(order, 90, 150)).unwrap().to::<u64>();
    assert_eq!(
        accept(&mut c, "seller", fid).unwrap_err().name(),
        "NotFinancedFirm",
        "the buyer takes payables finance"
    );
    accept(&mut c, "buyer", fid).unwrap();
    assert_eq!(c.milestone(order, 0).payer, addr("buyer_bank"), "no change of payer before the approvals");
    c.expect_revert(addr("stranger_trader"), to, approveCall { financingId: u(fid) }, "NotOrderParty");
    c.exec(addr("seller"), to, approveCall { financingId: u(fid) }).unwrap();
    c.expect_revert(addr("seller"), to, approveCall { financingId: u(fid) }, "AlreadyApproved");
    assert_eq!(c.milestone(order, 0).payer, addr("buyer_bank"), "the buyer's bank has not approved the fee");
    c.exec(addr("buyer_bank"), to, approveCall { financingId: u(fid) }).unwrap();
    assert_eq!(fstate(&mut c, fid), FinancingState::Live);
    assert_eq!(c.milestone(order, 0).payer, addr("financier"));

    c.present(order, BL);
    c.advance_days(30);
    c.release(order, 0).unwrap();
    let due = c.events::<PaymentDue>();
    assert_eq!((due[0].payer, due[0].payee), (addr("financier"), addr("seller")));
    assert_eq!(c.confirm("buyer_bank", order, 0).unwrap_err().name(), "NotPayer");
    // The repayment falls due on a banking day of the buyer's bank: 90 days on, rolled past
    // the weekend and past the holiday the bank declared on the first weekday.
    let weekday = |d: u64| (d + 3) % 7 < 5;
    let first = ((c.now + 90 * DAY) / DAY..).find(|d| weekday(*d)).expect("a weekday");
    let holiday = u32::try_from(first).expect("day");
    let cal = c.suite.consortium;
    c.exec(addr("buyer_bank"), cal, Consortium::setHolidaysCall { days_: vec![holiday], holiday: true }).unwrap();
    c.advance_secs(1);
    c.confirm("financier", order, 0).unwrap();
    let scheduled = c.events::<RepaymentScheduled>();
    let next = (first + 1..).find(|d| weekday(*d)).expect("a weekday");
    assert_eq!(scheduled[0].dueDate, next * DAY);
    assert_eq!(scheduled[0].amount, 10_150_000, "milestone plus 1.5% fee");
    assert_eq!(fstate(&mut c, fid), FinancingState::AwaitingRepayment);

    c.now = next * DAY - 1;
    c.expect_revert(addr("keeper"), to, releaseRepaymentCall { financingId: u(fid) }, "RepaymentNotDue");
    c.now = next * DAY;
    c.exec(addr("keeper"), to, releaseRepaymentCall { financingId: u(fid) }).unwrap();
    let rd = c.events::<RepaymentDue>();
    assert_eq!((rd[0].payer, rd[0].payee, rd[0].amount), (addr("buyer_bank"), addr("financier"), 10_150_000));
    c.expect_revert(
        addr("financier"),
        to,
        confirmRepaymentCall { financingId: u(fid), paymentReference: h("r") },
        "NotPayer",
    );
    c.exec(addr("buyer_bank"), to, confirmRepaymentCall { financingId: u(fid), paymentReference: h("r") }).unwrap();
    assert_eq!(fstate(&mut c, fid), FinancingState::Settled);
    let fp = bound(h(&format!("payable fp {order}")), "seller", "buyer");
    assert!(c.events::<FingerprintReleased>().iter().any(|e| e.fingerprint == fp), "fingerprints released");
}

#[test]
fn offers_are_checked_for_role_state_amount_and_deadline() {
    let mut c = TestChain::with_members();
    let to = c.suite.receivables;
    let order = c.live_order(vec![share(10_000, bit(BL), 0)]);
    assert_eq!(offer(&mut c, "seller", order, 0, 1, vec![]).unwrap_err().name(), "MissingRole");
    assert_eq!(offer(&mut c, "financier", order, 0, 0, vec![]).unwrap_err().name(), "InvalidAdvance");
    assert_eq!(offer(&mut c, "financier", order, 0, 10_000_001, vec![]).unwrap_err().name(), "InvalidAdvance");
    assert_eq!(offer(&mut c, "financier", order, 1, 1, vec![]).unwrap_err().name(), "MilestoneNotFound");
    assert_eq!(offer(&mut c, "financier", 77, 0, 1, vec![]).unwrap_err().name(), "OrderNotFound");
    assert_eq!(
        offer(&mut c, "financier", order, 0, 1, (0..9).map(|i| h(&i.to_string())).collect()).unwrap_err().name(),
        "TooManyFingerprints"
    );
    assert_eq!(offer(&mut c, "financier", order, 0, 1, vec![B256::ZERO]).unwrap_err().name(), "EmptyHash");
    for days in [0u8, 31] {
        let call = offerReceivableFinanceCall {
            orderId: u(order),
            milestone: u(0),
            advance: 1,
            discountBps: 0,
            deadlineDays: days,
            fps: docs(vec![]),
            near: NearKeys::NONE,
        };
        c.expect_revert(addr("financier"), to, call, "InvalidDeadline");
    }
    let proposed = c.propose(terms(c.now), vec![share(10_000, bit(BL), 0)]).unwrap();
    assert_eq!(offer(&mut c, "financier", proposed, 0, 1, vec![]).unwrap_err().name(), "InvalidState");
    // A paid receivable is no longer financeable.
    c.present(order, BL);
    c.release(order, 0).unwrap();
    c.confirm("buyer_bank", order, 0).unwrap();
    assert_eq!(offer(&mut c, "financier", order, 0, 1, vec![]).unwrap_err().name(), "InvalidState");
    c.expect_revert(addr("anyone"), to, onMilestonePaidCall { orderId: u(order), milestone: u(0) }, "NotOrderParty");
    c.expect_revert(addr("anyone"), to, onPayerDefaultedCall { orderId: u(order), milestone: u(0) }, "NotOrderParty");
    c.expect_revert(addr("seller"), to, acceptCall { financingId: u(42) }, "FinancingNotFound");
}

#[test]
fn an_offer_can_be_declined_or_withdrawn_but_not_both() {
    let mut c = TestChain::with_members();
    let to = c.suite.receivables;
    let order = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let a = offer(&mut c, "financier", order, 0, 1_000, vec![]).unwrap();
    let b = offer(&mut c, "financier2", order, 0, 2_000, vec![]).unwrap();
    c.expect_revert(addr("financier"), to, declineCall { financingId: u(a) }, "NotFinancedFirm");
    c.exec(addr("seller"), to, declineCall { financingId: u(a) }).unwrap();
    assert_eq!(fstate(&mut c, a), FinancingState::Declined);
    c.expect_revert(addr("financier"), to, withdrawCall { financingId: u(a) }, "InvalidFinancingState");
    c.expect_revert(addr("financier"), to, withdrawCall { financingId: u(b) }, "NotFinancier");
    c.exec(addr("financier2"), to, withdrawCall { financingId: u(b) }).unwrap();
    assert_eq!(fstate(&mut c, b), FinancingState::Withdrawn);
    assert_eq!(accept(&mut c, "seller", b).unwrap_err().name(), "InvalidFinancingState");
    assert_eq!(c.milestone(order, 0).payee, addr("seller"), "nothing was assigned");
}
