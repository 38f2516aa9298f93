//! Throughput of whole order lifecycles through the engine: the contract suite deployed at
//! genesis, 200 traders and 20 banks, and for each order the seven signed transactions of
//! a trade — propose, accept, commit, submit invoice, accept document, release payment,
//! confirm payment — through decode, recovery, execution, sealing and durable commit.
//!
//! Run: `cargo bench -p tradechain-engine --bench lifecycle` (env `BENCH_ORDERS`, default
//! 2000 orders = 14,000 transactions; `BENCH_BLOCK` = transactions per block, default 500).
//! First each stage alone on the same transactions (sender recovery on one and two threads,
//! then sealing alone on a fresh node): recovery on two threads is both cores' whole
//! capacity for it, so no pipeline on this machine passes that figure; sealing on one thread
//! is the pipeline's other stage (it also waits for its fsyncs, time the other stage can use).
//! Then the whole path, pipelined, with one and two threads recovering senders, each on a
//! fresh node, side by side.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, FixedBytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tradechain_contracts::genesis::{SuiteAddresses, plan};
use tradechain_contracts::{Consortium, DocType, TradeOrders, role};
use tradechain_engine::config::DEV_OPERATOR_KEY;
use tradechain_engine::transaction::{Limits, admit, sign_eip1559};
use tradechain_engine::{GenesisCall, Node, NodeConfig};

const TRADERS: usize = 200;
const BANKS: usize = 20;
const GAS: u64 = 700_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Signs calls for many keys, tracking each key's next nonce.
struct Signer {
    chain_id: u64,
    nonces: HashMap<Address, u64>,
}

impl Signer {
    fn call<C: SolCall>(&mut self, key: &PrivateKeySigner, to: Address, call: C) -> Bytes {
        let nonce = self.nonces.entry(key.address()).or_insert(0);
        let raw = sign_eip1559(key, self.chain_id, *nonce, Some(to), call.abi_encode().into(), GAS).expect("sign");
        *nonce += 1;
        raw
    }
}

fn key(name: String) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(name)).expect("key")
}

