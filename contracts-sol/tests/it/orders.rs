//! TradeOrders: every transition of an order, its milestones and documents, executed
//! from the committed bytecode in revm.

use alloy::primitives::Address;
use test_support::evm::*;
use tradechain_contracts::TradeOrders::{self, *};
use tradechain_contracts::{MilestoneState, OrderState};

fn state(c: &mut TestChain, id: u64) -> OrderState {
    OrderState::from_u8(c.order(id).state).expect("known state")
}

fn mstate(c: &mut TestChain, id: u64, i: u64) -> MilestoneState {
    MilestoneState::from_u8(c.milestone(id, i).state).expect("known milestone state")
}

#[test]
fn at_sight_order_goes_from_proposal_to_payment_and_completes() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.propose(terms(c.now), vec![share(10_000, bit(BL) | bit(INVOICE), 0)]).expect("propose");
    assert_eq!(id, 1);
    let proposed = c.events::<OrderProposed>();
    assert_eq!(proposed.len(), 1);
    assert_eq!(proposed[0].buyer, addr("buyer"));
    assert_eq!(proposed[0].amount, 10_000_000);
    assert_eq!(state(&mut c, id), OrderState::Proposed);

    c.exec(addr("seller"), to, acceptCall { orderId: u(id) }).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Accepted);
    c.exec(addr("buyer_bank"), to, commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 })
        .unwrap();
    assert_eq!(state(&mut c, id), OrderState::Committed);

    c.present(id, INVOICE);
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Pending, "one of two documents is not a trigger");
    c.present(id, BL);
    let triggered = c.events::<MilestoneTriggered>();
    assert_eq!(triggered.len(), 1);
    assert_eq!(triggered[0].dueDate, day_start(c.now), "at sight: due from the day of the presentation");
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Triggered);

    c.release(id, 0).unwrap();
    let due = c.events::<PaymentDue>();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payer, addr("buyer_bank"));
    assert_eq!(due[0].payee, addr("seller"));
    assert_eq!(due[0].amount, 10_000_000);
    assert_eq!(&due[0].currency[..], b"USD");
    assert_eq!(due[0].attempt, 1);

    c.confirm("buyer_bank", id, 0).unwrap();
    let completed = c.events::<OrderCompleted>();
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].paid, 10_000_000);
    let o = c.order(id);
    assert_eq!(state(&mut c, id), OrderState::Completed);
    assert_eq!(o.paid, o.amount);
    assert_eq!(c.view(to, outstandingCall { orderId: u(id) }), 0);
    let m = c.milestone(id, 0);
    assert_eq!(m.paymentRef, h("ref 1 0"));
    assert_eq!(m.paidAt, c.now);
}

#[test]
fn split_terms_pay_thirty_on_shipment_and_seventy_sixty_days_after_inspection() {
    let mut c = TestChain::with_members();
    let id = c.live_order(vec![share(3_000, bit(BL), 0), share(7_000, bit(INSPECTION), 60)]);
    assert_eq!(c.milestone(id, 0).amount, 3_000_000);
    assert_eq!(c.milestone(id, 1).amount, 7_000_000);

    c.present(id, BL);
    c.release(id, 0).unwrap();
    c.confirm("buyer_bank", id, 0).unwrap();
    assert_eq!(c.order(id).paid, 3_000_000);
    assert_eq!(state(&mut c, id), OrderState::Committed);

    c.advance_days(20);
    c.present(id, INSPECTION);
    let due_date = c.milestone(id, 1).dueDate;
    assert_eq!(due_date, day_start(c.now) + 60 * DAY, "sixty days from the day of presentation, a Thursday");
    let err = c.release(id, 1).unwrap_err();
    assert_eq!(err.name(), "NotDueYet");
    c.advance_days(59);
    assert_eq!(c.release(id, 1).unwrap_err().name(), "NotDueYet", "one day early is still early");
    c.advance_days(1);
    c.release(id, 1).unwrap();
    c.confirm("buyer_bank", id, 1).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Completed);
    assert_eq!(c.order(id).paid, 10_000_000);
}

