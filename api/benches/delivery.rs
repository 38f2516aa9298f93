//! Private data between member nodes: how fast a document presented at one node reaches
//! the nodes entitled to it (release build):
//!
//! `cargo bench -p tradechain-api --bench delivery`
//!
//! Three member nodes on one chain (the embedded node; each member node its own API, read
//! model and peer endpoint, talking over loopback HTTP): A serves the exporter and its bank,
//! B the importer and its bank, C a financier the exporter lets see its trade. `BENCH_DOCS`
//! orders (default 200) are proposed at B, accepted at A, committed at B; then the exporter
//! presents a distinct document of `BENCH_DOC_KIB` KiB (default 200) on each at A,
//! `BENCH_UPLOADERS` at a time (default 4). Each must reach B (the importer's side) and C
//! (the consented financier): the figures are documents delivered to both per second, from
//! the first upload to the last delivery, and each document's latency from its upload's
//! acknowledgement to its being kept at both nodes (p50, p99, max).
//!
//! `BENCH_POLL_MS` (default 50) is each node's private-data poll interval. The planner
//! runs when its indexer indexes a block, not at the poll: a long interval
//! (`BENCH_POLL_MS=2000 BENCH_UPLOADERS=1 BENCH_DOCS=50`) leaves the latency as it was.

use std::time::{Duration, Instant};

use sea_orm::EntityTrait;
use serde_json::{Value, json};
use tradechain_api::config::ApiConfig;
use tradechain_api::readmodel::document_file;
use tradechain_api::{AppState, Platform, Serving};
use tradechain_chain::embedded::EmbeddedChain;
use tradechain_engine::{Node, NodeConfig};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A member node: its REST base, its operator token, its peer endpoint, its state.
struct Member {
    base: String,
    token: String,
    peer: String,
    state: AppState,
    /// Serves until the bench ends.
    _serving: Serving,
}

async fn member(platform: Platform) -> Member {
    let state = platform.state.clone();
    let peer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let serving = platform.spawn(listener, Some(peer_listener)).expect("serve");
    Member {
        base: serving.base.clone(),
        token: serving.operator_token.clone(),
        peer: serving.peer.clone().expect("peer"),
        state,
        _serving: serving,
    }
}

