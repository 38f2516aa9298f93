//! Plays the steps of a scenario over HTTP: REST for the organisations' actions and the
//! read model, JSON-RPC for the clock, the sandbox bank's admin API for balances.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use serde_json::{Value, json};
use tradechain_bank_adapters::chain::{ChainClient, Signer};
use tradechain_bank_adapters::identifier::{Bic, Iban};
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::Outbox;
use tradechain_bank_adapters::party::{Party, StaticDirectory};
use tradechain_bank_adapters::settlement::{SettlementWorker, WorkerConfig};

use crate::Error;
use crate::format::{Action, Expect, OrderSpec, Scenario, Step};

const DAY: u64 = 86_400;

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
pub struct Target {
    /// The node's URL: REST under `/v1`, JSON-RPC at `/`.
    pub base: String,
    pub bank_url: String,
    /// The operator's API token (onboards the parties).
    pub operator_token: String,
    /// Appended to the names the parties are onboarded under, so that a scenario can be
    /// played more than once on one node (names are unique there); the timeline keeps the
    /// scenario's names.
    pub name_suffix: String,
    /// Makes the sandbox bank's account numbers of this run distinct from other runs'.
    pub run: u32,
}

struct Member {
    name: String,
    address: String,
    token: String,
    account: Option<Party>,
}

struct Runner<'a> {
    http: reqwest::Client,
    base: String,
    bank_url: String,
    operator_token: String,
    members: Vec<Member>,
    orders: BTreeMap<String, (i64, &'a OrderSpec)>,
    financings: BTreeMap<String, (i64, String)>,
    workers: Vec<SettlementWorker<IsoHttpRails>>,
    start: u64,
    print: bool,
    timeline: String,
    directory: Option<StaticDirectory>,
    specs: &'a [OrderSpec],
    name_suffix: String,
    run: u32,
}

fn status_error(status: u16, body: &Value) -> String {
    match body["error"]["code"].as_str() {
        Some(code) => format!("HTTP {status} {code}: {}", body["error"]["message"].as_str().unwrap_or("")),
        None => format!("HTTP {status}: {body}"),
    }
}

fn doc_name(doc: &str) -> String {
    doc.replace('_', " ")
}

impl<'a> Runner<'a> {
    fn emit(&mut self, line: &str) {
        let line = line.trim_end();
        if self.print {
            println!("{line}");
        }
        self.timeline.push_str(line);
        self.timeline.push('\n');
    }

    async fn line(&mut self, actor: &str, action: &str, state: &str, money: &str) -> Result<(), Error> {
        let day = self.day().await?;
        self.emit(&format!("day {day:>3}  {actor:<20} {action:<50} {state:<10} {money}"));
        Ok(())
    }

    async fn rpc(&self, method: &str, params: Value) -> Result<Value, Error> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let res = self
            .http
            .post(&self.base)
            .header("content-type", "application/json")
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

    async fn chain_time(&self) -> Result<u64, Error> {
        let block = self.rpc("eth_getBlockByNumber", json!(["latest", false])).await?;
        let ts = block["timestamp"].as_str().unwrap_or("0x0");
        u64::from_str_radix(ts.trim_start_matches("0x"), 16).map_err(|e| Error::Platform(format!("timestamp: {e}")))
    }

    async fn day(&self) -> Result<u64, Error> {
        Ok(self.chain_time().await?.saturating_sub(self.start) / DAY)
    }