#[test]
fn last_milestone_takes_the_rounding_remainder() {
    let mut c = TestChain::with_members();
    let mut t = terms(c.now);
    t.amount = 1_001;
    let id = c.live_order_with(t, vec![share(3_333, bit(BL), 0), share(3_333, bit(BL), 0), share(3_334, bit(BL), 0)]);
    let amounts: Vec<u128> = (0..3).map(|i| c.milestone(id, i).amount).collect();
    assert_eq!(amounts, vec![333, 333, 335]);
    assert_eq!(amounts.iter().sum::<u128>(), 1_001);
}

#[test]
fn fixed_amounts_and_shares_can_be_mixed_when_they_cover_the_whole_amount() {
    let mut c = TestChain::with_members();
    let id = c.live_order(vec![fixed(2_500_000, bit(INVOICE), 0), share(7_500, bit(BL), 30)]);
    assert_eq!(c.milestone(id, 0).amount, 2_500_000);
    assert_eq!(c.milestone(id, 1).amount, 7_500_000);
    let err = c.propose(terms(c.now), vec![fixed(2_500_000, bit(INVOICE), 0), share(7_000, bit(BL), 30)]).unwrap_err();
    assert_eq!(err.name(), "MilestonesDoNotSum");
}

#[test]
fn proposals_with_bad_terms_are_rejected_and_change_nothing() {
    let mut c = TestChain::with_members();
    let now = c.now;
    let one = || vec![share(10_000, bit(BL), 0)];
    let cases: Vec<(&str, TradeOrders::OrderTerms, Vec<TradeOrders::MilestoneTerms>)> = vec![
        ("ZeroAmount", TradeOrders::OrderTerms { amount: 0, ..terms(now) }, one()),
        ("InvalidCurrency", TradeOrders::OrderTerms { currency: b3("usd"), ..terms(now) }, one()),
        ("InvalidIncoterm", TradeOrders::OrderTerms { incoterm: b3("DAT"), ..terms(now) }, one()),
        ("InvalidDates", TradeOrders::OrderTerms { latestShipment: now - 1, ..terms(now) }, one()),
        ("InvalidDates", TradeOrders::OrderTerms { expiry: now + DAY, ..terms(now) }, one()),
        ("InvalidExaminationPeriod", TradeOrders::OrderTerms { examinationDays: 6, ..terms(now) }, one()),
        ("InvalidParties", TradeOrders::OrderTerms { seller: addr("buyer"), ..terms(now) }, one()),
        ("CarrierRequired", TradeOrders::OrderTerms { carrier: Address::ZERO, ..terms(now) }, one()),
        (
            "InspectorRequired",
            TradeOrders::OrderTerms { inspector: Address::ZERO, ..terms(now) },
            vec![share(10_000, bit(INSPECTION), 0)],
        ),
        ("InvalidAttester", TradeOrders::OrderTerms { carrier: addr("seller_bank"), ..terms(now) }, one()),
        ("MissingRole", TradeOrders::OrderTerms { carrier: addr("inspector"), ..terms(now) }, one()),
        ("MissingRole", TradeOrders::OrderTerms { seller: addr("carrier"), ..terms(now) }, one()),
        ("MissingRole", TradeOrders::OrderTerms { buyerBank: addr("seller"), ..terms(now) }, one()),
        ("UnknownOrganisation", TradeOrders::OrderTerms { sellerBank: addr("nobody"), ..terms(now) }, one()),
        ("InvalidMilestoneCount", terms(now), vec![]),
        ("InvalidMilestoneCount", terms(now), vec![share(1_000, bit(BL), 0); 10]),
        ("MilestonesDoNotSum", terms(now), vec![share(5_000, bit(BL), 0), share(4_000, bit(BL), 0)]),
        ("MilestonesDoNotSum", terms(now), vec![share(6_000, bit(BL), 0), share(6_000, bit(BL), 0)]),
        ("MilestonesDoNotSum", terms(now), vec![fixed(20_000_000, bit(BL), 0)]),
        (
            "InvalidMilestone",
            terms(now),
            vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 1, requiredDocs: bit(BL), tenorDays: 0 }],
        ),
        ("InvalidMilestone", terms(now), vec![share(10_000, 0, 0)]),
        ("InvalidMilestone", terms(now), vec![share(10_000, 1 << 9, 0)]),
        ("InvalidMilestone", terms(now), vec![share(10_000, bit(BL), 721)]),
    ];
    for (expected, t, ms) in cases {
        let err = c.propose(t, ms).expect_err(expected);
        assert_eq!(err.name(), expected);
    }
    let to = c.suite.trade_orders;
    assert_eq!(c.view(to, orderCountCall {}), u(0), "no failed proposal created an order");
    let err = c.exec(addr("carrier"), to, proposeCall { t: terms(now), terms: one() }).unwrap_err();
    assert_eq!(err.name(), "MissingRole", "only traders propose");
}

