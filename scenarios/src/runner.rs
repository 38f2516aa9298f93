//! Plays the steps of a scenario over HTTP: REST for the organisations' actions and the
//! read model, JSON-RPC for the clock, the sandbox bank's admin API for balances.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use serde_json::{Value, json};
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::Outbox;
use tradechain_bank_adapters::party::{Party, StaticDirectory};
use tradechain_bank_adapters::settlement::{SettlementWorker, WorkerConfig};
use tradechain_chain::remote::{RemoteChain, RemoteSettings};
use tradechain_chain::signer::{Custodian, Signer};
use tradechain_money::identifier::{Bic, Iban};

use crate::Error;
use crate::format::{OrderSpec, Scenario};

/// Seconds in a day.
pub(crate) const DAY: u64 = 86_400;

/// How far below zero a bank's own account may go in the sandbox bank (minor units).
const BANK_OWN_FUNDS: i64 = 1_000_000_000_000_000;

/// `minor` units of `currency` for people: `USD 12,500.00` (no decimals for JPY and KRW).
pub fn format_money(currency: &str, minor: u128) -> String {
    let decimals = if matches!(currency, "JPY" | "KRW") { 0 } else { 2 };
    let unit = 10u128.pow(decimals);
    let whole = (minor / unit).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if decimals == 0 { format!("{currency} {grouped}") } else { format!("{currency} {grouped}.{:02}", minor % unit) }
}

/// The node a scenario plays against, and the sandbox bank its banks pay through.
pub(crate) struct Target {
    /// The node's URL: REST under `/v1`, JSON-RPC at `/`.
    pub(crate) base: String,
    pub(crate) bank_url: String,
    /// The operator's API token (onboards the parties).
    pub(crate) operator_token: String,
    /// Appended to the names the parties are onboarded under, so that a scenario can be
    /// played more than once on one node (names are unique there); the timeline keeps the
    /// scenario's names.
    pub(crate) name_suffix: String,
    /// Makes the sandbox bank's account numbers of this run distinct from other runs'.
    pub(crate) run: u32,
    /// In a consortium of member nodes, each node (the first is `base`); empty: one node.
    pub(crate) nodes: Vec<NodeTarget>,
}

/// A member node of a consortium a scenario plays across.
#[derive(Debug, Clone)]
pub(crate) struct NodeTarget {
    /// Its name in the scenario (`party.node`).
    pub(crate) name: String,
    /// Its REST API and JSON-RPC.
    pub(crate) base: String,
    /// Its operator API token.
    pub(crate) operator_token: String,
    /// Its peer endpoint, which its member registers in the directory.
    pub(crate) peer: String,
}

/// An organisation of the scenario as the node knows it.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) token: String,
    /// The node that serves it (where it acts, with its token).
    pub(crate) base: String,
    pub(crate) account: Option<Party>,
    /// A bank's escrow account, where it earmarks its customers' funds.
    pub(crate) escrow: Option<Party>,
}

/// A scenario being played: who is who, what was created, the workers, the timeline.
pub(crate) struct Runner<'a> {
    http: reqwest::Client,
    base: String,
    bank_url: String,
    operator_token: String,
    members: Vec<Member>,
    /// Orders proposed so far: the scenario's name → (id, terms).
    pub(crate) orders: BTreeMap<String, (i64, &'a OrderSpec)>,
    /// Financings offered so far: the scenario's name → (id, the offeror's token).
    pub(crate) financings: BTreeMap<String, (i64, String)>,
    /// Invoices offered so far: number → the date it carries. An invoice keeps its date
    /// however late another financier is offered it (the registry's digests cover it).
    pub(crate) invoice_dates: BTreeMap<String, String>,
    pub(crate) workers: Vec<SettlementWorker<IsoHttpRails>>,
    pub(crate) start: u64,
    print: bool,
    timeline: String,
    directory: Option<StaticDirectory>,
    specs: &'a [OrderSpec],
    name_suffix: String,
    run: u32,
    nodes: Vec<NodeTarget>,
    /// Which node each token belongs to: every call goes to the caller's node.
    base_of: BTreeMap<String, String>,
}

