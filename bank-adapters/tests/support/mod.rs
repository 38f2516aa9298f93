//! Test harness: the embedded chain in-process on a loopback port, the sandbox bank as a
//! separate process, a trade driven by signed transactions over JSON-RPC, and a worker.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, FixedBytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use tradechain_bank_adapters::chain::ChainClient;
use tradechain_bank_adapters::identifier::{Bic, Iban};
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::Outbox;
use tradechain_bank_adapters::party::{Party, StaticDirectory};
use tradechain_bank_adapters::sandbox::Faults;
use tradechain_bank_adapters::settlement::{SettlementWorker, WorkerConfig};
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_contracts::{Consortium, Receivables, TradeOrders, role};

pub const DAY: u64 = 86_400;

/// The embedded node serving JSON-RPC on a loopback port, inside this test process.
pub struct Chain {
    pub url: String,
    pub node: tradechain_engine::Node,
    pub suite: SuiteAddresses,
    pub client: ChainClient,
    _dir: tempfile::TempDir,
}

pub async fn start_chain() -> Chain {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tradechain_engine::NodeConfig::dev_in(dir.path().join("chain"));
    let operator = config.operator_address().expect("dev operator");
    let calls = tradechain_contracts::genesis::plan(operator)
        .into_iter()
        .map(|c| tradechain_engine::GenesisCall { to: c.to, input: c.input })
        .collect();
    let node = tradechain_engine::Node::open(config, calls).expect("open node");
    let _producer = node.spawn_producer();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let served = node.clone();
    tokio::spawn(async move { tradechain_engine::rpc::serve(served, listener, std::future::pending()).await });
    let client = ChainClient::new(&url, Duration::from_secs(10)).expect("client");
    Chain { url, node, suite: SuiteAddresses::for_operator(operator), client, _dir: dir }
}

impl Chain {
    pub async fn send<C: SolCall>(&self, from: &PrivateKeySigner, to: Address, call: C) -> B256 {
        match self.client.send(from, to, &call).await {
            Ok(tx) => tx,
            Err(e) => panic!("{} failed: {e} ({:?})", C::SIGNATURE, e.revert_reason()),
        }
    }

    pub async fn advance(&self, seconds: u64) {
        let _: Value = self.client.request("evm_increaseTime", json!([seconds])).await.expect("increaseTime");
        let _: Value = self.client.request("evm_mine", json!([])).await.expect("mine");
    }

    pub async fn milestone(&self, order: U256, index: u64) -> TradeOrders::Milestone {
        let call = TradeOrders::getMilestoneCall { orderId: order, index: U256::from(index) };
        self.client.call(self.suite.trade_orders, &call).await.expect("getMilestone")
    }

    pub async fn financing(&self, id: U256) -> Receivables::Financing {
        let call = Receivables::getFinancingCall { financingId: id };
        self.client.call(self.suite.receivables, &call).await.expect("getFinancing")
    }

    pub async fn order(&self, order: U256) -> TradeOrders::Order {
        self.client
            .call(self.suite.trade_orders, &TradeOrders::getOrderCall { orderId: order })
            .await
            .expect("getOrder")
    }

    /// How many `PaymentConfirmed` events the chain holds for (order, milestone).
    pub async fn confirmations(&self, order: U256, index: u64) -> usize {
        use alloy::sol_types::SolEvent;
        let head = self.client.block_number().await.expect("head");
        let topic = TradeOrders::PaymentConfirmed::SIGNATURE_HASH;
        let logs = self.client.logs(self.suite.trade_orders, 0, head, &[topic]).await.expect("logs");
        logs.iter()
            .filter_map(|l| TradeOrders::PaymentConfirmed::decode_raw_log(l.topics.iter().copied(), &l.data).ok())
            .filter(|e| e.orderId == order && e.milestone == U256::from(index))
            .count()
    }
}

/// A deterministic key per role.
pub fn key(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(n)).expect("key")
}

pub fn operator() -> PrivateKeySigner {
    tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("operator key")
}

/// The organisations of a trade, their keys and bank accounts.
pub struct Parties {
    pub buyer: PrivateKeySigner,
    pub seller: PrivateKeySigner,
    pub buyer_bank: PrivateKeySigner,
    pub seller_bank: PrivateKeySigner,
    pub carrier: PrivateKeySigner,
    pub financier: PrivateKeySigner,
}

impl Parties {
    pub fn new() -> Self {
        Parties {
            buyer: key(0x11),
            seller: key(0x12),
            buyer_bank: key(0x13),
            seller_bank: key(0x14),
            carrier: key(0x15),
            financier: key(0x16),
        }
    }

