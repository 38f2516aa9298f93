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

// ------------------------------------------------------------------ node directory

fn key(label: &str) -> alloy::primitives::B256 {
    h(label)
}

/// `owner` registers a node at `endpoint`; its id.
fn register_node(c: &mut TestChain, owner: &str, endpoint: &str) -> alloy::primitives::U256 {
    let to = c.suite.consortium;
    c.exec(addr(owner), to, registerNodeCall { endpoint: endpoint.into(), encryptionKey: key(owner) })
        .expect("registered");
    c.events::<NodeRegistered>().last().expect("registered").nodeId
}

/// Who a node serves is each organisation's own choice, never the node's claim: a bank
/// registering a node cannot make it the node of a firm (which would send it that firm's
/// private data), nor choose an unapproved node for anyone, nor for anyone but itself.
#[test]
fn a_node_serves_only_organisations_that_chose_it_and_only_once_approved() {
    let mut c = TestChain::with_members();
    let (op, to) = (c.operator, c.suite.consortium);
    let node = register_node(&mut c, "buyer_bank", "https://node.buyer-bank.example/peer");
    assert_eq!(c.view(to, nodeCountCall {}), u(1));
    // Nobody may choose it before the operator approves it; the owner cannot approve it.
    c.expect_revert(addr("buyer"), to, chooseNodeCall { nodeId: node }, "NodeNotApproved");
    c.expect_revert(addr("buyer_bank"), to, approveNodeCall { nodeId: node }, "NotOperator");
    c.exec(op, to, approveNodeCall { nodeId: node }).unwrap();
    c.expect_revert(op, to, approveNodeCall { nodeId: node }, "NodeAlreadyApproved");
    // Approved, it still serves nobody: not even its owner, until chosen.
    assert_eq!(c.view(to, nodeOfCall { organisation: addr("buyer") }), u(0));
    assert_eq!(c.view(to, nodeOfCall { organisation: addr("buyer_bank") }), u(0));
    c.exec(addr("buyer"), to, chooseNodeCall { nodeId: node }).unwrap();
    let chosen = c.events::<NodeChosen>();
    assert_eq!((chosen[0].organisation, chosen[0].nodeId), (addr("buyer"), node));
    assert_eq!(c.view(to, nodeOfCall { organisation: addr("buyer") }), node);
    // The seller's choice is untouched by anything the buyer or its bank did.
    assert_eq!(c.view(to, nodeOfCall { organisation: addr("seller") }), u(0));
    // A firm leaves its bank's node (0: none).
    c.exec(addr("buyer"), to, chooseNodeCall { nodeId: u(0) }).unwrap();
    assert_eq!(c.view(to, nodeOfCall { organisation: addr("buyer") }), u(0));
    c.expect_revert(addr("buyer"), to, chooseNodeCall { nodeId: u(7) }, "UnknownNode");
    // A stranger to the consortium neither registers nor chooses a node.
    c.expect_revert(
        addr("stranger"),
        to,
        registerNodeCall { endpoint: "https://evil.example".into(), encryptionKey: key("evil") },
        "UnknownOrganisation",
    );
    c.expect_revert(addr("stranger"), to, chooseNodeCall { nodeId: node }, "UnknownOrganisation");
}

/// Only the member that runs a node changes its key or endpoint (else another member
/// could redirect a bank's deliveries to itself, or encrypt them to its own key), and a
/// suspended member changes nothing.
#[test]
fn only_the_owner_rotates_a_nodes_key_or_moves_its_endpoint() {
    let mut c = TestChain::with_members();
    let (op, to) = (c.operator, c.suite.consortium);
    let node = register_node(&mut c, "seller_bank", "https://node.seller-bank.example");
    c.exec(op, to, approveNodeCall { nodeId: node }).unwrap();
    for thief in [addr("buyer_bank"), addr("seller"), op] {
        c.expect_revert(thief, to, rotateNodeKeyCall { nodeId: node, encryptionKey: key("thief") }, "NotNodeOwner");
        c.expect_revert(
            thief,
            to,
            setNodeEndpointCall { nodeId: node, endpoint: "https://thief.example".into() },
            "NotNodeOwner",
        );
    }
    let owner = addr("seller_bank");
    c.expect_revert(owner, to, rotateNodeKeyCall { nodeId: node, encryptionKey: key("seller_bank") }, "InvalidNodeKey");
    c.expect_revert(owner, to, rotateNodeKeyCall { nodeId: node, encryptionKey: Default::default() }, "InvalidNodeKey");
    c.exec(owner, to, rotateNodeKeyCall { nodeId: node, encryptionKey: key("rotated") }).unwrap();
    assert_eq!(c.events::<NodeKeyRotated>()[0].encryptionKey, key("rotated"));
    let n = c.view(to, nodeCall { nodeId: node });
    assert_eq!((n.owner, n.encryptionKey, n.approved), (owner, key("rotated"), true), "rotation keeps the approval");
    assert!(n.keyRotatedAt > 0);
    // A move sends the others' nodes somewhere new: it needs the operator's approval again
    // (else an approved member points them at an address inside their own networks).
    c.exec(owner, to, setNodeEndpointCall { nodeId: node, endpoint: "http://10.0.0.5:8650".into() }).unwrap();
    let n = c.view(to, nodeCall { nodeId: node });
    assert_eq!(
        (n.endpoint.as_str(), n.approved),
        ("http://10.0.0.5:8650", false),
        "a moved node is approved again first"
    );
    c.expect_revert(addr("seller"), to, chooseNodeCall { nodeId: node }, "NodeNotApproved");
    c.exec(op, to, approveNodeCall { nodeId: node }).unwrap();
    c.exec(addr("seller"), to, chooseNodeCall { nodeId: node }).unwrap();
    c.exec(owner, to, setNodeEndpointCall { nodeId: node, endpoint: "https://moved.seller-bank.example".into() })
        .unwrap();
    assert_eq!(c.view(to, nodeCall { nodeId: node }).endpoint, "https://moved.seller-bank.example");
    assert!(!c.view(to, nodeCall { nodeId: node }).approved);
    c.exec(op, to, approveNodeCall { nodeId: node }).unwrap();
    c.exec(op, to, suspendCall { account: owner, reason: "licence".into() }).unwrap();
    c.expect_revert(
        owner,
        to,
        rotateNodeKeyCall { nodeId: node, encryptionKey: key("late") },
        "OrganisationIsSuspended",
    );
}