fn main() {
    let orders = env_usize("BENCH_ORDERS", 2_000);
    let block_txs = env_usize("BENCH_BLOCK", 500);
    let config = NodeConfig {
        automine: Some(false),
        max_block_txs: block_txs,
        max_pool_txs: orders * 7 + 1_000,
        max_nonce_gap: (orders * 7) as u64,
        // A bank has hundreds of transactions in flight here: the per-sender caps guard a
        // node against a flood, not what this bench measures.
        max_pending_per_sender: orders * 7,
        max_pending_bytes_per_sender: orders * 7 * 1024,
        block_gas_limit: GAS * block_txs as u64,
        ..NodeConfig::dev_in(std::path::PathBuf::new())
    };
    let limits = Limits {
        chain_id: config.chain_id,
        max_tx_bytes: config.max_tx_bytes,
        block_gas_limit: config.block_gas_limit,
    };
    let operator: PrivateKeySigner = DEV_OPERATOR_KEY.parse().expect("dev key");
    let genesis: Vec<GenesisCall> =
        plan(operator.address()).into_iter().map(|c| GenesisCall { to: c.to, input: c.input }).collect();
    let suite = SuiteAddresses::for_operator(operator.address());

    let traders: Vec<PrivateKeySigner> = (0..TRADERS).map(|i| key(format!("trader {i}"))).collect();
    let banks: Vec<PrivateKeySigner> = (0..BANKS).map(|i| key(format!("bank {i}"))).collect();
    let mut signer = Signer { chain_id: config.chain_id, nonces: HashMap::new() };
    let operator_nonce = {
        // Genesis is the operator's first transactions: a throwaway node says how many.
        let tmp = tempfile::tempdir().expect("tmp");
        let probe = Node::open(NodeConfig { data_dir: tmp.path().join("chain"), ..config.clone() }, genesis.clone())
            .expect("node");
        probe.nonce(&operator.address(), true)
    };
    signer.nonces.insert(operator.address(), operator_nonce);
    let mut setup = Vec::new();
    for (k, roles) in traders.iter().map(|k| (k, role::TRADER)).chain(banks.iter().map(|k| (k, role::BANK))) {
        let call = Consortium::registerCall { account: k.address(), name: "member".into(), roles };
        setup.push(signer.call(&operator, suite.consortium, call));
    }
    let fresh = || {
        let tmp = tempfile::tempdir().expect("tmp");
        let node = Node::open(NodeConfig { data_dir: tmp.path().join("chain"), ..config.clone() }, genesis.clone())
            .expect("node");
        // Payments fall due on the paying bank's banking days: the chain's clock starts on a
        // Monday morning, so the releases are due whatever day the bench runs.
        let now = tradechain_engine::node::unix_now();
        let mut day = now / 86_400 + 1;
        while !(day + 3).is_multiple_of(7) {
            day += 1; // 1970-01-01 was a Thursday
        }
        node.increase_time(day * 86_400 + 9 * 3_600 - now).expect("a dev node's clock moves");
        node.mine(None).expect("a dev node mines");
        for raw in &setup {
            node.submit_raw(raw).expect("register");
        }
        while node.seal_next(false, None).expect("seal").is_some() {}
        (tmp, node)
    };
    let (_first_dir, node) = fresh();

    eprintln!("signing {} transactions for {orders} order lifecycles ...", orders * 7);
    let now = node.next_block_params().timestamp;
    let to = suite.trade_orders;
    let invoice = DocType::CommercialInvoice as u8;
    let parties =
        |i: usize| (&traders[i % TRADERS], &traders[(i + 1) % TRADERS], &banks[i % BANKS], &banks[(i + 1) % BANKS]);
    let mut raws: Vec<Bytes> = Vec::with_capacity(orders * 7);
    for i in 0..orders {
        let (buyer, seller, buyer_bank, seller_bank) = parties(i);
        let t = TradeOrders::OrderTerms {
            seller: seller.address(),
            buyerBank: buyer_bank.address(),
            sellerBank: seller_bank.address(),
            carrier: Address::ZERO,
            inspector: Address::ZERO,
            amount: 1_000_000 + i as u128,
            currency: FixedBytes::from_slice(b"USD"),
            incoterm: FixedBytes::from_slice(b"FOB"),
            detailsHash: keccak256(i.to_be_bytes()),
            latestShipment: now + 30 * 86_400,
            expiry: now + 60 * 86_400,
            examinationDays: 0,
            charges: tradechain_contracts::Charges::Shared as u8,
        };
        let ms = vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }];
        raws.push(signer.call(buyer, to, TradeOrders::proposeCall { t, terms: ms }));
    }
    let id = |i: usize| U256::from(i + 1);
    for i in 0..orders {
        raws.push(signer.call(parties(i).1, to, TradeOrders::acceptCall { orderId: id(i) }));
    }
    for i in 0..orders {
        raws.push(signer.call(
            parties(i).2,
            to,
            TradeOrders::commitCall { orderId: id(i), cover: tradechain_contracts::Cover::BankRisk as u8 },
        ));
    }
    for i in 0..orders {
        let call = TradeOrders::submitDocumentCall {
            orderId: id(i),
            docType: invoice,
            hash: keccak256(i.to_le_bytes()),
            uri: String::new(),
        };
        raws.push(signer.call(parties(i).1, to, call));
    }
    for i in 0..orders {
        raws.push(signer.call(parties(i).2, to, TradeOrders::acceptDocumentCall { orderId: id(i), docType: invoice }));
    }
    for i in 0..orders {
        raws.push(signer.call(parties(i).3, to, TradeOrders::releasePaymentCall { orderId: id(i), index: U256::ZERO }));
    }
    for i in 0..orders {
        let call = TradeOrders::confirmPaymentCall {
            orderId: id(i),
            index: U256::ZERO,
            paymentReference: keccak256(i.to_be_bytes()),
        };
        raws.push(signer.call(parties(i).2, to, call));
    }
    let n = raws.len();

    println!();
    println!(
        "tradechain order-lifecycle benchmark: {orders} orders x 7 transactions = {n}, {TRADERS} traders, {BANKS} banks, {block_txs} tx/block"
    );
    drop(node);
    // Each stage alone on the same transactions: what bounds the whole path on this machine.
    let recovery = |threads: usize| {
        let started = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let raws = &raws;
                s.spawn(move || {
                    for raw in raws.iter().skip(t).step_by(threads) {
                        std::hint::black_box(admit(raw, &limits).expect("valid"));
                    }
                });
            }
        });
        n as f64 / started.elapsed().as_secs_f64()
    };
    recovery(2); // warm-up: the first pass pays for page faults and the clock ramping up
    let (recover_one, recover_two) = (recovery(1), recovery(2));
    let sealing = {
        let (_dir, node) = fresh();
        let admitted: Vec<_> = raws.iter().map(|raw| admit(raw, &limits).expect("valid")).collect();
        // Only the sealing is timed: admission to the pool is the other thread's, a block's
        // worth at a time as there.
        let (mut sealing, mut sealed) = (Duration::ZERO, 0);
        for chunk in admitted.chunks(block_txs) {
            for tx in chunk {
                node.submit(tx.clone()).expect("admitted");
            }
            let started = Instant::now();
            while let Some(o) = node.seal_next(false, None).expect("seal") {
                sealed += o.block.transactions.len();
            }
            sealing += started.elapsed();
        }
        assert_eq!(sealed, n, "every transaction sealed");
        n as f64 / sealing.as_secs_f64()
    };
    println!("  stages alone, same transactions:");
    println!("    sender recovery, 1 thread      {recover_one:>8.0} tx/s");
    println!("    sender recovery, 2 threads     {recover_two:>8.0} tx/s");
    println!("    sealing (execute, roots, sign, one fsync'd commit a block), 1 thread  {sealing:>8.0} tx/s");
    for threads in [1, 2] {
        let (_dir, node) = fresh();
        let (elapsed, blocks) = pipelined(&node, &raws, &limits, block_txs, threads);
        check(&node, operator.address(), to, orders);
        println!(
            "  full path, pipelined like the node, {threads} recovering thread(s):  {:>8.0} tx/s  ({:>8.1} ms, {blocks} blocks, {:.0} whole trades/s)",
            n as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e3,
            orders as f64 / elapsed.as_secs_f64()
        );
    }
}

