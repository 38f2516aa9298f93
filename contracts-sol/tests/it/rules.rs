//! The trade rules the contracts enforce, each tested on both sides of its boundary: UCP 600
//! art. 14(c) and 20(a)(ii) (shipment and presentation dates), banking days with each
//! bank's own holidays (art. 2, 14(b)), one refusal notice per presentation (art. 16(c)-(d)).

use test_support::evm::*;
use tradechain_contracts::Consortium;
use tradechain_contracts::TradeOrders::{self as T, *};

/// A committed order paying at sight on a bill of lading.
fn bl_order(c: &mut TestChain) -> u64 {
    c.live_order(vec![share(10_000, bit(BL), 0)])
}

fn present_bl(c: &mut TestChain, id: u64, hash: &str) {
    let to = c.suite.trade_orders;
    c.exec(addr("seller"), to, submitDocumentCall { orderId: u(id), docType: BL, hash: h(hash), uri: String::new() })
        .expect("presented");
}

fn attest_bl(c: &mut TestChain, id: u64, hash: &str, shipped: u64) -> Result<(), Failure> {
    let to = c.suite.trade_orders;
    c.exec(
        addr("carrier"),
        to,
        attestDocumentCall { orderId: u(id), docType: BL, hash: h(hash), shipmentDate: shipped },
    )
    .map(|_| ())
}

/// UCP 600 art. 14(c): presented no later than 21 calendar days after the date of shipment.
#[test]
fn a_bill_of_lading_is_presented_at_most_21_days_after_shipment() {
    let mut c = TestChain::with_members();
    let shipped = c.now;
    let on_time = bl_order(&mut c);
    let late = bl_order(&mut c);
    c.advance_days(21);
    present_bl(&mut c, on_time, "bl day 21");
    attest_bl(&mut c, on_time, "bl day 21", shipped).expect("day 21 is in time");
    c.advance_days(1);
    present_bl(&mut c, late, "bl day 22");
    let err = attest_bl(&mut c, late, "bl day 22", shipped).unwrap_err();
    assert_eq!(err.name(), "LatePresentation", "day 22 is late");
}

/// UCP 600 art. 20(a)(ii): the on-board date is the date of shipment, and it may not be later
/// than the latest shipment date; nor later than the presentation itself.
#[test]
fn shipment_on_the_latest_date_is_accepted_and_a_day_later_refused() {
    let mut c = TestChain::with_members();
    let latest = terms(c.now).latestShipment;
    let a = bl_order(&mut c);
    let b = bl_order(&mut c);
    let d = bl_order(&mut c);
    c.now = latest - 3_600;
    present_bl(&mut c, a, "bl a");
    attest_bl(&mut c, a, "bl a", latest).expect("shipped on the latest shipment date");
    c.now = latest + DAY;
    present_bl(&mut c, b, "bl b");
    assert_eq!(attest_bl(&mut c, b, "bl b", latest + DAY).unwrap_err().name(), "LateShipment");
    assert_eq!(attest_bl(&mut c, b, "bl b", 0).unwrap_err().name(), "InvalidShipmentDate");
    c.now = latest - 3 * DAY;
    present_bl(&mut c, d, "bl d");
    assert_eq!(
        attest_bl(&mut c, d, "bl d", latest - DAY).unwrap_err().name(),
        "InvalidShipmentDate",
        "shipped after it was presented"
    );
}

fn set_holidays(c: &mut TestChain, bank: &str, days: Vec<u32>) -> Result<(), Failure> {
    let to = c.suite.consortium;
    c.exec(addr(bank), to, Consortium::setHolidaysCall { days_: days, holiday: true }).map(|_| ())
}

/// UCP 600 art. 14(b) counts the examining bank's banking days: its holidays are skipped.
/// Presented on Monday 2026-11-23, five banking days end on Monday 2026-11-30; with the bank's
/// holiday on Wednesday 2026-11-25 they end on Tuesday 2026-12-01.
#[test]
fn the_examination_period_skips_the_banks_holidays() {
    let mut c = TestChain::with_members();
    let monday = START / DAY;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    let without = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.submit(without, INVOICE, "before the calendar");
    let u32day = |d: u64| u32::try_from(d).expect("a day number");
    set_holidays(&mut c, "buyer_bank", vec![u32day(monday + 2)]).expect("the bank keeps its calendar");
    assert_eq!(c.document(without, INVOICE).examineBy, (monday + 8) * DAY - 1, "end of Monday: no holiday counted");
    c.advance_secs(60);
    c.submit(id, INVOICE, "invoice");
    assert_eq!(c.document(id, INVOICE).examineBy, (monday + 9) * DAY - 1, "end of Tuesday");
    // Boundary: refusal on the last second of the period, deemed acceptance one second later.
    let to = c.suite.trade_orders;
    c.now = (monday + 9) * DAY;
    c.exec(addr("keeper"), to, deemAcceptedCall { orderId: u(id), docType: INVOICE }).expect("deemed on Wednesday");
    // Only a bank keeps a calendar, only its own, only from today on.
    assert_eq!(set_holidays(&mut c, "seller", vec![u32day(monday + 30)]).unwrap_err().name(), "MissingRole");
    assert_eq!(set_holidays(&mut c, "buyer_bank", vec![u32day(monday)]).unwrap_err().name(), "HolidayInThePast");
    assert_eq!(set_holidays(&mut c, "buyer_bank", vec![]).unwrap_err().name(), "InvalidHolidays");
}