    pub fn account(&self, who: Address) -> Party {
        let (name, bban, bic) = if who == self.buyer.address() {
            ("Acme Imports Ltd", "HRBR00000000000001", "HRBRGB2L")
        } else if who == self.seller.address() {
            ("Shenzhen Widgets Co", "PRLB00000000000002", "PRLBGB2L")
        } else if who == self.financier.address() {
            ("Blue Water Capital", "BLWC00000000000003", "BLWCGB2L")
        } else {
            ("Unknown", "XXXX00000000000009", "XXXXGB2L")
        };
        Party {
            name: name.into(),
            iban: Iban::from_bban("GB", bban).expect("iban"),
            bic: Bic::parse(bic).expect("bic"),
        }
    }

    pub fn directory(&self) -> StaticDirectory {
        [self.buyer.address(), self.seller.address(), self.financier.address()]
            .into_iter()
            .fold(StaticDirectory::default(), |d, a| d.with(a, self.account(a)))
    }

    pub async fn register(&self, chain: &Chain) {
        let op = operator();
        let c = chain.suite.consortium;
        for (k, name, roles) in [
            (&self.buyer, "Acme Imports", role::TRADER),
            (&self.seller, "Shenzhen Widgets", role::TRADER),
            (&self.buyer_bank, "Harbour Bank", role::BANK),
            (&self.seller_bank, "Pearl Bank", role::BANK),
            (&self.carrier, "Oceanic Lines", role::CARRIER),
            (&self.financier, "Blue Water Capital", role::FINANCIER),
        ] {
            chain.send(&op, c, Consortium::registerCall { account: k.address(), name: name.into(), roles }).await;
        }
    }
}

/// An order of `amount` USD cents: milestone 0 = 30% at sight on the commercial invoice,
/// milestone 1 = 70% thirty days after the bill of lading is accepted. Returns the order id
/// once both milestones are triggered.
pub async fn committed_trade(chain: &Chain, p: &Parties, amount: u128, finance_second: bool) -> U256 {
    let to = chain.suite.trade_orders;
    let now = chain.client.block_timestamp(chain.client.block_number().await.expect("head")).await.expect("ts");
    let terms = TradeOrders::OrderTerms {
        seller: p.seller.address(),
        buyerBank: p.buyer_bank.address(),
        sellerBank: p.seller_bank.address(),
        amount,
        currency: FixedBytes(*b"USD"),
        incoterm: FixedBytes(*b"FOB"),
        detailsHash: keccak256(b"100 pallets of widgets"),
        latestShipment: now + 60 * DAY,
        expiry: now + 365 * DAY,
        examinationDays: 0,
    };
    let milestones = vec![
        TradeOrders::MilestoneTerms { shareBps: 3_000, fixedAmount: 0, requiredDocs: 1 << 0, tenorDays: 0 },
        TradeOrders::MilestoneTerms { shareBps: 7_000, fixedAmount: 0, requiredDocs: 1 << 2, tenorDays: 30 },
    ];
    chain.send(&p.buyer, to, TradeOrders::proposeCall { t: terms, terms: milestones }).await;
    let order: U256 = chain.client.call(to, &TradeOrders::orderCountCall {}).await.expect("orderCount");
    chain.send(&p.seller, to, TradeOrders::acceptCall { orderId: order }).await;
    chain.send(&p.buyer_bank, to, TradeOrders::commitCall { orderId: order }).await;
    if finance_second {
        let call = Receivables::offerReceivableFinanceCall {
            orderId: order,
            milestone: U256::from(1),
            advance: amount * 7 / 10 * 9 / 10,
            discountBps: 250,
            fingerprints: vec![],
            near: Receivables::NearKeys::NONE,
        };
        chain.send(&p.financier, chain.suite.receivables, call).await;
        let id: U256 =
            chain.client.call(chain.suite.receivables, &Receivables::financingCountCall {}).await.expect("count");
        chain.send(&p.seller, chain.suite.receivables, Receivables::acceptCall { financingId: id }).await;
    }
    let invoice = keccak256(b"invoice");
    chain
        .send(
            &p.seller,
            to,
            TradeOrders::submitDocumentCall { orderId: order, docType: 0, hash: invoice, uri: "ipfs://invoice".into() },
        )
        .await;
    chain.send(&p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: 0 }).await;
    let bol = keccak256(b"bill of lading");
    chain
        .send(
            &p.seller,
            to,
            TradeOrders::submitDocumentCall { orderId: order, docType: 2, hash: bol, uri: "ipfs://bol".into() },
        )
        .await;
    chain.send(&p.carrier, to, TradeOrders::attestDocumentCall { orderId: order, docType: 2, hash: bol }).await;
    chain.send(&p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: 2 }).await;
    order
}

