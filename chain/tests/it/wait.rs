//! Waiting for a transaction on the embedded node: a waiter sleeps through the blocks that
//! do not hold its transaction and wakes for the one that does, so a busy node's every
//! block is not a store lookup for every transaction still waiting.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use tradechain_chain::embedded::EmbeddedChain;
use tradechain_chain::transaction::{TxRequest, sign};
use tradechain_chain::{Chain, Fees};

/// A dev node that seals only when told (`Node::seal_next`), its chain and its fees.
async fn unmined() -> (tempfile::TempDir, tradechain_engine::Node, Arc<EmbeddedChain>, Fees) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tradechain_engine::NodeConfig {
        automine: Some(false),
        ..tradechain_engine::NodeConfig::dev_in(dir.path().join("chain"))
    };
    let node = tradechain_engine::Node::open(config, Vec::new()).expect("node");
    let chain = EmbeddedChain::new(node.clone());
    let fees = chain.fees().await.expect("fees");
    (dir, node, chain, fees)
}

/// A task waiting for `hash` to be mined or dropped after the current head (30 s at most),
/// subscribed by the time this returns.
async fn waiting_for(chain: &Arc<EmbeddedChain>, hash: B256) -> tokio::task::JoinHandle<()> {
    let known = chain.head().await.expect("head");
    let chain = chain.clone();
    let waiter = tokio::spawn(async move { chain.wait_for_transaction(hash, known, Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_millis(50)).await; // it subscribes
    waiter
}

#[tokio::test]
async fn a_waiter_sleeps_through_other_blocks_and_wakes_for_its_own() {
    let (_dir, node, chain, fees) = unmined().await;
    let transfer = |key: &PrivateKeySigner| {
        let tx = TxRequest::transfer(Address::repeat_byte(9), U256::ZERO);
        sign(key, chain.chain_id(), 0, fees, 21_000, &tx).expect("sign")
    };
    let (alice, bob) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let (alices, bobs) = (transfer(&alice), transfer(&bob));
    let bobs_hash = alloy::primitives::keccak256(&bobs);

    let mut waiter = waiting_for(&chain, bobs_hash).await;

    chain.send_raw(alices).await.expect("admitted");
    let other = node.seal_next(false, None).expect("seal").expect("a block");
    assert!(!other.block.transactions.contains(&bobs_hash));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut waiter).await.is_err(),
        "a block without Bob's transaction does not wake his waiter"
    );

    assert_eq!(chain.send_raw(bobs).await.expect("admitted"), bobs_hash);
    let own = node.seal_next(false, None).expect("seal").expect("a block");
    assert!(own.block.transactions.contains(&bobs_hash));
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the block holding Bob's transaction wakes his waiter")
        .expect("the waiter ran");
    let receipt = tradechain_chain::wait_receipt(chain.as_ref(), bobs_hash, Duration::from_secs(5)).await;
    assert_eq!(receipt.expect("mined").block, own.block.header.number);
}

/// A transaction dropped when its block is built (it moves a wei its sender does not have)
/// is never in a block: its waiter wakes for the block whose building dropped it.
#[tokio::test]
async fn a_waiter_wakes_for_the_block_that_dropped_its_transaction() {
    let (_dir, node, chain, fees) = unmined().await;
    let (penniless, payer) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    let overdraft = TxRequest::transfer(Address::repeat_byte(9), U256::from(1));
    let overdraft = sign(&penniless, chain.chain_id(), 0, fees, 21_000, &overdraft).expect("sign");
    let hash = chain.send_raw(overdraft).await.expect("admitted: the pool does not read balances");
    // A valid transaction too, so the block is sealed with what it can hold.
    let fine = TxRequest::transfer(Address::repeat_byte(9), U256::ZERO);
    chain.send_raw(sign(&payer, chain.chain_id(), 0, fees, 21_000, &fine).expect("sign")).await.expect("admitted");

    let waiter = waiting_for(&chain, hash).await;
    let block = node.seal_next(false, None).expect("seal").expect("a block");
    assert!(!block.block.transactions.contains(&hash));
    assert!(block.rejected.iter().any(|(h, _)| *h == hash), "dropped when the block was built");
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the block that dropped it wakes its waiter, not the 30 s timeout")
        .expect("the waiter ran");
}
