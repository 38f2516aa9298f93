//! The attacks an adversarial review of the contracts found, each played as the dishonest
//! party would, each ending in the honest party's outcome. Every test here failed against
//! the contracts before the fix.

use alloy::primitives::FixedBytes;
use test_support::evm::*;
use tradechain_contracts::Receivables::{
    self as R, Fingerprints, approveCall, cancelCall, confirmAdvanceCall, lapseCall,
};
use tradechain_contracts::TradeOrders::{self as T, *};
use tradechain_contracts::{Consents, FinancingState, MilestoneState, OrderState};

use crate::receivables::{accept, advance, bound, docs, fstate, offer_with, payables};

fn mstate(c: &mut TestChain, id: u64, i: u64) -> MilestoneState {
    MilestoneState::from_u8(c.milestone(id, i).state).expect("known milestone state")
}

fn ostate(c: &mut TestChain, id: u64) -> OrderState {
    OrderState::from_u8(c.order(id).state).expect("known state")
}

/// Attack 1 (UCP 600 art. 6(e), 14(b), 16(f)): the seller presents on the last day before
/// expiry, the bank stays silent, and right after expiry the buyer tries to void the order.
/// The presentation stays examinable, is deemed accepted, and the seller is paid.
#[test]
fn expiry_cannot_void_a_presentation_made_in_time() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let t = terms(c.now);
    let t = T::OrderTerms { expiry: t.latestShipment + 10 * DAY, ..t };
    let (latest, expiry) = (t.latestShipment, t.expiry);
    let id = c.live_order_with(t, vec![share(10_000, bit(BL), 0)]);
    c.now = expiry - 3_600;
    c.exec(
        addr("seller"),
        to,
        submitDocumentCall { orderId: u(id), docType: BL, hash: h("bl"), uri: "doc://bl".into() },
    )
    .expect("presented an hour before expiry");
    c.now = expiry + 1;
    c.expect_revert(addr("buyer"), to, expireCall { orderId: u(id) }, "PresentationUnderExamination");
    c.exec(
        addr("carrier"),
        to,
        attestDocumentCall { orderId: u(id), docType: BL, hash: h("bl"), shipmentDate: latest },
    )
    .expect("the carrier attests a timely presentation after expiry");
    let exam_end = c.document(id, BL).examineBy;
    c.now = exam_end + 1;
    c.expect_revert(addr("buyer"), to, expireCall { orderId: u(id) }, "PresentationUnderExamination");
    c.exec(addr("seller"), to, deemAcceptedCall { orderId: u(id), docType: BL }).expect("deemed accepted after expiry");
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Triggered);
    c.release(id, 0).expect("released");
    c.confirm("buyer_bank", id, 0).expect("paid");
    assert_eq!(ostate(&mut c, id), OrderState::Completed);
}

/// The carrier may attest a bill of lading presented in time after expiry too; one
/// presented but never attested stops blocking expiry once its attestation period ends.
#[test]
fn an_unattested_presentation_blocks_expiry_only_for_its_attestation_period() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let expiry = c.order(id).expiry;
    c.now = expiry - 60;
    c.exec(
        addr("seller"),
        to,
        submitDocumentCall { orderId: u(id), docType: BL, hash: h("bl"), uri: "doc://bl".into() },
    )
    .expect("presented in time");
    c.now = expiry + DAY;
    c.expect_revert(addr("buyer"), to, expireCall { orderId: u(id) }, "PresentationUnderExamination");
    c.now = expiry + 10 * DAY;
    let shipment = expiry - 5 * DAY;
    c.expect_revert(
        addr("carrier"),
        to,
        attestDocumentCall { orderId: u(id), docType: BL, hash: h("bl"), shipmentDate: shipment },
        "AttestationPeriodOver",
    );
    c.exec(addr("buyer"), to, expireCall { orderId: u(id) }).expect("nothing complete was presented");
    assert_eq!(ostate(&mut c, id), OrderState::Expired);
}

