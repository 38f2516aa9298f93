//! Who may write: the embedding application's admission rule and the per-sender limits,
//! tried over real HTTP by the accounts they exist to stop. Each refusal is a clear
//! JSON-RPC error and leaves the chain (its head, its pool and its file) as it was.

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};
use tradechain_engine::transaction::PendingTx;
use tradechain_engine::{Admission, Node};

use crate::common::*;

/// Admits `allowed` only, and lets nobody but `deployer` create a contract.
struct Allowlist {
    allowed: Vec<Address>,
    deployer: Address,
}

impl Admission for Allowlist {
    fn admit(&self, _node: &Node, tx: &PendingTx) -> Result<(), String> {
        if !self.allowed.contains(&tx.sender) {
            return Err(format!("{} is no member", tx.sender));
        }
        if alloy::consensus::Transaction::to(&tx.envelope).is_none() && tx.sender != self.deployer {
            return Err("contract creation is the operator's only".into());
        }
        Ok(())
    }
}

fn error_of(v: &Value) -> (i64, String) {
    let e = v.get("error").unwrap_or_else(|| panic!("expected an error, got {v}"));
    (e["code"].as_i64().expect("code"), e["message"].as_str().expect("message").to_string())
}

fn chain_file_len(n: &TestNode) -> u64 {
    std::fs::metadata(n.data_dir.join("chain.redb")).map(|m| m.len()).expect("chain file")
}

#[test]
fn a_stranger_and_a_members_contract_creation_are_refused_before_the_pool() {
    let (_t, cfg) = dev_config();
    let n = TestNode::start(cfg);
    let (operator, member, stranger) =
        (PrivateKeySigner::random(), PrivateKeySigner::random(), PrivateKeySigner::random());
    n.node().set_admission(Arc::new(Allowlist {
        allowed: vec![operator.address(), member.address()],
        deployer: operator.address(),
    }));
    let counter = deploy_counter(&n, &operator);
    let (head, file) = (n.result("eth_blockNumber", json!([])), chain_file_len(&n));

    let stranger_call = sign_1559(&stranger, 0, Some(counter), increment_call(1), 100_000);
    let (code, message) = error_of(&n.rpc("eth_sendRawTransaction", json!([stranger_call])));
    assert_eq!(code, -32007, "{message}");
    assert!(message.contains("not permitted") && message.contains("no member"), "{message}");

    // The infinite-loop attack starts with a contract of one's own: a member may not create one.
    let member_deploy = sign_1559(&member, 0, None, counter_bytecode(), 1_000_000);
    let (code, message) = error_of(&n.rpc("eth_sendRawTransaction", json!([member_deploy])));
    assert_eq!(code, -32007);
    assert!(message.contains("operator's only"), "{message}");

    assert_eq!(n.result("eth_blockNumber", json!([])), head, "no block for a refused transaction");
    assert_eq!(n.node().pool_len(), 0);
    assert_eq!(chain_file_len(&n), file, "the chain file did not grow");
    let call = sign_1559(&member, 0, Some(counter), increment_call(1), 100_000);
    let hash = n.result("eth_sendRawTransaction", json!([call]));
    assert_eq!(n.result("eth_getTransactionReceipt", json!([hash]))["status"], "0x1", "a member's call goes through");
}

/// The flood: one account queues transaction after transaction. Its queue stops at its
/// share, and another account's transaction still gets in.
#[test]
fn one_account_cannot_queue_more_than_its_share() {
    let (_t, mut cfg) = dev_config();
    cfg.automine = Some(false);
    cfg.block_interval_ms = 60_000;
    // Nothing sealed during the test: the pool is what is measured.
    cfg.batch_window_ms = 0;
    cfg.max_pending_per_sender = 4;
    let n = TestNode::start(cfg);
    let (flooder, other) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    for nonce in 0..4 {
        let raw = sign_1559(&flooder, nonce, Some(Address::repeat_byte(7)), vec![0xab; 1000].into(), 100_000);
        n.result("eth_sendRawTransaction", json!([raw]));
    }
    let raw = sign_1559(&flooder, 4, Some(Address::repeat_byte(7)), vec![0xab; 1000].into(), 100_000);
    let (code, message) = error_of(&n.rpc("eth_sendRawTransaction", json!([raw])));
    assert_eq!(code, -32000);
    assert!(message.contains("already has 4 transactions waiting (at most 4 transactions)"), "{message}");
    let raw = sign_1559(&other, 0, Some(Address::repeat_byte(7)), Default::default(), 100_000);
    n.result("eth_sendRawTransaction", json!([raw]));
    assert_eq!(n.node().pool_len(), 5);
}

/// A transaction asking for more gas than one sender may use in a block is refused at once:
/// it could never be sealed, and a block is never one account's alone.
#[test]
fn a_transaction_above_the_senders_share_of_a_block_is_refused() {
    let (_t, mut cfg) = dev_config();
    cfg.max_sender_block_gas = 1_000_000;
    let n = TestNode::start(cfg);
    let key = PrivateKeySigner::random();
    let raw = sign_1559(&key, 0, Some(Address::repeat_byte(7)), Default::default(), 1_000_001);
    let (code, message) = error_of(&n.rpc("eth_sendRawTransaction", json!([raw])));
    assert_eq!(code, -32000);
    assert!(message.contains("the most gas one sender may use in a block"), "{message}");
    let raw = sign_1559(&key, 0, Some(Address::repeat_byte(7)), Default::default(), 1_000_000);
    n.result("eth_sendRawTransaction", json!([raw]));
}
