//! Scenarios played against a running node given by URL (`Options::url`): the same
//! timelines as on a fresh embedded platform, twice on one node (the parties of each run
//! are new organisations there), with the banks' settlement workers signing through the
//! node. The node here is an embedded platform served on loopback, reached only over HTTP.

use std::path::{Path, PathBuf};

use tradechain_scenarios::embedded::Embedded;
use tradechain_scenarios::{Error, Options, play_file};

fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{name}.toml"))
}

/// The timeline reviewed in `play.rs`'s snapshot of `name`.
fn reviewed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/play__{name}.snap"));
    let snap = std::fs::read_to_string(&path).expect("reviewed snapshot");
    // The snapshot's header is a front matter between two `---` lines.
    let body = snap.splitn(3, "---\n").nth(2).expect("snapshot body");
    normalise(body)
}

/// Hide what differs between nodes and runs: addresses and hashes, and order numbers (a
/// node that already holds orders numbers new ones after them).
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let hex = rest.find("0x");
        let num = rest.find("(#");
        let Some(i) = [hex, num].into_iter().flatten().min() else { break };
        out.push_str(&rest[..i]);
        if Some(i) == num {
            let tail = &rest[i + 2..];
            let n = tail.find(|c: char| !c.is_ascii_digit()).unwrap_or(tail.len());
            out.push_str("(#N");
            rest = &tail[n..];
        } else {
            let tail = &rest[i + 2..];
            let n = tail.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(tail.len());
            out.push_str(if n >= 8 { "[hex]" } else { &rest[i..i + 2 + n] });
            rest = &tail[n..];
        }
    }
    out.push_str(rest);
    out.trim_end().to_string()
}

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

#[test]
fn normalising_hides_hex_and_order_numbers_only() {
    assert_eq!(normalise("order o (#12): paid 0xdeadbeefdeadbeef 0x12 #3"), "order o (#N): paid [hex] 0x12 #3");
}