#[test]
fn only_the_right_party_moves_an_order_and_only_from_the_right_state() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.propose(terms(c.now), vec![share(10_000, bit(BL), 0)]).unwrap();
    c.expect_revert(addr("buyer"), to, acceptCall { orderId: u(id) }, "NotOrderSeller");
    c.expect_revert(
        addr("seller"),
        to,
        commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 },
        "NotBuyerBank",
    );
    let r = c.expect_revert(
        addr("buyer_bank"),
        to,
        commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 },
        "InvalidState",
    );
    assert_eq!(r.code, "INVALID_STATE");
    assert_eq!(r.message, "InvalidState(current: 1)");
    c.expect_revert(addr("seller"), to, acceptCall { orderId: u(99) }, "OrderNotFound");
    c.expect_revert(
        addr("seller"),
        to,
        submitDocumentCall { orderId: u(id), docType: BL, hash: h("x"), uri: String::new() },
        "InvalidState",
    );
    c.exec(addr("seller"), to, acceptCall { orderId: u(id) }).unwrap();
    c.expect_revert(addr("seller"), to, acceptCall { orderId: u(id) }, "InvalidState");
    // Nor once accepted: documents are presented on a committed order only (an order's
    // detail reads none for an order that never was).
    c.expect_revert(
        addr("seller"),
        to,
        submitDocumentCall { orderId: u(id), docType: BL, hash: h("x"), uri: String::new() },
        "InvalidState",
    );
    c.exec(addr("buyer_bank"), to, commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 })
        .unwrap();
    c.expect_revert(addr("buyer"), to, cancelCall { orderId: u(id) }, "InvalidState");
    c.expect_revert(addr("keeper"), to, releasePaymentCall { orderId: u(id), index: u(0) }, "InvalidMilestoneState");
    c.expect_revert(addr("keeper"), to, releasePaymentCall { orderId: u(id), index: u(1) }, "MilestoneNotFound");
}

#[test]
fn seller_rejects_a_proposal_with_a_reason() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.propose(terms(c.now), vec![share(10_000, bit(BL), 0)]).unwrap();
    c.expect_revert(addr("seller"), to, rejectCall { orderId: u(id), reason: String::new() }, "InvalidReason");
    c.exec(addr("seller"), to, rejectCall { orderId: u(id), reason: "price too low".into() }).unwrap();
    assert_eq!(c.events::<OrderRejected>()[0].reason, "price too low");
    assert_eq!(state(&mut c, id), OrderState::Rejected);
    c.expect_revert(addr("seller"), to, acceptCall { orderId: u(id) }, "InvalidState");
}

