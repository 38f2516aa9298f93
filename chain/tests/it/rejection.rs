//! The typed refusals a sender acts on, as the embedded engine and Hardhat really give
//! them: a reused nonce is `NonceTooLow`, the same transaction twice is `AlreadyKnown`, a
//! revert in the simulation is `Reverted` with the contract's custom error, and the
//! sender's policy retries the first two with a fresh nonce and never the third.

use std::sync::Arc;

use alloy::primitives::Bytes;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tradechain_chain::embedded::EmbeddedChain;
use tradechain_chain::transaction::{Sender, TxRequest, sign};
use tradechain_chain::{Chain, ChainError, Rejection};
use tradechain_contracts::genesis::SuiteAddresses;
use tradechain_contracts::{Consortium, TradeOrders};

/// A dev node with the suite deployed, in this process.
fn embedded() -> (tempfile::TempDir, Arc<EmbeddedChain>, SuiteAddresses, PrivateKeySigner) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tradechain_engine::NodeConfig::dev_in(dir.path().join("chain"));
    let operator: PrivateKeySigner = tradechain_engine::config::DEV_OPERATOR_KEY.parse().expect("key");
    let calls = tradechain_contracts::genesis::plan(operator.address())
        .into_iter()
        .map(|c| tradechain_engine::GenesisCall { to: c.to, input: c.input })
        .collect();
    let node = tradechain_engine::Node::open(config, calls).expect("node");
    (dir, EmbeddedChain::new(node), SuiteAddresses::for_operator(operator.address()), operator)
}

