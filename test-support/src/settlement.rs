//! Settlement under test: the embedded chain in-process on a loopback port, the sandbox
//! bank as a separate process, a trade driven by signed transactions over JSON-RPC, and
//! settlement workers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, FixedBytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::Outbox;
use tradechain_bank_adapters::party::{Party, StaticDirectory};
use tradechain_bank_adapters::sandbox::Faults;
use tradechain_bank_adapters::settlement::{SettlementWorker, WorkerConfig};
use tradechain_chain::remote::{RemoteChain, RemoteSettings};
use tradechain_chain::transaction::{Sender, TxRequest};
use tradechain_chain::{Chain as _, LogFilter, call_sol};
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_contracts::{Consents, Consortium, Cover, Receivables, TradeOrders, role};
use tradechain_money::identifier::{Bic, Iban};

/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// The embedded node serving JSON-RPC on a loopback port, inside this test process.
pub struct Chain {
    /// Its JSON-RPC URL.
    pub url: String,
    /// The node itself.
    pub node: tradechain_engine::Node,
    /// Where the contracts are.
    pub suite: SuiteAddresses,
    /// The node as a remote network over its JSON-RPC (what a worker sees).
    pub rpc: Arc<RemoteChain>,
    sender: Sender,
    _dir: tempfile::TempDir,
}

/// The client of a chain at `url`, as a bank's worker has it.
pub async fn connect(url: &str) -> Arc<RemoteChain> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    RemoteChain::connect(RemoteSettings { poll_interval: Duration::from_millis(20), ..RemoteSettings::new(url) })
        .await
        .expect("the chain answers")
}

/// The embedded node (dev mode, the suite deployed) serving JSON-RPC on loopback.
pub async fn start_chain() -> Chain {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tradechain_engine::NodeConfig::dev_in(dir.path().join("chain"));
    let operator = config.operator_address().expect("dev operator");
    let calls = tradechain_contracts::genesis::plan(operator)
        .into_iter()
        .map(|c| tradechain_engine::GenesisCall { to: c.to, input: c.input })
        .collect();
    let node = tradechain_engine::Node::open(config, calls).expect("open node");
    crate::clock::align(&node);
    let _producer = node.spawn_producer();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let served = node.clone();
    tokio::spawn(async move { tradechain_engine::rpc::serve(served, listener, std::future::pending()).await });
    let rpc = connect(&url).await;
    Chain { url, node, suite: SuiteAddresses::for_operator(operator), rpc, sender: Sender::new(), _dir: dir }
}

impl Chain {
    /// Send `call` signed by `from` and wait for it; panics with the decoded revert.
    pub async fn send<C: SolCall>(&self, from: &PrivateKeySigner, to: Address, call: C) -> B256 {
        let tx = TxRequest::call(to, call.abi_encode().into());
        match self.sender.send(self.rpc.as_ref(), from, &tx).await {
            Ok(r) if r.success => r.tx_hash,
            Ok(r) => panic!("{} reverted in {}", C::SIGNATURE, r.tx_hash),
            Err(e) => panic!("{} failed: {e} ({:?})", C::SIGNATURE, revert_reason(&e)),
        }
    }

    /// A contract read as the operator (who may read everything).
    pub async fn read<C: SolCall>(&self, to: Address, call: C) -> C::Return {
        call_sol(self.rpc.as_ref(), operator().address(), to, &call)
            .await
            .unwrap_or_else(|e| panic!("{}: {e} ({:?})", C::SIGNATURE, revert_reason(&e)))
    }

    /// Move the chain's clock `seconds` forward and mine a block.
    pub async fn advance(&self, seconds: u64) {
        let _: Value = self.rpc.rpc().request("evm_increaseTime", json!([seconds])).await.expect("increaseTime");
        let _: Value = self.rpc.rpc().request("evm_mine", json!([])).await.expect("mine");
    }