/// Each side of the endpoint and key rules.
#[test]
fn a_node_needs_an_http_endpoint_of_at_most_200_bytes_and_a_key() {
    let mut c = TestChain::with_members();
    let to = c.suite.consortium;
    let reg = |endpoint: String, k: &str| registerNodeCall { endpoint, encryptionKey: key(k) };
    let bank = addr("buyer_bank");
    for bad in ["", "https://", "http://", "ftp://node.example", "node.example", "javascript:alert(1)"] {
        c.expect_revert(bank, to, reg(bad.into(), "k"), "InvalidEndpoint");
    }
    let long = format!("https://{}", "a".repeat(192)); // 200 bytes
    c.exec(bank, to, reg(long.clone(), "k")).unwrap();
    c.expect_revert(bank, to, reg(format!("{long}a"), "k"), "InvalidEndpoint");
    c.exec(bank, to, reg("http://10.0.0.7:8547".into(), "k2")).unwrap();
    c.expect_revert(
        bank,
        to,
        registerNodeCall { endpoint: "https://node.example".into(), encryptionKey: Default::default() },
        "InvalidNodeKey",
    );
    c.expect_revert(bank, to, nodeCall { nodeId: u(9) }, "UnknownNode");
}

/// A compromised node: the operator withdraws its approval; nobody may choose it, and it
/// is no longer approved in the directory (so no data goes to it); only the operator does
/// this, once, and may approve it again.
#[test]
fn the_operator_revokes_a_compromised_node() {
    let mut c = TestChain::with_members();
    let (op, to) = (c.operator, c.suite.consortium);
    let node = register_node(&mut c, "buyer_bank", "https://node.buyer-bank.example");
    c.expect_revert(op, to, revokeNodeCall { nodeId: node, reason: "key leaked".into() }, "NodeNotApproved");
    c.exec(op, to, approveNodeCall { nodeId: node }).unwrap();
    c.exec(addr("buyer"), to, chooseNodeCall { nodeId: node }).unwrap();
    for who in [addr("buyer_bank"), addr("buyer")] {
        c.expect_revert(who, to, revokeNodeCall { nodeId: node, reason: "no".into() }, "NotOperator");
    }
    c.exec(op, to, revokeNodeCall { nodeId: node, reason: "key leaked".into() }).unwrap();
    assert_eq!(c.events::<NodeRevoked>()[0].reason, "key leaked");
    assert!(!c.view(to, nodeCall { nodeId: node }).approved);
    c.expect_revert(addr("seller"), to, chooseNodeCall { nodeId: node }, "NodeNotApproved");
    c.expect_revert(op, to, revokeNodeCall { nodeId: node, reason: "again".into() }, "NodeNotApproved");
    c.expect_revert(op, to, revokeNodeCall { nodeId: u(5), reason: "ghost".into() }, "UnknownNode");
    c.exec(op, to, approveNodeCall { nodeId: node }).unwrap();
    assert!(c.view(to, nodeCall { nodeId: node }).approved, "approved again");
}

/// A member copies another node's key from the directory, to pass for that node or to have
/// deliveries meant for it sent to its own endpoint: one key, one node, at registration and
/// at rotation alike; a key rotated away is free again.
#[test]
fn a_nodes_key_cannot_be_copied_by_another_node() {
    let mut c = TestChain::with_members();
    let to = c.suite.consortium;
    let honest = register_node(&mut c, "seller_bank", "https://node.seller-bank.example");
    let copied = registerNodeCall { endpoint: "https://thief.example".into(), encryptionKey: key("seller_bank") };
    c.expect_revert(addr("buyer_bank"), to, copied.clone(), "NodeKeyInUse");
    // Nor by its own member, as a second node.
    c.expect_revert(addr("seller_bank"), to, copied, "NodeKeyInUse");
    let other = register_node(&mut c, "buyer_bank", "https://node.buyer-bank.example");
    c.expect_revert(
        addr("buyer_bank"),
        to,
        rotateNodeKeyCall { nodeId: other, encryptionKey: key("seller_bank") },
        "NodeKeyInUse",
    );
    // The honest node moves to a new key; its old one is free.
    c.exec(addr("seller_bank"), to, rotateNodeKeyCall { nodeId: honest, encryptionKey: key("rotated") }).unwrap();
    c.exec(addr("buyer_bank"), to, rotateNodeKeyCall { nodeId: other, encryptionKey: key("seller_bank") }).unwrap();
    assert_eq!(c.view(to, nodeCall { nodeId: other }).encryptionKey, key("seller_bank"));
    let rotated: Vec<_> = c.events::<NodeKeyRotated>().into_iter().map(|e| e.encryptionKey).collect();
    assert_eq!(rotated.last(), Some(&key("seller_bank")));
}
