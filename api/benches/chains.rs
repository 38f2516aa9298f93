//! The same order-lifecycle workload on the embedded node and on a Hardhat node (the
//! remote backend), side by side in one run, and the throughput ratio (release build):
//!
//! `scripts/with-hardhat.sh cargo bench -p tradechain-api --bench chains`
//!
//! A lifecycle is a whole trade through the REST API over loopback HTTP, seven signed,
//! mined and indexed writes (the six steps, payment being the seller's release and
//! the bank's confirmation): propose, accept, commit, present the invoice, accept it,
//! release, confirm paid. Both chains' clocks start on a Monday morning
//! (`test_support::clock::day0`), so the at-sight payment falls due on a banking day.
//! `BENCH_CLIENTS` buyers (default 4) run concurrently, `BENCH_LIFECYCLES` lifecycles per
//! round (default 40); rounds alternate between the backends (`BENCH_ROUNDS` each,
//! default 3) so both see the same machine noise; the median round is reported.
//!
//! Before that, signed contract calls over JSON-RPC: `BENCH_SENDERS` members (default 20)
//! each sign `BENCH_CALLS` order proposals (default 100) and send them with
//! `eth_sendRawTransaction`, all senders at once; the figure is transactions mined per
//! second, from the first send to the last receipt. The embedded node runs as a bank's node
//! in production: outside dev mode, its producer's group commit (a block at least every
//! second), each member holding its own key and sending through the members-only gate with
//! its own API token. Hardhat automines on its open port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use tradechain_chain::remote::{RemoteChain, RemoteSettings};
use tradechain_chain::transaction::{Sender, TxRequest, sign};
use tradechain_chain::{Chain, wait_receipt};
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_contracts::{Consortium, role};

// The allocator the `tradechain` binary runs with: measured as shipped.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A platform reached over HTTP: REST under /v1, JSON-RPC at /.
struct Target {
    name: &'static str,
    base: String,
    http: reqwest::Client,
    operator: String,
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
        Target { name, base, http, operator: operator_token.to_string(), seller, bank, buyers: tokens }
    }

    async fn now(&self) -> u64 {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", false] });
        let res = self
            .http
            .post(&self.base)
            .bearer_auth(&self.operator)
            .header("content-type", "application/json")
            .body(body.to_string());
        let bytes = res.send().await.expect("rpc").bytes().await.expect("body");
        let v: Value = serde_json::from_slice(&bytes).expect("json");
        u64::from_str_radix(v["result"]["timestamp"].as_str().expect("ts").trim_start_matches("0x"), 16).expect("ts")
    }

    /// One whole trade, each step a write through REST that returns once mined and indexed:
    /// the buyer proposes, the seller accepts, the buyer's bank commits, the seller presents
    /// the invoice, the bank accepts it (the at-sight milestone falls due), the seller
    /// releases the payment and the bank confirms it paid.
    async fn lifecycle(&self, buyer: &str, proposal: &Value, k: usize) {
        let v1 = format!("{}/v1", self.base);
        let (seller, bank) = (&self.seller.1, &self.bank.1);
        let o = post(&self.http, format!("{v1}/orders"), buyer, proposal.clone()).await;
        let order = format!("{v1}/orders/{}", o["id"].as_i64().expect("id"));
        post(&self.http, format!("{order}/accept"), seller, json!({})).await;
        post(&self.http, format!("{order}/commit"), bank, json!({})).await;
        let invoice = format!("%PDF-1.7 commercial invoice {} {k}", self.name).into_bytes();
        let res = self
            .http
            .put(format!("{order}/documents/commercial_invoice"))
            .bearer_auth(seller)
            .header("content-type", "application/pdf")
            .body(invoice)
            .send()
            .await
            .expect("request");
        assert!(res.status().is_success(), "present: {}", res.text().await.unwrap_or_default());
        post(&self.http, format!("{order}/documents/commercial_invoice/accept"), bank, json!({})).await;
        post(&self.http, format!("{order}/milestones/0/release"), seller, json!({})).await;
        let done = post(
            &self.http,
            format!("{order}/milestones/0/confirm"),
            bank,
            json!({ "reference": format!("BENCH-{k}") }),
        )
        .await;
        assert_eq!(done["state"], "completed", "{done}");
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
                for k in (c..n).step_by(self.buyers.len()) {
                    self.lifecycle(buyer, &body, k).await;
                }
            }
        });
        futures_util::future::join_all(clients).await;
        n as f64 / started.elapsed().as_secs_f64()
    }
}

