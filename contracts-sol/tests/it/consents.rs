//! Consents: a firm grants, declines and revokes a financier's access to its history, and
//! every verification request is an event.

use test_support::evm::*;
use tradechain_contracts::Consents::*;
use tradechain_contracts::Consortium;

fn has(c: &mut TestChain, firm: &str, financier: &str) -> bool {
    let to = c.suite.consents;
    c.view(to, hasConsentCall { firm: addr(firm), financier: addr(financier) })
}

#[test]
fn financier_requests_firm_grants_until_expiry() {
    let mut c = TestChain::without_consents();
    let to = c.suite.consents;
    let req = c
        .exec(addr("financier"), to, requestVerificationCall { firm: addr("seller"), purpose: "credit line".into() })
        .unwrap();
    let ev = c.events::<VerificationRequested>();
    assert_eq!((ev[0].requestId, ev[0].financier, ev[0].firm), (req, addr("financier"), addr("seller")));
    assert!(!has(&mut c, "seller", "financier"));
    c.expect_revert(
        addr("buyer"),
        to,
        grantCall { financier: addr("financier"), expiresAt: c.now + 30 * DAY, requestId: req },
        "NotRequestedFirm",
    );
    c.exec(addr("seller"), to, grantCall { financier: addr("financier"), expiresAt: c.now + 30 * DAY, requestId: req })
        .unwrap();
    assert!(has(&mut c, "seller", "financier"));
    assert!(!has(&mut c, "seller", "financier2"), "consent is per financier");
    c.expect_revert(
        addr("seller"),
        to,
        grantCall { financier: addr("financier"), expiresAt: c.now + DAY, requestId: req },
        "RequestAlreadyAnswered",
    );
    c.advance_days(30);
    assert!(!has(&mut c, "seller", "financier"), "expired");
}

#[test]
fn firm_revokes_at_any_time_and_declines_requests() {
    let mut c = TestChain::without_consents();
    let to = c.suite.consents;
    c.exec(
        addr("seller"),
        to,
        grantCall { financier: addr("financier"), expiresAt: c.now + 90 * DAY, requestId: u(0) },
    )
    .unwrap();
    assert!(has(&mut c, "seller", "financier"));
    c.exec(addr("seller"), to, revokeCall { financier: addr("financier") }).unwrap();
    assert_eq!(c.events::<ConsentRevoked>().len(), 1);
    assert!(!has(&mut c, "seller", "financier"));
    c.expect_revert(addr("seller"), to, revokeCall { financier: addr("financier") }, "NoLiveConsent");
    // A suspended firm can still take access away.
    c.exec(addr("seller"), to, grantCall { financier: addr("financier"), expiresAt: c.now + DAY, requestId: u(0) })
        .unwrap();
    let (op, cons) = (c.operator, c.suite.consortium);
    c.exec(op, cons, Consortium::suspendCall { account: addr("seller"), reason: "review".into() }).unwrap();
    c.exec(addr("seller"), to, revokeCall { financier: addr("financier") }).unwrap();

    let req = c
        .exec(addr("financier2"), to, requestVerificationCall { firm: addr("buyer"), purpose: "loan".into() })
        .unwrap();
    c.expect_revert(addr("seller"), to, declineCall { requestId: req }, "NotRequestedFirm");
    c.exec(addr("buyer"), to, declineCall { requestId: req }).unwrap();
    assert_eq!(c.events::<VerificationDeclined>()[0].financier, addr("financier2"));
    c.expect_revert(addr("buyer"), to, declineCall { requestId: req }, "RequestAlreadyAnswered");
    c.expect_revert(addr("buyer"), to, declineCall { requestId: u(99) }, "RequestNotFound");
}

#[test]
fn consent_calls_are_checked() {
    let mut c = TestChain::without_consents();
    let to = c.suite.consents;
    c.expect_revert(
        addr("buyer"),
        to,
        requestVerificationCall { firm: addr("seller"), purpose: "x".into() },
        "MissingRole",
    );
    c.expect_revert(
        addr("financier"),
        to,
        requestVerificationCall { firm: addr("seller"), purpose: String::new() },
        "InvalidReason",
    );
    c.expect_revert(
        addr("financier"),
        to,
        requestVerificationCall { firm: addr("buyer_bank"), purpose: "x".into() },
        "MissingRole",
    );
    let g = |exp| grantCall { financier: addr("financier"), expiresAt: exp, requestId: u(0) };
    c.expect_revert(addr("seller"), to, g(c.now), "InvalidExpiry");
    c.expect_revert(addr("seller"), to, g(c.now + 731 * DAY), "InvalidExpiry");
    c.expect_revert(
        addr("seller"),
        to,
        grantCall { financier: addr("buyer"), expiresAt: c.now + DAY, requestId: u(0) },
        "MissingRole",
    );
    c.expect_revert(addr("financier"), to, g(c.now + DAY), "MissingRole");
}
