//! Need to know, on any EVM network: the suite's views answer an order, a financing or a
//! consent only to those entitled to it, and an offer tells a financier the firm did not
//! let in nothing about the order. Each test is an attempt to read what is not one's own.

use alloy::primitives::Address;
use test_support::evm::*;
use tradechain_contracts::Receivables::{self as R, Fingerprints, NearKeys};
use tradechain_contracts::TradeOrders as T;
use tradechain_contracts::{Consents as C, Consortium, role};

/// Every order view, as `who`: `Ok` when all answer, else the first refusal's name.
fn read_order(c: &mut TestChain, who: Address, id: u64) -> Result<(), String> {
    let to = c.suite.trade_orders;
    let name = |f: Failure| match f {
        Failure::Custom(r) => r.name,
        other @ Failure::Other(_) => format!("{other:?}"),
    };
    c.view_as(who, to, T::getOrderCall { orderId: u(id) }).map_err(name)?;
    c.view_as(who, to, T::getMilestoneCall { orderId: u(id), index: u(0) }).map_err(name)?;
    c.view_as(who, to, T::getDocumentCall { orderId: u(id), docType: INVOICE }).map_err(name)?;
    c.view_as(who, to, T::pendingAmendmentCall { orderId: u(id) }).map_err(name)?;
    c.view_as(who, to, T::outstandingCall { orderId: u(id) }).map_err(name)?;
    Ok(())
}

fn refused(c: &mut TestChain, who: Address, id: u64) -> bool {
    read_order(c, who, id) == Err("NotEntitled".into())
}

fn offer(c: &mut TestChain, financier: &str, order: u64, advance: u128) -> Result<u64, Failure> {
    let to = c.suite.receivables;
    let call = R::offerReceivableFinanceCall {
        orderId: u(order),
        milestone: u(0),
        advance,
        discountBps: 300,
        deadlineDays: 5,
        fps: Fingerprints { invoice: h(&format!("invoice of {order}")), documents: vec![] },
        near: NearKeys::NONE,
    };
    c.exec(addr(financier), to, call).map(|id| id.to::<u64>())
}

#[test]
fn an_order_is_read_by_its_parties_named_attesters_and_the_operator_only() {
    let mut c = TestChain::without_consents();
    c.register("bystander_bank", role::BANK);
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    for who in ["buyer", "seller", "buyer_bank", "seller_bank", "carrier", "inspector"] {
        assert_eq!(read_order(&mut c, addr(who), id), Ok(()), "{who} reads its order");
    }
    let operator = c.operator;
    assert_eq!(read_order(&mut c, operator, id), Ok(()), "the operator reads every order");
    // Members party to nothing, whatever their roles; an account that is no member; the
    // zero address a careless eth_call sends from.
    for who in [addr("stranger_trader"), addr("bystander_bank"), addr("financier"), addr("nobody"), Address::ZERO] {
        assert!(refused(&mut c, who, id), "{who} read another's order");
    }
}

#[test]
fn a_suspended_party_reads_nothing_until_reinstated() {
    let mut c = TestChain::without_consents();
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    let (cs, op) = (c.suite.consortium, c.operator);
    c.exec(op, cs, Consortium::suspendCall { account: addr("buyer"), reason: "sanctions screening".into() })
        .expect("suspended");
    assert!(refused(&mut c, addr("buyer"), id), "a suspended buyer still reads its order");
    assert_eq!(read_order(&mut c, addr("seller"), id), Ok(()), "the other parties are not affected");
    c.exec(op, cs, Consortium::reinstateCall { account: addr("buyer") }).expect("reinstated");
    assert_eq!(read_order(&mut c, addr("buyer"), id), Ok(()));
}

#[test]
fn a_financier_reads_a_firms_orders_only_while_its_consent_is_live() {
    let mut c = TestChain::without_consents();
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    assert!(refused(&mut c, addr("financier"), id), "no consent, no read");
    let to = c.suite.consents;
    let ends = c.now + 10 * DAY;
    c.exec(addr("seller"), to, C::grantCall { financier: addr("financier"), expiresAt: ends, requestId: u(0) })
        .expect("seller consents");
    assert_eq!(read_order(&mut c, addr("financier"), id), Ok(()), "the seller's consent opens its orders");
    assert!(refused(&mut c, addr("financier2"), id), "consent is per financier");

    // The boundary: live strictly before `expiresAt`.
    c.advance_secs(ends - c.now - 1);
    assert_eq!(read_order(&mut c, addr("financier"), id), Ok(()), "one second before the consent ends");
    c.advance_secs(1);
    assert!(refused(&mut c, addr("financier"), id), "the consent ended at expiresAt");

    // The buyer's consent opens the buyer's side of the same orders; a revocation closes it.
    c.exec(addr("buyer"), to, C::grantCall { financier: addr("financier"), expiresAt: c.now + DAY, requestId: u(0) })
        .expect("buyer consents");
    assert_eq!(read_order(&mut c, addr("financier"), id), Ok(()));
    c.exec(addr("buyer"), to, C::revokeCall { financier: addr("financier") }).expect("revoked");
    assert!(refused(&mut c, addr("financier"), id), "a revoked consent reads nothing");

    // A consent of someone who is no party to the order opens nothing of it.
    c.exec(
        addr("stranger_trader"),
        to,
        C::grantCall { financier: addr("financier"), expiresAt: c.now + DAY, requestId: u(0) },
    )
    .expect("stranger consents");
    assert!(refused(&mut c, addr("financier"), id));
}