    async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> Result<(u16, Value), Error> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| Error::Platform(e.to_string()))?;
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.map_err(|e| Error::Platform(format!("{path}: {e}")))?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(|e| Error::Platform(format!("{path}: {e}")))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
    }

    async fn put_bytes(&self, path: &str, token: &str, bytes: Vec<u8>) -> Result<(u16, Value), Error> {
        let res = self
            .http
            .put(format!("{}{path}", self.base))
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

    async fn bank_admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, Error> {
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

    /// Wait until the read model has indexed the chain's head.
    async fn sync(&self) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (_, r) = self.call("GET", "/v1/ready", &self.operator_token, None).await?;
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

    fn member(&self, name: &str) -> &Member {
        self.members.iter().find(|m| m.name == name).expect("parties are checked when parsing")
    }

    /// `text` with the members' addresses replaced by their names.
    fn redact_addresses(&self, text: &str) -> String {
        let mut out = text.to_string();
        for m in &self.members {
            out = out.replace(&m.address, &m.name).replace(&m.address.to_lowercase(), &m.name);
        }
        out
    }

    fn name_of(&self, address: &str) -> String {
        self.members
            .iter()
            .find(|m| m.address.eq_ignore_ascii_case(address))
            .map_or_else(|| address.to_string(), |m| m.name.clone())
    }

    async fn order(&self, key: &str) -> Result<Value, Error> {
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
    fn milestone_notes(&self, before: Option<&Value>, after: &Value, currency: &str) -> Vec<String> {
        let mut notes = Vec::new();
        let empty = Vec::new();
        let after_ms = after["milestones"].as_array().unwrap_or(&empty);
        for (i, m) in after_ms.iter().enumerate() {
            let old = before.and_then(|b| b["milestones"][i]["state"].as_str()).unwrap_or("pending");
            let new = m["state"].as_str().unwrap_or("");
            if old == new {
                continue;
            }
            match new {
                "triggered" => {
                    let due = m["due_date"].as_u64().map(|d| d.saturating_sub(self.start) / DAY);
                    notes.push(match due {
                        Some(d) => format!("milestone {} triggered, due day {d}", i + 1),
                        None => format!("milestone {} triggered", i + 1),
                    })
                }
                "paid" => {
                    let amount = m["amount_minor"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
                    let payee = self.name_of(m["payee"].as_str().unwrap_or(""));
                    notes.push(format!("{} → {payee}", format_money(currency, amount)))
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
            let banked = p.roles.iter().any(|r| r == "trader" || r == "financier");
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
            let (status, res) = self.call("POST", "/v1/organisations", &self.operator_token, Some(body)).await?;
            if status != 201 {
                return Err(Error::Platform(format!("onboarding {}: {}", p.name, status_error(status, &res))));
            }
            let address = res["organisation"]["address"].as_str().unwrap_or_default().to_string();
            let token = res["token"].as_str().unwrap_or_default().to_string();
            if let Some(a) = &account {
                let open =
                    json!({ "iban": a.iban, "name": a.name, "bic": a.bic, "currency": currency, "overdraft_limit": 0 });
                self.bank_admin(reqwest::Method::POST, "/admin/accounts", Some(open)).await?;
                if p.funds > 0 {
                    let fund = json!({ "iban": a.iban, "amount": p.funds });
                    self.bank_admin(reqwest::Method::POST, "/admin/fund", Some(fund)).await?;
                }
                let addr: Address = address.parse().map_err(|e| Error::Platform(format!("address {address}: {e}")))?;
                directory = directory.with(addr, a.clone());
            }
            self.members.push(Member { name: p.name.clone(), address, token, account });
        }
        self.emit(&format!(
            "day   0  {:<20} onboards {} organisations; the sandbox bank opens their accounts",
            "operator",
            scenario.parties.len()
        ));
        self.directory = Some(directory);
        Ok(())
    }
}

/// Play `scenario` against `platform`; the timeline, or the first failure.
pub async fn run(
    scenario: &Scenario,
    platform: &Target,
    dir: &Path,
    print: bool,
    progress: bool,
) -> Result<String, Error> {
    let http = tradechain_bank_adapters::rails::http_client(Duration::from_secs(30))
        .map_err(|e| Error::Platform(format!("http client: {e}")))?;
    let mut r = Runner {
        http,
        base: platform.base.clone(),
        bank_url: platform.bank_url.clone(),
        operator_token: platform.operator_token.clone(),
        members: Vec::new(),
        orders: BTreeMap::new(),
        financings: BTreeMap::new(),
        workers: Vec::new(),
        start: 0,
        print,
        timeline: String::new(),
        directory: None,
        specs: &scenario.orders,
        name_suffix: platform.name_suffix.clone(),
        run: platform.run,
    };
    r.emit(&format!("scenario: {}", scenario.name));
    if let Some(d) = &scenario.description {
        for l in d.trim().lines() {
            r.emit(&format!("  {}", l.trim()));
        }
    }
    r.emit("");
    r.emit(&format!("{:<8} {:<20} {:<50} {:<10} money", "", "actor", "action", "order"));
    r.setup(scenario).await?;
    // Day 0 is when the parties are onboarded: the dev chain's genesis time is fixed in the past.
    r.start = r.chain_time().await?;

    // A settlement worker for each bank. The node keeps the bank's key (custodial), so the
    // worker has the node sign its calls, under the bank's API token, as a bank's own
    // software would.
    let (_, chain) = r.call("GET", "/v1/chain", &r.operator_token, None).await?;
    let trade_orders: Address = chain["trade_orders"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| Error::Platform(format!("/v1/chain: {chain}")))?;
    let receivables: Option<Address> = chain["receivables"].as_str().and_then(|a| a.parse().ok());
    let directory = Arc::new(r.directory.take().unwrap_or_default());
    for (i, p) in scenario.parties.iter().enumerate() {
        if !p.roles.iter().any(|x| x == "bank") {
            continue;
        }
        let address: Address = r.members[i].address.parse().map_err(|e| Error::Platform(format!("address: {e}")))?;
        let signer = Signer::Custodial { api: r.base.clone(), token: r.members[i].token.clone(), address };
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(50),
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_millis(400),
            receivables,
            ..WorkerConfig::new(trade_orders)
        };
        let outbox =
            Outbox::connect(&format!("sqlite://{}?mode=rwc", dir.join(format!("outbox-{i}.sqlite")).display()))
                .await
                .map_err(|e| Error::Platform(format!("outbox: {e}")))?;
        let rails = IsoHttpRails::new(&r.bank_url, &p.name, Duration::from_secs(10))
            .map_err(|e| Error::Platform(format!("rails: {e}")))?;
        let client =
            ChainClient::new(&r.base, Duration::from_secs(10)).map_err(|e| Error::Platform(format!("chain: {e}")))?;
        let worker = SettlementWorker::new(config, client, outbox, rails, directory.clone(), signer)
            .await
            .map_err(|e| Error::Platform(format!("settlement worker of {}: {e}", p.name)))?;
        r.workers.push(worker);
    }

    let total = scenario.steps.len();
    for (n, step) in scenario.steps.iter().enumerate() {
        if progress {
            // `\r` + erase line: one line on the terminal, rewritten per step.
            eprint!("\r\x1b[2K{}: step {}/{total}", scenario.name, n + 1);
            let _ = std::io::Write::flush(&mut std::io::stderr());
        }
        let played = play_step(&mut r, n + 1, step.get_ref()).await;
        if progress && (played.is_err() || n + 1 == total) {
            eprintln!();
        }
        played?;
    }
    r.emit("");
    let keys: Vec<String> = r.orders.keys().cloned().collect();
    for key in keys {
        let o = r.order(&key).await?;
        let currency = o["currency"].as_str().unwrap_or("USD").to_string();
        let minor = |f: &str| o[f].as_str().and_then(|v| v.parse::<u128>().ok()).unwrap_or(0);
        r.emit(&format!(
            "order {key} (#{}): {} — paid {} of {}",
            o["id"],
            o["state"].as_str().unwrap_or("?"),
            format_money(&currency, minor("paid_minor")),
            format_money(&currency, minor("amount_minor"))
        ));
    }
    Ok(r.timeline)
}

fn describe(step: &Step) -> String {
    let mut out = format!("{:?}", step.action);
    for part in [&step.actor, &step.order, &step.document].into_iter().flatten() {
        out.push(' ');
        out.push_str(part);
    }
    if let Some(d) = step.days {
        out.push_str(&format!(" {d}"));
    }
    out
}

/// A date `days` after the chain's `now`, YYYY-MM-DD.
fn date_after(now: u64, days: u32) -> String {
    let ts = i64::try_from(now + u64::from(days) * DAY).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

async fn play_step(r: &mut Runner<'_>, n: usize, step: &Step) -> Result<(), Error> {
    let what = describe(step);
    let fail = |message: String| Error::Step { step: n, what: what.clone(), message };
    let actor = step.actor.clone().unwrap_or_default();
    let token = step.actor.as_ref().map(|a| r.member(a).token.clone()).unwrap_or_default();
    let key = step.order.clone().unwrap_or_default();
    let doc = step.document.clone().unwrap_or_default();
    let before = match r.orders.contains_key(&key) {
        true => Some(r.order(&key).await?),
        false => None,
    };
    let id = r.orders.get(&key).map(|(id, _)| *id);
    let path = |suffix: &str| format!("/v1/orders/{}{suffix}", id.unwrap_or(0));
    let action: String;
    let mut terms_note = String::new();
    let result = match step.action {
        Action::AdvanceDays => {
            let days = step.days.unwrap_or(0);
            let advanced = match r.rpc("evm_increaseTime", json!([u64::from(days) * DAY])).await {
                Ok(_) => r.rpc("evm_mine", json!([])).await,
                Err(e) => Err(e),
            };
            advanced.map_err(|e| {
                fail(format!("the node does not let its clock be advanced (a dev node or Hardhat does): {e}"))
            })?;
            r.emit(&format!("         ·· {days} days pass"));
            return check(r, n, &what, step).await;
        }
        Action::BankDown | Action::BankUp => {
            let down = step.action == Action::BankDown;
            r.bank_admin(reqwest::Method::PUT, "/admin/faults", Some(json!({ "down": down }))).await?;
            let what_happens = if down { "goes down: every instruction gets 503" } else { "is back up" };
            r.line("sandbox bank", what_happens, "", "").await?;
            return check(r, n, &what, step).await;
        }
        Action::TrySettle => {
            for w in &r.workers {
                // The bank may be down: a failed pass is what this step shows.
                let _ = w.step().await;
            }
            let after = r.order(&key).await?;
            let currency = after["currency"].as_str().unwrap_or("USD").to_string();
            let notes = r.milestone_notes(before.as_ref(), &after, &currency);
            let state = after["state"].as_str().unwrap_or("").to_string();
            let payments = r.bank_admin(reqwest::Method::GET, "/admin/payments", None).await?;
            let count = payments.as_array().map_or(0, Vec::len);
            let mut note = format!("{count} payment(s) booked at the bank");
            if !notes.is_empty() {
                note = format!("{}; {note}", notes.join("; "));
            }
            r.line("settlement", "the workers try once", &state, &note).await?;
            return check(r, n, &what, step).await;
        }
        Action::GrantConsent => {
            let financier = step.financier.clone().unwrap_or_default();
            let days = step.days.unwrap_or(0);
            let now = r.chain_time().await?;
            let body = json!({ "financier": r.member(&financier).address, "expires_at": date_after(now, days) });
            let (status, res) = r.call("POST", "/v1/consents", &token, Some(body)).await?;
            if !(200..300).contains(&status) {
                return Err(fail(status_error(status, &res)));
            }
            r.line(&actor, &format!("consents: {financier} may read its history"), "", &format!("for {days} days"))
                .await?;
            return check(r, n, &what, step).await;
        }
        Action::QueryCredit => {
            let firm = step.firm.clone().unwrap_or_default();
            r.sync().await?;
            let address = r.member(&firm).address.clone();
            let (status, res) = r.call("GET", &format!("/v1/firms/{address}/credit-profile"), &token, None).await?;
            if let Some(code) = &step.expect_error {
                let got = res["error"]["code"].as_str().unwrap_or("success");
                if got != code {
                    return Err(unmet(n, &what, "expect_error", code, got));
                }
                r.line(&actor, &format!("tries: reads {firm}'s credit profile"), "", &format!("refused: {code}"))
                    .await?;
                return check(r, n, &what, step).await;
            }
            if status != 200 {
                return Err(fail(status_error(status, &res)));
            }
            r.line(&actor, &format!("reads {firm}'s credit profile"), "", "").await?;
            let empty = Vec::new();
            for f in res["figures"].as_array().unwrap_or(&empty) {
                let name = f["name"].as_str().unwrap_or("?");
                if matches!(name, "quarterly_trend" | "trading_period" | "concentration") {
                    continue;
                }
                let v = r.redact_addresses(&f["value"].to_string());
                r.emit(&format!("{:<8} {:<20} {name}: {v}", "", ""));
            }
            if let Some(want) = step.expect.as_ref().and_then(|e| e.figures.as_ref()) {
                for (name, value) in want {
                    let want = serde_json::to_value(value).map_err(|e| fail(e.to_string()))?;
                    let got = res["figures"]
                        .as_array()
                        .and_then(|fs| fs.iter().find(|f| f["name"] == name.as_str()))
                        .map(|f| f["value"].clone())
                        .unwrap_or(Value::Null);
                    if got != want {
                        return Err(unmet(n, &what, &format!("figures.{name}"), want, got));
                    }
                }
            }
            return check(r, n, &what, step).await;
        }
        Action::OfferFinancing => {
            let spec = r.orders_spec(&key).ok_or_else(|| fail(format!("order `{key}` is not defined")))?;
            let kind = step.kind.clone().unwrap_or_default();
            let index = step.milestone.unwrap_or(1).saturating_sub(1);
            let now = r.chain_time().await?;
            let invoice_number = step.invoice.clone().unwrap_or_else(|| format!("INV-{key}"));
            let invoice_amount = step.invoice_amount_minor.unwrap_or(spec.amount_minor);
            let rate = step.rate_bps.unwrap_or(0);
            let mut body = json!({
                "kind": kind,
                "rate_bps": rate,
                "invoice": {
                    "number": invoice_number,
                    "date": date_after(now, 0),
                    "amount_minor": invoice_amount.to_string(),
                    "currency": spec.currency,
                },
            });
            let terms = if kind == "payable" {
                let extra = step.extra_days.unwrap_or(0);
                body["extra_days"] = json!(extra);
                format!("{extra} extra days")
            } else {
                let advance = step.advance_minor.unwrap_or(0);
                body["advance_minor"] = json!(advance.to_string());
                format!("advance {}", format_money(&spec.currency, u128::from(advance)))
            };
            let got =
                r.call("POST", &path(&format!("/milestones/{index}/financing-offers")), &token, Some(body)).await?;
            if got.0 == 201
                && let (Some(name), Some(fid)) = (&step.financing, got.1["id"].as_i64())
            {
                r.financings.insert(name.clone(), (fid, token.clone()));
            }
            action = format!("offers {kind} finance on invoice {invoice_number}");
            terms_note = format!(
                "invoice {}: {terms} at {}.{:02}%",
                format_money(&spec.currency, u128::from(invoice_amount)),
                rate / 100,
                rate % 100
            );
            got
        }
        Action::ReleaseMilestone | Action::ConfirmMilestone => {
            let index = step.milestone.unwrap_or(1).saturating_sub(1);
            if step.action == Action::ReleaseMilestone {
                action = format!("releases milestone {}", index + 1);
                r.call("POST", &path(&format!("/milestones/{index}/release")), &token, Some(json!({}))).await?
            } else {
                let reference = step.reference.clone().unwrap_or_else(|| format!("PAY-{key}-{}", index + 1));
                action = format!("confirms it paid milestone {} ({reference})", index + 1);
                r.call(
                    "POST",
                    &path(&format!("/milestones/{index}/confirm")),
                    &token,
                    Some(json!({ "reference": reference })),
                )
                .await?
            }
        }
        Action::ReleaseRepayment | Action::ConfirmRepayment => {
            let name = step.financing.clone().unwrap_or_default();
            let fid = r.financings.get(&name).ok_or_else(|| fail(format!("financing `{name}` was not offered")))?.0;
            let got = if step.action == Action::ReleaseRepayment {
                action = format!("releases the repayment of financing {name}");
                r.call("POST", &format!("/v1/financings/{fid}/repayment/release"), &token, Some(json!({}))).await?
            } else {
                let reference = step.reference.clone().unwrap_or_else(|| format!("REPAY-{fid:04}"));
                action = format!("confirms the repayment of financing {name} ({reference})");
                r.call(
                    "POST",
                    &format!("/v1/financings/{fid}/repayment/confirm"),
                    &token,
                    Some(json!({ "reference": reference })),
                )
                .await?
            };
            if let Some(amount) = got.1["repayment_amount_minor"].as_str().and_then(|a| a.parse::<u128>().ok()) {
                let currency = r.orders_spec(&key).map_or("USD", |o| o.currency.as_str());
                terms_note = format!("repayment {} → {}", format_money(currency, amount), {
                    let fin = got.1["financier"].as_str().unwrap_or("");
                    r.name_of(fin)
                });
            }
            got
        }
        Action::AcceptFinancing | Action::AdvanceFinancing => {
            let name = step.financing.clone().unwrap_or_default();
            let fid = r.financings.get(&name).ok_or_else(|| fail(format!("financing `{name}` was not offered")))?.0;
            if step.action == Action::AcceptFinancing {
                action = format!("takes financing {name}");
                r.call("POST", &format!("/v1/financings/{fid}/accept"), &token, Some(json!({}))).await?
            } else {
                action = format!("pays the advance of financing {name}");
                let reference = format!("ADV-{fid:04}");
                r.call(
                    "POST",
                    &format!("/v1/financings/{fid}/advance"),
                    &token,
                    Some(json!({ "reference": reference })),
                )
                .await?
            }
        }
        Action::Propose => {
            let spec = r.orders_spec(&key).ok_or_else(|| fail(format!("order `{key}` is not defined")))?;
            if id.is_some() {
                return Err(fail(format!("order `{key}` was already proposed")));
            }
            let now = r.chain_time().await?;
            let milestones: Vec<Value> = spec
                .milestones
                .iter()
                .map(|m| {
                    let mut v = json!({ "documents": m.documents, "tenor_days": m.tenor_days });
                    if let Some(s) = m.share_bps {
                        v["share_bps"] = json!(s);
                    }
                    if let Some(a) = m.amount_minor {
                        v["amount_minor"] = json!(a.to_string());
                    }
                    v
                })
                .collect();
            let mut details = json!({});
            if let Some(g) = &spec.goods {
                details["line_items"] = json!([{ "description": g, "quantity": "1", "unit": "lot" }]);
            }
            if let Some(p) = &spec.port_of_loading {
                details["port_of_loading"] = json!(p);
            }
            if let Some(p) = &spec.port_of_discharge {
                details["port_of_discharge"] = json!(p);
            }
            let body = json!({
                "seller": r.member(&spec.seller).address,
                "buyer_bank": r.member(&spec.buyer_bank).address,
                "seller_bank": r.member(&spec.seller_bank).address,
                "amount_minor": spec.amount_minor.to_string(),
                "currency": spec.currency,
                "incoterm": spec.incoterm,
                "latest_shipment": date_after(now, spec.latest_shipment_days),
                "expiry": date_after(now, spec.expiry_days),
                "milestones": milestones,
                "details": details,
            });
            let (status, res) = r.call("POST", "/v1/orders", &token, Some(body)).await?;
            if status == 201
                && let Some(new_id) = res["id"].as_i64()
            {
                let spec = r.orders_spec_static(&key);
                r.orders.insert(key.clone(), (new_id, spec));
            }
            action = format!(
                "proposes order {key}: {}, {}",
                format_money(&spec.currency, u128::from(spec.amount_minor)),
                spec.incoterm
            );
            (status, res)
        }
        Action::Accept => {
            action = format!("accepts order {key}");
            r.call("POST", &path("/accept"), &token, Some(json!({}))).await?
        }
        Action::Commit => {
            action = "commits: the bank's payment undertaking".to_string();
            r.call("POST", &path("/commit"), &token, Some(json!({}))).await?
        }
        Action::Expire => {
            action = format!("expires order {key}");
            r.call("POST", &path("/expire"), &token, Some(json!({}))).await?
        }
        Action::SubmitDocument => {
            let content = step.content.clone().unwrap_or_else(|| format!("%PDF-1.7 {doc} of order {key}"));
            let got = r.put_bytes(&path(&format!("/documents/{doc}")), &token, content.into_bytes()).await?;
            let version = got.1["documents"]
                .as_array()
                .and_then(|ds| ds.iter().find(|d| d["doc_type"] == doc.as_str()))
                .and_then(|d| d["version"].as_i64())
                .unwrap_or(1);
            action = if version > 1 {
                format!("presents a corrected {} (version {version})", doc_name(&doc))
            } else {
                format!("presents the {}", doc_name(&doc))
            };
            got
        }
        Action::Attest => {
            action = format!("attests the {}", doc_name(&doc));
            r.call("POST", &path(&format!("/documents/{doc}/attest")), &token, Some(json!({}))).await?
        }
        Action::AcceptDocument => {
            action = format!("accepts the {}", doc_name(&doc));
            r.call("POST", &path(&format!("/documents/{doc}/accept")), &token, Some(json!({}))).await?
        }
        Action::RejectDocument => {
            let reason = step.reason.clone().unwrap_or_default();
            action = format!("rejects the {}: {reason}", doc_name(&doc));
            r.call("POST", &path(&format!("/documents/{doc}/reject")), &token, Some(json!({ "reason": reason })))
                .await?
        }
        Action::WaitSettled => {
            wait_settled(r, &key).await.map_err(|e| fail(e.to_string()))?;
            let after = r.order(&key).await?;
            let currency = after["currency"].as_str().unwrap_or("USD").to_string();
            let empty = Vec::new();
            let mut paid_any = false;
            for (i, m) in after["milestones"].as_array().unwrap_or(&empty).iter().enumerate() {
                let was = before.as_ref().and_then(|b| b["milestones"][i]["state"].as_str()).unwrap_or("");
                if m["state"] == "paid" && was != "paid" {
                    paid_any = true;
                    let payer = r.name_of(m["payer"].as_str().unwrap_or(""));
                    let amount = m["amount_minor"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
                    let payee = r.name_of(m["payee"].as_str().unwrap_or(""));
                    let state = after["state"].as_str().unwrap_or("").to_string();
                    r.line(
                        &payer,
                        &format!("pays milestone {} through the sandbox bank", i + 1),
                        &state,
                        &format!("{} → {payee}", format_money(&currency, amount)),
                    )
                    .await?;
                }
            }
            if !paid_any {
                let state = after["state"].as_str().unwrap_or("").to_string();
                r.line("settlement", "no payment is due", &state, "").await?;
            }
            return check(r, n, &what, step).await;
        }
    };
    let (status, body) = result;
    let ok = (200..300).contains(&status);
    if let Some(code) = &step.expect_error {
        let got = body["error"]["code"].as_str().unwrap_or(if ok { "success" } else { "no error code" });
        if got != code {
            return Err(unmet(n, &what, "expect_error", code, got));
        }
        let state = match r.orders.contains_key(&key) {
            true => r.order(&key).await?["state"].as_str().unwrap_or("").to_string(),
            false => String::new(),
        };
        r.line(&actor, &format!("tries: {action}"), &state, &format!("refused: {code}")).await?;
        return check(r, n, &what, step).await;
    }
    if !ok {
        return Err(fail(status_error(status, &body)));
    }
    let after = r.order(&key).await?;
    let currency = after["currency"].as_str().unwrap_or("USD").to_string();
    let mut notes = r.milestone_notes(before.as_ref(), &after, &currency);
    if !terms_note.is_empty() {
        notes.insert(0, terms_note);
    }
    let notes = notes.join("; ");
    let state = after["state"].as_str().unwrap_or("").to_string();
    r.line(&actor, &action, &state, &notes).await?;
    check(r, n, &what, step).await
}

/// Drive the settlement workers until no milestone of the order is payable and unpaid.
async fn wait_settled(r: &Runner<'_>, key: &str) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        for w in &r.workers {
            // A failed pass is retried, as the worker's own loop would.
            let _ = w.step().await;
        }
        let order = r.order(key).await?;
        let now = r.chain_time().await?;
        let empty = Vec::new();
        let pending: Vec<usize> = order["milestones"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                let due = m["due_date"].as_u64().is_some_and(|d| d <= now);
                m["state"] == "due" || (m["state"] == "triggered" && due)
            })
            .map(|(i, _)| i + 1)
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Platform(format!("milestones {pending:?} of order {key} were not paid within 30s")));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn unmet(n: usize, what: &str, expectation: &str, expected: impl ToString, actual: impl ToString) -> Error {
    Error::Expectation {
        step: n,
        what: what.to_string(),
        expectation: expectation.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

async fn check(r: &Runner<'_>, n: usize, what: &str, step: &Step) -> Result<(), Error> {
    let Some(e) = &step.expect else { return Ok(()) };
    let Expect { order, state, paid_minor, milestones, balances, bank_payments, financing_state, figures: _ } = e;
    if let Some(want) = bank_payments {
        let all = r.bank_admin(reqwest::Method::GET, "/admin/payments", None).await?;
        let got = all.as_array().map_or(0, Vec::len);
        if got != *want {
            return Err(unmet(n, what, "bank_payments", want, got));
        }
    }
    if let Some(want) = financing_state {
        let name = step.financing.clone().unwrap_or_default();
        let (fid, token) =
            r.financings.get(&name).ok_or_else(|| unmet(n, what, "financing_state", want, "no financing"))?;
        r.sync().await?;
        let (_, f) = r.call("GET", &format!("/v1/financings/{fid}"), token, None).await?;
        let got = f["state"].as_str().unwrap_or("?");
        if got != want {
            return Err(unmet(n, what, "financing_state", want, got));
        }
    }
    let key = order.as_ref().or(step.order.as_ref());
    if state.is_some() || paid_minor.is_some() || milestones.is_some() {
        let key = key.ok_or_else(|| unmet(n, what, "order", "an order", "none named"))?;
        let o = r.order(key).await?;
        if let Some(s) = state
            && o["state"] != s.as_str()
        {
            return Err(unmet(n, what, "state", s, o["state"].as_str().unwrap_or("?")));
        }
        if let Some(p) = paid_minor {
            let got = o["paid_minor"].as_str().unwrap_or("?");
            if got != p.to_string() {
                return Err(unmet(n, what, "paid_minor", p, got));
            }
        }
        if let Some(ms) = milestones {
            let empty = Vec::new();
            let got = o["milestones"].as_array().unwrap_or(&empty);
            if got.len() != ms.len() {
                return Err(unmet(n, what, "milestones", format!("{} milestones", ms.len()), got.len()));
            }
            for (i, (want, m)) in ms.iter().zip(got).enumerate() {
                let label = |f: &str| format!("milestones[{i}].{f}");
                if m["state"] != want.state.as_str() {
                    return Err(unmet(n, what, &label("state"), &want.state, m["state"].as_str().unwrap_or("?")));
                }
                if let Some(a) = want.amount_minor {
                    let g = m["amount_minor"].as_str().unwrap_or("?");
                    if g != a.to_string() {
                        return Err(unmet(n, what, &label("amount_minor"), a, g));
                    }
                }
                if let Some(p) = &want.payee {
                    let g = r.name_of(m["payee"].as_str().unwrap_or(""));
                    if &g != p {
                        return Err(unmet(n, what, &label("payee"), p, g));
                    }
                }
            }
        }
    }
    if let Some(b) = balances {
        let all = r.bank_admin(reqwest::Method::GET, "/admin/balances", None).await?;
        for (name, want) in b {
            let member = r.member(name);
            let got = member.account.as_ref().and_then(|a| {
                all.as_array()
                    .and_then(|l| l.iter().find(|x| x["iban"] == a.iban.as_str()))
                    .and_then(|x| x["balance"].as_i64())
            });
            match got {
                Some(g) if g == *want => {}
                Some(g) => return Err(unmet(n, what, &format!("balances.{name}"), want, g)),
                None => return Err(unmet(n, what, &format!("balances.{name}"), want, "no account")),
            }
        }
    }
    Ok(())
}

impl<'a> Runner<'a> {
    fn orders_spec(&self, key: &str) -> Option<&'a OrderSpec> {
        self.specs.iter().find(|o| o.id == key)
    }

    fn orders_spec_static(&self, key: &str) -> &'a OrderSpec {
        self.orders_spec(key).expect("checked above")
    }
}