    /// The chain's clock (the latest block's timestamp).
    pub async fn now(&self) -> u64 {
        let head = self.rpc.head().await.expect("head");
        self.rpc.block_header(head).await.expect("header").expect("the head exists").timestamp
    }

    /// A milestone as the chain has it.
    pub async fn milestone(&self, order: U256, index: u64) -> TradeOrders::Milestone {
        self.read(self.suite.trade_orders, TradeOrders::getMilestoneCall { orderId: order, index: U256::from(index) })
            .await
    }

    /// A financing as the chain has it.
    pub async fn financing(&self, id: U256) -> Receivables::Financing {
        self.read(self.suite.receivables, Receivables::getFinancingCall { financingId: id }).await
    }

    /// The next nonce of `who` (how many transactions it sent).
    pub async fn nonce(&self, who: Address) -> u64 {
        self.rpc.nonce(who).await.expect("nonce")
    }

    /// An order as the chain has it.
    pub async fn order(&self, order: U256) -> TradeOrders::Order {
        self.read(self.suite.trade_orders, TradeOrders::getOrderCall { orderId: order }).await
    }

    /// How many `PaymentConfirmed` events the chain holds for (order, milestone).
    pub async fn confirmations(&self, order: U256, index: u64) -> usize {
        use alloy::sol_types::SolEvent;
        let head = self.rpc.head().await.expect("head");
        let filter = LogFilter {
            from: 0,
            to: head,
            addresses: vec![self.suite.trade_orders],
            topic0: vec![TradeOrders::PaymentConfirmed::SIGNATURE_HASH],
        };
        let logs = self.rpc.logs(filter).await.expect("logs");
        logs.iter()
            .filter_map(|l| TradeOrders::PaymentConfirmed::decode_log_data(&l.log.data).ok())
            .filter(|e| e.orderId == order && e.milestone == U256::from(index))
            .count()
    }
}

fn revert_reason(e: &tradechain_chain::ChainError) -> Option<String> {
    match e.rejection() {
        Some(tradechain_chain::Rejection::Reverted { data }) => {
            tradechain_contracts::revert::decode(data).map(|r| format!("{r:?}"))
        }
        _ => None,
    }
}

/// A deterministic key per role.
#[must_use]
pub fn key(n: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(n)).expect("key")
}

/// The dev operator's key.
#[must_use]
pub fn operator() -> PrivateKeySigner {
    tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("operator key")
}

/// The organisations of a trade, their keys and bank accounts.
#[derive(Debug)]
pub struct Parties {
    /// The importer.
    pub buyer: PrivateKeySigner,
    /// The exporter.
    pub seller: PrivateKeySigner,
    /// The importer's bank (the payer).
    pub buyer_bank: PrivateKeySigner,
    /// The exporter's bank.
    pub seller_bank: PrivateKeySigner,
    /// The carrier that attests bills of lading.
    pub carrier: PrivateKeySigner,
    /// A financier.
    pub financier: PrivateKeySigner,
}

impl Default for Parties {
    fn default() -> Self {
        Self::new()
    }
}

impl Parties {
    /// The cast, with fixed keys.
    #[must_use]
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

    /// The bank account of `who` at the sandbox bank.
    #[must_use]
    pub fn account(&self, who: Address) -> Party {
        let (name, bban, bic) = if who == self.buyer.address() {
            ("Acme Imports Ltd", "HRBR00000000000001", "HRBRGB2L")
        } else if who == self.seller.address() {
            ("Shenzhen Widgets Co", "PRLB00000000000002", "PRLBGB2L")
        } else if who == self.financier.address() {
            ("Blue Water Capital", "BLWC00000000000003", "BLWCGB2L")
        } else if who == self.buyer_bank.address() {
            ("Harbour Bank", "HRBK00000000000010", "HRBRGB2L")
        } else {
            ("Unknown", "XXXX00000000000009", "XXXXGB2L")
        };
        Party {
            name: name.into(),
            iban: Iban::from_bban("GB", bban).expect("iban"),
            bic: Bic::parse(bic).expect("bic"),
        }
    }

