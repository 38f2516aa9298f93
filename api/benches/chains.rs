//! The same order-lifecycle workload on the embedded node and on a Hardhat node (the
//! remote backend), side by side in one run, and the throughput ratio (release build):
//!
//! `scripts/with-hardhat.sh cargo bench -p tradechain-api --bench chains`
//!
//! A lifecycle is three signed, mined and indexed writes through the REST API over
//! loopback HTTP: the buyer proposes, the seller accepts, the buyer's bank commits.
//! `BENCH_CLIENTS` buyers (default 4) run concurrently, `BENCH_LIFECYCLES` lifecycles per
//! round (default 40); rounds alternate between the backends (`BENCH_ROUNDS` each,
//! default 3) so both see the same machine noise; the median round is reported.

use std::time::Instant;

use serde_json::{Value, json};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A platform reached over HTTP: REST under /v1, JSON-RPC at /.
struct Target {
    name: &'static str,
    base: String,
    http: reqwest::Client,
    seller: (String, String),
    bank: (String, String),
    buyers: Vec<String>,
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: Value) -> Value {
    let res = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status();
    let v: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
    assert!(status.is_success(), "{status}: {v}");
    v
}

impl Target {
    async fn new(name: &'static str, base: String, operator_token: &str, buyers: usize) -> Target {
        let http = reqwest::Client::new();
        let onboard = |n: String, role: &'static str| {
            let (http, url, token) = (http.clone(), format!("{base}/v1/organisations"), operator_token.to_string());
            async move {
                let v = post(&http, url, &token, json!({ "name": n, "roles": [role] })).await;
                (
                    v["organisation"]["address"].as_str().expect("address").to_string(),
                    v["token"].as_str().expect("t").to_string(),
                )
            }
        };
        let seller = onboard("Bench Seller".into(), "trader").await;
        let bank = onboard("Bench Bank".into(), "bank").await;
        let mut tokens = Vec::new();
        for b in 0..buyers {
            tokens.push(onboard(format!("Bench Buyer {b}"), "trader").await.1);
        }
        Target { name, base, http, seller, bank, buyers: tokens }
    }

    async fn now(&self) -> u64 {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", false] });
        let res = self.http.post(&self.base).header("content-type", "application/json").body(body.to_string());
        let bytes = res.send().await.expect("rpc").bytes().await.expect("body");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        u64::from_str_radix(v["result"]["timestamp"].as_str().expect("ts").trim_start_matches("0x"), 16).expect("ts")
    }

    /// `n` lifecycles spread over the buyers; lifecycles per second.
    async fn round(&self, n: usize) -> f64 {
        let now = self.now().await;
        let date = |days: u64| {
            chrono::DateTime::from_timestamp(i64::try_from(now + days * 86_400).expect("a date"), 0)
                .expect("date")
                .format("%Y-%m-%d")
                .to_string()
        };
        let body = json!({
            "seller": self.seller.0, "buyer_bank": self.bank.0, "seller_bank": self.bank.0,
            "amount_minor": "1000000", "currency": "USD", "incoterm": "FOB",
            "latest_shipment": date(30), "expiry": date(60),
            "milestones": [{ "share_bps": 10000, "documents": ["commercial_invoice"] }]
        });
        let started = Instant::now();
        let clients = self.buyers.iter().enumerate().map(|(c, buyer)| {
            let body = body.clone();
            async move {
                for _ in (c..n).step_by(self.buyers.len()) {
                    let o = post(&self.http, format!("{}/v1/orders", self.base), buyer, body.clone()).await;
                    let id = o["id"].as_i64().expect("id");
                    post(&self.http, format!("{}/v1/orders/{id}/accept", self.base), &self.seller.1, json!({})).await;
                    post(&self.http, format!("{}/v1/orders/{id}/commit", self.base), &self.bank.1, json!({})).await;
                }
            }
        });
        futures_util::future::join_all(clients).await;
        n as f64 / started.elapsed().as_secs_f64()
    }
}

fn main() {
    let Ok(url) = std::env::var("TRADECHAIN_TEST_HARDHAT_URL") else {
        eprintln!("needs a Hardhat node: scripts/with-hardhat.sh cargo bench -p tradechain-api --bench chains");
        std::process::exit(2);
    };
    let (clients, lifecycles, rounds) = (env("BENCH_CLIENTS", 4), env("BENCH_LIFECYCLES", 40), env("BENCH_ROUNDS", 3));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let embedded = test_support::api::Net::start(test_support::api::Db::Sqlite).await;

        // The remote backend on Hardhat: a fresh operator, funded, deploys the suite.
        let (operator, _) = test_support::hardhat::deployed(&url).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display());
        let remote = test_support::api::RemoteApi::start(&url, &operator, &db, 1).await;

        let targets = [
            Target::new("embedded node", embedded.base.clone(), &embedded.operator_token, clients).await,
            Target::new("Hardhat (remote backend, automine)", remote.base.clone(), &remote.token, clients).await,
        ];
        // Warm-up, then alternating rounds.
        for t in &targets {
            t.round(clients).await;
        }
        let mut rates = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (i, t) in targets.iter().enumerate() {
                rates[i].push(t.round(lifecycles).await);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!("order lifecycles (propose, accept, commit: 3 writes each), {clients} buyers, {lifecycles} per round, {rounds} rounds each:");
        let mut medians = Vec::new();
        for (t, r) in targets.iter().zip(rates.iter_mut()) {
            let m = median(r);
            let all: Vec<String> = r.iter().map(|x| format!("{x:.1}")).collect();
            println!("  {:<38} {m:>7.1} lifecycles/s  (rounds: {})", t.name, all.join(", "));
            medians.push(m);
        }
        println!("  ratio embedded / Hardhat: {:.2}x", medians[0] / medians[1]);
    });
}
