//! Consortium: the operator onboards, re-roles, suspends and reinstates organisations, and
//! a suspended organisation can do nothing anywhere in the suite.

use test_support::evm::*;
use tradechain_contracts::Consortium::*;
use tradechain_contracts::TradeOrders;
use tradechain_contracts::role;

#[test]
fn operator_onboards_organisations_with_roles() {
    let mut c = TestChain::new();
    let (op, to) = (c.operator, c.suite.consortium);
    c.exec(op, to, registerCall { account: addr("acme"), name: "Acme Coffee Ltda".into(), roles: role::TRADER })
        .unwrap();
    let ev = c.events::<OrganisationRegistered>();
    assert_eq!((ev[0].account, ev[0].roles, ev[0].name.as_str()), (addr("acme"), role::TRADER, "Acme Coffee Ltda"));
    assert!(c.view(to, hasRoleCall { account: addr("acme"), role: role::TRADER }));
    assert!(!c.view(to, hasRoleCall { account: addr("acme"), role: role::BANK }));
    assert_eq!(c.view(to, organisationCountCall {}), u(2));
    c.exec(op, to, setRolesCall { account: addr("acme"), roles: role::TRADER | role::FINANCIER }).unwrap();
    assert!(c.view(to, hasRoleCall { account: addr("acme"), role: role::FINANCIER }));
}

#[test]
fn registration_is_checked() {
    let mut c = TestChain::new();
    let (op, to) = (c.operator, c.suite.consortium);
    let reg = |who: &str, name: &str, roles| registerCall { account: addr(who), name: name.into(), roles };
    c.expect_revert(addr("acme"), to, reg("acme", "Acme", role::TRADER), "NotOperator");
    c.expect_revert(op, to, reg("acme", "", role::TRADER), "EmptyName");
    c.expect_revert(op, to, reg("acme", "Acme", 0), "InvalidRoles");
    c.expect_revert(op, to, reg("acme", "Acme", 1 << 6), "InvalidRoles");
    c.expect_revert(
        op,
        to,
        registerCall { account: alloy::primitives::Address::ZERO, name: "z".into(), roles: 1 },
        "ZeroAddress",
    );
    c.exec(op, to, reg("acme", "Acme", role::TRADER)).unwrap();
    c.expect_revert(op, to, reg("acme", "Acme again", role::TRADER), "AlreadyRegistered");
    c.expect_revert(op, to, setRolesCall { account: addr("ghost"), roles: 1 }, "UnknownOrganisation");
    c.expect_revert(op, to, setRolesCall { account: op, roles: role::TRADER }, "CannotSuspendSelf");
    c.expect_revert(op, to, suspendCall { account: op, reason: "oops".into() }, "CannotSuspendSelf");
}

#[test]
fn suspended_organisation_can_do_nothing_until_reinstated() {
    let mut c = TestChain::with_members();
    let (op, to) = (c.operator, c.suite.consortium);
    let orders = c.suite.trade_orders;
    let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
    c.exec(op, to, suspendCall { account: addr("seller"), reason: "KYC review".into() }).unwrap();
    assert_eq!(c.events::<OrganisationSuspended>()[0].reason, "KYC review");
    c.expect_revert(op, to, suspendCall { account: addr("seller"), reason: "again".into() }, "OrganisationIsSuspended");
    c.expect_revert(
        addr("seller"),
        orders,
        TradeOrders::submitDocumentCall { orderId: u(id), docType: INVOICE, hash: h("inv"), uri: String::new() },
        "OrganisationIsSuspended",
    );
    // Nor can anyone open a new order with it.
    let err = c.propose(terms(c.now), vec![share(10_000, bit(INVOICE), 0)]).unwrap_err();
    assert_eq!(err.name(), "OrganisationIsSuspended");
    // A suspended bank cannot examine either.
    c.exec(op, to, reinstateCall { account: addr("seller") }).unwrap();
    c.submit(id, INVOICE, "inv");
    c.exec(op, to, suspendCall { account: addr("buyer_bank"), reason: "licence".into() }).unwrap();
    c.expect_revert(
        addr("buyer_bank"),
        orders,
        TradeOrders::acceptDocumentCall { orderId: u(id), docType: INVOICE },
        "OrganisationIsSuspended",
    );
    c.exec(op, to, reinstateCall { account: addr("buyer_bank") }).unwrap();
    c.exec(addr("buyer_bank"), orders, TradeOrders::acceptDocumentCall { orderId: u(id), docType: INVOICE }).unwrap();
    c.expect_revert(op, to, reinstateCall { account: addr("buyer_bank") }, "InvalidState");
    // A suspended operator is no operator.
    c.register("op2", role::OPERATOR);
    c.exec(op, to, suspendCall { account: addr("op2"), reason: "left".into() }).unwrap();
    c.expect_revert(addr("op2"), to, reinstateCall { account: addr("op2") }, "NotOperator");
}