    /// The buyer's bank's escrow account, where it earmarks its customers' funds.
    #[must_use]
    pub fn escrow(&self) -> Party {
        Party {
            name: "Harbour Bank escrow".into(),
            iban: Iban::from_bban("GB", "HRBE00000000000011").expect("iban"),
            bic: Bic::parse("HRBRGB2L").expect("bic"),
        }
    }

    /// The parties' accounts, as a worker's directory (the buyer's bank's: its own).
    #[must_use]
    pub fn directory(&self) -> StaticDirectory {
        [self.buyer.address(), self.seller.address(), self.financier.address(), self.buyer_bank.address()]
            .into_iter()
            .fold(StaticDirectory::default(), |d, a| d.with(a, self.account(a)))
    }

    /// Register every party in the Consortium.
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
        // The buyer and the seller let the financier see their trade, as an offer needs.
        let expires_at = chain.now().await + 700 * DAY;
        for firm in [&self.buyer, &self.seller] {
            let grant = Consents::grantCall {
                financier: self.financier.address(),
                expiresAt: expires_at,
                requestId: U256::ZERO,
            };
            chain.send(firm, chain.suite.consents, grant).await;
        }
    }
}

impl Parties {
    /// The terms of an order of `amount` USD cents between these parties, its carrier
    /// named: shipment within 60 days of `now`, expiry a year after.
    #[must_use]
    pub fn terms(&self, now: u64, amount: u128) -> TradeOrders::OrderTerms {
        TradeOrders::OrderTerms {
            seller: self.seller.address(),
            buyerBank: self.buyer_bank.address(),
            sellerBank: self.seller_bank.address(),
            carrier: self.carrier.address(),
            inspector: Address::ZERO,
            amount,
            currency: FixedBytes(*b"USD"),
            incoterm: FixedBytes(*b"FOB"),
            detailsHash: keccak256(b"100 pallets of widgets"),
            latestShipment: now + 60 * DAY,
            expiry: now + 365 * DAY,
            examinationDays: 0,
            charges: tradechain_contracts::Charges::Shared as u8,
        }
    }
}

/// The buyer proposes `terms` with `milestones`, the seller accepts, the buyer's bank
/// commits at its own risk; the order's id.
pub async fn committed_order(
    chain: &Chain,
    p: &Parties,
    terms: TradeOrders::OrderTerms,
    milestones: Vec<TradeOrders::MilestoneTerms>,
) -> U256 {
    committed_order_with(chain, p, terms, milestones, Cover::BankRisk).await
}

/// As [`committed_order`], the bank covering its undertaking with `cover`.
pub async fn committed_order_with(
    chain: &Chain,
    p: &Parties,
    terms: TradeOrders::OrderTerms,
    milestones: Vec<TradeOrders::MilestoneTerms>,
    cover: Cover,
) -> U256 {
    let to = chain.suite.trade_orders;
    chain.send(&p.buyer, to, TradeOrders::proposeCall { t: terms, terms: milestones }).await;
    let order: U256 = chain.read(to, TradeOrders::orderCountCall {}).await;
    chain.send(&p.seller, to, TradeOrders::acceptCall { orderId: order }).await;
    chain.send(&p.buyer_bank, to, TradeOrders::commitCall { orderId: order, cover: cover as u8 }).await;
    order
}

/// A committed order of `amount` USD cents in milestones of `shares` (bps, at sight on the
/// commercial invoice), covered by `cover`, the invoice presented and accepted: every
/// milestone is due now.
pub async fn due_order(chain: &Chain, p: &Parties, amount: u128, shares: &[u16], cover: Cover) -> U256 {
    let to = chain.suite.trade_orders;
    let ms = shares
        .iter()
        .map(|bps| TradeOrders::MilestoneTerms { shareBps: *bps, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 })
        .collect();
    let order = committed_order_with(chain, p, p.terms(chain.now().await, amount), ms, cover).await;
    let invoice =
        TradeOrders::submitDocumentCall { orderId: order, docType: 0, hash: keccak256(b"invoice"), uri: String::new() };
    chain.send(&p.seller, to, invoice).await;
    chain.send(&p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: 0 }).await;
    order
}

