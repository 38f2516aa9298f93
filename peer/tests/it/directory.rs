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

/// The directory as the Consortium contract keeps it, read from a chain (the embedded
/// one here): members register nodes, the operator approves two, organisations choose,
/// one owner is suspended; the recipients follow.
#[tokio::test(flavor = "multi_thread")]
async fn the_directory_is_read_from_the_chain() {
    use alloy::signers::local::PrivateKeySigner;
    use alloy::sol_types::SolCall;
    use tradechain_chain::embedded::EmbeddedChain;
    use tradechain_chain::transaction::{Sender, TxRequest};
    use tradechain_contracts::genesis::{SuiteAddresses, plan};
    use tradechain_contracts::{Consortium, role};
    use tradechain_engine::{GenesisCall, Node, NodeConfig};

    let tmp = tempfile::tempdir().expect("tmp");
    let config = NodeConfig::dev_in(tmp.path().join("chain"));
    let operator: PrivateKeySigner = tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("dev key");
    let genesis = plan(operator.address()).into_iter().map(|c| GenesisCall { to: c.to, input: c.input }).collect();
    let chain = EmbeddedChain::new(Node::open(config, genesis).expect("node"));
    let consortium = SuiteAddresses::for_operator(operator.address()).consortium;
    let sender = Sender::new();
    let send = |who: PrivateKeySigner, input: Vec<u8>| {
        let (chain, sender) = (chain.clone(), &sender);
        async move {
            let r = sender.send(chain.as_ref(), &who, &TxRequest::call(consortium, input.into())).await.expect("sent");
            assert!(r.success, "succeeded");
        }
    };
    let key = |n: u8| PrivateKeySigner::from_bytes(&[n; 32].into()).expect("key");
    let (bank_a, bank_b, bank_c, exporter, importer) = (key(1), key(2), key(3), key(4), key(5));
    for (k, roles) in [(&bank_a, role::BANK), (&bank_b, role::BANK), (&bank_c, role::BANK)]
        .into_iter()
        .chain([(&exporter, role::TRADER), (&importer, role::TRADER)])
    {
        let call = Consortium::registerCall { account: k.address(), name: format!("member {}", k.address()), roles };
        send(operator.clone(), call.abi_encode()).await;
    }
    for (k, url) in [(&bank_a, "https://a.example"), (&bank_b, "https://b.example"), (&bank_c, "https://c.example")] {
        let call = Consortium::registerNodeCall { endpoint: url.into(), encryptionKey: [k.address()[0]; 32].into() };
        send(k.clone(), call.abi_encode()).await;
    }
    for id in [1u64, 2] {
        send(operator.clone(), Consortium::approveNodeCall { nodeId: alloy::primitives::U256::from(id) }.abi_encode())
            .await;
    }
    let choose = |id: u64| Consortium::chooseNodeCall { nodeId: alloy::primitives::U256::from(id) }.abi_encode();
    send(exporter.clone(), choose(1)).await;
    send(bank_a.clone(), choose(1)).await;
    send(importer.clone(), choose(2)).await;

    let parties = [exporter.address(), bank_a.address(), importer.address(), bank_b.address()];
    let d = tradechain_peer::directory::load(chain.as_ref(), consortium, &parties).await.expect("loaded");
    assert_eq!(d.nodes.len(), 3);
    assert_eq!(d.nodes[&1].endpoint, "https://a.example");
    assert!(!d.nodes[&3].approved, "node 3 was never approved");
    assert_eq!(d.node_of.get(&bank_b.address()), None, "bank B chose no node");
    assert_eq!(ids(&d.recipients(&parties, 1)), [2]);
    assert_eq!(ids(&d.recipients(&parties, 2)), [1]);
    // Node 1 compromised: the operator revokes it, and node 2 sends it nothing more.
    let revoke = Consortium::revokeNodeCall { nodeId: alloy::primitives::U256::from(1), reason: "key leaked".into() };
    send(operator.clone(), revoke.abi_encode()).await;
    let d = tradechain_peer::directory::load(chain.as_ref(), consortium, &parties).await.expect("loaded");
    assert!(d.recipients(&parties, 2).is_empty());
    send(operator.clone(), Consortium::approveNodeCall { nodeId: alloy::primitives::U256::from(1) }.abi_encode()).await;
    // Bank B's member suspended: its node receives nothing any more.
    let suspend = Consortium::suspendCall { account: bank_b.address(), reason: "licence".into() };
    send(operator.clone(), suspend.abi_encode()).await;
    let d = tradechain_peer::directory::load(chain.as_ref(), consortium, &parties).await.expect("loaded");
    assert!(!d.nodes[&2].owner_active);
    assert!(d.recipients(&parties, 1).is_empty());
}
