//! A scenario played across a consortium of member nodes: `coffee-three-nodes.toml` names
//! the node of each party (`node = "a"`), and the runner starts three tradechain nodes on
//! a Hardhat network of the test's own, each with its own read model and peer endpoint,
//! registers them in the directory and plays the trade through each party's own node. The
//! outcome is the embedded run's (its reviewed timeline, plus the line where the nodes join),
//! the order's details and bill of lading reach the exporter's and importer's nodes, and the
//! third node, whose firms have no part in the trade, holds none of it.

use sea_orm::{EntityTrait, PaginatorTrait};
use tradechain_api::readmodel::{document, document_file, order, order_detail, peer_receipt};
use tradechain_scenarios::{Options, play_on_network};

use crate::common::{file, normalise, reviewed};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coffee_plays_across_three_member_nodes_and_the_third_holds_none_of_it() {
    // Its own network: the scenarios beside it move the shared node's clock.
    let Some(hardhat) = test_support::hardhat::OwnHardhat::start() else { return };
    let scenario = tradechain_scenarios::load(&file("coffee-three-nodes")).expect("scenario");
    assert_eq!(scenario.nodes(), ["b", "a", "c"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let options = Options { network: Some(hardhat.url.clone()), ..Options::default() };
    let (played, consortium) =
        play_on_network(&scenario, &options, &hardhat.url, dir.path()).await.expect("plays across three nodes");

    let joined = "operator             approves the member nodes b, a, c; each party chooses the node that serves it";
    assert!(played.timeline.contains(joined), "{}", played.timeline);
    let without_join: String =
        played.timeline.lines().filter(|l| !l.contains(joined)).map(|l| format!("{l}\n")).collect();
    assert_eq!(normalise(&without_join), reviewed("coffee-three-nodes"), "the embedded outcome");

    let [b, a, c] = [0, 1, 2].map(|i| &consortium.nodes[i].state);
    let coffee = order::Entity::find().all(&b.db).await.expect("db");
    assert_eq!(coffee.len(), 1);
    let details = coffee[0].details_hash.clone();
    let bill = document::Entity::find().all(&a.db).await.expect("db");
    assert_eq!(bill.len(), 1, "the bill of lading, presented at a");
    let bill = bill[0].hash.clone();
    for (name, node) in [("a", a), ("b", b)] {
        assert!(order_detail::Entity::find_by_id(details.clone()).one(&node.db).await.expect("db").is_some(), "{name}");
        assert!(document_file::Entity::find_by_id(bill.clone()).one(&node.db).await.expect("db").is_some(), "{name}");
    }
    assert!(order_detail::Entity::find_by_id(details).one(&c.db).await.expect("db").is_none(), "c: no details");
    assert_eq!(document_file::Entity::find().count(&c.db).await.expect("db"), 0, "c: no document");
    assert_eq!(peer_receipt::Entity::find().count(&c.db).await.expect("db"), 0, "c was sent nothing");
    let files = std::fs::read_dir(dir.path().join("c/api/files")).expect("c's files").count();
    assert_eq!(files, 0, "c's disk holds no document");
}