/// Attack 2: proceeds assigned before any advance. A financier whose offer the seller took
/// but who never pays the advance never receives the proceeds; its reservation lapses at
/// the deadline and the receivable is free again.
#[test]
fn proceeds_go_to_a_financier_only_after_its_advance_is_acknowledged() {
    let mut c = TestChain::with_members();
    let rc = c.suite.receivables;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let fid = offer_with(&mut c, "financier", id, 0, 1, docs(vec![h("bl fp")])).expect("an advance of 1 unit offered");
    accept(&mut c, "seller", fid).expect("the seller takes it");
    // The financier records an advance but the seller never received it: no acknowledgement.
    c.exec(addr("financier"), rc, confirmAdvanceCall { financingId: u(fid), paymentReference: h("fake") })
        .expect("recorded");
    c.present(id, BL);
    c.release(id, 0).expect("released");
    let due = c.events::<PaymentDue>();
    assert_eq!(due[0].payee, addr("seller"), "the seller is paid: nothing was assigned");
    c.confirm("buyer_bank", id, 0).expect("paid");
    assert_eq!(c.milestone(id, 0).payee, addr("seller"));
    // Its deadline passes: anyone releases the reservation and the fingerprints.
    c.expect_revert(addr("keeper"), rc, lapseCall { financingId: u(fid) }, "DeadlineNotPassed");
    c.advance_days(6);
    c.exec(addr("keeper"), rc, lapseCall { financingId: u(fid) }).expect("lapsed");
    assert_eq!(fstate(&mut c, fid), FinancingState::Lapsed);
    let fp = bound(h("bl fp"), "seller", "buyer");
    assert!(c.events::<R::FingerprintReleased>().iter().any(|e| e.fingerprint == fp), "fingerprint free again");
}

/// A seller that acknowledged no advance cannot have its receivable taken by lapse before the
/// deadline, and a financier that advanced and was acknowledged gets the proceeds.
#[test]
fn an_acknowledged_advance_binds_and_a_lapse_cannot_undo_it() {
    let mut c = TestChain::with_members();
    let rc = c.suite.receivables;
    let id = c.live_order(vec![share(10_000, bit(BL), 30)]);
    let fid = offer_with(&mut c, "financier", id, 0, 9_000_000, docs(vec![])).unwrap();
    accept(&mut c, "seller", fid).unwrap();
    advance(&mut c, "financier", fid);
    c.advance_days(6);
    c.expect_revert(addr("keeper"), rc, lapseCall { financingId: u(fid) }, "FinancingStillBinding");
    assert_eq!(c.milestone(id, 0).payee, addr("financier"));
}

/// Attack 3: payables financing swapped the payer on the buyer's word alone, then the
/// financier failed to pay for ever. Now the seller and the buyer's bank must approve, the
/// fee is bounded, failures need an ISO 20022 reason code, and after three failures the
/// buyer's bank pays the seller.
#[test]
fn a_payables_financier_that_fails_to_pay_gives_the_payment_back_to_the_bank() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let rc = c.suite.receivables;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let fid = c.exec(addr("financier"), rc, payables(id, 90, 200)).unwrap().to::<u64>();
    accept(&mut c, "buyer", fid).unwrap();
    c.present(id, BL);
    c.release(id, 0).unwrap();
    assert_eq!(c.events::<PaymentDue>()[0].payer, addr("buyer_bank"), "buyer and financier alone swap nothing");
    // Start again with the approvals: a new order, the financier becomes payer and fails.
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let fid = c.exec(addr("financier"), rc, payables(id, 90, 200)).unwrap().to::<u64>();
    accept(&mut c, "buyer", fid).unwrap();
    c.exec(addr("seller"), rc, approveCall { financingId: u(fid) }).unwrap();
    c.exec(addr("buyer_bank"), rc, approveCall { financingId: u(fid) }).unwrap();
    assert_eq!(c.milestone(id, 0).payer, addr("financier"));
    c.present(id, BL);
    let fail = |code: &[u8; 4]| failPaymentCall {
        orderId: u(id),
        index: u(0),
        paymentReference: h("x"),
        reasonCode: FixedBytes(*code),
        reason: "no funds".into(),
    };
    for attempt in 1..=3u32 {
        if attempt == 1 {
            c.release(id, 0).unwrap();
        } else {
            // The payee asks for a new attempt.
            c.exec(addr("seller"), to, releasePaymentCall { orderId: u(id), index: u(0) }).unwrap();
        }
        c.expect_revert(addr("financier"), to, fail(b"    "), "InvalidReasonCode");
        c.exec(addr("financier"), to, fail(b"AM04")).unwrap();
    }
    assert_eq!(c.events::<PaymentDefaulted>().len(), 1, "the default is shown");
    let m = c.milestone(id, 0);
    assert_eq!((m.payer, m.financingId), (addr("buyer_bank"), u(0)));
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Triggered);
    assert_eq!(fstate(&mut c, fid), FinancingState::Defaulted);
    c.release(id, 0).unwrap();
    assert_eq!(c.events::<PaymentDue>()[0].payer, addr("buyer_bank"));
    c.confirm("buyer_bank", id, 0).unwrap();
    assert_eq!(ostate(&mut c, id), OrderState::Completed, "the seller is paid");
}

