//! Throughput of the engine, by stage, with signed contract-call transactions
//! (`Counter.increment(delta)` from many senders: a storage-writing call that emits an event).
//!
//! Run: `CARGO_TARGET_DIR=/var/tmp/tradechain-target cargo bench -p tradechain-engine`
//! (env `BENCH_TXS` = number of transactions, default 20000; `BENCH_BLOCK` = txs per block, 500).
//!
//! Prints, side by side:
//! - full path, pipelined as in the node: one thread decodes/recovers/admits while the other
//!   executes, computes roots, seals and commits durably (fsync) each block
//! - full path, stage after stage: decode + recover (2 threads), pool, then sealing
//! - recovery alone (libsecp256k1 on 1 and 2 threads; alloy's k256 on 1 thread)
//! - execution alone (pre-recovered, in memory, no roots, no persistence)
//! - execution + roots + sealing signature (no persistence)
//! - durable commit alone (the same blocks written to a fresh store, one fsync'd commit each)

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use tradechain_engine::block::{SealedBlock, header_for};
use tradechain_engine::executor::{BlockParams, execute_block};
use tradechain_engine::store::{BlockWrite, Store};
use tradechain_engine::transaction::{Limits, PendingTx, admit, decode, recover_k256};
use tradechain_engine::{Node, NodeConfig};

const CHAIN_ID: u64 = 7431;
const SENDERS: usize = 200;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn counter_bytecode() -> Bytes {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/Counter.json")).expect("artifact");
    artifact["bytecode"].as_str().expect("bytecode").parse().expect("hex")
}

fn increment(delta: u64) -> Bytes {
    let mut data = keccak256("increment(uint256)")[..4].to_vec();
    data.extend_from_slice(&U256::from(delta).to_be_bytes::<32>());
    data.into()
}

fn sign(key: &PrivateKeySigner, nonce: u64, to: Option<Address>, input: Bytes, gas: u64) -> Bytes {
    tradechain_engine::transaction::sign_eip1559(key, CHAIN_ID, nonce, to, input, gas).expect("sign")
}

/// `n` signed increments, round-robin over the senders (signed on 2 threads).
fn workload(n: usize, counter: Address, keys: &[PrivateKeySigner]) -> Vec<Bytes> {
    let half = n / 2;
    let make = |range: std::ops::Range<usize>| -> Vec<Bytes> {
        range
            .map(|i| {
                let key = &keys[i % keys.len()];
                let nonce = (i / keys.len()) as u64;
                sign(key, nonce, Some(counter), increment(1 + (i as u64 % 900)), 100_000)
            })
            .collect()
    };
    std::thread::scope(|s| {
        let a = s.spawn(|| make(0..half));
        let b = make(half..n);
        let mut all = a.join().expect("signer thread");
        all.extend(b);
        all
    })
}

fn recover_parallel(raws: &[Bytes], limits: &Limits, threads: usize) -> Vec<PendingTx> {
    let chunk = raws.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = raws
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|r| admit(r, limits).expect("valid")).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("recover thread")).collect()
    })
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:>10.0} tx/s  ({:>8.1} ms for {n})", n as f64 / d.as_secs_f64(), d.as_secs_f64() * 1e3)
}