#[test]
fn an_offer_opens_nothing_but_an_accepted_financing_keeps_its_financier_reading() {
    let mut c = TestChain::without_consents();
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.consent("seller", "financier");
    let fid = offer(&mut c, "financier", id, 9_000_000).expect("offered under consent");
    let to = c.suite.consents;
    c.exec(addr("seller"), to, C::revokeCall { financier: addr("financier") }).expect("revoked");
    assert!(refused(&mut c, addr("financier"), id), "a pending offer is no right to read the order");
    let rc = c.suite.receivables;
    c.exec(addr("seller"), rc, R::acceptCall { financingId: u(fid) }).expect("the seller takes the offer");
    assert_eq!(read_order(&mut c, addr("financier"), id), Ok(()), "it finances the order: it reads it");
    assert!(refused(&mut c, addr("financier2"), id));
}

/// The attack: a financier no firm let in simulates offers, for free, to learn an order's
/// state, its amounts (an advance above the milestone is refused naming the milestone's
/// amount) and whether it is financed. Every such offer gets the same refusal.
#[test]
fn an_offer_without_consent_tells_nothing_about_the_order() {
    let mut c = TestChain::without_consents();
    let committed = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    let proposed = c.propose(terms(c.now), vec![share(10_000, bit(INVOICE), 0)]).expect("proposed");
    let financed = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.consent("seller", "financier2");
    let fid = offer(&mut c, "financier2", financed, 5_000_000).expect("offer");
    let rc = c.suite.receivables;
    c.exec(addr("seller"), rc, R::acceptCall { financingId: u(fid) }).expect("reserved");

    let mut answers = Vec::new();
    for (order, advance) in [(committed, 1), (committed, u128::MAX), (proposed, 1), (financed, 1)] {
        match offer(&mut c, "financier", order, advance) {
            Err(Failure::Custom(r)) => answers.push((r.name, r.args)),
            other => panic!("an offer without consent on order {order}: {other:?}"),
        }
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "the refusals differ: {answers:?}");
    assert_eq!(answers[0].0, "NotEntitled");
    // Payables are offered to the buyer: the seller's consent does not stand in for it.
    c.consent("seller", "financier");
    let call = R::offerPayablesFinanceCall {
        orderId: u(committed),
        milestone: u(0),
        extraDays: 30,
        feeBps: 100,
        deadlineDays: 5,
        fps: Fingerprints { invoice: h("inv"), documents: vec![] },
        near: NearKeys::NONE,
    };
    c.expect_revert(addr("financier"), rc, call.clone(), "NotEntitled");
    c.consent("buyer", "financier");
    c.exec(addr("financier"), rc, call).expect("with the buyer's consent");
}

