//! Who receives an order's private data, attacked: a node that serves no entitled
//! organisation, an unapproved node, a suspended member's node, the sender itself.

use alloy_primitives::Address;
use tradechain_peer::directory::{Directory, DirectoryNode};

fn org(n: u8) -> Address {
    Address::repeat_byte(n)
}

fn node(id: u64, approved: bool, owner_active: bool) -> DirectoryNode {
    DirectoryNode {
        id,
        owner: org(0xb0 + u8::try_from(id).expect("small id")),
        endpoint: format!("https://node{id}.example/peer"),
        encryption_key: [u8::try_from(id).expect("small id"); 32],
        approved,
        owner_active,
    }
}

const EXPORTER: u8 = 1;
const EXPORTER_BANK: u8 = 2;
const IMPORTER: u8 = 3;
const IMPORTER_BANK: u8 = 4;
const CARRIER: u8 = 5;
const FINANCIER: u8 = 6;
const UNRELATED: u8 = 7;

/// Node 1 serves the exporter and its bank, node 2 the importer and its bank, node 3 a
/// financier and an unrelated trader (the three members); node 4 the carrier.
fn consortium() -> Directory {
    let mut d = Directory::default();
    for n in [node(1, true, true), node(2, true, true), node(3, true, true), node(4, true, true)] {
        d.nodes.insert(n.id, n);
    }
    for (o, n) in [(EXPORTER, 1), (EXPORTER_BANK, 1), (IMPORTER, 2), (IMPORTER_BANK, 2), (FINANCIER, 3), (UNRELATED, 3)]
    {
        d.node_of.insert(org(o), n);
    }
    d.node_of.insert(org(CARRIER), 4);
    d
}

fn ids(nodes: &[&DirectoryNode]) -> Vec<u64> {
    nodes.iter().map(|n| n.id).collect()
}

fn parties() -> Vec<Address> {
    [EXPORTER, EXPORTER_BANK, IMPORTER, IMPORTER_BANK, CARRIER].map(org).to_vec()
}

#[test]
fn an_orders_data_goes_to_its_parties_nodes_once_and_not_back_to_the_sender() {
    let d = consortium();
    assert_eq!(ids(&d.recipients(&parties(), 1)), [2, 4], "node 1 sends to the importer's and the carrier's");
    assert_eq!(ids(&d.recipients(&parties(), 2)), [1, 4]);
    // Two parties on one node: one delivery.
    assert_eq!(ids(&d.recipients(&[org(IMPORTER), org(IMPORTER_BANK)], 1)), [2]);
}

/// Node 3 serves a financier and a trader with no part in the order: it receives nothing,
/// and refuses what it is sent for that order.
#[test]
fn a_node_serving_no_entitled_organisation_receives_nothing() {
    let d = consortium();
    assert!(!ids(&d.recipients(&parties(), 1)).contains(&3));
    assert!(!d.serves_any(3, &parties()));
    assert!(d.serves_any(2, &parties()));
    // With the financier's live consent the financier is entitled, and its node receives.
    let mut entitled = parties();
    entitled.push(org(FINANCIER));
    assert_eq!(ids(&d.recipients(&entitled, 1)), [2, 3, 4]);
}

/// A node the operator has not approved, or whose member is suspended, receives nothing
/// even if an entitled organisation chose it; an organisation with no node is skipped.
#[test]
fn unapproved_or_suspended_nodes_and_unserved_organisations_receive_nothing() {
    let mut d = consortium();
    d.nodes.insert(2, node(2, false, true));
    assert_eq!(ids(&d.recipients(&parties(), 1)), [4]);
    d.nodes.insert(2, node(2, true, false));
    assert_eq!(ids(&d.recipients(&parties(), 1)), [4]);
    d.node_of.remove(&org(CARRIER));
    d.nodes.insert(2, node(2, true, true));
    assert_eq!(ids(&d.recipients(&parties(), 1)), [2]);
    // A choice naming a node missing from the directory sends nowhere.
    d.node_of.insert(org(CARRIER), 99);
    assert_eq!(ids(&d.recipients(&parties(), 1)), [2]);
}
