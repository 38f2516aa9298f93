//! `tradechain demo`: one whole trade on the embedded chain, printed as a timeline a
//! person can read. Coffee from Santos to Hamburg, FOB, 30% at sight on the bill of
//! lading and 70% 60 days after the inspection certificate, with the second payment
//! financed by a receivables financier. Every step is a signed transaction executed by
//! the EVM of an embedded node in a temporary data directory, which is verified from
//! genesis at the end.

use std::path::Path;

use alloy::primitives::{Address, B256, FixedBytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use anyhow::{Context as _, anyhow, bail};
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_contracts::{Consortium, DocType, OrderState, Receivables, TradeOrders, revert, role};
use tradechain_engine::config::DEV_OPERATOR_KEY;
use tradechain_engine::executor::{CallOutcome, CallRequest};
use tradechain_engine::{GenesisCall, Node, NodeConfig};

const DAY: u64 = 86_400;

/// A member of the demo consortium with its own key.
struct Party {
    name: &'static str,
    key: PrivateKeySigner,
}

impl Party {
    fn new(name: &'static str) -> Self {
        // Demo keys derived from the name: deterministic and obviously not for production.
        let key = PrivateKeySigner::from_bytes(&keccak256(format!("tradechain demo {name}"))).expect("valid demo key");
        Self { name, key }
    }

    fn address(&self) -> Address {
        self.key.address()
    }
}

struct Demo {
    node: Node,
    suite: SuiteAddresses,
    start: u64,
}

impl Demo {
    /// Sends `call` signed by `from` and returns the logs of its receipt; a revert is an
    /// error that names the contract's custom error.
    fn send<C: SolCall>(&self, from: &Party, to: Address, call: C) -> anyhow::Result<Vec<alloy::primitives::Log>> {
        let raw = tradechain_engine::transaction::sign_eip1559(
            &from.key,
            self.node.config().chain_id,
            self.node.nonce(&from.address(), true),
            Some(to),
            call.abi_encode().into(),
            5_000_000,
        )?;
        let hash = self.node.submit_raw(&raw).map_err(|e| anyhow!("{} rejected: {e}", from.name))?;
        let (_, receipt) =
            self.node.sealed_transaction(&hash)?.ok_or_else(|| anyhow!("transaction {hash} was not sealed"))?;
        if !receipt.success {
            // Re-run as a call to recover the revert data for a readable reason.
            let out = self.node.call(&CallRequest {
                from: from.address(),
                to: Some(to),
                gas: Some(5_000_000),
                value: U256::ZERO,
                input: call.abi_encode().into(),
            });
            let reason = match out {
                Ok(CallOutcome::Revert { data, .. }) => revert::decode(&data).map_or("revert".into(), |r| r.message),
                other => format!("{other:?}"),
            };
            bail!("{} → {}: {reason}", from.name, C::SIGNATURE);
        }
        Ok(receipt.logs)
    }

    fn view<C: SolCall>(&self, to: Address, call: C) -> anyhow::Result<C::Return> {
        let out = self
            .node
            .call(&CallRequest {
                from: Address::ZERO,
                to: Some(to),
                gas: None,
                value: U256::ZERO,
                input: call.abi_encode().into(),
            })
            .map_err(|e| anyhow!(e))?;
        match out {
            CallOutcome::Success { output, .. } => Ok(C::abi_decode_returns(&output)?),
            other => bail!("view {} failed: {other:?}", C::SIGNATURE),
        }
    }

    fn order(&self, id: U256) -> anyhow::Result<TradeOrders::Order> {
        self.view(self.suite.trade_orders, TradeOrders::getOrderCall { orderId: id })
    }

    fn day(&self) -> u64 {
        (self.node.head().header.timestamp.saturating_sub(self.start)) / DAY
    }

    fn line(&self, actor: &Party, action: &str, state: &str, money: &str) {
        println!("day {:>3}  {:<16} {:<52} {:<11} {}", self.day(), actor.name, action, state, money);
    }

    fn advance(&self, days: u64) -> anyhow::Result<()> {
        self.node.increase_time(days * DAY)?;
        self.node.mine(None)?;
        println!("         ·· {days} days pass");
        Ok(())
    }
}

fn usd(minor: u128) -> String {
    let whole = (minor / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("USD {grouped}.{:02}", minor % 100)
}

fn state_name(o: &TradeOrders::Order) -> &'static str {
    OrderState::from_u8(o.state).map_or("unknown", OrderState::as_str)
}

pub fn run(data_dir: &Path) -> anyhow::Result<()> {
    let config = NodeConfig::dev_in(data_dir);
    let operator_key: PrivateKeySigner = DEV_OPERATOR_KEY.parse().context("dev operator key")?;
    let operator = Party { name: "operator", key: operator_key };
    let genesis = tradechain_contracts::genesis::plan(operator.address())
        .into_iter()
        .map(|c| GenesisCall { to: c.to, input: c.input })
        .collect();
    let node = Node::open(config, genesis).context("cannot open the embedded chain")?;
    // Day 0 is the wall-clock time of the first block after genesis.
    let start = node.next_block_params().timestamp;
    let demo = Demo { node, suite: SuiteAddresses::for_operator(operator.address()), start };
    let s = demo.suite;

    let buyer = Party::new("Hamburg Roastery");
    let seller = Party::new("Santos Coffee");
    let buyer_bank = Party::new("Nordbank");
    let seller_bank = Party::new("Banco Paulista");
    let carrier = Party::new("Atlantic Lines");
    let inspector = Party::new("Cert Inspect");
    let financier = Party::new("Harbour Capital");

    println!("tradechain demo — coffee, Santos → Hamburg, FOB, USD 240,000.00");
    println!("30% at sight on the bill of lading; 70% 60 days after the inspection certificate\n");
    println!("{:<8} {:<16} {:<52} {:<11} money", "", "actor", "action", "order");

    for (p, roles) in [
        (&buyer, role::TRADER),
        (&seller, role::TRADER),
        (&buyer_bank, role::BANK),
        (&seller_bank, role::BANK),
        (&carrier, role::CARRIER),
        (&inspector, role::INSPECTOR),
        (&financier, role::FINANCIER),
    ] {
        demo.send(
            &operator,
            s.consortium,
            Consortium::registerCall { account: p.address(), name: p.name.into(), roles },
        )?;
    }
    demo.line(&operator, "onboards 7 organisations", "", "");

    let now = demo.node.head().header.timestamp;
    let bl = DocType::BillOfLading as u8;
    let insp = DocType::InspectionCertificate as u8;
    let logs = demo.send(
        &buyer,
        s.trade_orders,
        TradeOrders::proposeCall {
            t: TradeOrders::OrderTerms {
                seller: seller.address(),
                buyerBank: buyer_bank.address(),
                sellerBank: seller_bank.address(),
                amount: 24_000_000,
                currency: FixedBytes::from_slice(b"USD"),
                incoterm: FixedBytes::from_slice(b"FOB"),
                detailsHash: keccak256("1,200 bags green arabica, Santos → Hamburg"),
                latestShipment: now + 30 * DAY,
                expiry: now + 75 * DAY,
                examinationDays: 0,
            },
            terms: vec![
                TradeOrders::MilestoneTerms { shareBps: 3_000, fixedAmount: 0, requiredDocs: 1 << bl, tenorDays: 0 },
                TradeOrders::MilestoneTerms { shareBps: 7_000, fixedAmount: 0, requiredDocs: 1 << insp, tenorDays: 60 },
            ],
        },
    )?;
    let id = logs
        .iter()
        .find_map(|l| TradeOrders::OrderProposed::decode_log(l).ok())
        .map(|e| e.orderId)
        .ok_or_else(|| anyhow!("no OrderProposed event"))?;
    let st = |d: &Demo| d.order(id).map(|o| state_name(&o).to_string());
    demo.line(&buyer, &format!("proposes order #{id}"), &st(&demo)?, "");
    demo.send(&seller, s.trade_orders, TradeOrders::acceptCall { orderId: id })?;
    demo.line(&seller, "accepts", &st(&demo)?, "");
    demo.send(&buyer_bank, s.trade_orders, TradeOrders::commitCall { orderId: id })?;
    demo.line(&buyer_bank, "commits (bank payment undertaking)", &st(&demo)?, "");

    demo.send(
        &financier,
        s.receivables,
        Receivables::offerReceivableFinanceCall {
            orderId: id,
            milestone: U256::from(1),
            advance: 16_380_000,
            discountBps: 250,
            fingerprints: vec![keccak256("salt|INV-2026-118|santos|hamburg|USD|16800000")],
        },
    )?;
    demo.line(&financier, "offers USD 163,800.00 against milestone 2", &st(&demo)?, "");
    demo.send(&seller, s.receivables, Receivables::acceptCall { financingId: U256::from(1) })?;
    demo.line(&seller, "accepts: proceeds of milestone 2 assigned", &st(&demo)?, "");

    demo.advance(12)?;
    let bl_hash = keccak256("bill of lading ATL-7781, clean on board, Santos 2026");
    let submit = |doc: u8, hash: B256, uri: &str| TradeOrders::submitDocumentCall {
        orderId: id,
        docType: doc,
        hash,
        uri: uri.into(),
    };
    demo.send(&seller, s.trade_orders, submit(bl, bl_hash, "store://bl-atl-7781"))?;
    demo.line(&seller, "presents the bill of lading", &st(&demo)?, "");
    demo.send(&carrier, s.trade_orders, TradeOrders::attestDocumentCall { orderId: id, docType: bl, hash: bl_hash })?;
    demo.line(&carrier, "attests the bill of lading", &st(&demo)?, "");
    demo.send(&buyer_bank, s.trade_orders, TradeOrders::acceptDocumentCall { orderId: id, docType: bl })?;
    demo.line(&buyer_bank, "accepts it: milestone 1 due at sight", &st(&demo)?, "");
    pay(&demo, &buyer_bank, id, 0)?;

    demo.advance(21)?;
    let insp_hash = keccak256("inspection certificate CI-5520, Hamburg");
    demo.send(&seller, s.trade_orders, submit(insp, insp_hash, "store://ci-5520"))?;
    demo.send(
        &inspector,
        s.trade_orders,
        TradeOrders::attestDocumentCall { orderId: id, docType: insp, hash: insp_hash },
    )?;
    demo.line(&inspector, "attests the inspection certificate", &st(&demo)?, "");
    demo.send(&buyer_bank, s.trade_orders, TradeOrders::acceptDocumentCall { orderId: id, docType: insp })?;
    demo.line(&buyer_bank, "accepts it: milestone 2 due in 60 days", &st(&demo)?, "");
    let keeper = Party::new("keeper");
    let due_day = demo
        .view(s.trade_orders, TradeOrders::getMilestoneCall { orderId: id, index: U256::from(1) })?
        .dueDate
        .saturating_sub(demo.start)
        / DAY;
    match demo.send(&keeper, s.trade_orders, TradeOrders::releasePaymentCall { orderId: id, index: U256::from(1) }) {
        Err(e) if e.to_string().contains("NotDueYet") => {
            demo.line(&keeper, &format!("tries to release early: NotDueYet (due day {due_day})"), &st(&demo)?, "")
        }
        Err(e) => return Err(e),
        Ok(_) => bail!("a payment was released before its due date"),
    }
    demo.advance(60)?;
    pay(&demo, &buyer_bank, id, 1)?;

    let o = demo.order(id)?;
    println!();
    println!("order #{id}: {} — paid {} of {}", state_name(&o), usd(o.paid), usd(o.amount));
    if o.paid != o.amount || OrderState::from_u8(o.state) != Some(OrderState::Completed) {
        bail!("the demo trade did not complete");
    }
    drop(demo);
    let report = tradechain_engine::verify::verify(data_dir).context("the chain does not verify")?;
    println!(
        "chain verified from genesis: {} blocks, {} transactions, state root {}",
        report.blocks, report.transactions, report.state_root
    );
    Ok(())
}

/// Releases milestone `index` (anyone may, from its due date) and has the paying bank
/// confirm it, as its settlement worker will.
fn pay(demo: &Demo, bank: &Party, id: U256, index: u64) -> anyhow::Result<()> {
    let s = demo.suite;
    let logs =
        demo.send(bank, s.trade_orders, TradeOrders::releasePaymentCall { orderId: id, index: U256::from(index) })?;
    let due = logs
        .iter()
        .find_map(|l| TradeOrders::PaymentDue::decode_log(l).ok())
        .ok_or_else(|| anyhow!("no PaymentDue event"))?;
    let payee = if due.payee == Party::new("Harbour Capital").address() { "Harbour Capital" } else { "Santos Coffee" };
    demo.line(bank, &format!("PaymentDue milestone {}: pays {payee}", index + 1), "", "");
    let reference = keccak256(format!("TC{}-{id}-{index}-{}", demo.node.config().chain_id, due.attempt));
    demo.send(
        bank,
        s.trade_orders,
        TradeOrders::confirmPaymentCall { orderId: id, index: U256::from(index), paymentReference: reference },
    )?;
    let o = demo.order(id)?;
    demo.line(bank, "confirms payment on chain", state_name(&o), &format!("{} → {payee}", usd(due.amount)));
    Ok(())
}