/// Every refusal of `chain` to a reused nonce, a duplicate and a reverting call, and the
/// sender's answer to each.
async fn refusals_are_typed(chain: &dyn Chain, suite: &SuiteAddresses, operator: &PrivateKeySigner) {
    let member = PrivateKeySigner::random();
    let register = Consortium::registerCall { account: member.address(), name: "Typed Refusals Ltd".into(), roles: 1 }
        .abi_encode();
    let tx = TxRequest::call(suite.consortium, Bytes::from(register));
    let fees = chain.fees().await.expect("fees");
    let nonce = chain.nonce(operator.address()).await.expect("nonce");
    let gas = chain.estimate_gas(operator.address(), tx.to, tx.value, tx.input.clone()).await.expect("estimate");
    let raw = sign(operator, chain.chain_id(), nonce, fees, gas, &tx).expect("sign");
    let hash = chain.send_raw(raw.clone()).await.expect("first send");
    tradechain_chain::wait_receipt(chain, hash, std::time::Duration::from_secs(30)).await.expect("mined");

    // The same bytes again: the nonce is used (or, still pooled, the transaction known).
    let again = chain.send_raw(raw).await.expect_err("a transaction is accepted once");
    let r = again.rejection().expect("a refusal, not an outage").clone();
    assert!(matches!(r, Rejection::NonceTooLow | Rejection::AlreadyKnown), "{again:?}");
    assert!(r.is_nonce_conflict());

    // A stale nonce with new content: too low.
    let other = TxRequest::call(suite.consortium, tx.input.clone());
    let stale = sign(operator, chain.chain_id(), nonce, fees, gas, &other).expect("sign");
    let e = chain.send_raw(stale).await.expect_err("stale nonce");
    assert!(e.rejection().is_some_and(Rejection::is_nonce_conflict), "{e:?}");

    // A call the contract refuses: registering the same member twice. The sender sends
    // nothing and answers the custom error.
    let before = chain.nonce(operator.address()).await.expect("nonce");
    let e = Sender::new().submit(chain, operator, &tx).await.expect_err("already registered");
    let ChainError::Rejected(Rejection::Reverted { data }) = &e else { panic!("a revert: {e:?}") };
    let decoded = tradechain_contracts::revert::decode(data).expect("a custom error of the suite");
    assert_eq!(decoded.code, "ALREADY_REGISTERED", "{decoded:?}");
    assert_eq!(chain.nonce(operator.address()).await.expect("nonce"), before, "nothing was sent");

    // A sender whose nonce another process took meanwhile still lands its transaction.
    let racer = TxRequest::call(suite.trade_orders, TradeOrders::orderCountCall {}.abi_encode().into());
    let taken = sign(operator, chain.chain_id(), before, fees, 100_000, &racer).expect("sign");
    chain.send_raw(taken).await.expect("the other process's transaction");
    let receipt = Sender::new()
        .send(chain, operator, &TxRequest::call(suite.trade_orders, racer.input.clone()))
        .await
        .expect("sent after the conflict");
    assert!(receipt.success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_engine_refuses_in_types() {
    let (_dir, chain, suite, operator) = embedded();
    refusals_are_typed(chain.as_ref(), &suite, &operator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardhat_refusals_read_as_the_same_types() {
    let Some(url) = test_support::hardhat::url() else { return };
    let (operator, chain) = test_support::hardhat::deployed(&url).await;
    let suite = SuiteAddresses::for_operator(operator.address());
    refusals_are_typed(chain.as_ref(), &suite, &operator).await;
}

/// The API sends a call it has just simulated with the gas limit the chain derives from
/// that simulation (no second run): on the embedded node it must be exactly the estimate,
/// and a transaction sent with it must be mined and succeed. Hardhat derives none (gas
/// costs money there: only the node's estimate will do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gas_limit_from_a_simulation_is_the_estimate_and_suffices() {
    let (_dir, chain, suite, operator) = embedded();
    let member = PrivateKeySigner::random();
    let input = Bytes::from(
        Consortium::registerCall { account: member.address(), name: "Simulated Once Ltd".into(), roles: 1 }
            .abi_encode(),
    );
    let used = match chain.call(operator.address(), suite.consortium, input.clone()).await.expect("call") {
        tradechain_chain::CallResult::Success { gas_used, .. } => gas_used,
        other => panic!("the registration simulates: {other:?}"),
    };
    let limit = chain.gas_limit_for(used).expect("the embedded node derives it");
    let estimate = chain
        .estimate_gas(operator.address(), Some(suite.consortium), alloy::primitives::U256::ZERO, input.clone())
        .await
        .expect("estimate");
    assert_eq!(limit, estimate, "the same limit as the node's estimate");
    assert!(limit > used, "with a margin over the gas used ({used})");
    let tx = TxRequest { gas_limit: Some(limit), ..TxRequest::call(suite.consortium, input) };
    let receipt = Sender::new().send(chain.as_ref(), &operator, &tx).await.expect("sent");
    assert!(receipt.success, "mined and succeeded with the derived limit");

    if let Some(url) = test_support::hardhat::url() {
        let remote = test_support::hardhat::connect(&url).await;
        assert_eq!(remote.gas_limit_for(used), None, "a network that charges gas estimates on the node");
    }
}

/// A transaction admitted to the pool but invalid when its block is built (here it moves a
/// wei its sender does not have) is dropped there: whoever waits for its receipt hears why
/// at once, not after the receipt timeout (a REST write used to sit out the full minute).
#[tokio::test]
async fn a_transaction_dropped_when_its_block_is_built_ends_the_wait_for_its_receipt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tradechain_engine::NodeConfig {
        automine: Some(false),
        block_interval_ms: 60_000,
        batch_window_ms: 5,
        ..tradechain_engine::NodeConfig::dev_in(dir.path().join("chain"))
    };
    let node = tradechain_engine::Node::open(config, Vec::new()).expect("node");
    let producer = node.spawn_producer();
    let chain = EmbeddedChain::new(node);
    let penniless = PrivateKeySigner::random();
    let tx = TxRequest::transfer(alloy::primitives::Address::repeat_byte(9), alloy::primitives::U256::from(1));
    let fees = chain.fees().await.expect("fees");
    let raw = sign(&penniless, chain.chain_id(), 0, fees, 21_000, &tx).expect("sign");
    let hash = chain.send_raw(raw).await.expect("admitted: the pool does not read balances");
    let started = std::time::Instant::now();
    let waited = tradechain_chain::wait_receipt(chain.as_ref(), hash, std::time::Duration::from_secs(30)).await;
    let Err(ChainError::Rejected(Rejection::Other { message, .. })) = waited else {
        panic!("a dropped transaction's wait ends with its refusal, got {waited:?}");
    };
    assert!(message.contains("funds") || message.contains("balance"), "the reason is the node's: {message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "told at once, not at the timeout");
    producer.abort();
}