#[test]
fn cancellation_needs_agreement_before_commitment() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let ms = || vec![share(10_000, bit(BL), 0)];
    // The buyer withdraws its own proposal alone; the seller cannot.
    let id = c.propose(terms(c.now), ms()).unwrap();
    c.expect_revert(addr("seller"), to, cancelCall { orderId: u(id) }, "NotOrderBuyer");
    c.expect_revert(addr("stranger_trader"), to, cancelCall { orderId: u(id) }, "NotOrderParty");
    c.exec(addr("buyer"), to, cancelCall { orderId: u(id) }).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Cancelled);
    // Once accepted, both must ask.
    let id = c.propose(terms(c.now), ms()).unwrap();
    c.exec(addr("seller"), to, acceptCall { orderId: u(id) }).unwrap();
    c.exec(addr("seller"), to, cancelCall { orderId: u(id) }).unwrap();
    assert_eq!(c.events::<CancellationRequested>().len(), 1);
    assert_eq!(state(&mut c, id), OrderState::Accepted);
    c.expect_revert(addr("seller"), to, cancelCall { orderId: u(id) }, "CancellationAlreadyRequested");
    c.exec(addr("buyer"), to, cancelCall { orderId: u(id) }).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Cancelled);
}

#[test]
fn an_order_with_no_documents_by_expiry_expires_and_pays_nothing() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    c.expect_revert(addr("keeper"), to, expireCall { orderId: u(id) }, "NotExpiredYet");
    c.advance_days(61);
    c.expect_revert(
        addr("seller"),
        to,
        submitDocumentCall { orderId: u(id), docType: BL, hash: h("late"), uri: String::new() },
        "OrderExpiredAt",
    );
    c.exec(addr("keeper"), to, expireCall { orderId: u(id) }).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Expired);
    assert_eq!(c.order(id).paid, 0);
    assert_eq!(c.view(to, outstandingCall { orderId: u(id) }), 10_000_000);
    c.expect_revert(addr("keeper"), to, releasePaymentCall { orderId: u(id), index: u(0) }, "InvalidState");
}

#[test]
fn an_order_with_a_triggered_milestone_does_not_expire() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(5_000, bit(BL), 0), share(5_000, bit(INSPECTION), 0)]);
    c.present(id, BL);
    c.advance_days(61);
    c.expect_revert(addr("keeper"), to, expireCall { orderId: u(id) }, "MilestoneAlreadyTriggered");
    c.release(id, 0).unwrap();
}

#[test]
fn an_unaccepted_proposal_also_expires() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.propose(terms(c.now), vec![share(10_000, bit(BL), 0)]).unwrap();
    c.advance_days(61);
    c.expect_revert(addr("seller"), to, acceptCall { orderId: u(id) }, "OrderExpiredAt");
    c.exec(addr("keeper"), to, expireCall { orderId: u(id) }).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Expired);
}

