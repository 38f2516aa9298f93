//! The settlement worker against a Hardhat node (scripts/with-hardhat.sh): a network that
//! charges gas. The suite is deployed by real fee-paying transactions from an operator key
//! of this test's own (so tests sharing one node never collide on nonces or addresses), a
//! trade is driven to an at-sight release, and the worker pays it exactly once and confirms
//! it on chain, paying its own gas.
//!
//! Without TRADECHAIN_TEST_HARDHAT_URL the test is skipped locally, and fails when
//! TRADECHAIN_REQUIRE_HARDHAT=1 (scripts/test.sh sets it) so CI never skips it silently.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{Address, FixedBytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde_json::{Value, json};
use support::*;
use tradechain_bank_adapters::chain::ChainClient;
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::{Outbox, State};
use tradechain_bank_adapters::settlement::{SettlementWorker, WorkerConfig};
use tradechain_contracts::genesis::{SuiteAddresses, plan};
use tradechain_contracts::{Consortium, MilestoneState, OrderState, TradeOrders, role};

fn hardhat_url() -> Option<String> {
    match std::env::var("TRADECHAIN_TEST_HARDHAT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("TRADECHAIN_REQUIRE_HARDHAT").as_deref() != Ok("1"),
                "TRADECHAIN_REQUIRE_HARDHAT=1 but TRADECHAIN_TEST_HARDHAT_URL is unset: run under scripts/with-hardhat.sh"
            );
            eprintln!("skipped: no TRADECHAIN_TEST_HARDHAT_URL (run under scripts/with-hardhat.sh)");
            None
        }
    }
}

/// A key no other test (or earlier run against the same node) uses.
fn fresh_key(label: &str) -> PrivateKeySigner {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let seed = keccak256(format!("{label}/{}/{nanos}", std::process::id()));
    PrivateKeySigner::from_bytes(&seed).expect("key")
}

/// Give `who` 100 ETH for gas (Hardhat's own cheat method).
async fn fund(client: &ChainClient, who: Address) {
    let _: Value = client.request("hardhat_setBalance", json!([who, "0x56bc75e2d63100000"])).await.expect("setBalance");
}