fn config(dir: &std::path::Path, name: &str, node: &NodeConfig) -> ApiConfig {
    let mut c = ApiConfig {
        data_dir: dir.join(name).join("api"),
        database_url: Some(format!("sqlite://{}?mode=rwc", dir.join(format!("{name}.sqlite")).display())),
        ..ApiConfig::for_node(node)
    };
    c.peer.poll_interval_ms = u64::try_from(env("BENCH_POLL_MS", 50)).unwrap_or(50);
    c.peer.retry_max_ms = 500;
    c
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, token: &str, body: Value) -> Value {
    let res = http
        .request(method, url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status();
    let v: Value = serde_json::from_slice(&res.bytes().await.expect("body")).unwrap_or_default();
    assert!(status.is_success(), "{status}: {v}");
    v
}

async fn onboard(http: &reqwest::Client, m: &Member, name: &str, role: &str) -> (String, String) {
    let body = json!({ "name": name, "roles": [role] });
    let v = call(http, reqwest::Method::POST, format!("{}/v1/organisations", m.base), &m.token, body).await;
    (v["organisation"]["address"].as_str().expect("address").into(), v["token"].as_str().expect("token").into())
}

/// `owner` registers node `m`, the operator approves it, each of `served` chooses it.
async fn join(http: &reqwest::Client, m: &Member, owner: &str, served: &[&str]) {
    let v =
        call(http, reqwest::Method::POST, format!("{}/v1/nodes", m.base), owner, json!({ "endpoint": m.peer })).await;
    let id = v["id"].as_u64().expect("id");
    call(http, reqwest::Method::POST, format!("{}/v1/nodes/{id}/approve", m.base), &m.token, json!({})).await;
    for token in served {
        let url = format!("{}/v1/organisations/me/node", m.base);
        call(http, reqwest::Method::PUT, url, token, json!({ "node_id": id })).await;
    }
}

/// A PDF of `kib` KiB, different for each `n`, with nothing in it that reads as HTML.
fn document(n: usize, kib: usize) -> Vec<u8> {
    let mut doc = format!("%PDF-1.7\n% commercial invoice {n}\n").into_bytes();
    let line = format!("% line item {n:08} green coffee 0123456789 abcdefghijklmnopqrstuvwxyz\n");
    while doc.len() + line.len() + 6 < kib * 1024 {
        doc.extend_from_slice(line.as_bytes());
    }
    doc.extend_from_slice(b"%%EOF\n");
    doc
}

/// The documents a node keeps, by hash.
async fn kept(state: &AppState) -> std::collections::HashSet<String> {
    document_file::Entity::find()
        .all(&state.db)
        .await
        .map(|rows| rows.into_iter().map(|r| r.hash).collect())
        .unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[allow(clippy::too_many_lines)]
fn main() {
    let docs = env("BENCH_DOCS", 200);
    let kib = env("BENCH_DOC_KIB", 200);
    let uploaders = env("BENCH_UPLOADERS", 4).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("tempdir");
        let node_config = NodeConfig::dev_in(dir.path().join("chain"));
        let node = Node::open(node_config.clone(), test_support::api::genesis(&node_config)).expect("node");
        let operator = ApiConfig::for_node(&node_config).operator_signer(&node_config).expect("operator");
        let (ca, cb, cc) =
            (config(dir.path(), "a", &node_config), config(dir.path(), "b", &node_config), config(dir.path(), "c", &node_config));
        let a = member(Platform::start(node.clone(), ca.clone()).await.expect("A")).await;
        let chain = || -> std::sync::Arc<dyn tradechain_chain::Chain> { EmbeddedChain::new(node.clone()) };
        let b = member(Platform::start_with_chain(chain(), operator.clone(), cb.clone()).await.expect("B")).await;
        let c = member(Platform::start_with_chain(chain(), operator.clone(), cc.clone()).await.expect("C")).await;
        let http = reqwest::Client::new();

        let (seller, seller_t) = onboard(&http, &a, "Fazenda Boa Vista", "trader").await;
        let (seller_bank, seller_bank_t) = onboard(&http, &a, "Banco do Cafe", "bank").await;
        let (_, buyer_t) = onboard(&http, &b, "Hanseatic Importers", "trader").await;
        let (buyer_bank, buyer_bank_t) = onboard(&http, &b, "Handelsbank", "bank").await;
        let (financier, financier_t) = onboard(&http, &c, "Harbour Capital", "financier").await;
        join(&http, &a, &seller_bank_t, &[&seller_t, &seller_bank_t]).await;
        join(&http, &b, &buyer_bank_t, &[&buyer_t, &buyer_bank_t]).await;
        join(&http, &c, &financier_t, &[&financier_t]).await;
        let grant = json!({ "financier": financier, "expires_at": test_support::fixtures::date_in(700) });
        call(&http, reqwest::Method::POST, format!("{}/v1/consents", a.base), &seller_t, grant).await;

        // The orders, committed, `uploaders` lifecycles at a time.
        let started = Instant::now();
        let mut ids = Vec::with_capacity(docs);
        for chunk in (0..docs).collect::<Vec<_>>().chunks(uploaders) {
            let lifecycles = chunk.iter().map(|&n| {
                let (http, a, b) = (&http, &a, &b);
                let (seller, seller_bank, buyer_bank) = (&seller, &seller_bank, &buyer_bank);
                let (buyer_t, seller_t, buyer_bank_t) = (&buyer_t, &seller_t, &buyer_bank_t);
                async move {
                    let mut order = test_support::fixtures::order(seller, buyer_bank, seller_bank, &["commercial_invoice"]);
                    order["details"] = json!({ "notes": format!("lot {n}") });
                    let v = call(http, reqwest::Method::POST, format!("{}/v1/orders", b.base), buyer_t, order).await;
                    let id = v["id"].as_i64().expect("id");
                    call(http, reqwest::Method::POST, format!("{}/v1/orders/{id}/accept", a.base), seller_t, json!({})).await;
                    call(http, reqwest::Method::POST, format!("{}/v1/orders/{id}/commit", b.base), buyer_bank_t, json!({}))
                        .await;
                    id
                }
            });
            ids.extend(futures_util::future::join_all(lifecycles).await);
        }
        println!("delivery: {docs} orders proposed at B, accepted at A, committed at B in {:.1} s", started.elapsed().as_secs_f64());

        // The documents: uploaded at A, `uploaders` at a time; watched for at B and C.
        let bodies: Vec<(i64, Vec<u8>, String)> = ids
            .iter()
            .enumerate()
            .map(|(n, &id)| {
                let body = document(n, kib);
                let hash = format!("0x{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body)));
                (id, body, hash)
            })
            .collect();
        let hashes: Vec<String> = bodies.iter().map(|(_, _, h)| h.clone()).collect();
        let (bs, cs) = (b.state.clone(), c.state.clone());
        // Two queries every 5 ms, whatever the backlog: the watcher must not take the CPU
        // the nodes need.
        let watcher = tokio::spawn(async move {
            let mut done: Vec<Option<Instant>> = vec![None; hashes.len()];
            while done.iter().any(Option::is_none) {
                let (at_b, at_c) = (kept(&bs).await, kept(&cs).await);
                let now = Instant::now();
                for (i, h) in hashes.iter().enumerate() {
                    if done[i].is_none() && at_b.contains(h) && at_c.contains(h) {
                        done[i] = Some(now);
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            done.into_iter().map(|d| d.expect("all delivered")).collect::<Vec<_>>()
        });
        let first = Instant::now();
        let mut acked = Vec::with_capacity(docs);
        for chunk in bodies.chunks(uploaders) {
            let uploads = chunk.iter().map(|(id, body, _)| {
                let (http, a, seller_t) = (&http, &a, &seller_t);
                async move {
                    let res = http
                        .put(format!("{}/v1/orders/{id}/documents/commercial_invoice", a.base))
                        .bearer_auth(seller_t)
                        .header("content-type", "application/pdf")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("upload");
                    assert!(res.status().is_success(), "upload: {}", res.status());
                    Instant::now()
                }
            });
            acked.extend(futures_util::future::join_all(uploads).await);
        }
        let uploaded = first.elapsed();
        let delivered = tokio::time::timeout(Duration::from_secs(600), watcher).await.expect("delivered").expect("watcher");
        let last = delivered.iter().max().copied().expect("one");
        let total = last.duration_since(first);
        let mut latencies: Vec<Duration> =
            acked.iter().zip(&delivered).map(|(ack, done)| done.saturating_duration_since(*ack)).collect();
        latencies.sort();
        #[allow(clippy::cast_precision_loss)]
        let per_sec = docs as f64 / total.as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let mib = (docs * kib * 2) as f64 / 1024.0 / total.as_secs_f64();
        println!(
            "delivery: {docs} documents of {kib} KiB presented at A ({:.1} s, {:.1}/s acknowledged), each kept at B and C",
            uploaded.as_secs_f64(),
            {
                #[allow(clippy::cast_precision_loss)]
                let r = docs as f64 / uploaded.as_secs_f64();
                r
            }
        );
        let rows = tradechain_api::readmodel::peer_outbox::Entity::find().all(&a.state.db).await.expect("outbox");
        let attempts: i64 = rows.iter().map(|r| i64::from(r.attempts)).sum();
        println!("delivery: A's outbox: {} rows, {attempts} attempts", rows.len());
        println!(
            "delivery: {per_sec:.1} documents/s delivered to both nodes ({mib:.1} MiB/s sealed and sent); \
             latency from acknowledgement to kept at both: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
        );
    });
}