#[test]
fn amendments_take_effect_only_when_the_other_party_approves() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    // Before the bank commits, buyer and seller alone agree the terms.
    let id = c.propose(terms(c.now), vec![share(10_000, bit(BL), 0)]).unwrap();
    c.exec(addr("seller"), to, acceptCall { orderId: u(id) }).unwrap();
    let (ship, exp) = (c.now + 40 * DAY, c.now + 90 * DAY);
    let call = || proposeAmendmentCall { orderId: u(id), detailsHash: h("v2"), latestShipment: ship, expiry: exp };
    c.expect_revert(addr("stranger_trader"), to, call(), "NotOrderParty");
    c.expect_revert(
        addr("buyer"),
        to,
        proposeAmendmentCall { orderId: u(id), detailsHash: h("v2"), latestShipment: exp, expiry: ship },
        "InvalidDates",
    );
    c.expect_revert(
        addr("seller"),
        to,
        approveAmendmentCall { orderId: u(id), amendmentId: u(1) },
        "NoPendingAmendment",
    );
    c.exec(addr("buyer"), to, call()).unwrap();
    assert_eq!(c.order(id).detailsHash, h("details"), "not in force before approval");
    c.expect_revert(
        addr("buyer"),
        to,
        approveAmendmentCall { orderId: u(id), amendmentId: u(1) },
        "CannotApproveOwnProposal",
    );
    c.expect_revert(addr("seller"), to, approveAmendmentCall { orderId: u(id), amendmentId: u(7) }, "StaleAmendment");
    c.expect_revert(
        addr("buyer_bank"),
        to,
        approveAmendmentCall { orderId: u(id), amendmentId: u(1) },
        "NotOrderParty",
    );
    c.exec(addr("seller"), to, approveAmendmentCall { orderId: u(id), amendmentId: u(1) }).unwrap();
    assert_eq!(c.events::<OrderAmended>().len(), 1);
    let o = c.order(id);
    assert_eq!((o.detailsHash, o.latestShipment, o.expiry), (h("v2"), ship, exp));
    c.expect_revert(
        addr("seller"),
        to,
        approveAmendmentCall { orderId: u(id), amendmentId: u(1) },
        "NoPendingAmendment",
    );
}

/// The start of the UTC day of `ts`.
fn day_start(ts: u64) -> u64 {
    ts / DAY * DAY
}

#[test]
fn documents_follow_issuer_attestation_and_bank_examination_rules() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL) | bit(INVOICE), 0)]);
    let submit = |doc: u8, hash| submitDocumentCall { orderId: u(id), docType: doc, hash, uri: "s3://x".into() };
    c.expect_revert(addr("buyer"), to, submit(BL, h("bl")), "NotOrderSeller");
    c.expect_revert(addr("seller"), to, submit(9, h("bl")), "UnknownDocumentType");
    c.expect_revert(addr("seller"), to, submit(INSURANCE, h("ins")), "DocumentNotRequired");
    c.expect_revert(addr("seller"), to, submit(BL, alloy::primitives::B256::ZERO), "EmptyHash");

    c.exec(addr("seller"), to, submit(BL, h("bl"))).unwrap();
    c.expect_revert(addr("seller"), to, submit(BL, h("bl")), "InvalidDocumentState");
    // The bank cannot examine a bill of lading the carrier has not attested.
    c.expect_revert(addr("buyer_bank"), to, acceptDocumentCall { orderId: u(id), docType: BL }, "DocumentNotAttested");
    c.expect_revert(addr("keeper"), to, deemAcceptedCall { orderId: u(id), docType: BL }, "DocumentNotAttested");
    // Only a carrier attests it, and only the hash presented.
    let now = c.now;
    let attest = |hash| attestDocumentCall { orderId: u(id), docType: BL, hash, shipmentDate: now };
    let r = c.expect_revert(addr("inspector"), to, attest(h("bl")), "WrongIssuer");
    assert_eq!(r.code, "WRONG_ISSUER");
    c.expect_revert(addr("seller"), to, attest(h("bl")), "WrongIssuer");
    c.expect_revert(addr("nobody"), to, attest(h("bl")), "UnknownOrganisation");
    c.expect_revert(
        addr("carrier"),
        to,
        attestDocumentCall { orderId: u(id), docType: INVOICE, hash: h("inv"), shipmentDate: 0 },
        "WrongIssuer",
    );
    c.expect_revert(addr("carrier"), to, attest(h("forged")), "HashMismatch");
    c.exec(addr("carrier"), to, attest(h("bl"))).unwrap();
    assert_eq!(c.document(id, BL).issuer, addr("carrier"));
    c.expect_revert(addr("carrier"), to, attest(h("bl")), "AlreadyAttested");

    c.expect_revert(addr("seller"), to, acceptDocumentCall { orderId: u(id), docType: BL }, "NotBuyerBank");
    c.exec(addr("buyer_bank"), to, acceptDocumentCall { orderId: u(id), docType: BL }).unwrap();
    assert!(!c.events::<DocumentAccepted>()[0].deemed);
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Pending, "the invoice is still missing");
}