#[test]
fn a_financing_is_read_by_its_financier_firm_and_order_parties_not_by_a_rival() {
    let mut c = TestChain::with_members();
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    let fid = offer(&mut c, "financier", id, 9_000_000).expect("offered");
    let rc = c.suite.receivables;
    let operator = c.operator;
    for who in [addr("financier"), addr("seller"), addr("buyer"), addr("buyer_bank"), addr("seller_bank"), operator] {
        c.view_as(who, rc, R::getFinancingCall { financingId: u(fid) }).expect("entitled reads the financing");
        c.view_as(who, rc, R::fingerprintsOfCall { financingId: u(fid) }).expect("and its fingerprints");
    }
    // financier2 holds the seller's consent, so it reads the order, not a rival's terms.
    assert_eq!(read_order(&mut c, addr("financier2"), id), Ok(()));
    for who in [addr("financier2"), addr("carrier"), addr("stranger_trader"), addr("nobody")] {
        for failure in [
            c.view_as(who, rc, R::getFinancingCall { financingId: u(fid) }).err(),
            c.view_as(who, rc, R::fingerprintsOfCall { financingId: u(fid) }).err(),
        ] {
            assert!(matches!(failure, Some(Failure::Custom(ref r)) if r.name == "NotEntitled"), "{who}: {failure:?}");
        }
    }
    // Whether a financier finances an order is its own business.
    let ask = |who: &str| R::financesOrderCall { orderId: u(id), financier: addr(who) };
    assert!(
        matches!(c.view_as(addr("financier2"), rc, ask("financier")), Err(Failure::Custom(r)) if r.name == "NotEntitled")
    );
    assert_eq!(c.view_as(addr("financier"), rc, ask("financier")).ok(), Some(false), "offered, not accepted");
    // Whether a receivable is held by a financing: for those who see the order.
    c.exec(addr("seller"), rc, R::acceptCall { financingId: u(fid) }).expect("reserved");
    let held = R::financingOfCall { orderId: u(id), milestone: u(0) };
    assert_eq!(c.view_as(addr("buyer_bank"), rc, held.clone()).ok(), Some(u(fid)));
    assert!(matches!(c.view_as(addr("stranger_trader"), rc, held), Err(Failure::Custom(r)) if r.name == "NotEntitled"));
}

#[test]
fn a_consent_is_the_business_of_its_firm_and_financier() {
    let mut c = TestChain::without_consents();
    let to = c.suite.consents;
    let req = c
        .exec(addr("financier"), to, C::requestVerificationCall { firm: addr("seller"), purpose: "credit line".into() })
        .expect("requested");
    c.consent("seller", "financier");
    let operator = c.operator;
    for who in [addr("seller"), addr("financier"), operator] {
        assert!(
            c.view_as(who, to, C::hasConsentCall { firm: addr("seller"), financier: addr("financier") })
                .expect("reads")
        );
        c.view_as(who, to, C::consentOfCall { firm: addr("seller"), financier: addr("financier") }).expect("reads");
        c.view_as(who, to, C::getRequestCall { requestId: req }).expect("reads");
    }
    for who in [addr("financier2"), addr("buyer"), addr("nobody")] {
        let refusals = [
            c.view_as(who, to, C::hasConsentCall { firm: addr("seller"), financier: addr("financier") }).err(),
            c.view_as(who, to, C::consentOfCall { firm: addr("seller"), financier: addr("financier") })
                .map(|_| ())
                .err(),
            c.view_as(who, to, C::getRequestCall { requestId: req }).map(|_| ()).err(),
        ];
        for r in refusals {
            assert!(matches!(r, Some(Failure::Custom(ref e)) if e.name == "NotEntitled"), "{who}: {r:?}");
        }
    }
}

#[test]
fn nobody_learns_who_is_party_to_an_order_by_asking() {
    let mut c = TestChain::with_members();
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    let to = c.suite.trade_orders;
    let ask = |who: &str| T::mayViewCall { orderId: u(id), who: addr(who) };
    let refusal = c.view_as(addr("stranger_trader"), to, ask("buyer"));
    assert!(matches!(refusal, Err(Failure::Custom(r)) if r.name == "NotEntitled"), "asked about another");
    assert_eq!(c.view_as(addr("stranger_trader"), to, ask("stranger_trader")).ok(), Some(false));
    assert_eq!(c.view_as(addr("buyer"), to, ask("buyer")).ok(), Some(true));
    let operator = c.operator;
    assert_eq!(c.view_as(operator, to, ask("seller_bank")).ok(), Some(true));
    let missing = T::mayViewCall { orderId: u(999), who: addr("buyer") };
    assert_eq!(c.view_as(addr("buyer"), to, missing).ok(), Some(false), "no such order: false, not a revert");
}

#[test]
fn the_links_between_the_contracts_are_made_once_by_the_operator() {
    let mut c = TestChain::with_members();
    let (to, cn, operator) = (c.suite.trade_orders, c.suite.consents, c.operator);
    let rogue: Address = addr("rogue consents");
    c.expect_revert(addr("buyer"), to, T::setLinksCall { receivables_: rogue, consents_: rogue }, "MissingRole");
    c.expect_revert(operator, to, T::setLinksCall { receivables_: rogue, consents_: rogue }, "AlreadyLinked");
    let readers = C::setReadersCall { orders_: rogue, receivables_: rogue };
    c.expect_revert(addr("buyer"), cn, readers.clone(), "MissingRole");
    c.expect_revert(operator, cn, readers, "AlreadyLinked");
    assert_eq!(c.view(to, T::consentsCall {}), cn);
}