/// An HTTP answer that is not a success, for an error message.
pub(crate) fn status_error(status: u16, body: &Value) -> String {
    match body["error"]["code"].as_str() {
        Some(code) => format!("HTTP {status} {code}: {}", body["error"]["message"].as_str().unwrap_or("")),
        None => format!("HTTP {status}: {body}"),
    }
}

/// A document type as a person reads it (`bill of lading`).
pub(crate) fn doc_name(doc: &str) -> String {
    doc.replace('_', " ")
}

impl<'a> Runner<'a> {
    pub(crate) fn emit(&mut self, line: &str) {
        let line = line.trim_end();
        if self.print {
            println!("{line}");
        }
        self.timeline.push_str(line);
        self.timeline.push('\n');
    }

    pub(crate) async fn line(&mut self, actor: &str, action: &str, state: &str, money: &str) -> Result<(), Error> {
        let day = self.day().await?;
        self.emit(&format!("day {day:>3}  {actor:<20} {action:<50} {state:<10} {money}"));
        Ok(())
    }

    pub(crate) async fn rpc(&self, method: &str, params: Value) -> Result<Value, Error> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        // The operator's token: a node outside dev mode answers JSON-RPC to members only,
        // and moves a dev chain's clock for its operator only.
        let res = self
            .http
            .post(&self.base)
            .header("content-type", "application/json")
            .bearer_auth(&self.operator_token)
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| Error::Platform(format!("{method}: {e}")))?;
        let text = res.text().await.map_err(|e| Error::Platform(format!("{method}: {e}")))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| Error::Platform(format!("{method}: {e}: {text}")))?;
        if !v["error"].is_null() {
            return Err(Error::Platform(format!("{method}: {}", v["error"])));
        }
        Ok(v["result"].clone())
    }

    pub(crate) async fn chain_time(&self) -> Result<u64, Error> {
        let block = self.rpc("eth_getBlockByNumber", json!(["latest", false])).await?;
        let ts = block["timestamp"].as_str().unwrap_or("0x0");
        u64::from_str_radix(ts.trim_start_matches("0x"), 16).map_err(|e| Error::Platform(format!("timestamp: {e}")))
    }

    pub(crate) async fn day(&self) -> Result<u64, Error> {
        Ok(self.chain_time().await?.saturating_sub(self.start) / DAY)
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| Error::Platform(e.to_string()))?;
        let mut req = self.http.request(method, format!("{}{path}", self.base_for(token))).bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.map_err(|e| Error::Platform(format!("{path}: {e}")))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| Error::Platform(format!("{path}: {e}")))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    pub(crate) async fn put_bytes(&self, path: &str, token: &str, bytes: Vec<u8>) -> Result<(u16, Value), Error> {
        let res = self
            .http
            .put(format!("{}{path}", self.base_for(token)))
            .bearer_auth(token)
            .header("content-type", "application/pdf")
            .body(bytes)
            .send()
            .await
            .map_err(|e| Error::Platform(format!("{path}: {e}")))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| Error::Platform(format!("{path}: {e}")))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    pub(crate) async fn bank_admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.bank_url));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.map_err(|e| Error::Platform(format!("sandbox bank {path}: {e}")))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| Error::Platform(format!("sandbox bank {path}: {e}")))?;
        if !status.is_success() {
            return Err(Error::Platform(format!("sandbox bank {path}: HTTP {status}: {text}")));
        }
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    /// The node `token` belongs to.
    fn base_for(&self, token: &str) -> &str {
        self.base_of.get(token).map_or(self.base.as_str(), String::as_str)
    }

    /// Wait until every node's read model has indexed the chain's head.
    pub(crate) async fn sync(&self) -> Result<(), Error> {
        let tokens: Vec<String> = if self.nodes.is_empty() {
            vec![self.operator_token.clone()]
        } else {
            self.nodes.iter().map(|n| n.operator_token.clone()).collect()
        };
        for token in tokens {
            self.sync_node(&token).await?;
        }
        Ok(())
    }

    async fn sync_node(&self, operator_token: &str) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (_, r) = self.call("GET", "/v1/ready", operator_token, None).await?;
            if let (Some(head), Some(indexed)) = (r["head"].as_u64(), r["indexed"].as_u64())
                && indexed >= head
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Platform(format!("the read model does not follow the chain: {r}")));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn member(&self, name: &str) -> &Member {
        self.members.iter().find(|m| m.name == name).expect("parties are checked when parsing")
    }

    /// `text` with the members' addresses replaced by their names.
    pub(crate) fn redact_addresses(&self, text: &str) -> String {
        let mut out = text.to_string();
        for m in &self.members {
            out = out.replace(&m.address, &m.name).replace(&m.address.to_lowercase(), &m.name);
        }
        out
    }

    pub(crate) fn name_of(&self, address: &str) -> String {
        self.members
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
            .map_or_else(|| address.to_string(), |m| m.name.clone())
    }

    pub(crate) async fn order(&self, key: &str) -> Result<Value, Error> {
        let (id, spec) =
            self.orders.get(key).ok_or_else(|| Error::Platform(format!("order `{key}` not proposed yet")))?;
        self.sync().await?;
        // Orders are visible to their parties only: read as the buyer.
        let token = &self.member(&spec.buyer).token;
        let (status, body) = self.call("GET", &format!("/v1/orders/{id}"), token, None).await?;
        if status != 200 {
            return Err(Error::Platform(format!("order `{key}`: {}", status_error(status, &body))));
        }
        Ok(body)
    }

    /// Changes of milestone state between two views of an order, for the timeline.
    pub(crate) fn milestone_notes(&self, before: Option<&Value>, after: &Value, currency: &str) -> Vec<String> {
        let mut notes = Vec::new();
        let empty = Vec::new();
        let after_ms = after["milestones"].as_array().unwrap_or(&empty);
        for (i, m) in after_ms.iter().enumerate() {
            // A payer that changed back (a financier payer in default, a financing
            // cancelled) or to a financier.
            let old_payer = before.and_then(|b| b["milestones"][i]["payer"].as_str());
            if let (Some(was), Some(now)) = (old_payer, m["payer"].as_str())
                && was != now
            {
                notes.push(format!("milestone {} payer: {}", i + 1, self.name_of(now)));
            }
            let old = before.and_then(|b| b["milestones"][i]["state"].as_str()).unwrap_or("pending");
            let new = m["state"].as_str().unwrap_or("");
            if old == new {
                continue;
            }
            match new {
                "triggered" => {
                    // A due date is a calendar day (its midnight, UTC).
                    let due = m["due_date"].as_u64().map(|d| (d / DAY).saturating_sub(self.start / DAY));
                    notes.push(match due {
                        Some(d) => format!("milestone {} triggered, due day {d}", i + 1),
                        None => format!("milestone {} triggered", i + 1),
                    });
                }
                "paid" => {
                    let amount = m["amount_minor"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
                    let payee = self.name_of(m["payee"].as_str().unwrap_or(""));
                    notes.push(format!("{} → {payee}", format_money(currency, amount)));
                }
                other => notes.push(format!("milestone {} {other}", i + 1)),
            }
        }
        notes
    }

    async fn setup(&mut self, scenario: &Scenario) -> Result<(), Error> {
        let currency = scenario.orders.first().map_or("USD", |o| o.currency.as_str()).to_string();
        let mut directory = StaticDirectory::default();
        for (i, p) in scenario.parties.iter().enumerate() {
            let is_bank = p.roles.iter().any(|r| r == "bank");
            let banked = is_bank || p.roles.iter().any(|r| r == "trader" || r == "financier");
            let account = if banked {
                let iban = Iban::from_bban("GB", &format!("TRDC{:06}{:08}", self.run % 1_000_000, i + 1))
                    .map_err(|e| Error::Platform(format!("iban: {e}")))?;
                let bic = Bic::parse("TRDCGB2L").map_err(|e| Error::Platform(format!("bic: {e}")))?;
                Some(Party { name: p.name.clone(), iban, bic })
            } else {
                None
            };
            let mut body = json!({ "name": format!("{}{}", p.name, self.name_suffix), "roles": p.roles });
            if let Some(a) = &account {
                body["bank_account"] = json!({ "iban": a.iban.as_str(), "bic": a.bic.as_str() });
            }
            // Onboarded by the operator at the node that serves it (its keys are kept there).
            let (base, operator_token) = match self.nodes.iter().find(|n| Some(&n.name) == p.node.as_ref()) {
                Some(n) => (n.base.clone(), n.operator_token.clone()),
                None => (self.base.clone(), self.operator_token.clone()),
            };
            let (status, res) = self.call("POST", "/v1/organisations", &operator_token, Some(body)).await?;
            if status != 201 {
                return Err(Error::Platform(format!("onboarding {}: {}", p.name, status_error(status, &res))));
            }
            let address = res["organisation"]["address"].as_str().unwrap_or_default().to_string();
            let token = res["token"].as_str().unwrap_or_default().to_string();
            // A bank's own account may go as far below zero as it likes: it is the bank's own
            // money, which pays the undertakings it covers at its own risk.
            let overdraft = if is_bank { BANK_OWN_FUNDS } else { 0 };
            let escrow = if is_bank {
                let iban = Iban::from_bban("GB", &format!("TRDE{:06}{:08}", self.run % 1_000_000, i + 1))
                    .map_err(|e| Error::Platform(format!("iban: {e}")))?;
                let bic = Bic::parse("TRDCGB2L").map_err(|e| Error::Platform(format!("bic: {e}")))?;
                let escrow = Party { name: format!("{} escrow", p.name), iban, bic };
                let open = json!({ "iban": escrow.iban, "name": escrow.name, "bic": escrow.bic, "currency": currency });
                self.bank_admin(reqwest::Method::POST, "/admin/accounts", Some(open)).await?;
                Some(escrow)
            } else {
                None
            };
            if let Some(a) = &account {
                let open = json!({
                    "iban": a.iban, "name": a.name, "bic": a.bic, "currency": currency, "overdraft_limit": overdraft
                });
                self.bank_admin(reqwest::Method::POST, "/admin/accounts", Some(open)).await?;
                if p.funds > 0 {
                    let fund = json!({ "iban": a.iban, "amount": p.funds });
                    self.bank_admin(reqwest::Method::POST, "/admin/fund", Some(fund)).await?;
                }
                let addr: Address = address.parse().map_err(|e| Error::Platform(format!("address {address}: {e}")))?;
                directory = directory.with(addr, a.clone());
            }
            self.base_of.insert(token.clone(), base.clone());
            self.members.push(Member { name: p.name.clone(), address, token, base, account, escrow });
        }
        self.emit(&format!(
            "day   0  {:<20} onboards {} organisations; the sandbox bank opens their accounts",
            "operator",
            scenario.parties.len()
        ));
        self.directory = Some(directory);
        if !self.nodes.is_empty() {
            self.join_nodes(scenario).await?;
        }
        Ok(())
    }

    /// A consortium of member nodes: at each node a member (its first bank, else its first
    /// party) registers it, the operator approves it, and every party chooses its own node.
    async fn join_nodes(&mut self, scenario: &Scenario) -> Result<(), Error> {
        let mut ids = BTreeMap::new();
        for node in self.nodes.clone() {
            let served: Vec<usize> = (0..scenario.parties.len())
                .filter(|&i| scenario.parties[i].node.as_ref() == Some(&node.name))
                .collect();
            let Some(&owner) = served
                .iter()
                .find(|&&i| scenario.parties[i].roles.iter().any(|r| r == "bank"))
                .or_else(|| served.first())
            else {
                continue;
            };
            let token = self.members[owner].token.clone();
            let (status, res) = self.call("POST", "/v1/nodes", &token, Some(json!({ "endpoint": node.peer }))).await?;
            if status != 201 {
                return Err(Error::Platform(format!("registering node {}: {}", node.name, status_error(status, &res))));
            }
            let id = res["id"].as_u64().unwrap_or_default();
            let (status, res) =
                self.call("POST", &format!("/v1/nodes/{id}/approve"), &node.operator_token, Some(json!({}))).await?;
            if status != 200 {
                return Err(Error::Platform(format!("approving node {}: {}", node.name, status_error(status, &res))));
            }
            ids.insert(node.name.clone(), id);
        }
        for (i, p) in scenario.parties.iter().enumerate() {
            let Some(id) = p.node.as_ref().and_then(|n| ids.get(n)) else { continue };
            let token = self.members[i].token.clone();
            let (status, res) =
                self.call("PUT", "/v1/organisations/me/node", &token, Some(json!({ "node_id": id }))).await?;
            if status != 200 {
                return Err(Error::Platform(format!("{} choosing node {id}: {}", p.name, status_error(status, &res))));
            }
        }
        let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
        self.emit(&format!(
            "day   0  {:<20} approves the member nodes {}; each party chooses the node that serves it",
            "operator",
            names.join(", ")
        ));
        Ok(())
    }
}