/// A bank that fails three times is shown as in default; the seller may still demand.
#[test]
fn a_bank_that_keeps_failing_is_shown_in_default_and_the_payee_may_demand_again() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    c.present(id, BL);
    c.release(id, 0).unwrap();
    for i in 0..3 {
        if i > 0 {
            c.exec(addr("buyer"), to, releasePaymentCall { orderId: u(id), index: u(0) }).unwrap();
        }
        c.exec(
            addr("buyer_bank"),
            to,
            failPaymentCall {
                orderId: u(id),
                index: u(0),
                paymentReference: h("x"),
                reasonCode: FixedBytes(*b"AC04"),
                reason: "closed account".into(),
            },
        )
        .unwrap();
    }
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Defaulted);
    c.expect_revert(addr("buyer"), to, releasePaymentCall { orderId: u(id), index: u(0) }, "NotPayee");
    c.exec(addr("seller"), to, releasePaymentCall { orderId: u(id), index: u(0) }).unwrap();
    c.confirm("buyer_bank", id, 0).unwrap();
    assert_eq!(ostate(&mut c, id), OrderState::Completed);
}

/// Attack 4 (UCP 600 art. 4, 5): a dispute raised to freeze the bank's examination. The
/// bank stays silent; the presentation is deemed accepted and paid regardless.
#[test]
fn a_dispute_does_not_freeze_examination_deemed_acceptance_or_payment() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.submit(id, INVOICE, "invoice");
    c.exec(addr("buyer"), to, raiseDisputeCall { orderId: u(id), reason: "I changed my mind".into() }).unwrap();
    c.now = c.document(id, INVOICE).examineBy + 1;
    c.exec(addr("keeper"), to, deemAcceptedCall { orderId: u(id), docType: INVOICE })
        .expect("deemed despite the dispute");
    c.release(id, 0).unwrap();
    c.confirm("buyer_bank", id, 0).unwrap();
    assert_eq!(ostate(&mut c, id), OrderState::Completed);
    assert_eq!(c.order(id).disputeRaisedBy, addr("buyer"), "the dispute is still on record for the parties");
}

/// Attack 5: any carrier attested any order's bill of lading, even a seller holding the
/// carrier role its own. Only the organisation the order names attests, and it may not be a
/// party.
#[test]
fn only_the_named_carrier_attests_and_never_a_party() {
    let mut c = TestChain::with_members();
    c.register("carrier2", tradechain_contracts::role::CARRIER);
    c.register("carrying_seller", tradechain_contracts::role::TRADER | tradechain_contracts::role::CARRIER);
    let to = c.suite.trade_orders;
    // The seller that is also a carrier cannot be the order's carrier.
    let t = T::OrderTerms { seller: addr("carrying_seller"), carrier: addr("carrying_seller"), ..terms(c.now) };
    assert_eq!(c.propose(t, vec![share(10_000, bit(BL), 0)]).unwrap_err().name(), "InvalidAttester");
    let t = T::OrderTerms { seller: addr("carrying_seller"), ..terms(c.now) };
    let id = c.propose(t, vec![share(10_000, bit(BL), 0)]).unwrap();
    c.exec(addr("carrying_seller"), to, acceptCall { orderId: u(id) }).unwrap();
    c.exec(addr("buyer_bank"), to, commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 })
        .unwrap();
    c.exec(
        addr("carrying_seller"),
        to,
        submitDocumentCall { orderId: u(id), docType: BL, hash: h("own bl"), uri: String::new() },
    )
    .unwrap();
    let now = c.now;
    let attest_now = attestDocumentCall { orderId: u(id), docType: BL, hash: h("own bl"), shipmentDate: now };
    c.expect_revert(addr("carrying_seller"), to, attest_now.clone(), "WrongIssuer");
    c.expect_revert(addr("carrier2"), to, attest_now.clone(), "WrongIssuer");
    c.exec(addr("carrier"), to, attest_now).expect("the named carrier attests");
}