/// Members that sign their own transactions, each with its own connection to the node,
/// and the bank their orders name.
struct Members {
    senders: Vec<(PrivateKeySigner, Arc<RemoteChain>)>,
    bank: Address,
}

async fn connect(url: &str, bearer: Option<String>) -> Arc<RemoteChain> {
    let settings = RemoteSettings { poll_interval: Duration::from_millis(5), bearer, ..RemoteSettings::new(url) };
    RemoteChain::connect(settings).await.expect("the node answers")
}

/// The embedded node outside dev mode: `n` self-custody members (each holds its key; the
/// node signs nothing for them) onboarded through the operator's REST API, each reaching
/// the JSON-RPC gate with its own API token, as a bank's integration does.
async fn members_through_the_gate(net: &test_support::api::Net, n: usize) -> Members {
    let onboard = |key: &PrivateKeySigner, role: &str| {
        let address = format!("{:#x}", key.address());
        let body = json!({ "name": format!("Bench member {address}"), "roles": [role], "address": address });
        async move {
            let (status, v) = net.post("/v1/organisations", &net.operator_token, body).await;
            assert!(status.is_success(), "{v}");
            v["token"].as_str().expect("token").to_string()
        }
    };
    let mut senders = Vec::new();
    for i in 0..n {
        let key = test_support::hardhat::fresh_key(&format!("sender {i}"));
        let token = onboard(&key, "trader").await;
        senders.push((key, connect(&net.base, Some(token)).await));
    }
    let bank = test_support::hardhat::fresh_key("bank");
    onboard(&bank, "bank").await;
    Members { senders, bank: bank.address() }
}

/// Hardhat: `n` members registered by the operator's transactions, each key funded
/// (`hardhat_setBalance`), all on the node's open port.
async fn members_on_hardhat(url: &str, operator: &PrivateKeySigner, n: usize) -> Members {
    let chain = connect(url, None).await;
    let suite = SuiteAddresses::for_operator(operator.address());
    let keys: Vec<PrivateKeySigner> =
        (0..n).map(|i| test_support::hardhat::fresh_key(&format!("sender {i}"))).collect();
    let bank = test_support::hardhat::fresh_key("bank");
    let sender = Sender::new();
    for (k, roles) in keys.iter().map(|k| (k, role::TRADER)).chain([(&bank, role::BANK)]) {
        test_support::hardhat::fund(&chain, k.address()).await;
        let call = Consortium::registerCall { account: k.address(), name: "bench member".into(), roles };
        let r = sender
            .send(chain.as_ref(), operator, &TxRequest::call(suite.consortium, call.abi_encode().into()))
            .await
            .expect("register");
        assert!(r.success, "registered");
    }
    Members { senders: keys.into_iter().map(|k| (k, chain.clone())).collect(), bank: bank.address() }
}

