//! The chain itself: interval sealing, restart from the store, `verify` on an honest chain and
//! on a store with a flipped byte, and the dev clock / snapshot methods.

use std::time::{Duration, Instant};

use crate::common::*;
use alloy::primitives::{Address, B256};
use alloy::signers::local::PrivateKeySigner;
use redb::ReadableTable;
use serde_json::{Value, json};
use tradechain_engine::store::{Store, tables};
use tradechain_engine::{Node, NodeConfig};

/// [`deploy_counter`] from a fresh key on a node that does not automine: its address once
/// a block holds it.
fn deploy_counter_mined(n: &TestNode) -> Address {
    let deployer = PrivateKeySigner::random();
    let hash =
        n.result("eth_sendRawTransaction", json!([sign_1559(&deployer, 0, None, counter_bytecode(), 1_000_000)]));
    let receipt = wait_for_receipt(n, &hash);
    receipt["contractAddress"].as_str().expect("addr").parse().expect("addr")
}

fn wait_for_receipt(n: &TestNode, hash: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = n.result("eth_getTransactionReceipt", json!([hash]));
        if !r.is_null() {
            return r;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An interval-mode chain with a deployed Counter and `txs` increments from a few senders.
fn build_chain(txs: u64) -> (tempfile::TempDir, std::path::PathBuf, Vec<Value>) {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = NodeConfig {
        data_dir: tmp.path().join("data"),
        block_interval_ms: 30,
        max_block_txs: 7,
        ..NodeConfig::dev_in(tmp.path().join("data"))
    };
    let cfg = NodeConfig { automine: Some(false), ..cfg };
    let n = TestNode::start(cfg);
    let counter = deploy_counter_mined(&n);
    let senders: Vec<_> = (0..3).map(|_| PrivateKeySigner::random()).collect();
    let mut hashes = Vec::new();
    for i in 0..txs {
        let key = &senders[(i % 3) as usize];
        let nonce = i / 3;
        let raw = if i % 2 == 0 {
            sign_1559(key, nonce, Some(counter), increment_call(i + 1), 100_000)
        } else {
            sign_legacy(key, nonce, Some(counter), increment_call(i + 1), 100_000)
        };
        hashes.push(n.result("eth_sendRawTransaction", json!([raw])));
    }
    for h in &hashes {
        assert_eq!(wait_for_receipt(&n, h)["status"], "0x1");
    }
    let dir = n.stop();
    (tmp, dir, hashes)
}

#[test]
fn interval_chain_verifies_and_restarts_at_its_head() {
    let (_tmp, dir, hashes) = build_chain(40);
    let report = tradechain_engine::verify::verify(&dir).expect("verifies");
    assert_eq!(report.transactions, 41);
    assert!(report.blocks > 41 / 7, "blocks hold at most 7 txs: {report:?}");

    let cfg = NodeConfig { automine: Some(false), block_interval_ms: 30, ..NodeConfig::dev_in(&dir) };
    let node = Node::open(cfg, Vec::new()).expect("reopens");
    assert_eq!(node.head().hash, report.head_hash);
    for h in &hashes {
        let hash: B256 = serde_json::from_value(h.clone()).expect("hash");
        assert!(node.store().receipt(&hash).expect("read").is_some());
    }
}

/// Rewrite one record through redb with one byte flipped.
fn flip(dir: &std::path::Path, f: impl FnOnce(&redb::WriteTransaction)) {
    let store = Store::open(dir).expect("open");
    let tx = store.database().begin_write().expect("write");
    f(&tx);
    tx.commit().expect("commit");
}

fn flip_byte(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    let i = at.min(v.len() - 1);
    v[i] ^= 0x01;
    v
}

fn block_of(dir: &std::path::Path, n: u64) -> tradechain_engine::block::SealedBlock {
    Store::open(dir).expect("open").block(n).expect("read").expect("exists")
}

#[test]
fn verify_names_the_block_whose_record_was_tampered_with() {
    let (_tmp, dir, _) = build_chain(20);
    let original = std::fs::read(dir.join("chain.redb")).expect("db bytes");
    let restore = || std::fs::write(dir.join("chain.redb"), &original).expect("restore");

    // 1. A byte of block 3's stored header (its gas used).
    let mut b3 = block_of(&dir, 3);
    b3.header.gas_used ^= 1;
    flip(&dir, |tx| {
        let mut t = tx.open_table(tables::BLOCKS).expect("t");
        t.insert(3, serde_json::to_vec(&b3).expect("json").as_slice()).expect("insert");
    });
    let err = tradechain_engine::verify::verify(&dir).expect_err("tampered header");
    assert_eq!(err.block(), Some(3), "{err}");
    restore();

    // 2. A byte of a receipt in block 2.
    let b2 = block_of(&dir, 2);
    let pos = Store::open(&dir).expect("open").position(&b2.transactions[0]).expect("read").expect("indexed");
    flip(&dir, |tx| {
        let mut t = tx.open_table(tables::RECEIPTS).expect("t");
        let v = t.get(pos).expect("get").expect("exists").value().to_vec();
        let mut r = tradechain_engine::receipt::StoredReceipt::decode(&v).expect("decodes");
        r.gas_used += 1;
        t.insert(pos, r.encode().as_slice()).expect("insert");
    });
    let err = tradechain_engine::verify::verify(&dir).expect_err("tampered receipt");
    assert_eq!(err.block(), Some(2), "{err}");
    restore();

    // 3. A raw byte inside a stored transaction of block 4 (its calldata).
    let b4 = block_of(&dir, 4);
    let pos = Store::open(&dir).expect("open").position(&b4.transactions[0]).expect("read").expect("indexed");
    flip(&dir, |tx| {
        let mut t = tx.open_table(tables::TRANSACTIONS).expect("t");
        let v = t.get(pos).expect("get").expect("exists").value().to_vec();
        let at = v.len() - 70;
        t.insert(pos, flip_byte(&v, at).as_slice()).expect("insert");
    });
    let err = tradechain_engine::verify::verify(&dir).expect_err("tampered transaction");
    assert_eq!(err.block(), Some(4), "{err}");
    restore();

    // 4. A storage slot of the final state.
    flip(&dir, |tx| {
        let mut t = tx.open_table(tables::STORAGE).expect("t");
        let (k, v) = {
            let first = t.iter().expect("iter").next().expect("some").expect("row");
            (first.0.value().to_vec(), first.1.value().to_vec())
        };
        t.insert(k.as_slice(), flip_byte(&v, 31).as_slice()).expect("insert");
    });
    let err = tradechain_engine::verify::verify(&dir).expect_err("tampered state");
    assert!(err.to_string().contains("final state"), "{err}");
    restore();

    tradechain_engine::verify::verify(&dir).expect("restored copy verifies");
}

#[test]
fn dev_clock_moves_block_time_and_snapshots_revert() {
    let (_tmp, cfg) = dev_config();
    let n = TestNode::start(cfg);
    let key = PrivateKeySigner::random();
    let counter = deploy_counter(&n, &key);
    let ts = |n: &TestNode| -> u64 {
        let b = n.result("eth_getBlockByNumber", json!(["latest", false]));
        u64::from_str_radix(b["timestamp"].as_str().expect("ts").trim_start_matches("0x"), 16).expect("hex")
    };
    let t0 = ts(&n);
    n.result("evm_increaseTime", json!([86_400]));
    n.result("evm_mine", json!([]));
    assert!(ts(&n) >= t0 + 86_400);
    n.result("evm_setNextBlockTimestamp", json!([t0 + 200_000]));
    n.result("evm_mine", json!([]));
    assert_eq!(ts(&n), t0 + 200_000);

    let snap = n.result("evm_snapshot", json!([]));
    let height = n.result("eth_blockNumber", json!([]));
    n.result("eth_sendRawTransaction", json!([sign_1559(&key, 1, Some(counter), increment_call(9), 100_000)]));
    assert_eq!(n.result("eth_getTransactionCount", json!([key.address(), "latest"])), "0x2");
    assert_eq!(n.result("evm_revert", json!([snap])), true);
    assert_eq!(n.result("eth_blockNumber", json!([])), height);
    assert_eq!(n.result("eth_getTransactionCount", json!([key.address(), "latest"])), "0x1");
    assert_eq!(n.result("evm_revert", json!([snap])), false, "a snapshot is used up");
    // The chain continues after the revert and still verifies.
    n.result("eth_sendRawTransaction", json!([sign_1559(&key, 1, Some(counter), increment_call(3), 100_000)]));
    let dir = n.stop();
    tradechain_engine::verify::verify(&dir).expect("verifies after revert");
}

/// Group commit: with a block interval of a minute, a transaction reaching an idle producer
/// is sealed within the batch window (it does not wait for the timer), and transactions
/// sent together share blocks (one fsync for many), each exactly once.
#[test]
fn writes_are_group_committed_without_waiting_for_the_interval() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = NodeConfig {
        automine: Some(false),
        block_interval_ms: 60_000,
        batch_window_ms: 5,
        ..NodeConfig::dev_in(tmp.path().join("data"))
    };
    let n = TestNode::start(cfg);
    // Deployed within wait_for_receipt's 10 s: far less than the interval.
    let counter = deploy_counter_mined(&n);
    let head_before = n.result("eth_blockNumber", json!([]));

    // 20 senders, 5 transactions each, all at once.
    let hashes = increments_at_once(&n, counter, 20, 5);
    assert_eq!(hashes.len(), 100);
    for h in &hashes {
        assert_eq!(wait_for_receipt(&n, h)["status"], "0x1", "each transaction sealed once");
    }
    let quantity = |v: Value| u64::from_str_radix(v.as_str().expect("hex").trim_start_matches("0x"), 16).expect("n");
    let blocks = quantity(n.result("eth_blockNumber", json!([]))) - quantity(head_before);
    assert!(blocks < 100, "100 transactions shared {blocks} blocks");
    // The counter counted each increment exactly once.
    let count = format!("0x{}", alloy::hex::encode(&alloy::primitives::keccak256("count()")[..4]));
    let total = n.result("eth_call", json!([{ "to": counter, "data": count }, "latest"]));
    assert_eq!(quantity(total), 100);
    eprintln!("100 transactions from 20 senders in {blocks} blocks");
    let dir = n.stop();
    let report = tradechain_engine::verify::verify(&dir).expect("the chain verifies");
    assert_eq!(report.transactions, 101);
}

/// One sender's `count` increments of `counter`, one every `gap`; each one's block number.
fn stream_of_increments(n: &TestNode, counter: Address, count: u64, gap: Duration) -> Vec<u64> {
    let key = PrivateKeySigner::random();
    let hashes: Vec<Value> = (0..count)
        .map(|nonce| {
            if nonce > 0 {
                std::thread::sleep(gap);
            }
            n.result(
                "eth_sendRawTransaction",
                json!([sign_1559(&key, nonce, Some(counter), increment_call(1), 100_000)]),
            )
        })
        .collect();
    let block = |r: Value| u64::from_str_radix(r["blockNumber"].as_str().expect("hex").trim_start_matches("0x"), 16);
    hashes.iter().map(|h| block(wait_for_receipt(n, h)).expect("a block number")).collect()
}

/// A node that seals on a minute's interval, gathering in windows of 300 ms up to `most_ms`.
fn gathering_node(tmp: &tempfile::TempDir, most_ms: u64) -> TestNode {
    TestNode::start(NodeConfig {
        automine: Some(false),
        block_interval_ms: 60_000,
        batch_window_ms: 300,
        batch_window_max_ms: most_ms,
        ..NodeConfig::dev_in(tmp.path().join("data"))
    })
}

/// Group commit under a stream: writes arriving faster than the window (one every 30 ms
/// against 300 ms) keep the block open, so twenty of them over 570 ms share one block,
/// where a fixed window sealed every 300 ms; a lone write still waits one window only,
/// not the longest gathering.
#[test]
fn a_stream_of_writes_keeps_the_block_open_and_a_lone_write_waits_one_window() {
    let tmp = tempfile::tempdir().expect("tmp");
    let n = gathering_node(&tmp, 5_000);
    let counter = deploy_counter_mined(&n);
    let blocks = stream_of_increments(&n, counter, 20, Duration::from_millis(30));
    assert!(blocks.iter().all(|b| *b == blocks[0]), "twenty writes in one block: {blocks:?}");

    let key = PrivateKeySigner::random();
    let sent = Instant::now();
    let h = n.result("eth_sendRawTransaction", json!([sign_1559(&key, 0, Some(counter), increment_call(1), 100_000)]));
    assert_eq!(wait_for_receipt(&n, &h)["status"], "0x1");
    let waited = sent.elapsed();
    assert!(waited < Duration::from_millis(2_500), "a lone write waited {waited:?}, the longest gathering is 5 s");
    let dir = n.stop();
    tradechain_engine::verify::verify(&dir).expect("the chain verifies");
}

/// The other side of the boundary: the gathering stops at `batch_window_max_ms` (400 ms, one
/// window here) however long the stream lasts, so the same stream fills more than one block.
#[test]
fn a_stream_of_writes_is_sealed_when_the_longest_gathering_is_over() {
    let tmp = tempfile::tempdir().expect("tmp");
    let n = gathering_node(&tmp, 400);
    let counter = deploy_counter_mined(&n);
    let blocks = stream_of_increments(&n, counter, 20, Duration::from_millis(30));
    let distinct: std::collections::BTreeSet<u64> = blocks.iter().copied().collect();
    assert!(distinct.len() >= 2, "a 570 ms stream against a 400 ms gathering: {blocks:?}");
    n.stop();
}

/// `senders` fresh keys each send `each` increments of `counter` at once, one thread per
/// sender; the transaction hashes.
fn increments_at_once(n: &TestNode, counter: Address, senders: usize, each: u64) -> Vec<Value> {
    let senders: Vec<PrivateKeySigner> = (0..senders).map(|_| PrivateKeySigner::random()).collect();
    let addr = n.addr;
    std::thread::scope(|s| {
        let handles: Vec<_> = senders
            .iter()
            .map(|key| {
                s.spawn(move || {
                    (0..each)
                        .map(|nonce| {
                            let raw = sign_1559(key, nonce, Some(counter), increment_call(1), 100_000);
                            rpc(addr, "eth_sendRawTransaction", json!([raw]))["result"].clone()
                        })
                        .collect::<Vec<Value>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("sender")).collect()
    })
}

/// A backlog bigger than one block (here ten transactions fill a block's gas) is sealed
/// in blocks back to back once the senders stop, not one block per interval: the producer
/// used to seal the first block and then sleep until the minute's timer, as nothing new
/// arrived to wake it, while the rest waited in the pool. Nor one batch window per block:
/// a block with no room for what is ready is followed at once (waiting cannot make the
/// next one bigger), so the backlog's blocks take one 2 s window, not one each.
#[test]
fn a_backlog_bigger_than_a_block_is_sealed_back_to_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = NodeConfig {
        automine: Some(false),
        block_interval_ms: 60_000,
        // A window long enough for every send to arrive in it: then nothing new wakes the
        // producer after the first blocks.
        batch_window_ms: 2_000,
        block_gas_limit: 1_000_000,
        ..NodeConfig::dev_in(tmp.path().join("data"))
    };
    let n = TestNode::start(cfg);
    let counter = deploy_counter_mined(&n);
    let sent = Instant::now();
    let hashes = increments_at_once(&n, counter, 10, 10);
    // wait_for_receipt gives up after 10 s: far less than one interval per remaining block.
    for h in &hashes {
        assert_eq!(wait_for_receipt(&n, h)["status"], "0x1", "each transaction sealed once");
    }
    let took = sent.elapsed();
    assert!(took < Duration::from_millis(5_500), "the backlog's blocks in {took:?}: a window each is 8 s or more");
    let count = format!("0x{}", alloy::hex::encode(&alloy::primitives::keccak256("count()")[..4]));
    let total = n.result("eth_call", json!([{ "to": counter, "data": count }, "latest"]));
    assert_eq!(total, format!("0x{:064x}", 100));
    let dir = n.stop();
    tradechain_engine::verify::verify(&dir).expect("the chain verifies");
}

/// A transaction that cannot be sealed yet (its sender skipped a nonce) stays in the pool;
/// the producer, sealing empty blocks on its interval, must not take it for a backlog and
/// seal empty blocks without end.
#[test]
fn a_nonce_gap_in_the_pool_does_not_spin_the_producer() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = NodeConfig {
        automine: Some(false),
        block_interval_ms: 100,
        batch_window_ms: 5,
        empty_blocks: true,
        ..NodeConfig::dev_in(tmp.path().join("data"))
    };
    let n = TestNode::start(cfg);
    let counter = deploy_counter_mined(&n);
    let key = PrivateKeySigner::random();
    // Nonce 1 before nonce 0: it waits in the pool.
    n.result("eth_sendRawTransaction", json!([sign_1559(&key, 1, Some(counter), increment_call(1), 100_000)]));
    let quantity = |v: Value| u64::from_str_radix(v.as_str().expect("hex").trim_start_matches("0x"), 16).expect("n");
    let before = quantity(n.result("eth_blockNumber", json!([])));
    std::thread::sleep(Duration::from_millis(500));
    let blocks = quantity(n.result("eth_blockNumber", json!([]))) - before;
    assert!(blocks <= 10, "{blocks} empty blocks in half a second at one per 100 ms");
    // The gap filled, both are sealed.
    let h = n.result("eth_sendRawTransaction", json!([sign_1559(&key, 0, Some(counter), increment_call(1), 100_000)]));
    assert_eq!(wait_for_receipt(&n, &h)["status"], "0x1");
    n.stop();
}
