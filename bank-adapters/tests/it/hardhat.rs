//! The settlement worker against a Hardhat node (scripts/with-hardhat.sh): a network that
//! charges gas. The suite is deployed by real fee-paying transactions from an operator key
//! of this test's own (so tests sharing one node never collide on nonces or addresses), a
//! trade is driven to an at-sight release, and the worker pays it exactly once and confirms
//! it on chain, paying its own gas.
//!
//! Without TRADECHAIN_TEST_HARDHAT_URL the test is skipped locally, and fails when
//! TRADECHAIN_REQUIRE_HARDHAT=1 (scripts/test.sh sets it) so CI never skips it silently.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use test_support::hardhat::{connect, fresh_key, fund};
use test_support::settlement::*;
use tradechain_bank_adapters::iso20022_http::IsoHttpRails;
use tradechain_bank_adapters::outbox::{Outbox, State};
use tradechain_bank_adapters::settlement::{SettlementWorker, WorkerConfig};
use tradechain_chain::remote::RemoteChain;
use tradechain_chain::transaction::{Sender, TxRequest};
use tradechain_chain::{Chain as _, call_sol};
use tradechain_contracts::genesis::{SuiteAddresses, plan};
use tradechain_contracts::{Consortium, MilestoneState, OrderState, TradeOrders, role};

async fn send<C: SolCall>(chain: &RemoteChain, from: &PrivateKeySigner, to: Address, call: C) {
    let receipt = Sender::new().send(chain, from, &TxRequest::call(to, call.abi_encode().into())).await;
    assert!(receipt.as_ref().is_ok_and(|r| r.success), "{} failed: {receipt:?}", C::SIGNATURE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_pays_an_at_sight_milestone_once_on_a_network_that_charges_gas() {
    let Some(url) = test_support::hardhat::url() else { return };
    let client = connect(&url).await;
    let gas_price = client.rpc().gas_price().await.expect("gasPrice");
    assert!(gas_price > 0, "Hardhat charges gas; this test is about paying it");

    // Deploy the suite: the genesis plan, sent as real fee-paying transactions.
    let operator = fresh_key("operator");
    fund(&client, operator.address()).await;
    let funded = client.balance(operator.address()).await.expect("balance");
    let sender = Sender::new();
    for call in plan(operator.address()) {
        let tx = TxRequest { to: call.to, value: U256::ZERO, input: call.input, gas_limit: None };
        let receipt = sender.send(client.as_ref(), &operator, &tx).await.expect("genesis call");
        assert!(receipt.success, "genesis call reverted");
    }
    let suite = SuiteAddresses::for_operator(operator.address());
    let before = client.balance(operator.address()).await.expect("balance");
    assert!(before < funded, "the deployment paid gas");

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
    let head = client.head().await.expect("head");
    let now = client.block_header(head).await.expect("header").expect("head").timestamp;
    let amount: u128 = 1_234_500; // USD 12,345.00
    let terms = p.terms(now, amount);
    let milestones =
        vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1 << 0, tenorDays: 0 }];
    send(&client, &p.buyer, to, TradeOrders::proposeCall { t: terms, terms: milestones }).await;
    let reader = operator.address();
    let order: U256 = call_sol(client.as_ref(), reader, to, &TradeOrders::orderCountCall {}).await.expect("orderCount");
    send(&client, &p.seller, to, TradeOrders::acceptCall { orderId: order }).await;
    send(
        &client,
        &p.buyer_bank,
        to,
        TradeOrders::commitCall { orderId: order, cover: tradechain_contracts::Cover::BankRisk as u8 },
    )
    .await;
    let invoice = keccak256(b"invoice");
    let doc =
        TradeOrders::submitDocumentCall { orderId: order, docType: 0, hash: invoice, uri: "ipfs://invoice".into() };
    send(&client, &p.seller, to, doc).await;
    send(&client, &p.buyer_bank, to, TradeOrders::acceptDocumentCall { orderId: order, docType: 0 }).await;
    // At sight is due on the buyer's bank's banking day: accepted on a weekend, on Monday.
    let due =
        call_sol(client.as_ref(), reader, to, &TradeOrders::getMilestoneCall { orderId: order, index: U256::ZERO })
            .await
            .expect("milestone")
            .dueDate;
    let head = client.head().await.expect("head");
    let now = client.block_header(head).await.expect("header").expect("head").timestamp;
    if due > now {
        let _: serde_json::Value =
            client.rpc().request("evm_increaseTime", serde_json::json!([due - now])).await.expect("increaseTime");
        let _: serde_json::Value = client.rpc().request("evm_mine", serde_json::json!([])).await.expect("mine");
    }

    // The buyer bank's worker pays it through the sandbox bank and confirms it on chain.
    let bank = spawn_sandbox(std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-bank")));
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
    let worker_client = connect(&url).await;
    let w = SettlementWorker::new(config, worker_client, outbox, rails, Arc::new(p.directory()), p.buyer_bank.clone())
        .await
        .expect("worker");
    let bank_gas_before = client.balance(p.buyer_bank.address()).await.expect("balance");
    let paid = || {
        let client = client.clone();
        async move {
            let call = TradeOrders::getMilestoneCall { orderId: order, index: U256::ZERO };
            let m = call_sol(client.as_ref(), reader, to, &call).await.expect("getMilestone");
            m.state == MilestoneState::Paid as u8
        }
    };
    drive_until(&w, Duration::from_secs(60), paid).await;
    for _ in 0..3 {
        w.step().await.expect("pass");
    }

    let chain_id = client.chain_id();
    let id = e2e(chain_id, order, 0, 1);
    let row = w.outbox().get(&id).await.expect("outbox").expect("instruction");
    assert_eq!(row.state(), Some(State::Settled));
    assert_eq!(bank.received(&id).await, 1, "paid exactly once");
    assert_eq!(bank.balance(&p.account(p.seller.address())).await, 1_234_500);
    assert_eq!(bank.balance(&p.account(p.buyer.address())).await, 10_000_000 - 1_234_500);
    assert_eq!(bank.ledger_sum("USD").await, "0");
    let o = call_sol(client.as_ref(), reader, to, &TradeOrders::getOrderCall { orderId: order }).await.expect("order");
    assert_eq!((o.state, o.paid), (OrderState::Completed as u8, amount));
    let bank_gas_after = client.balance(p.buyer_bank.address()).await.expect("balance");
    assert!(bank_gas_after < bank_gas_before, "the worker's confirmation paid gas");
}