fn main() {
    let n = env_usize("BENCH_TXS", 20_000);
    let block_txs = env_usize("BENCH_BLOCK", 500);
    let tmp = tempfile::tempdir().expect("tmp");
    let config = NodeConfig {
        automine: Some(false),
        max_block_txs: block_txs,
        max_pool_txs: n + 10,
        max_nonce_gap: n as u64,
        block_gas_limit: 100_000 * block_txs as u64 + 1_000_000,
        ..NodeConfig::dev_in(tmp.path().join("full"))
    };
    let limits =
        Limits { chain_id: CHAIN_ID, max_tx_bytes: config.max_tx_bytes, block_gas_limit: config.block_gas_limit };
    let node = Node::open(config.clone(), Vec::new()).expect("node");
    let deployer = PrivateKeySigner::random();
    node.submit_raw(&sign(&deployer, 0, None, counter_bytecode(), 1_000_000)).expect("deploy");
    node.seal_next(false, None).expect("seal deploy");
    let counter = deployer.address().create(0);
    assert!(!node.with_state(|s| s.code_of(&counter)).is_empty(), "counter deployed");

    let keys: Vec<PrivateKeySigner> = (0..SENDERS).map(|_| PrivateKeySigner::random()).collect();
    eprintln!("signing {n} transactions from {SENDERS} senders ...");
    let raws = workload(n, counter, &keys);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);

    // (a) Full path.
    let start = Instant::now();
    let recovered = recover_parallel(&raws, &limits, 2);
    let t_recover = start.elapsed();
    for tx in recovered {
        node.submit(tx).expect("admitted");
    }
    let t_pool = start.elapsed() - t_recover;
    let mut blocks = 0;
    while node.seal_next(false, None).expect("seal").is_some() {
        blocks += 1;
    }
    let t_full = start.elapsed();
    let t_seal = t_full - t_recover - t_pool;
    assert_eq!(node.pool_len(), 0, "everything sealed");
    let head = node.head();
    drop(node);

    // (a') Full path, pipelined as in the running node: one thread decodes, recovers and admits
    // (like the RPC handlers), the other seals a block whenever a block's worth is waiting (like
    // the producer).
    let piped =
        Node::open(NodeConfig { data_dir: tmp.path().join("piped"), ..config.clone() }, Vec::new()).expect("node");
    piped.submit_raw(&sign(&deployer, 0, None, counter_bytecode(), 1_000_000)).expect("deploy");
    piped.seal_next(false, None).expect("seal deploy");
    let admitted_all = std::sync::atomic::AtomicBool::new(false);
    let start = Instant::now();
    let piped_blocks = std::thread::scope(|s| {
        s.spawn(|| {
            for chunk in raws.chunks(block_txs) {
                for tx in recover_parallel(chunk, &limits, 1) {
                    piped.submit(tx).expect("admitted");
                }
            }
            admitted_all.store(true, std::sync::atomic::Ordering::Release);
        });
        let (mut sealed, mut blocks) = (0, 0);
        while sealed < n {
            let done = admitted_all.load(std::sync::atomic::Ordering::Acquire);
            if piped.pool_len() >= block_txs || done {
                if let Some(o) = piped.seal_next(false, None).expect("seal") {
                    sealed += o.block.transactions.len();
                    blocks += 1;
                }
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        blocks
    });
    let t_piped = start.elapsed();
    drop(piped);

    // (c) Recovery alone.
    let start = Instant::now();
    let pre = recover_parallel(&raws, &limits, 1);
    let t_rec1 = start.elapsed();
    let start = Instant::now();
    let _ = recover_parallel(&raws, &limits, 2);
    let t_rec2 = start.elapsed();
    let start = Instant::now();
    for raw in &raws {
        let envelope = decode(raw, &limits).expect("decodes");
        recover_k256(envelope, raw.clone()).expect("recovers");
    }
    let t_k256 = start.elapsed();

    // (b) Execution alone, on a fresh in-memory chain with the counter deployed.
    let exec_node =
        Node::open(NodeConfig { data_dir: tmp.path().join("exec"), ..config.clone() }, Vec::new()).expect("node");
    exec_node.submit_raw(&sign(&deployer, 0, None, counter_bytecode(), 1_000_000)).expect("deploy");
    exec_node.seal_next(false, None).expect("seal deploy");
    let mut state = exec_node.with_state(Clone::clone);
    let genesis_like = exec_node.head();
    drop(exec_node);
    let pre: Vec<Arc<PendingTx>> = pre.into_iter().map(Arc::new).collect();
    let params = |number: u64| BlockParams {
        chain_id: CHAIN_ID,
        number,
        timestamp: genesis_like.header.timestamp + number,
        gas_limit: config.block_gas_limit,
        beneficiary: genesis_like.header.sealer,
    };
    let start = Instant::now();
    let mut executed_blocks = Vec::new();
    for (i, chunk) in pre.chunks(block_txs).enumerate() {
        let p = params(2 + i as u64);
        let ex = execute_block(&state, &p, chunk);
        assert_eq!(ex.included.len(), chunk.len(), "all included: {:?}", ex.rejected.first());
        state.apply(&ex.diff);
        executed_blocks.push((p, ex));
    }
    let t_exec = start.elapsed();

    // (b') Roots + seal signature for those blocks.
    let sealer = config.sealer_signer().expect("key");
    let start = Instant::now();
    let mut sealed = Vec::new();
    let (mut parent_header, mut parent_hash) = (genesis_like.header.clone(), genesis_like.hash);
    for (p, ex) in &executed_blocks {
        let header = header_for(&parent_header, parent_hash, p, ex);
        let block = SealedBlock::seal(header, ex.included.iter().map(|t| t.hash).collect(), &sealer).expect("seal");
        parent_header = block.header.clone();
        parent_hash = block.hash;
        sealed.push(block);
    }
    let t_roots = start.elapsed();

    // (d) Durable commit alone.
    let store = Store::open(&tmp.path().join("commit")).expect("store");
    let start = Instant::now();
    for (block, (_, ex)) in sealed.iter().zip(&executed_blocks) {
        store
            .commit_block(BlockWrite {
                block,
                transactions: ex.included.iter().map(|t| (t.hash, &t.raw)).collect(),
                receipts: &ex.receipts,
                diff: &ex.diff,
                genesis: None,
            })
            .expect("commit");
    }
    let t_commit = start.elapsed();

    println!();
    println!(
        "tradechain engine benchmark: {n} signed Counter.increment calls, {SENDERS} senders, {block_txs} tx/block, {cores} cores"
    );
    println!(
        "  full path, pipelined like the node (thread 1: decode+recover+admit; thread 2: execute, roots, seal, durable commit):"
    );
    println!("    total            {}   ({piped_blocks} blocks)", rate(n, t_piped));
    println!("  full path, stages one after another (decode+recover x2 threads, then pool, then sealing):");
    println!("    total            {}", rate(n, t_full));
    println!("      recover (x2)   {:>8.1} ms", t_recover.as_secs_f64() * 1e3);
    println!("      pool admission {:>8.1} ms", t_pool.as_secs_f64() * 1e3);
    println!("      seal {blocks:>4} blocks {:>8.1} ms  (execute + roots + sign + commit)", t_seal.as_secs_f64() * 1e3);
    println!("  stages alone:");
    println!("    recovery, 1 thread   {}", rate(n, t_rec1));
    println!("    recovery, 2 threads  {}", rate(n, t_rec2));
    println!("    recovery, k256 (alloy's pure-Rust backend), 1 thread {}", rate(n, t_k256));
    println!("    execution only       {}   (revm, in memory, no roots, no persistence)", rate(n, t_exec));
    println!("    roots + seal signing {}", rate(n, t_roots));
    println!("    durable commit only  {}   ({} redb commits, fsync each)", rate(n, t_commit), sealed.len());
    println!("  head block {} {}", head.header.number, head.hash);
}