/// An order of `amount` USD cents: milestone 0 = 30% at sight on the commercial invoice,
/// milestone 1 = 70% thirty days after the bill of lading is presented. Returns the order
/// id once both milestones are triggered.
pub async fn committed_trade(chain: &Chain, p: &Parties, amount: u128, finance_second: bool) -> U256 {
    let to = chain.suite.trade_orders;
    let terms = p.terms(chain.now().await, amount);
    let milestones = vec![
        TradeOrders::MilestoneTerms { shareBps: 3_000, fixedAmount: 0, requiredDocs: 1 << 0, tenorDays: 0 },
        TradeOrders::MilestoneTerms { shareBps: 7_000, fixedAmount: 0, requiredDocs: 1 << 2, tenorDays: 30 },
    ];
    let order = committed_order(chain, p, terms, milestones).await;
    if finance_second {
        let call = Receivables::offerReceivableFinanceCall {
            orderId: order,
            milestone: U256::from(1),
            advance: amount * 7 / 10 * 9 / 10,
            discountBps: 250,
            deadlineDays: 10,
            fps: Receivables::Fingerprints { invoice: B256::ZERO, documents: vec![] },
            near: Receivables::NearKeys::NONE,
        };
        let rc = chain.suite.receivables;
        chain.send(&p.financier, rc, call).await;
        let id: U256 = chain.read(rc, Receivables::financingCountCall {}).await;
        chain.send(&p.seller, rc, Receivables::acceptCall { financingId: id }).await;
        // The proceeds pass to the financier only for an advance paid and acknowledged.
        let reference = keccak256(b"advance");
        chain
            .send(&p.financier, rc, Receivables::confirmAdvanceCall { financingId: id, paymentReference: reference })
            .await;
        chain.send(&p.seller, rc, Receivables::acknowledgeAdvanceCall { financingId: id }).await;
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
    // Shipped on board the day it was presented (UCP 600 art. 14(c): within 21 days).
    let shipped = chain.now().await;
    let attest = TradeOrders::attestDocumentCall { orderId: order, docType: 2, hash: bol, shipmentDate: shipped };
    chain.send(&p.carrier, to, attest).await;
    chain.send(&p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: 2 }).await;
    order
}

/// The sandbox bank, running as its own process.
#[derive(Debug)]
pub struct SandboxBank {
    /// Its base URL.
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

/// Start the sandbox bank binary `bin` (a test's `env!("CARGO_BIN_EXE_sandbox-bank")`) on a
/// free loopback port, with a fresh ledger.
#[must_use]
pub fn spawn_sandbox(bin: &std::path::Path) -> SandboxBank {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(bin)
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

    /// Open `party`'s USD account with an overdraft limit.
    pub async fn open(&self, party: &Party, overdraft: i64) {
        let body = json!({ "iban": party.iban, "name": party.name, "bic": party.bic, "currency": "USD", "overdraft_limit": overdraft });
        self.admin(reqwest::Method::POST, "/admin/accounts", Some(body)).await;
    }

    /// Credit `amount` to `party`'s account.
    pub async fn fund(&self, party: &Party, amount: i64) {
        self.admin(reqwest::Method::POST, "/admin/fund", Some(json!({ "iban": party.iban, "amount": amount }))).await;
    }

    /// Set the bank's fault switches.
    pub async fn faults(&self, faults: Faults) {
        self.admin(reqwest::Method::PUT, "/admin/faults", Some(serde_json::to_value(faults).expect("faults"))).await;
    }

    /// `party`'s balance in minor units.
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

    /// Every payment the bank holds, as its admin API lists them.
    pub async fn payments(&self) -> Value {
        self.admin(reqwest::Method::GET, "/admin/payments", None).await
    }

    /// The bank's record of one instruction (its status, reason and receive count), or
    /// `Null` when it never received it.
    pub async fn payment(&self, e2e: &str) -> Value {
        let resp = self.http.get(format!("{}/admin/payments/{e2e}", self.url)).send().await.expect("admin request");
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Value::Null;
        }
        serde_json::from_str(&resp.text().await.expect("body")).expect("a payment record")
    }