async fn send<C: SolCall>(client: &ChainClient, from: &PrivateKeySigner, to: Address, call: C) {
    if let Err(e) = client.send(from, to, &call).await {
        panic!("{} failed: {e} ({:?})", C::SIGNATURE, e.revert_reason());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_pays_an_at_sight_milestone_once_on_a_network_that_charges_gas() {
    let Some(url) = hardhat_url() else { return };
    let client = ChainClient::new(&url, Duration::from_secs(10)).expect("client");
    let gas_price: U256 = client.request("eth_gasPrice", json!([])).await.expect("gasPrice");
    assert!(gas_price > U256::ZERO, "Hardhat charges gas; this test is about paying it");

    // Deploy the suite: the genesis plan, sent as real fee-paying transactions.
    let operator = fresh_key("operator");
    fund(&client, operator.address()).await;
    for call in plan(operator.address()) {
        if let Err(e) = client.send_input(&operator, call.to, call.input).await {
            panic!("genesis call failed: {e} ({:?})", e.revert_reason());
        }
    }
    let suite = SuiteAddresses::for_operator(operator.address());
    let before = client.balance(operator.address()).await.expect("balance");
    assert!(before < U256::from(100u128 * 10u128.pow(18)), "the deployment paid gas");

    let p = Parties {
        buyer: fresh_key("buyer"),
        seller: fresh_key("seller"),
        buyer_bank: fresh_key("buyer bank"),
        seller_bank: fresh_key("seller bank"),
        carrier: fresh_key("carrier"),
        financier: fresh_key("financier"),
    };
    for (k, name, roles) in [
        (&p.buyer, "Acme Imports", role::TRADER),
        (&p.seller, "Shenzhen Widgets", role::TRADER),
        (&p.buyer_bank, "Harbour Bank", role::BANK),
        (&p.seller_bank, "Pearl Bank", role::BANK),
        (&p.carrier, "Oceanic Lines", role::CARRIER),
        (&p.financier, "Blue Water Capital", role::FINANCIER),
    ] {
        fund(&client, k.address()).await;
        send(
            &client,
            &operator,
            suite.consortium,
            Consortium::registerCall { account: k.address(), name: name.into(), roles },
        )
        .await;
    }

    // One milestone: 100% at sight on the commercial invoice.
    let to = suite.trade_orders;
    let now = client.block_timestamp(client.block_number().await.expect("head")).await.expect("ts");
    let amount: u128 = 1_234_500; // USD 12,345.00
    let terms = TradeOrders::OrderTerms {
        seller: p.seller.address(),
        buyerBank: p.buyer_bank.address(),
        sellerBank: p.seller_bank.address(),
        amount,
        currency: FixedBytes(*b"USD"),
        incoterm: FixedBytes(*b"FOB"),
        detailsHash: keccak256(b"20 pallets of widgets"),
        latestShipment: now + 60 * DAY,
        expiry: now + 365 * DAY,
        examinationDays: 0,
    };
    let milestones =
        vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1 << 0, tenorDays: 0 }];
    send(&client, &p.buyer, to, TradeOrders::proposeCall { t: terms, terms: milestones }).await;
    let order: U256 = client.call(to, &TradeOrders::orderCountCall {}).await.expect("orderCount");
    send(&client, &p.seller, to, TradeOrders::acceptCall { orderId: order }).await;
    send(&client, &p.buyer_bank, to, TradeOrders::commitCall { orderId: order }).await;
    let invoice = keccak256(b"invoice");
    let doc =
        TradeOrders::submitDocumentCall { orderId: order, docType: 0, hash: invoice, uri: "ipfs://invoice".into() };
    send(&client, &p.seller, to, doc).await;
    send(&client, &p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: 0 }).await;

    // The buyer bank's worker pays it through the sandbox bank and confirms it on chain.
    let bank = spawn_sandbox();
    open_accounts(&bank, &p, 10_000_000).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rails = IsoHttpRails::new(&bank.url, "Harbour Bank", Duration::from_secs(5)).expect("rails");
    let outbox = Outbox::connect(&sqlite_url(&dir, "outbox.db")).await.expect("outbox");
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(50),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        receivables: Some(suite.receivables),
        ..WorkerConfig::new(suite.trade_orders)
    };
    let worker_client = ChainClient::new(&url, Duration::from_secs(10)).expect("client");
    let w = SettlementWorker::new(config, worker_client, outbox, rails, Arc::new(p.directory()), p.buyer_bank.clone())
        .await
        .expect("worker");
    let bank_gas_before = client.balance(p.buyer_bank.address()).await.expect("balance");
    let milestone = |i: u64| {
        let client = &client;
        async move {
            let call = TradeOrders::getMilestoneCall { orderId: order, index: U256::from(i) };
            client.call(to, &call).await.expect("getMilestone")
        }
    };
    drive_until(&w, Duration::from_secs(60), || async { milestone(0).await.state == MilestoneState::Paid as u8 }).await;
    for _ in 0..3 {
        w.step().await.expect("pass");
    }

    let chain_id = client.chain_id().await.expect("chain id");
    let id = e2e(chain_id, order, 0, 1);
    let row = w.outbox().get(&id).await.expect("outbox").expect("instruction");
    assert_eq!(row.state(), Some(State::Settled));
    assert_eq!(bank.received(&id).await, 1, "paid exactly once");
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, 1_234_500);
    assert_eq!(bank.balance(&p.account(p.buyer.address())).await, 10_000_000 - 1_234_500);
    assert_eq!(bank.ledger_sum("USD").await, "0");
    let o: TradeOrders::Order = client.call(to, &TradeOrders::getOrderCall { orderId: order }).await.expect("order");
    assert_eq!((o.state, o.paid), (OrderState::Completed as u8, amount));
    let bank_gas_after = client.balance(p.buyer_bank.address()).await.expect("balance");
    assert!(bank_gas_after < bank_gas_before, "the worker's confirmation paid gas");
}