#[test]
fn a_discrepant_document_is_rejected_then_corrected_and_accepted_before_expiry() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.submit(id, INVOICE, "invoice with wrong amount");
    let reject = |reasons: &[&str]| rejectDocumentCall {
        orderId: u(id),
        docType: INVOICE,
        discrepancies: reasons.iter().map(|r| (*r).to_string()).collect(),
    };
    c.expect_revert(addr("buyer_bank"), to, reject(&[]), "InvalidDiscrepancies");
    c.expect_revert(addr("buyer_bank"), to, reject(&[""]), "InvalidReason");
    c.expect_revert(addr("buyer_bank"), to, reject(&[&"x".repeat(281)]), "InvalidReason");
    c.expect_revert(addr("buyer_bank"), to, reject(&["x"; 9]), "InvalidDiscrepancies");
    c.exec(addr("buyer_bank"), to, reject(&["amount differs from the order", "no signature"])).unwrap();
    assert_eq!(
        c.events::<DocumentRejected>()[0].discrepancies,
        vec!["amount differs from the order".to_string(), "no signature".to_string()],
        "one notice stating every discrepancy"
    );
    assert_eq!(c.document(id, INVOICE).state, 3);
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Pending);

    c.advance_days(2);
    c.submit(id, INVOICE, "corrected invoice");
    let d = c.document(id, INVOICE);
    assert_eq!((d.state, d.version, d.hash), (1, 2, h("corrected invoice")));
    c.exec(addr("buyer_bank"), to, acceptDocumentCall { orderId: u(id), docType: INVOICE }).unwrap();
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Triggered);
}

#[test]
fn examination_period_is_five_banking_days_then_deemed_acceptance() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    // Present on Friday 2026-11-27 at 15:00 UTC: five banking days following it end on
    // Friday 2026-12-04 (Sat/Sun skipped).
    c.now = START + 4 * DAY + 6 * 3_600;
    c.submit(id, INVOICE, "invoice");
    let deadline = c.document(id, INVOICE).examineBy;
    assert_eq!(deadline, START - 9 * 3_600 + 12 * DAY - 1, "end of Friday 2026-12-04");
    c.now = deadline;
    c.expect_revert(
        addr("keeper"),
        to,
        deemAcceptedCall { orderId: u(id), docType: INVOICE },
        "ExaminationPeriodNotOver",
    );
    c.now = deadline + 1;
    // UCP 600 art. 16: too late to refuse.
    c.expect_revert(
        addr("buyer_bank"),
        to,
        rejectDocumentCall { orderId: u(id), docType: INVOICE, discrepancies: vec!["late".into()] },
        "ExaminationPeriodOver",
    );
    c.exec(addr("keeper"), to, deemAcceptedCall { orderId: u(id), docType: INVOICE }).unwrap();
    assert!(c.events::<DocumentAccepted>()[0].deemed);
    assert_eq!(c.events::<MilestoneTriggered>().len(), 1);
}

#[test]
fn a_shorter_examination_period_can_be_agreed() {
    let mut c = TestChain::with_members();
    let t = TradeOrders::OrderTerms { examinationDays: 1, ..terms(c.now) };
    let id = c.live_order_with(t, vec![share(10_000, bit(INVOICE), 0)]);
    c.submit(id, INVOICE, "invoice"); // Monday 09:00 -> end of Tuesday
    assert_eq!(c.document(id, INVOICE).examineBy, START - 9 * 3_600 + 2 * DAY - 1);
}