/// Pipelined as in the running node: `threads` threads decode and recover senders (the
/// node's request handlers, each taking every `threads`-th run of 256 transactions), one
/// admits them to the pool in the order they were signed (a later stage depends on an
/// earlier one of another sender), and the calling thread seals (execute, roots, sign, one
/// fsync'd commit) whenever a block's worth is waiting. The time taken and the blocks sealed.
fn pipelined(node: &Node, raws: &[Bytes], limits: &Limits, block_txs: usize, threads: usize) -> (Duration, usize) {
    let n = raws.len();
    let runs: Vec<&[Bytes]> = raws.chunks(256).collect();
    let recovered: Vec<std::sync::OnceLock<Vec<tradechain_engine::transaction::PendingTx>>> =
        runs.iter().map(|_| std::sync::OnceLock::new()).collect();
    let admitted_all = std::sync::atomic::AtomicBool::new(false);
    let start = Instant::now();
    let (blocks, failed) = std::thread::scope(|s| {
        for t in 0..threads {
            let (runs, recovered) = (&runs, &recovered);
            s.spawn(move || {
                for k in (t..runs.len()).step_by(threads) {
                    let txs = runs[k].iter().map(|raw| admit(raw, limits).expect("valid")).collect();
                    let _ = recovered[k].set(txs);
                }
            });
        }
        let (recovered, admitted_all) = (&recovered, &admitted_all);
        s.spawn(move || {
            for slot in recovered {
                let txs = loop {
                    if let Some(txs) = slot.get() {
                        break txs;
                    }
                    std::thread::sleep(Duration::from_micros(50));
                };
                for tx in txs {
                    node.submit(tx.clone()).expect("admitted");
                }
            }
            admitted_all.store(true, Ordering::Release);
        });
        let (mut sealed, mut blocks, mut failed) = (0, 0, 0);
        while sealed < n {
            if node.pool_len() >= block_txs || admitted_all.load(Ordering::Acquire) {
                if let Some(o) = node.seal_next(false, None).expect("seal") {
                    sealed += o.block.transactions.len();
                    blocks += 1;
                    failed += o.rejected.len();
                }
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        (blocks, failed)
    });
    assert_eq!(failed, 0, "no lifecycle transaction was rejected");
    (start.elapsed(), blocks)
}

/// Every transaction succeeded and the last order is paid in full.
fn check(node: &Node, operator: Address, to: Address, orders: usize) {
    let head = node.head().header.number;
    let reverted: usize = (1..=head)
        .map(|b| node.store().block_receipts(b).expect("receipts").iter().filter(|r| !r.success).count())
        .sum();
    assert_eq!(reverted, 0, "every lifecycle transaction succeeded");
    // The views answer only those entitled to the order (the operator is).
    let last: TradeOrders::Order = {
        use tradechain_engine::executor::{CallOutcome, CallRequest};
        let input = TradeOrders::getOrderCall { orderId: U256::from(orders) }.abi_encode().into();
        match node.call(&CallRequest { from: operator, to: Some(to), gas: None, value: U256::ZERO, input }) {
            Ok(CallOutcome::Success { output, .. }) => {
                TradeOrders::getOrderCall::abi_decode_returns(&output).expect("decode")
            }
            other => panic!("getOrder failed: {other:?}"),
        }
    };
    assert_eq!(last.paid, last.amount, "the last order is paid in full");
}
