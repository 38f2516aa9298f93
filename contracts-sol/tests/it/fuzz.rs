//! An adversarial fuzzer: random sequences of every action of the suite, by random
//! organisations (honest parties, members holding several roles, members party to nothing,
//! and accounts that are no member at all), with random jumps of the clock, against the
//! committed bytecode in revm. After every step it checks, against a mirror of the rules
//! written here in Rust (independent of the Solidity):
//! - money: a milestone is paid at most once; paid + outstanding = amount; a payment goes
//!   to the seller or to the financier of a financing whose advance the seller
//!   acknowledged (receivables), never to anyone else;
//! - authority: every action that succeeded was taken by an organisation entitled to it;
//! - financing: at most one binding financing per receivable;
//! - expiry: an expired order has no presentation under examination.
//!
//! and at the end, liveness for the honest: every complete presentation made in time and
//! not refused is accepted (or deemed so) and paid once its payer pays, whatever the
//! dishonest parties did before.
//!
//! CI runs `TRADECHAIN_FUZZ_CASES` sequences (default 256) of up to 64 steps; set it higher
//! for a longer hunt. A failure prints the shrunk sequence. `FUZZ_STATS=1` prints every
//! call's outcome, to see how deep the sequences reach.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, FixedBytes, U256};
use alloy::sol_types::SolCall;
use proptest::prelude::*;
use test_support::evm::*;
use tradechain_contracts::Receivables::{self as R, Fingerprints, NearKeys};
use tradechain_contracts::TradeOrders::{self as T};
use tradechain_contracts::{FinancingState, MilestoneState, OrderState, role};

/// Who may act: the usual cast, a member holding every role but the operator's, a trader
/// party to nothing, and an account that is no member.
const ACTORS: [&str; 11] = [
    "buyer",
    "seller",
    "buyer_bank",
    "seller_bank",
    "carrier",
    "inspector",
    "financier",
    "financier2",
    "stranger_trader",
    "jack",
    "nobody",
];
const DOCS: [u8; 4] = [INVOICE, BL, INSPECTION, PACKING];

fn roles_of(name: &str) -> u32 {
    match name {
        "buyer" | "seller" | "stranger_trader" => role::TRADER,
        "buyer_bank" | "seller_bank" => role::BANK,
        "carrier" => role::CARRIER,
        "inspector" => role::INSPECTOR,
        "financier" | "financier2" => role::FINANCIER,
        "jack" => role::TRADER | role::BANK | role::FINANCIER | role::CARRIER | role::INSPECTOR,
        _ => 0,
    }
}

fn roles(a: Address) -> u32 {
    roles_of(name_of(a))
}

/// The acting address: the entitled organisation `right`, or one of the cast.
fn pick(who: Who, right: Address) -> Address {
    match who {
        Who::Right => right,
        Who::Any(i) => addr(ACTORS[i]),
    }
}

fn name_of(a: Address) -> &'static str {
    ACTORS.iter().find(|n| addr(n) == a).copied().unwrap_or("?")
}

/// One random action; indices into orders, milestones and financings wrap around what exists.
#[derive(Debug, Clone)]
enum Action {
    Propose { actor: Who, seller: Who, bank: Who, carrier: Who, parts: usize, docs: [u8; 3], tenors: [u16; 3] },
    Accept { actor: Who, order: usize },
    Reject { actor: Who, order: usize },
    Commit { actor: Who, order: usize },
    Cancel { actor: Who, order: usize },
    Expire { actor: Who, order: usize },
    Submit { actor: Who, order: usize, doc: usize },
    Attest { actor: Who, order: usize, doc: usize, shipped_days_ago: u64 },
    AcceptDoc { actor: Who, order: usize, doc: usize },
    RejectDoc { actor: Who, order: usize, doc: usize },
    Deem { actor: Who, order: usize, doc: usize },
    Release { actor: Who, order: usize, index: usize },
    Confirm { actor: Who, order: usize, index: usize },
    Fail { actor: Who, order: usize, index: usize },
    Dispute { actor: Who, order: usize },
    Resolve { actor: Who, order: usize },
    Amend { actor: Who, order: usize, later_days: u64 },
    ApproveAmendment { actor: Who, order: usize },
    OfferReceivable { actor: Who, order: usize, index: usize, advance: u128 },
    OfferPayable { actor: Who, order: usize, index: usize, fee: u16 },
    AcceptFinancing { actor: Who, financing: usize },
    ApproveFinancing { actor: Who, financing: usize },
    RecordAdvance { actor: Who, financing: usize },
    AcknowledgeAdvance { actor: Who, financing: usize },
    Lapse { actor: Who, financing: usize },
    CancelFinancing { actor: Who, financing: usize },
    ReleaseRepayment { actor: Who, financing: usize },
    ConfirmRepayment { actor: Who, financing: usize },
    Holidays { actor: Who, days_ahead: u32 },
    Consent { actor: Who, firm: usize, financier: usize, grant: bool },
    Wait { seconds: u64 },
}