/// A holiday declared after a presentation does not lengthen its examination.
#[test]
fn a_holiday_declared_later_does_not_stretch_a_running_examination() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let monday = START / DAY;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.submit(id, INVOICE, "invoice");
    let deadline = c.document(id, INVOICE).examineBy;
    c.advance_secs(60);
    set_holidays(&mut c, "buyer_bank", vec![u32::try_from(monday + 2).expect("day")]).unwrap();
    c.now = deadline + 1;
    c.exec(addr("keeper"), to, deemAcceptedCall { orderId: u(id), docType: INVOICE })
        .expect("the calendar as it stood at the presentation");
}

/// A bank that declares a holiday in the same second as a presentation (a later transaction
/// of the same block) does not reach back to it: the carrier's attestation starts the
/// period by the calendar as it stood before; a presentation a second later sees the holiday.
#[test]
fn a_holiday_declared_in_the_presentations_second_does_not_reach_back() {
    let mut c = TestChain::with_members();
    let monday = START / DAY;
    let day = u32::try_from(monday + 2).expect("day");
    let same_second = bl_order(&mut c);
    let later = bl_order(&mut c);
    present_bl(&mut c, same_second, "bl same second");
    set_holidays(&mut c, "buyer_bank", vec![day]).expect("declared in the same second");
    c.advance_secs(1);
    present_bl(&mut c, later, "bl a second later");
    let now = c.now;
    attest_bl(&mut c, same_second, "bl same second", now).expect("attested");
    attest_bl(&mut c, later, "bl a second later", now).expect("attested");
    assert_eq!(c.document(same_second, BL).examineBy, (monday + 8) * DAY - 1, "end of Monday: no holiday");
    assert_eq!(c.document(later, BL).examineBy, (monday + 9) * DAY - 1, "end of Tuesday: the holiday counts");
}

/// The due date falls on the paying bank's banking day: a tenor ending on its holiday moves
/// to the next one.
#[test]
fn a_due_date_on_the_payers_holiday_moves_to_its_next_banking_day() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let monday = START / DAY;
    // 30 days after Monday 2026-11-23 is Wednesday 2026-12-23: the bank's holiday.
    set_holidays(&mut c, "buyer_bank", vec![u32::try_from(monday + 30).expect("day")]).unwrap();
    c.advance_secs(60);
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 30)]);
    c.submit(id, INVOICE, "invoice");
    c.exec(addr("buyer_bank"), to, acceptDocumentCall { orderId: u(id), docType: INVOICE }).unwrap();
    assert_eq!(c.milestone(id, 0).dueDate, (monday + 31) * DAY, "Thursday 2026-12-24");
    // A payer without that holiday pays on the Wednesday.
    let t = T::OrderTerms { buyerBank: addr("seller_bank"), sellerBank: addr("buyer_bank"), ..terms(c.now) };
    let id = c.propose(t, vec![share(10_000, bit(INVOICE), 30)]).unwrap();
    c.exec(addr("seller"), to, acceptCall { orderId: u(id) }).unwrap();
    c.exec(addr("seller_bank"), to, commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 })
        .unwrap();
    c.submit(id, INVOICE, "invoice 2");
    c.exec(addr("seller_bank"), to, acceptDocumentCall { orderId: u(id), docType: INVOICE }).unwrap();
    assert_eq!(c.milestone(id, 0).dueDate, (monday + 30) * DAY, "Wednesday 2026-12-23");
}

/// UCP 600 art. 16(c)-(d): one refusal notice per presentation, stating every discrepancy; the
/// bank cannot come back with a new discrepancy on the same presentation. A corrected
/// presentation is a new one.
#[test]
fn a_presentation_is_refused_once_with_every_discrepancy() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.submit(id, INVOICE, "invoice");
    let refuse = |what: &str| rejectDocumentCall { orderId: u(id), docType: INVOICE, discrepancies: vec![what.into()] };
    c.exec(addr("buyer_bank"), to, refuse("amount differs")).unwrap();
    c.expect_revert(addr("buyer_bank"), to, refuse("and no signature"), "InvalidDocumentState");
    c.advance_days(1);
    c.submit(id, INVOICE, "corrected invoice");
    c.exec(addr("buyer_bank"), to, refuse("quantity differs")).expect("a new presentation may be refused");
}