#[test]
fn a_failed_payment_is_recorded_and_can_be_released_again() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    c.present(id, BL);
    c.release(id, 0).unwrap();
    c.expect_revert(addr("keeper"), to, releasePaymentCall { orderId: u(id), index: u(0) }, "InvalidMilestoneState");
    let fail = |code: &[u8; 4], reason: &str| failPaymentCall {
        orderId: u(id),
        index: u(0),
        paymentReference: h("e2e"),
        reasonCode: alloy::primitives::FixedBytes(*code),
        reason: reason.into(),
    };
    c.expect_revert(addr("seller_bank"), to, fail(b"AM04", "insufficient funds"), "NotPayer");
    c.expect_revert(addr("buyer_bank"), to, fail(b"am04", "insufficient funds"), "InvalidReasonCode");
    c.expect_revert(addr("buyer_bank"), to, fail(b"AM\x004", "insufficient funds"), "InvalidReasonCode");
    c.exec(addr("buyer_bank"), to, fail(b"AM04", "insufficient funds")).unwrap();
    let failed = &c.events::<PaymentFailed>()[0];
    assert_eq!((&failed.reasonCode.0, failed.reason.as_str()), (b"AM04", "insufficient funds"));
    assert_eq!(mstate(&mut c, id, 0), MilestoneState::Failed);
    assert_eq!(c.order(id).paid, 0, "nothing moved");
    c.expect_revert(addr("keeper"), to, releasePaymentCall { orderId: u(id), index: u(0) }, "NotPayer");
    c.exec(addr("buyer_bank"), to, releasePaymentCall { orderId: u(id), index: u(0) }).unwrap();
    assert_eq!(c.events::<PaymentDue>()[0].attempt, 2);
    c.confirm("buyer_bank", id, 0).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Completed);
}

#[test]
fn payment_confirmation_is_checked() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    c.present(id, BL);
    assert_eq!(c.confirm("buyer_bank", id, 0).unwrap_err().name(), "InvalidMilestoneState", "not released yet");
    c.release(id, 0).unwrap();
    assert_eq!(c.confirm("seller_bank", id, 0).unwrap_err().name(), "NotPayer");
    c.expect_revert(
        addr("buyer_bank"),
        to,
        confirmPaymentCall { orderId: u(id), index: u(0), paymentReference: alloy::primitives::B256::ZERO },
        "InvalidReference",
    );
    c.confirm("buyer_bank", id, 0).unwrap();
    assert_eq!(c.confirm("buyer_bank", id, 0).unwrap_err().name(), "InvalidMilestoneState", "never paid twice");
    assert_eq!(c.order(id).paid, 10_000_000);
}

#[test]
fn a_dispute_is_recorded_and_shown_and_resolved_by_its_raiser_or_the_operator() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(4_000, bit(BL), 0), share(6_000, bit(INSPECTION), 0)]);
    c.expect_revert(
        addr("stranger_trader"),
        to,
        raiseDisputeCall { orderId: u(id), reason: "x".into() },
        "NotOrderParty",
    );
    c.exec(addr("buyer"), to, raiseDisputeCall { orderId: u(id), reason: "goods damaged".into() }).unwrap();
    let o = c.order(id);
    assert_eq!(o.disputeRaisedBy, addr("buyer"), "the dispute is open, and shown");
    assert_eq!(
        state(&mut c, id),
        OrderState::Committed,
        "the order stays committed: the bank's undertaking is separate"
    );
    c.expect_revert(
        addr("seller"),
        to,
        raiseDisputeCall { orderId: u(id), reason: "again".into() },
        "DisputeAlreadyOpen",
    );
    c.expect_revert(
        addr("seller"),
        to,
        resolveDisputeCall { orderId: u(id), resolution: "ok".into() },
        "NotDisputeParty",
    );
    c.exec(addr("buyer"), to, resolveDisputeCall { orderId: u(id), resolution: "settled with credit note".into() })
        .unwrap();
    assert_eq!(c.order(id).disputeRaisedBy, alloy::primitives::Address::ZERO, "resolved");
    c.expect_revert(
        addr("buyer"),
        to,
        resolveDisputeCall { orderId: u(id), resolution: "again".into() },
        "NoOpenDispute",
    );
    // The operator can also close a dispute; after three, no more.
    let op = c.operator;
    for reason in ["late inspection", "short weight"] {
        c.exec(addr("seller"), to, raiseDisputeCall { orderId: u(id), reason: reason.into() }).unwrap();
        c.exec(op, to, resolveDisputeCall { orderId: u(id), resolution: "arbitrated".into() }).unwrap();
    }
    assert_eq!(c.order(id).disputes, 3);
    c.expect_revert(
        addr("buyer"),
        to,
        raiseDisputeCall { orderId: u(id), reason: "once more".into() },
        "TooManyDisputes",
    );
    c.present(id, BL);
    c.present(id, INSPECTION);
    c.release(id, 0).unwrap();
    c.release(id, 1).unwrap();
    c.confirm("buyer_bank", id, 0).unwrap();
    c.confirm("buyer_bank", id, 1).unwrap();
    assert_eq!(state(&mut c, id), OrderState::Completed);
}