/// Each member signs `calls` order proposals (to the next member, as seller) and sends
/// them with `eth_sendRawTransaction`, one after another, all members at once;
/// transactions mined per second, from the first send to the last receipt.
async fn signed_calls(members: &Members, operator: Address, calls: usize) -> f64 {
    let suite = SuiteAddresses::for_operator(operator);
    let (keys, chain) = (&members.senders, &members.senders[0].1);
    let n = keys.len();
    let head = chain.head().await.expect("head");
    let now = chain.block_header(head).await.expect("header").expect("the head's header").timestamp;
    let bank = members.bank;
    let propose = |i: usize, seller: Address| {
        let k = u64::try_from(i).expect("a count");
        test_support::fixtures::proposal(seller, bank, bank, 1_000_000 + u128::from(k), now, k)
    };
    let first = propose(0, keys[1 % n].0.address()).abi_encode();
    let gas = chain
        .estimate_gas(keys[0].0.address(), Some(suite.trade_orders), U256::ZERO, first.into())
        .await
        .expect("estimate");
    let fees = chain.fees().await.expect("fees");
    // Signed before the clock starts: the figure is the node's, not this client's signing.
    let signed: Vec<Vec<alloy::primitives::Bytes>> = keys
        .iter()
        .enumerate()
        .map(|(s, (k, _))| {
            (0..calls)
                .map(|c| {
                    let call = propose(s * calls + c, keys[(s + 1) % n].0.address());
                    let tx = TxRequest::call(suite.trade_orders, call.abi_encode().into());
                    sign(k, chain.chain_id(), c as u64, fees, gas * 2, &tx).expect("sign")
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let streams = signed.into_iter().zip(keys).map(|(raws, (_, chain))| async move {
        let mut last = None;
        for raw in raws {
            // The bare JSON-RPC call: no signer recovery in this client, which shares the cores.
            last = Some(chain.rpc().send_raw(&raw).await.expect("sent"));
        }
        let hash = last.expect("at least one call");
        let r = wait_receipt(chain.as_ref(), hash, Duration::from_secs(120)).await.expect("mined");
        assert!(r.success, "the last proposal succeeded");
    });
    futures_util::future::join_all(streams).await;
    (n * calls) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    // RUST_LOG=debug (say) shows what the nodes log while measured.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let Ok(url) = std::env::var("TRADECHAIN_TEST_HARDHAT_URL") else {
        eprintln!("needs a Hardhat node: scripts/with-hardhat.sh cargo bench -p tradechain-api --bench chains");
        std::process::exit(2);
    };
    let (clients, lifecycles, rounds) = (env("BENCH_CLIENTS", 4), env("BENCH_LIFECYCLES", 40), env("BENCH_ROUNDS", 3));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        // The embedded node as in production: outside dev mode (the JSON-RPC gate, members
        // only), group commit, a block at least every second.
        // BENCH_WINDOW_MAX_MS: the longest gathering of group commit (the node's default, 2: none).
        let most = std::env::var("BENCH_WINDOW_MAX_MS").ok().and_then(|m| m.parse().ok());
        let embedded = test_support::api::Net::start_members_only_configured(test_support::api::Db::Sqlite, |c| {
            tradechain_engine::NodeConfig {
                automine: Some(false),
                block_interval_ms: 1000,
                batch_window_ms: 2,
                batch_window_max_ms: most.unwrap_or(c.batch_window_max_ms),
                ..c
            }
        })
        .await;

        // The remote backend on Hardhat: a fresh operator, funded, deploys the suite.
        let (operator, hardhat) = test_support::hardhat::deployed(&url).await;
        // Its clock to the same Monday morning as the embedded node's (a fresh node's clock
        // is the wall clock; it only moves forward).
        let head = hardhat.head().await.expect("head");
        let now = hardhat.block_header(head).await.expect("header").expect("the head's header").timestamp;
        let _: Value = hardhat
            .rpc()
            .request("evm_increaseTime", json!([test_support::clock::day0().saturating_sub(now)]))
            .await
            .expect("increaseTime");
        let _: Value = hardhat.rpc().request("evm_mine", json!([])).await.expect("mine");
        let dir = tempfile::tempdir().expect("tempdir");
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("readmodel.sqlite").display());
        let remote = test_support::api::RemoteApi::start(&url, &operator, &db, 1).await;

        let (senders, calls) = (env("BENCH_SENDERS", 20), env("BENCH_CALLS", 100));
        let dev_operator: PrivateKeySigner =
            tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("the dev operator key");
        let mut signed = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            let members = members_through_the_gate(&embedded, senders).await;
            signed[0].push(signed_calls(&members, dev_operator.address(), calls).await);
            let members = members_on_hardhat(&url, &operator, senders).await;
            signed[1].push(signed_calls(&members, operator.address(), calls).await);
        }
        println!("signed contract calls over JSON-RPC (order proposals), {senders} senders x {calls}, {rounds} rounds each:");
        let mut medians = Vec::new();
        for (name, r) in ["embedded node (gated, group commit)", "Hardhat (automine)"].into_iter().zip(signed.iter_mut()) {
            r.sort_by(f64::total_cmp);
            let all: Vec<String> = r.iter().map(|x| format!("{x:.0}")).collect();
            println!("  {name:<38} {:>7.0} tx/s mined  (rounds: {})", r[r.len() / 2], all.join(", "));
            medians.push(r[r.len() / 2]);
        }
        println!("  ratio embedded / Hardhat: {:.1}x", medians[0] / medians[1]);

        let targets = [
            Target::new("embedded node (group commit)", embedded.base.clone(), &embedded.operator_token, clients).await,
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
        println!("order lifecycles (propose, accept, commit, present, accept the invoice, release, confirm: 7 writes each), {clients} buyers, {lifecycles} per round, {rounds} rounds each:");
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