    /// Book an instruction the bank held at an interim status; with `report` false only its
    /// camt.054 shows the booking.
    pub async fn settle_held(&self, e2e: &str, report: bool) -> Value {
        self.admin(reqwest::Method::POST, &format!("/admin/payments/{e2e}/settle"), Some(json!({ "report": report })))
            .await
    }

    /// Reject an instruction the bank held at an interim status.
    pub async fn reject_held(&self, e2e: &str, reason: &str) -> Value {
        self.admin(reqwest::Method::POST, &format!("/admin/payments/{e2e}/reject"), Some(json!({ "reason": reason })))
            .await
    }
}

/// What the buyer's bank may pay from its own account at its own risk (an overdraft on
/// the bank's books: its own money).
pub const BANK_OWN_FUNDS: i64 = 1_000_000_000_000;

/// Open and fund the trade's accounts at the sandbox bank; the buyer's bank's own account
/// (able to pay at its own risk) and its escrow account too.
pub async fn open_accounts(bank: &SandboxBank, p: &Parties, buyer_funds: i64) {
    for who in [p.buyer.address(), p.seller.address(), p.financier.address()] {
        bank.open(&p.account(who), 0).await;
    }
    bank.open(&p.account(p.buyer_bank.address()), BANK_OWN_FUNDS).await;
    bank.open(&p.escrow(), 0).await;
    if buyer_funds > 0 {
        bank.fund(&p.account(p.buyer.address()), buyer_funds).await;
    }
}

/// A worker configuration that polls fast and backs off briefly.
#[must_use]
pub fn worker_config(chain: &Chain) -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        receivables: Some(chain.suite.receivables),
        ..WorkerConfig::new(chain.suite.trade_orders)
    }
}

/// The buyer's bank's worker configuration: with its escrow account.
#[must_use]
pub fn bank_worker_config(chain: &Chain, p: &Parties) -> WorkerConfig {
    WorkerConfig { escrow_account: Some(p.escrow()), ..worker_config(chain) }
}

/// The buyer's bank's worker.
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
    let client = connect(&chain.url).await;
    let config =
        if signer.address() == p.buyer_bank.address() { bank_worker_config(chain, p) } else { worker_config(chain) };
    SettlementWorker::new(config, client, outbox, rails, Arc::new(p.directory()), signer.clone()).await.expect("worker")
}

/// The buyer's bank's worker with its configuration changed by `configure` (batch sizes, say).
pub async fn worker_configured(
    chain: &Chain,
    bank: &SandboxBank,
    p: &Parties,
    db_url: &str,
    timeout: Duration,
    configure: impl FnOnce(&mut WorkerConfig),
) -> SettlementWorker<IsoHttpRails> {
    let rails = IsoHttpRails::new(&bank.url, "Harbour Bank", timeout).expect("rails");
    let outbox = Outbox::connect(db_url).await.expect("outbox");
    let client = connect(&chain.url).await;
    let mut config = bank_worker_config(chain, p);
    configure(&mut config);
    SettlementWorker::new(config, client, outbox, rails, Arc::new(p.directory()), p.buyer_bank.clone())
        .await
        .expect("worker")
}

/// A SQLite URL for file `name` in `dir`.
#[must_use]
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

/// The EndToEndId of a payment attempt.
#[must_use]
pub fn e2e(chain_id: u64, order: U256, milestone: u64, attempt: u32) -> String {
    tradechain_money::identifier::end_to_end_id(chain_id, order, U256::from(milestone), attempt).to_string()
}