#[test]
fn receivables_link_is_set_once_and_only_it_assigns_proceeds() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let op = c.operator;
    assert_eq!(c.view(to, receivablesCall {}), c.suite.receivables);
    c.expect_revert(op, to, setLinksCall { receivables_: addr("evil"), consents_: addr("evil") }, "AlreadyLinked");
    let id = c.live_order(vec![share(10_000, bit(BL), 0)]);
    c.expect_revert(
        addr("financier"),
        to,
        assignProceedsCall { orderId: u(id), index: u(0), payee: addr("financier"), financingId: u(1) },
        "NotReceivables",
    );
    c.expect_revert(
        addr("financier"),
        to,
        assignPayerCall { orderId: u(id), index: u(0), payer: addr("financier"), financingId: u(1) },
        "NotReceivables",
    );
}

/// ISO 20022 amounts have at most 18 digits: an order that could never be paid is refused
/// when proposed, not at payment time.
#[test]
fn an_amount_beyond_eighteen_digits_is_refused_when_proposed() {
    let mut c = TestChain::with_members();
    let max = c.view(c.suite.trade_orders, MAX_AMOUNTCall {});
    assert_eq!(max, 999_999_999_999_999_999);
    let mut t = terms(c.now);
    t.amount = max;
    c.propose(t.clone(), vec![share(10_000, bit(INVOICE), 0)]).expect("18 digits");
    t.amount = max + 1;
    let err = c.propose(t, vec![share(10_000, bit(INVOICE), 0)]).unwrap_err();
    assert_eq!(err.name(), "AmountTooLarge");
}

/// Who bears the charges is a term of the order; how the buyer's bank covers its undertaking
/// is a term of its commitment. Both are on chain for the paying bank's worker to read.
#[test]
fn charges_and_cover_are_terms_the_chain_keeps() {
    use tradechain_contracts::{Charges, Cover};
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let mut t = terms(c.now);
    t.charges = Charges::Creditor as u8;
    let id = c.propose(t, vec![share(10_000, bit(INVOICE), 0)]).unwrap();
    assert_eq!(c.events::<ChargesAgreed>()[0].charges, Charges::Creditor as u8);
    c.exec(addr("seller"), to, acceptCall { orderId: u(id) }).unwrap();
    c.exec(addr("buyer_bank"), to, commitCall { orderId: u(id), cover: Cover::Earmark as u8 }).unwrap();
    assert_eq!(c.events::<OrderCommitted>()[0].cover, Cover::Earmark as u8);
    let o = c.order(id);
    assert_eq!((o.charges, o.cover), (Charges::Creditor as u8, Cover::Earmark as u8));
    // A value outside the enums is refused by the ABI decoder.
    let mut t = terms(c.now);
    t.charges = 3;
    assert!(c.propose(t, vec![share(10_000, bit(INVOICE), 0)]).is_err());
}
