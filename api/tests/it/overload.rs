//! Writes past what the node takes at once, tried as a member flooding the node would.
//! Offered more writes than it could serve, the node took every one in, so each waited
//! longer behind the others, and clients past the connection bound met bare resets. Now a
//! write past the node's bound, or past its organisation's share, is answered at once with
//! `503 OVERLOADED` and `Retry-After`, having changed nothing; the flooder's own share
//! leaves room for the others; reads are never refused; places come back when writes are
//! answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use test_support::api::{Db, Net};
use test_support::fixtures;
use tradechain_api::ApiConfig;
use tradechain_engine::NodeConfig;

/// POST `body` to `/v1/orders` as `token`: status, `Retry-After`, body.
async fn propose(http: &reqwest::Client, base: &str, token: &str, body: &Value) -> (StatusCode, Option<String>, Value) {
    let r = http
        .post(format!("{base}/v1/orders"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("answered");
    let status = r.status();
    let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = r.bytes().await.expect("a body");
    (status, retry, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Until `what` holds (checked every 10 ms, for at most 10 s).
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_flooding_writes_fills_its_own_share_and_the_others_still_write() {
    // Blocks only when the test mines them, so a write stays in progress until then; at
    // most three writes at once, two of one organisation.
    let net = Net::start_with_api(
        Db::Sqlite,
        |c| NodeConfig { automine: Some(false), block_interval_ms: 600_000, batch_window_ms: 0, ..c },
        |a| ApiConfig { max_writes_in_flight: 3, max_writes_in_flight_per_org: 2, ..a },
    )
    .await;
    let mining = Arc::new(AtomicBool::new(true));
    let miner = {
        let (node, mining) = (net.node.clone(), mining.clone());
        tokio::spawn(async move {
            loop {
                if mining.load(Ordering::SeqCst) && node.pool_len() > 0 {
                    node.mine(None).expect("mined");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let (flooder, flooder_token) = net.onboard("Flood Importers", &["trader"]).await;
    let (other, other_token) = net.onboard("Patient Importers", &["trader"]).await;
    let (_, third_token) = net.onboard("Third Importers", &["trader"]).await;
    let (bank, _) = net.onboard("Harbour Bank", &["bank"]).await;
    let to_other = fixtures::order(&other, &bank, &bank, &["commercial_invoice"]);
    let to_flooder = fixtures::order(&flooder, &bank, &bank, &["commercial_invoice"]);
    mining.store(false, Ordering::SeqCst);
    until("no write in progress", || net.state.writes_in_flight() == 0).await;

    // The flooder's first two writes are taken in and wait for their block.
    let spawn = |token: &str, body: &Value| {
        let (http, base, token, body) = (net.http.clone(), net.base.clone(), token.to_string(), body.clone());
        tokio::spawn(async move { propose(&http, &base, &token, &body).await })
    };
    let flood = [spawn(&flooder_token, &to_other), spawn(&flooder_token, &to_other)];
    until("the flooder's two writes sent to the chain", || net.node.pool_len() == 2).await;

    // Its third: refused at once, with when to come back; nothing sent to the chain.
    let (status, retry, body) = propose(&net.http, &net.base, &flooder_token, &to_other).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "OVERLOADED", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("this organisation")), "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(net.node.pool_len(), 2, "the refused write sent nothing");
    // Reads are never refused.
    let (status, list) = net.get("/v1/orders", &flooder_token).await;
    assert_eq!(status, StatusCode::OK, "{list}");

    // Another member still writes: the flood filled the flooder's share, not the node.
    let patient = spawn(&other_token, &to_flooder);
    until("the other member's write sent to the chain", || net.node.pool_len() == 3).await;
    assert_eq!(net.state.writes_in_flight(), 3);
    // Now the node is at its bound: a third member is refused, for the node's sake.
    let (status, _, body) = propose(&net.http, &net.base, &third_token, &to_other).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "OVERLOADED", "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("the node has 3 writes")), "{body}");

    // Mined: every write taken in is answered, and every place comes back.
    mining.store(true, Ordering::SeqCst);
    for task in flood.into_iter().chain([patient]) {
        let (status, _, body) = task.await.expect("joined");
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    until("every place given back", || net.state.writes_in_flight() == 0).await;
    let (status, _, body) = propose(&net.http, &net.base, &third_token, &to_other).await;
    assert_eq!(status, StatusCode::CREATED, "the third member writes once there is room: {body}");

    // The refused writes changed nothing: the flooder proposed two orders, not three.
    let (_, list) = net.get("/v1/orders?role=buyer", &flooder_token).await;
    let mine = list["items"].as_array().map(Vec::len);
    assert_eq!(mine, Some(2), "{list}");
    miner.abort();
}