/// Attack 6: fingerprints were opaque bytes anyone could register for anyone's invoice
/// (squatting it, so its real financing is refused) or leave out. They are bound to the
/// order's seller and buyer, and an invoice-backed milestone's offer must carry one.
#[test]
fn fingerprints_can_be_neither_squatted_nor_skipped() {
    let mut c = TestChain::with_members();
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 30)]);
    // The squatter's own order, with another buyer, registers the seller's invoice fingerprint.
    let to = c.suite.trade_orders;
    let squat = c.exec(
        addr("stranger_trader"),
        to,
        proposeCall { t: terms(c.now), terms: vec![share(10_000, bit(INVOICE), 30)] },
    );
    let squat = squat.unwrap().to::<u64>();
    c.exec(addr("seller"), to, acceptCall { orderId: u(squat) }).unwrap();
    c.exec(
        addr("buyer_bank"),
        to,
        commitCall { orderId: u(squat), cover: tradechain_contracts::Cover::BankRisk as u8 },
    )
    .unwrap();
    let invoice = h("invoice fingerprint of INV-7");
    let fps = |inv| Fingerprints { invoice: inv, documents: vec![] };
    let sq = offer_with(&mut c, "financier2", squat, 0, 1, fps(invoice)).unwrap();
    c.exec(addr("seller"), c.suite.receivables, R::acceptCall { financingId: u(sq) }).unwrap();
    // The real financing of the real invoice is not blocked: different parties, different key.
    let real = offer_with(&mut c, "financier", id, 0, 9_000_000, fps(invoice)).expect("not squatted");
    accept(&mut c, "seller", real).unwrap();
    // Skipping the invoice's fingerprint is refused.
    let other = c.live_order(vec![share(10_000, bit(INVOICE), 30)]);
    let err = offer_with(&mut c, "financier", other, 0, 1, docs(vec![h("something else")])).unwrap_err();
    assert_eq!(err.name(), "MissingInvoiceFingerprint");
}

/// Attack 7: buyer and seller extended the expiry of a committed order without the bank
/// whose undertaking it is. After commitment the bank approves too.
#[test]
fn a_committed_order_is_amended_only_with_its_banks_approval() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let (ship, exp) = (c.now + 100 * DAY, c.now + 400 * DAY);
    c.exec(
        addr("buyer"),
        to,
        proposeAmendmentCall { orderId: u(id), detailsHash: h("v2"), latestShipment: ship, expiry: exp },
    )
    .unwrap();
    c.exec(addr("seller"), to, approveAmendmentCall { orderId: u(id), amendmentId: u(1) }).unwrap();
    assert_ne!(c.order(id).expiry, exp, "not in force without the bank");
    assert!(c.events::<OrderAmended>().is_empty());
    c.expect_revert(
        addr("seller_bank"),
        to,
        approveAmendmentCall { orderId: u(id), amendmentId: u(1) },
        "NotOrderParty",
    );
    c.exec(addr("buyer_bank"), to, approveAmendmentCall { orderId: u(id), amendmentId: u(1) }).unwrap();
    assert_eq!(c.order(id).expiry, exp);
}