impl<'a> Runner<'a> {
    /// A runner for `scenario` against `platform`, printing each line if `print`.
    pub(crate) fn new(scenario: &'a Scenario, platform: &Target, print: bool) -> Result<Self, Error> {
        let http = tradechain_bank_adapters::rails::http_client(Duration::from_secs(30))
            .map_err(|e| Error::Platform(format!("http client: {e}")))?;
        let base_of = platform.nodes.iter().map(|n| (n.operator_token.clone(), n.base.clone())).collect();
        Ok(Runner {
            http,
            base: platform.base.clone(),
            bank_url: platform.bank_url.clone(),
            operator_token: platform.operator_token.clone(),
            members: Vec::new(),
            orders: BTreeMap::new(),
            financings: BTreeMap::new(),
            invoice_dates: BTreeMap::new(),
            workers: Vec::new(),
            start: 0,
            print,
            timeline: String::new(),
            directory: None,
            specs: &scenario.orders,
            name_suffix: platform.name_suffix.clone(),
            run: platform.run,
            nodes: platform.nodes.clone(),
            base_of,
        })
    }

    /// Move the chain's clock to the next Monday, 09:00 UTC: examination periods and due
    /// dates count banking days, so without this a timeline would depend on the weekday the
    /// scenario was played. A node whose clock cannot be moved (not a dev node) plays from
    /// its own time.
    async fn align_clock(&self) -> Result<(), Error> {
        // A block now first: a fresh dev chain's head is its genesis, fixed in the past.
        if self.rpc("evm_mine", json!([])).await.is_err() {
            return Ok(());
        }
        let now = self.chain_time().await?;
        // 1970-01-01 was a Thursday: day `d` is a Monday when (d + 3) % 7 == 0.
        let mut day = now / DAY + 1;
        while !(day + 3).is_multiple_of(7) {
            day += 1;
        }
        let target = day * DAY + 9 * 3_600;
        if self.rpc("evm_increaseTime", json!([target - now])).await.is_ok() {
            self.rpc("evm_mine", json!([])).await?;
        }
        Ok(())
    }

