//! Scenarios played against a running node given by URL (`Options::url`): the same
//! timelines as on a fresh embedded platform, twice on one node (the parties of each run
//! are new organisations there), with the banks' settlement workers signing through the
//! node. The node here is an embedded platform served on loopback, reached only over HTTP.

use crate::common::{file, normalise, reviewed};
use tradechain_scenarios::embedded::Embedded;
use tradechain_scenarios::{Error, Options, play_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_play_on_a_running_node_by_url_with_the_embedded_outcomes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Embedded::start(dir.path()).await.expect("node");
    let options = Options {
        url: Some(node.base.clone()),
        operator_token: Some(node.operator_token.clone()),
        ..Options::default()
    };
    for round in 1..=2 {
        for name in ["coffee-at-sight", "bank-outage", "receivable-assigned"] {
            let played = match play_file(&file(name), &options).await {
                Ok(p) => p,
                Err(e) => panic!("{name}, round {round}: {e}"),
            };
            assert_eq!(normalise(&played.timeline), reviewed(name), "{name}, round {round}");
        }
    }
}

#[tokio::test]
async fn a_running_node_needs_its_operator_token() {
    let options = Options { url: Some("http://127.0.0.1:9".into()), ..Options::default() };
    match play_file(&file("coffee-at-sight"), &options).await {
        Err(Error::Platform(m)) => assert!(m.contains("operator API token"), "{m}"),
        other => panic!("expected a clear error, got {other:?}"),
    }
}