/// The sandbox bank, running as its own process.
pub struct SandboxBank {
    pub url: String,
    child: Child,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for SandboxBank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_sandbox() -> SandboxBank {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox-bank"))
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(dir.path().join("bank.db"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn sandbox-bank");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read ready line");
    let url =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_string();
    let http = tradechain_bank_adapters::rails::http_client(Duration::from_secs(10)).expect("http");
    SandboxBank { url, child, http, _dir: dir }
}

impl SandboxBank {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("admin request");
        let status = resp.status();
        let text = resp.text().await.expect("admin body");
        assert!(status.is_success(), "{path}: HTTP {status}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("admin json") }
    }

    pub async fn open(&self, party: &Party, overdraft: i64) {
        let body = json!({ "iban": party.iban, "name": party.name, "bic": party.bic, "currency": "USD", "overdraft_limit": overdraft });
        self.admin(reqwest::Method::POST, "/admin/accounts", Some(body)).await;
    }

    pub async fn fund(&self, party: &Party, amount: i64) {
        self.admin(reqwest::Method::POST, "/admin/fund", Some(json!({ "iban": party.iban, "amount": amount }))).await;
    }

    pub async fn faults(&self, faults: Faults) {
        self.admin(reqwest::Method::PUT, "/admin/faults", Some(serde_json::to_value(faults).expect("faults"))).await;
    }

    pub async fn balance(&self, party: &Party) -> i64 {
        let all = self.admin(reqwest::Method::GET, "/admin/balances", None).await;
        all.as_array()
            .and_then(|a| a.iter().find(|b| b["iban"] == party.iban.as_str()))
            .and_then(|b| b["balance"].as_i64())
            .expect("account balance")
    }

    /// Per-currency sum of every entry (zero when the books balance); fails if any account's
    /// balance disagrees with its entries.
    pub async fn ledger_sum(&self, currency: &str) -> String {
        let v = self.admin(reqwest::Method::GET, "/admin/ledger", None).await;
        v["sums"][currency].as_str().unwrap_or("0").to_string()
    }

    /// How many pain.001 carried this EndToEndId (0 when never received).
    pub async fn received(&self, e2e: &str) -> u64 {
        let resp = self.http.get(format!("{}/admin/payments/{e2e}", self.url)).send().await.expect("payment");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return 0;
        }
        let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
        v["received_count"].as_u64().expect("count")
    }

    pub async fn payments(&self) -> Value {
        self.admin(reqwest::Method::GET, "/admin/payments", None).await
    }
}

/// Open and fund the trade's accounts at the sandbox bank.
pub async fn open_accounts(bank: &SandboxBank, p: &Parties, buyer_funds: i64) {
    for who in [p.buyer.address(), p.seller.address(), p.financier.address()] {
        bank.open(&p.account(who), 0).await;
    }
    if buyer_funds > 0 {
        bank.fund(&p.account(p.buyer.address()), buyer_funds).await;
    }
}

pub fn worker_config(chain: &Chain) -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        receivables: Some(chain.suite.receivables),
        ..WorkerConfig::new(chain.suite.trade_orders)
    }
}

pub async fn worker(
    chain: &Chain,
    bank: &SandboxBank,
    p: &Parties,
    db_url: &str,
    timeout: Duration,
) -> SettlementWorker<IsoHttpRails> {
    worker_for(chain, bank, p, &p.buyer_bank, db_url, timeout).await
}

/// A worker for the organisation whose key is `signer` (a bank, or a financier).
pub async fn worker_for(
    chain: &Chain,
    bank: &SandboxBank,
    p: &Parties,
    signer: &PrivateKeySigner,
    db_url: &str,
    timeout: Duration,
) -> SettlementWorker<IsoHttpRails> {
    let rails = IsoHttpRails::new(&bank.url, "Harbour Bank", timeout).expect("rails");
    let outbox = Outbox::connect(db_url).await.expect("outbox");
    let client = ChainClient::new(&chain.url, Duration::from_secs(10)).expect("client");
    SettlementWorker::new(worker_config(chain), client, outbox, rails, Arc::new(p.directory()), signer.clone())
        .await
        .expect("worker")
}

pub fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join(name).display())
}

/// Run worker passes until `done` holds or `timeout` passes.
pub async fn drive_until<R, F, Fut>(w: &SettlementWorker<R>, timeout: Duration, mut done: F)
where
    R: tradechain_bank_adapters::rails::Rails,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Err(e) = w.step().await {
            eprintln!("worker pass failed (retrying): {e}");
        }
        if done().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not reached within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

pub fn e2e(chain_id: u64, order: U256, milestone: u64, attempt: u32) -> String {
    tradechain_bank_adapters::settlement::end_to_end_id(chain_id, order, U256::from(milestone), attempt).to_string()
}