    /// The timeline so far.
    /// Each party's name and API token.
    pub(crate) fn member_tokens(&self) -> Vec<(String, String)> {
        self.members.iter().map(|m| (m.name.clone(), m.token.clone())).collect()
    }

    pub(crate) fn into_timeline(self) -> String {
        self.timeline
    }

    /// Onboard the parties (see [`Runner::setup`]), start the clock at day 0, and start a
    /// settlement worker for each bank, its outbox in `dir`.
    pub(crate) async fn start(&mut self, scenario: &Scenario, dir: &Path) -> Result<(), Error> {
        self.emit(&format!("scenario: {}", scenario.name));
        if let Some(d) = &scenario.description {
            for l in d.trim().lines() {
                self.emit(&format!("  {}", l.trim()));
            }
        }
        self.emit("");
        self.emit(&format!("{:<8} {:<20} {:<50} {:<10} money", "", "actor", "action", "order"));
        self.align_clock().await?;
        self.setup(scenario).await?;
        // Day 0 is when the parties are onboarded: the dev chain's genesis time is fixed in the past.
        self.start = self.chain_time().await?;
        self.start_workers(scenario, dir).await
    }

    /// A settlement worker for each bank. The node keeps the bank's key (custodial), so the
    /// worker has the node sign its calls, under the bank's API token, as a bank's own
    /// software would.
    async fn start_workers(&mut self, scenario: &Scenario, dir: &Path) -> Result<(), Error> {
        let (_, chain) = self.call("GET", "/v1/chain", &self.operator_token, None).await?;
        let trade_orders: Address = chain["trade_orders"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| Error::Platform(format!("/v1/chain: {chain}")))?;
        let receivables: Option<Address> = chain["receivables"].as_str().and_then(|a| a.parse().ok());
        let directory = Arc::new(self.directory.take().unwrap_or_default());
        for (i, p) in scenario.parties.iter().enumerate() {
            if !p.roles.iter().any(|x| x == "bank") {
                continue;
            }
            let address: Address =
                self.members[i].address.parse().map_err(|e| Error::Platform(format!("address: {e}")))?;
            let signer = Signer::Custodial(Custodian {
                api: self.members[i].base.clone(),
                token: self.members[i].token.clone(),
                address,
            });
            let config = WorkerConfig {
                poll_interval: Duration::from_millis(50),
                backoff_initial: Duration::from_millis(50),
                backoff_max: Duration::from_millis(400),
                receivables,
                escrow_account: self.members[i].escrow.clone(),
                ..WorkerConfig::new(trade_orders)
            };
            let outbox =
                Outbox::connect(&format!("sqlite://{}?mode=rwc", dir.join(format!("outbox-{i}.sqlite")).display()))
                    .await
                    .map_err(|e| Error::Platform(format!("outbox: {e}")))?;
            let rails = IsoHttpRails::new(&self.bank_url, &p.name, Duration::from_secs(10))
                .map_err(|e| Error::Platform(format!("rails: {e}")))?;
            // The bank's own token: through the node's JSON-RPC it sees its orders' events.
            let client = RemoteChain::connect(RemoteSettings {
                poll_interval: Duration::from_millis(20),
                bearer: Some(self.members[i].token.clone()),
                ..RemoteSettings::new(&self.members[i].base)
            })
            .await
            .map_err(|e| Error::Platform(format!("chain: {e}")))?;
            let worker = SettlementWorker::new(config, client, outbox, rails, directory.clone(), signer)
                .await
                .map_err(|e| Error::Platform(format!("settlement worker of {}: {e}", p.name)))?;
            self.workers.push(worker);
        }

        Ok(())
    }

    pub(crate) fn orders_spec(&self, key: &str) -> Option<&'a OrderSpec> {
        self.specs.iter().find(|o| o.id == key)
    }

    pub(crate) fn orders_spec_static(&self, key: &str) -> &'a OrderSpec {
        self.orders_spec(key).expect("checked above")
    }
}