/// Attack 8: a financing on an order that expired or was cancelled locked its receivable
/// and fingerprints for ever. Now anyone releases it, and the parties can cancel one by
/// agreement.
#[test]
fn a_financing_has_an_exit_on_a_dead_order_and_by_agreement() {
    let mut c = TestChain::with_members();
    let rc = c.suite.receivables;
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let fid = offer_with(&mut c, "financier", id, 0, 9_000_000, docs(vec![h("bl fp")])).unwrap();
    accept(&mut c, "seller", fid).unwrap();
    advance(&mut c, "financier", fid);
    c.advance_days(61);
    c.exec(addr("keeper"), to, expireCall { orderId: u(id) }).unwrap();
    c.exec(addr("keeper"), rc, lapseCall { financingId: u(fid) }).expect("released");
    assert_eq!(fstate(&mut c, fid), FinancingState::Lapsed);
    let fp = bound(h("bl fp"), "seller", "buyer");
    assert!(c.events::<R::FingerprintReleased>().iter().any(|e| e.fingerprint == fp), "fingerprint free again");

    // By agreement: both ask; the proceeds return to the seller.
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    let fid = offer_with(&mut c, "financier", id, 0, 9_000_000, docs(vec![])).unwrap();
    accept(&mut c, "seller", fid).unwrap();
    advance(&mut c, "financier", fid);
    assert_eq!(c.milestone(id, 0).payee, addr("financier"));
    c.exec(addr("financier"), rc, cancelCall { financingId: u(fid) }).unwrap();
    assert_eq!(fstate(&mut c, fid), FinancingState::Live, "one side alone cancels nothing");
    c.expect_revert(addr("financier"), rc, cancelCall { financingId: u(fid) }, "CancellationAlreadyRequested");
    c.exec(addr("seller"), rc, cancelCall { financingId: u(fid) }).unwrap();
    assert_eq!(fstate(&mut c, fid), FinancingState::Cancelled);
    assert_eq!(c.milestone(id, 0).payee, addr("seller"));
}

/// Attack 9: a fixed-amount last milestone took the rounding remainder instead of its stated
/// amount. Every stated amount is honoured; the remainder goes to the last share milestone.
#[test]
fn a_fixed_last_milestone_is_paid_exactly_its_stated_amount() {
    let mut c = TestChain::with_members();
    let t = T::OrderTerms { amount: 100_002, ..terms(c.now) };
    let id = c.live_order_with(t, vec![share(2_500, bit(BL), 0), share(2_500, bit(BL), 0), fixed(50_001, bit(BL), 0)]);
    let amounts: Vec<u128> = (0..3).map(|i| c.milestone(id, i).amount).collect();
    assert_eq!(amounts, vec![25_000, 25_001, 50_001]);
    // All fixed: exact, no remainder anywhere.
    let t = T::OrderTerms { amount: 100, ..terms(c.now) };
    let id = c.live_order_with(t, vec![fixed(30, bit(BL), 0), fixed(70, bit(BL), 0)]);
    assert_eq!((c.milestone(id, 0).amount, c.milestone(id, 1).amount), (30, 70));
}

/// Attack 10: the due date ran from when the bank's acceptance landed, so a bank could
/// delay it by accepting late. It runs from the presentation.
#[test]
fn a_bank_cannot_push_back_the_due_date_by_accepting_late() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 30)]);
    // Presented Monday 2026-11-23; the bank accepts on Friday, four days later.
    c.submit(id, INVOICE, "invoice");
    let presented_day = c.now / DAY;
    c.advance_days(4);
    c.exec(addr("buyer_bank"), to, acceptDocumentCall { orderId: u(id), docType: INVOICE }).unwrap();
    // 30 days after Monday 2026-11-23 is Wednesday 2026-12-23, a banking day.
    assert_eq!(c.milestone(id, 0).dueDate, (presented_day + 30) * DAY);
}

/// Attack 11: unbounded verification requests, free to send on a consortium chain. One open
/// request per financier and firm, and a cap per financier.
#[test]
fn verification_requests_are_bounded() {
    let mut c = TestChain::with_members();
    let cs = c.suite.consents;
    let ask = |firm: &str| Consents::requestVerificationCall { firm: addr(firm), purpose: "credit line".into() };
    c.exec(addr("financier"), cs, ask("seller")).unwrap();
    c.expect_revert(addr("financier"), cs, ask("seller"), "RequestAlreadyOpen");
    for i in 0..31 {
        let firm = format!("firm {i}");
        c.register(&firm, tradechain_contracts::role::TRADER);
        c.exec(addr("financier"), cs, ask(&firm)).unwrap();
    }
    c.register("firm 31", tradechain_contracts::role::TRADER);
    c.expect_revert(addr("financier"), cs, ask("firm 31"), "TooManyOpenRequests");
    // An unanswered request can be withdrawn after thirty days, freeing its place.
    c.expect_revert(addr("financier"), cs, Consents::withdrawRequestCall { requestId: u(1) }, "RequestTooRecent");
    c.advance_days(30);
    c.exec(addr("financier"), cs, Consents::withdrawRequestCall { requestId: u(1) }).unwrap();
    c.exec(addr("financier"), cs, ask("firm 31")).unwrap();
}