/// Who takes an action: mostly the organisation entitled to it (so that trades progress
/// deep into their lifecycle), otherwise anyone of the cast (to try what is not theirs).
#[derive(Debug, Clone, Copy)]
enum Who {
    Right,
    Any(usize),
}

fn actor() -> impl Strategy<Value = Who> {
    prop_oneof![3 => Just(Who::Right), 1 => (0..ACTORS.len()).prop_map(Who::Any)]
}

fn action() -> impl Strategy<Value = Action> {
    let idx = || 0usize..4;
    prop_oneof![
        3 => (actor(), actor(), actor(), actor(), 1usize..=3, [1u8..16, 1u8..16, 1u8..16], [prop_oneof![Just(0u16), Just(30)], prop_oneof![Just(0u16), Just(30)], prop_oneof![Just(0u16), Just(30)]])
            .prop_map(|(actor, seller, bank, carrier, parts, docs, tenors)| Action::Propose { actor, seller, bank, carrier, parts, docs, tenors }),
        2 => (actor(), idx()).prop_map(|(actor, order)| Action::Accept { actor, order }),
        1 => (actor(), idx()).prop_map(|(actor, order)| Action::Reject { actor, order }),
        2 => (actor(), idx()).prop_map(|(actor, order)| Action::Commit { actor, order }),
        1 => (actor(), idx()).prop_map(|(actor, order)| Action::Cancel { actor, order }),
        1 => (actor(), idx()).prop_map(|(actor, order)| Action::Expire { actor, order }),
        3 => (actor(), idx(), 0usize..4).prop_map(|(actor, order, doc)| Action::Submit { actor, order, doc }),
        2 => (actor(), idx(), 0usize..4, 0u64..30).prop_map(|(actor, order, doc, shipped_days_ago)| Action::Attest { actor, order, doc, shipped_days_ago }),
        2 => (actor(), idx(), 0usize..4).prop_map(|(actor, order, doc)| Action::AcceptDoc { actor, order, doc }),
        1 => (actor(), idx(), 0usize..4).prop_map(|(actor, order, doc)| Action::RejectDoc { actor, order, doc }),
        1 => (actor(), idx(), 0usize..4).prop_map(|(actor, order, doc)| Action::Deem { actor, order, doc }),
        2 => (actor(), idx(), 0usize..3).prop_map(|(actor, order, index)| Action::Release { actor, order, index }),
        2 => (actor(), idx(), 0usize..3).prop_map(|(actor, order, index)| Action::Confirm { actor, order, index }),
        1 => (actor(), idx(), 0usize..3).prop_map(|(actor, order, index)| Action::Fail { actor, order, index }),
        1 => (actor(), idx()).prop_map(|(actor, order)| Action::Dispute { actor, order }),
        1 => (actor(), idx()).prop_map(|(actor, order)| Action::Resolve { actor, order }),
        1 => (actor(), idx(), 1u64..90).prop_map(|(actor, order, later_days)| Action::Amend { actor, order, later_days }),
        1 => (actor(), idx()).prop_map(|(actor, order)| Action::ApproveAmendment { actor, order }),
        2 => (actor(), idx(), 0usize..3, 1u128..20_000_000).prop_map(|(actor, order, index, advance)| Action::OfferReceivable { actor, order, index, advance }),
        1 => (actor(), idx(), 0usize..3, 0u16..3_000).prop_map(|(actor, order, index, fee)| Action::OfferPayable { actor, order, index, fee }),
        2 => (actor(), idx()).prop_map(|(actor, financing)| Action::AcceptFinancing { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::ApproveFinancing { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::RecordAdvance { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::AcknowledgeAdvance { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::Lapse { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::CancelFinancing { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::ReleaseRepayment { actor, financing }),
        1 => (actor(), idx()).prop_map(|(actor, financing)| Action::ConfirmRepayment { actor, financing }),
        1 => (actor(), 0u32..20).prop_map(|(actor, days_ahead)| Action::Holidays { actor, days_ahead }),
        1 => (actor(), 0usize..2, 0usize..2, prop_oneof![3 => Just(true), 1 => Just(false)])
            .prop_map(|(actor, firm, financier, grant)| Action::Consent { actor, firm, financier, grant }),
        3 => prop_oneof![3 => Just(3_600u64), 3 => Just(DAY), 2 => Just(6 * DAY), 1 => Just(31 * DAY)]
            .prop_map(|seconds| Action::Wait { seconds }),
    ]
}

/// What the run has seen, for the invariants.
#[derive(Default)]
struct Seen {
    paid: BTreeMap<(u64, u64), usize>,
    acknowledged: BTreeSet<(u64, u64, Address)>,
}

struct Fuzz {
    c: TestChain,
    seen: Seen,
    /// The amendment each order last had proposed (from `AmendmentProposed`).
    amendments: BTreeMap<u64, U256>,
    /// (firm, financier) => when the firm's consent ends, as the mirror keeps it.
    consents: BTreeMap<(Address, Address), u64>,
}

impl Fuzz {
    /// The cast, and two committed orders to start from (more are proposed on the way):
    /// one paying at sight on an invoice and a bill of lading, one split between an invoice
    /// at sight and an inspection certificate thirty days after.
    fn new() -> Self {
        let mut c = TestChain::with_members();
        c.register("jack", roles_of("jack"));
        c.live_order(vec![share(10_000, bit(INVOICE) | bit(BL), 0)]);
        c.live_order(vec![share(5_000, bit(INVOICE), 0), share(5_000, bit(INSPECTION), 30)]);
        let mut consents = BTreeMap::new();
        for firm in ["buyer", "seller"] {
            for financier in ["financier", "financier2"] {
                consents.insert((addr(firm), addr(financier)), c.now + 730 * DAY);
            }
        }
        Fuzz { c, seen: Seen::default(), amendments: BTreeMap::new(), consents }
    }

    fn orders(&mut self) -> u64 {
        let to = self.c.suite.trade_orders;
        self.c.view(to, T::orderCountCall {}).to::<u64>()
    }

    fn financings(&mut self) -> u64 {
        let to = self.c.suite.receivables;
        self.c.view(to, R::financingCountCall {}).to::<u64>()
    }

    fn order_id(&mut self, i: usize) -> u64 {
        let n = self.orders().max(1);
        (i as u64 % n) + 1
    }

    fn financing_id(&mut self, i: usize) -> u64 {
        let n = self.financings().max(1);
        (i as u64 % n) + 1
    }

    fn order(&mut self, id: u64) -> Option<T::Order> {
        (id <= self.orders()).then(|| self.c.order(id))
    }

    fn financing(&mut self, id: u64) -> Option<R::Financing> {
        let to = self.c.suite.receivables;
        (id <= self.financings()).then(|| self.c.view(to, R::getFinancingCall { financingId: u(id) }))
    }

    /// The document to act on: an honest actor picks one the action suits (`fits`), if the
    /// order has one; anyone else the one drawn.
    fn doc(&mut self, id: u64, drawn: usize, who: Who, fits: impl Fn(&T::Document, u16) -> bool) -> u8 {
        if let Who::Right = who {
            let required = self.c.order(id).requiredDocs;
            for d in DOCS {
                if fits(&self.c.document(id, d), required & bit(d)) {
                    return d;
                }
            }
        }
        DOCS[drawn]
    }

    /// The milestone to act on: an honest actor picks one in a state the action suits.
    fn milestone(&mut self, id: u64, count: u8, drawn: usize, who: Who, fits: &[MilestoneState]) -> u64 {
        if let Who::Right = who {
            for i in 0..u64::from(count) {
                let m = self.c.milestone(id, i);
                if MilestoneState::from_u8(m.state).is_some_and(|s| fits.contains(&s)) {
                    return i;
                }
            }
        }
        drawn as u64
    }

    fn exec<C: SolCall>(&mut self, who: Address, to: Address, call: C) -> bool {
        let ok = self.c.exec(who, to, call).is_ok();
        if std::env::var("FUZZ_STATS").is_ok() {
            eprintln!("STAT {} {}", C::SIGNATURE.split('(').next().unwrap_or("?"), ok);
        }
        ok
    }

    /// Play `a`; assert that if it succeeded, its actor was entitled to it.
    fn play(&mut self, a: &Action) {
        let to = self.c.suite.trade_orders;
        let rc = self.c.suite.receivables;
        match a.clone() {
            Action::Propose { actor, seller, bank, carrier, parts, docs, tenors } => {
                let who = pick(actor, addr("buyer"));
                let shares: &[u16] = match parts {
                    1 => &[10_000],
                    2 => &[5_000, 5_000],
                    _ => &[3_333, 3_333, 3_334],
                };
                let ms: Vec<T::MilestoneTerms> = shares
                    .iter()
                    .zip(docs.iter().zip(tenors))
                    .map(|(bps, (set, tenor))| {
                        let mask = DOCS
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| set & (1 << i) != 0)
                            .fold(0u16, |m, (_, d)| m | bit(*d));
                        share(*bps, mask, tenor)
                    })
                    .collect();
                let t = T::OrderTerms {
                    seller: pick(seller, addr("seller")),
                    buyerBank: pick(bank, addr("buyer_bank")),
                    sellerBank: addr("seller_bank"),
                    carrier: pick(carrier, addr("carrier")),
                    inspector: addr("inspector"),
                    ..terms(self.c.now)
                };
                let ok = self.exec(who, to, T::proposeCall { t, terms: ms });
                assert!(!ok || roles(who) & role::TRADER != 0, "{} proposed without the trader role", name_of(who));
            }
            Action::Accept { actor, order } | Action::Reject { actor, order } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.seller);
                let ok = if matches!(a, Action::Accept { .. }) {
                    self.exec(who, to, T::acceptCall { orderId: u(id) })
                } else {
                    self.exec(who, to, T::rejectCall { orderId: u(id), reason: "no".into() })
                };
                assert!(!ok || who == o.seller, "{} answered order {id} for its seller", name_of(who));
            }
            Action::Commit { actor, order } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.buyerBank);
                let ok = self.exec(
                    who,
                    to,
                    T::commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 },
                );
                assert!(!ok || who == o.buyerBank, "{} committed for the buyer's bank", name_of(who));
            }
            Action::Cancel { actor, order } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.buyer);
                let ok = self.exec(who, to, T::cancelCall { orderId: u(id) });
                assert!(!ok || who == o.buyer || who == o.seller, "{} cancelled another's order", name_of(who));
            }
            Action::Expire { actor, order } => {
                let id = self.order_id(order);
                let _ = self.exec(pick(actor, addr("stranger_trader")), to, T::expireCall { orderId: u(id) });
            }
            Action::Submit { actor, order, doc } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.seller);
                let doc = self.doc(id, doc, actor, |d, required| required != 0 && (d.state == 0 || d.state == 3));
                let hash = h(&format!("{id}/{doc}/{}", self.c.now));
                let call = T::submitDocumentCall { orderId: u(id), docType: doc, hash, uri: String::new() };
                let ok = self.exec(who, to, call);
                assert!(!ok || who == o.seller, "{} presented the seller's document", name_of(who));
            }
            Action::Attest { actor, order, doc, shipped_days_ago } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let named = if DOCS[doc] == BL { o.carrier } else { o.inspector };
                let who = pick(actor, named);
                let d = self.c.document(id, DOCS[doc]);
                let shipped = if DOCS[doc] == BL { self.c.now.saturating_sub(shipped_days_ago * DAY) } else { 0 };
                let call =
                    T::attestDocumentCall { orderId: u(id), docType: DOCS[doc], hash: d.hash, shipmentDate: shipped };
                let ok = self.exec(who, to, call);
                let party = [o.buyer, o.seller, o.buyerBank, o.sellerBank].contains(&who);
                let attestable = DOCS[doc] == BL || DOCS[doc] == INSPECTION;
                assert!(
                    !ok || (attestable && who == named && !party),
                    "{} attested what it was not named for",
                    name_of(who)
                );
            }
            Action::AcceptDoc { actor, order, doc } | Action::RejectDoc { actor, order, doc } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.buyerBank);
                let doc = self.doc(id, doc, actor, |d, _| d.state == 1 && d.attested);
                let ok = if matches!(a, Action::AcceptDoc { .. }) {
                    self.exec(who, to, T::acceptDocumentCall { orderId: u(id), docType: doc })
                } else {
                    let discrepancies = vec!["discrepant".into()];
                    self.exec(who, to, T::rejectDocumentCall { orderId: u(id), docType: doc, discrepancies })
                };
                assert!(!ok || who == o.buyerBank, "{} examined for the buyer's bank", name_of(who));
            }
            Action::Deem { actor, order, doc } => {
                let id = self.order_id(order);
                let who = pick(actor, addr("seller"));
                let doc = self.doc(id, doc, actor, |d, _| d.state == 1 && d.attested);
                let _ = self.exec(who, to, T::deemAcceptedCall { orderId: u(id), docType: doc });
            }
            Action::Release { actor, order, index } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let fits = [MilestoneState::Triggered, MilestoneState::Failed, MilestoneState::Defaulted];
                let index = self.milestone(id, o.milestoneCount, index, actor, &fits);
                if index >= u64::from(o.milestoneCount) {
                    return;
                }
                let m = self.c.milestone(id, index);
                let who = pick(actor, m.payee);
                let ok = self.exec(who, to, T::releasePaymentCall { orderId: u(id), index: u(index) });
                let entitled = match MilestoneState::from_u8(m.state) {
                    Some(MilestoneState::Triggered) => true,
                    Some(MilestoneState::Failed) => who == m.payer || who == o.buyer || who == m.payee,
                    Some(MilestoneState::Defaulted) => who == m.payee,
                    _ => false,
                };
                assert!(!ok || entitled, "{} released milestone {id}/{index} in state {}", name_of(who), m.state);
            }
            Action::Confirm { actor, order, index } | Action::Fail { actor, order, index } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let index = self.milestone(id, o.milestoneCount, index, actor, &[MilestoneState::Due]);
                if index >= u64::from(o.milestoneCount) {
                    return;
                }
                let m = self.c.milestone(id, index);
                let who = pick(actor, m.payer);
                let (order_id, index) = (u(id), u(index));
                let ok = if matches!(a, Action::Confirm { .. }) {
                    self.exec(who, to, T::confirmPaymentCall { orderId: order_id, index, paymentReference: h("ref") })
                } else {
                    let call = T::failPaymentCall {
                        orderId: order_id,
                        index,
                        paymentReference: h("ref"),
                        reasonCode: FixedBytes(*b"AM04"),
                        reason: "no funds".into(),
                    };
                    self.exec(who, to, call)
                };
                assert!(
                    !ok || who == m.payer,
                    "{} settled a milestone for its payer {}",
                    name_of(who),
                    name_of(m.payer)
                );
            }
            Action::Dispute { actor, order } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.buyer);
                let ok = self.exec(who, to, T::raiseDisputeCall { orderId: u(id), reason: "dispute".into() });
                assert!(!ok || who == o.buyer || who == o.seller, "{} disputed another's sale", name_of(who));
            }
            Action::Resolve { actor, order } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let raiser = if o.disputeRaisedBy == Address::ZERO { o.buyer } else { o.disputeRaisedBy };
                let who = pick(actor, raiser);
                let ok = self.exec(who, to, T::resolveDisputeCall { orderId: u(id), resolution: "resolved".into() });
                assert!(!ok || who == o.disputeRaisedBy, "{} resolved another's dispute", name_of(who));
            }
            Action::Amend { actor, order, later_days } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, o.buyer);
                let call = T::proposeAmendmentCall {
                    orderId: u(id),
                    detailsHash: h("amended"),
                    latestShipment: o.latestShipment + later_days * DAY,
                    expiry: o.expiry + later_days * DAY,
                };
                let ok = self.exec(who, to, call);
                assert!(!ok || who == o.buyer || who == o.seller, "{} amended another's order", name_of(who));
                if let Some(e) = self.c.events::<T::AmendmentProposed>().first() {
                    self.amendments.insert(id, e.amendmentId);
                }
            }
            Action::ApproveAmendment { actor, order } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let pending = self.c.view(to, T::pendingAmendmentCall { orderId: u(id) });
                let n = self.amendments.get(&id).copied().unwrap_or(U256::from(1));
                let counterparty = if pending.proposer == o.buyer { o.seller } else { o.buyer };
                let who = pick(actor, if pending.counterpartyApproved { o.buyerBank } else { counterparty });
                let before = (o.latestShipment, o.expiry);
                let ok = self.exec(who, to, T::approveAmendmentCall { orderId: u(id), amendmentId: n });
                let committed = o.state == OrderState::Committed as u8;
                let party = (who == o.buyer || who == o.seller) && who != pending.proposer;
                assert!(!ok || party || (committed && who == o.buyerBank), "{} approved an amendment", name_of(who));
                let after = self.c.order(id);
                if (after.latestShipment, after.expiry) != before {
                    let bank_agreed = pending.bankApproved || who == o.buyerBank;
                    assert!(!committed || bank_agreed, "a committed order was amended without its bank");
                }
            }
            Action::OfferReceivable { actor, order, index, advance } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, addr(if index % 2 == 0 { "financier" } else { "financier2" }));
                let fps = Fingerprints { invoice: h(&format!("inv {id}")), documents: vec![] };
                let call = R::offerReceivableFinanceCall {
                    orderId: u(id),
                    milestone: u(index as u64),
                    advance,
                    discountBps: 100,
                    deadlineDays: 5,
                    fps,
                    near: NearKeys::NONE,
                };
                let ok = self.exec(who, rc, call);
                let entitled = roles(who) & role::FINANCIER != 0 && who != o.buyer && who != o.seller;
                assert!(!ok || entitled, "{} offered financing", name_of(who));
                assert!(!ok || self.consented(o.seller, who), "{} offered without the seller's consent", name_of(who));
            }
            Action::OfferPayable { actor, order, index, fee } => {
                let id = self.order_id(order);
                let Some(o) = self.order(id) else { return };
                let who = pick(actor, addr(if index % 2 == 0 { "financier2" } else { "financier" }));
                let fps = Fingerprints { invoice: h(&format!("inv {id}")), documents: vec![] };
                let call = R::offerPayablesFinanceCall {
                    orderId: u(id),
                    milestone: u(index as u64),
                    extraDays: 30,
                    feeBps: fee,
                    deadlineDays: 5,
                    fps,
                    near: NearKeys::NONE,
                };
                let ok = self.exec(who, rc, call);
                let entitled = roles(who) & role::FINANCIER != 0 && who != o.buyer && who != o.seller && fee <= 2_500;
                assert!(!ok || entitled, "{} offered payables finance", name_of(who));
                assert!(!ok || self.consented(o.buyer, who), "{} offered without the buyer's consent", name_of(who));
            }
            Action::AcceptFinancing { actor, financing } => {
                let id = self.financing_id(financing);
                let Some(f) = self.financing(id) else { return };
                let who = pick(actor, f.firm);
                let ok = self.exec(who, rc, R::acceptCall { financingId: u(id) });
                assert!(!ok || who == f.firm, "{} took another's financing", name_of(who));
            }
            Action::ApproveFinancing { actor, financing } => {
                let id = self.financing_id(financing);
                let Some(f) = self.financing(id) else { return };
                let o = self.c.order(f.orderId.to::<u64>());
                let who = pick(actor, if f.sellerApproved { o.buyerBank } else { o.seller });
                let ok = self.exec(who, rc, R::approveCall { financingId: u(id) });
                assert!(!ok || who == o.seller || who == o.buyerBank, "{} approved a change of payer", name_of(who));
            }
            Action::RecordAdvance { actor, financing } => {
                let id = self.financing_id(financing);
                let Some(f) = self.financing(id) else { return };
                let who = pick(actor, f.financier);
                let ok = self.exec(who, rc, R::confirmAdvanceCall { financingId: u(id), paymentReference: h("adv") });
                assert!(!ok || who == f.financier, "{} recorded another's advance", name_of(who));
            }
            Action::AcknowledgeAdvance { actor, financing } => {
                let id = self.financing_id(financing);
                let Some(f) = self.financing(id) else { return };
                let who = pick(actor, f.firm);
                let ok = self.exec(who, rc, R::acknowledgeAdvanceCall { financingId: u(id) });
                assert!(!ok || who == f.firm, "{} acknowledged an advance it did not receive", name_of(who));
                if ok {
                    self.seen.acknowledged.insert((f.orderId.to::<u64>(), f.milestone.to::<u64>(), f.financier));
                }
            }
            Action::Lapse { actor, financing } => {
                let id = self.financing_id(financing);
                let _ = self.exec(pick(actor, addr("stranger_trader")), rc, R::lapseCall { financingId: u(id) });
            }
            Action::CancelFinancing { actor, financing } => {
                let id = self.financing_id(financing);
                let Some(f) = self.financing(id) else { return };
                let who = pick(actor, if f.cancelRequestedBy == f.firm { f.financier } else { f.firm });
                let ok = self.exec(who, rc, R::cancelCall { financingId: u(id) });
                assert!(!ok || who == f.firm || who == f.financier, "{} cancelled another's financing", name_of(who));
            }
            Action::ReleaseRepayment { actor, financing } => {
                let id = self.financing_id(financing);
                let _ =
                    self.exec(pick(actor, addr("stranger_trader")), rc, R::releaseRepaymentCall { financingId: u(id) });
            }
            Action::ConfirmRepayment { actor, financing } => {
                let id = self.financing_id(financing);
                let Some(f) = self.financing(id) else { return };
                let o = self.c.order(f.orderId.to::<u64>());
                let who = pick(actor, o.buyerBank);
                let ok = self.exec(who, rc, R::confirmRepaymentCall { financingId: u(id), paymentReference: h("rep") });
                assert!(!ok || who == o.buyerBank, "{} confirmed a repayment for the buyer's bank", name_of(who));
            }
            Action::Holidays { actor, days_ahead } => {
                let who = pick(actor, addr("buyer_bank"));
                let day = u32::try_from(self.c.now / DAY).unwrap_or(0) + days_ahead;
                let cs = self.c.suite.consortium;
                let call = tradechain_contracts::Consortium::setHolidaysCall { days_: vec![day], holiday: true };
                let ok = self.exec(who, cs, call);
                assert!(!ok || roles(who) & role::BANK != 0, "{} kept a bank's calendar", name_of(who));
            }
            Action::Consent { actor, firm, financier, grant } => {
                let firm = addr(["buyer", "seller"][firm]);
                let financier = addr(["financier", "financier2"][financier]);
                let who = pick(actor, firm);
                let cn = self.c.suite.consents;
                let now = self.c.now;
                if grant {
                    let call = tradechain_contracts::Consents::grantCall {
                        financier,
                        expiresAt: now + 730 * DAY,
                        requestId: U256::ZERO,
                    };
                    if self.exec(who, cn, call) {
                        assert!(roles(who) & role::TRADER != 0, "{} granted a consent", name_of(who));
                        self.consents.insert((who, financier), now + 730 * DAY);
                    }
                } else if self.exec(who, cn, tradechain_contracts::Consents::revokeCall { financier }) {
                    assert!(self.consented(who, financier), "{} revoked a consent it never gave", name_of(who));
                    self.consents.insert((who, financier), now);
                }
            }
            Action::Wait { seconds } => self.c.advance_secs(seconds),
        }
        self.record_payments();
    }

    /// Whether the mirror holds a live consent of `firm` for `financier`.
    fn consented(&self, firm: Address, financier: Address) -> bool {
        self.consents.get(&(firm, financier)).is_some_and(|end| *end > self.c.now)
    }

    fn record_payments(&mut self) {
        for e in self.c.events::<T::PaymentConfirmed>() {
            *self.seen.paid.entry((e.orderId.to::<u64>(), e.milestone.to::<u64>())).or_default() += 1;
            let o = self.c.order(e.orderId.to::<u64>());
            let assignee = self.seen.acknowledged.contains(&(e.orderId.to::<u64>(), e.milestone.to::<u64>(), e.payee));
            assert!(
                e.payee == o.seller || assignee,
                "paid to {} who is neither the seller nor an advanced financier",
                name_of(e.payee)
            );
        }
        // Each transaction's events are counted once.
        self.c.last_logs.clear();
    }

    /// The invariants that hold after every step.
    fn check(&mut self) {
        for (key, n) in &self.seen.paid {
            assert!(*n <= 1, "milestone {key:?} paid {n} times");
        }
        let to = self.c.suite.trade_orders;
        for id in 1..=self.orders() {
            let o = self.c.order(id);
            let mut total = 0u128;
            let mut paid = 0u128;
            for i in 0..u64::from(o.milestoneCount) {
                let m = self.c.milestone(id, i);
                total += m.amount;
                if m.state == MilestoneState::Paid as u8 {
                    paid += m.amount;
                }
            }
            assert_eq!(total, o.amount, "order {id}: milestones add up to the amount");
            assert_eq!(paid, o.paid, "order {id}: paid is what the paid milestones hold");
            assert_eq!(self.c.view(to, T::outstandingCall { orderId: u(id) }), o.amount - o.paid);
            if o.state == OrderState::Expired as u8 {
                for d in DOCS {
                    let doc = self.c.document(id, d);
                    assert!(
                        !(doc.state == 1 && doc.attested),
                        "order {id} expired with a presentation under examination"
                    );
                }
            }
        }
        let mut binding: BTreeMap<(U256, U256), usize> = BTreeMap::new();
        for id in 1..=self.financings() {
            let f = self.financing(id).expect("exists");
            let state = FinancingState::from_u8(f.state).expect("known");
            if matches!(
                state,
                FinancingState::Accepted
                    | FinancingState::Live
                    | FinancingState::AwaitingRepayment
                    | FinancingState::RepaymentDue
            ) {
                *binding.entry((f.orderId, f.milestone)).or_default() += 1;
            }
        }
        for (key, n) in binding {
            assert!(n <= 1, "receivable {key:?} financed {n} times at once");
        }
    }

    /// Liveness for the honest: each complete presentation made in time and not refused is
    /// accepted (or deemed so) and its milestone paid once the payer pays.
    fn honest_completion(&mut self) {
        let to = self.c.suite.trade_orders;
        for id in 1..=self.orders() {
            let o = self.c.order(id);
            if o.state != OrderState::Committed as u8 {
                continue;
            }
            for i in 0..u64::from(o.milestoneCount) {
                let m = self.c.milestone(id, i);
                let docs: Vec<u8> = DOCS.into_iter().filter(|d| m.requiredDocs & bit(*d) != 0).collect();
                let complete = docs.iter().all(|d| {
                    let doc = self.c.document(id, *d);
                    doc.state == 2 || (doc.state == 1 && doc.attested)
                });
                if !complete || m.state == MilestoneState::Paid as u8 {
                    continue;
                }
                for d in &docs {
                    let doc = self.c.document(id, *d);
                    if doc.state == 1 {
                        self.c.now = self.c.now.max(doc.examineBy + 1);
                        self.c
                            .exec(addr("seller"), to, T::deemAcceptedCall { orderId: u(id), docType: *d })
                            .unwrap_or_else(|e| {
                                panic!("order {id}: a timely presentation could not be deemed accepted: {e:?}")
                            });
                    }
                }
                let m = self.c.milestone(id, i);
                self.c.now = self.c.now.max(m.dueDate);
                let state = MilestoneState::from_u8(m.state).expect("known");
                if state != MilestoneState::Due {
                    self.c.exec(m.payee, to, T::releasePaymentCall { orderId: u(id), index: u(i) }).unwrap_or_else(
                        |e| panic!("order {id}/{i}: the payee could not demand payment from {state:?}: {e:?}"),
                    );
                }
                let m = self.c.milestone(id, i);
                self.c
                    .exec(
                        m.payer,
                        to,
                        T::confirmPaymentCall { orderId: u(id), index: u(i), paymentReference: h("honest") },
                    )
                    .unwrap_or_else(|e| panic!("order {id}/{i}: the payer could not pay: {e:?}"));
                self.record_payments();
                assert_eq!(self.c.milestone(id, i).state, MilestoneState::Paid as u8);
            }
        }
        self.check();
    }
}

fn cases() -> u32 {
    std::env::var("TRADECHAIN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_of_actions_by_anyone_breaks_the_rules(actions in proptest::collection::vec(action(), 1..64)) {
        let mut f = Fuzz::new();
        for a in &actions {
            f.play(a);
            f.check();
        }
        f.honest_completion();
    }
}
