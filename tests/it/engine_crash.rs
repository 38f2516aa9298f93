//! Crash safety of the real `tradechain node` process: a load of signed transactions from
//! several clients, kill -9 mid-way, restart on the same data directory. Every transaction
//! whose receipt a client saw is still there (same block), nonces continue, and
//! `tradechain verify` passes on the result.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use redb::ReadableTable;
use serde_json::{Value, json};

const CHAIN_ID: u64 = 7431;

fn spawn_node(data_dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["node", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("TRADECHAIN_DEV", "true")
        .env("TRADECHAIN_AUTOMINE", "false")
        .env("TRADECHAIN_BLOCK_INTERVAL_MS", "25")
        .env("TRADECHAIN_MAX_BLOCK_TXS", "40")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("node prints its address");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .expect("address");
    (child, addr)
}

fn rpc(addr: SocketAddr, method: &str, params: Value) -> Result<Value, String> {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }).to_string();
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let (_, json) = out.split_once("\r\n\r\n").ok_or("no body")?;
    let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    match v.get("error") {
        Some(e) => Err(e.to_string()),
        None => Ok(v["result"].clone()),
    }
}

fn sign(key: &PrivateKeySigner, nonce: u64, to: Option<Address>, input: Bytes, gas: u64) -> Bytes {
    tradechain_engine::transaction::sign_eip1559(key, CHAIN_ID, nonce, to, input, gas).expect("sign")
}

fn increment(delta: u64) -> Bytes {
    let mut data = keccak256("increment(uint256)")[..4].to_vec();
    data.extend_from_slice(&U256::from(delta).to_be_bytes::<32>());
    data.into()
}

fn counter_bytecode() -> Bytes {
    let artifact: Value =
        serde_json::from_str(include_str!("../../engine/tests/fixtures/Counter.json")).expect("artifact");
    artifact["bytecode"].as_str().expect("bytecode").parse().expect("hex")
}

fn wait_receipt(addr: SocketAddr, hash: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = rpc(addr, "eth_getTransactionReceipt", json!([hash]))
            && !r.is_null()
        {
            return r;
        }
        assert!(Instant::now() < deadline, "no receipt for {hash}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn nonce_of(addr: SocketAddr, who: Address) -> u64 {
    let v = rpc(addr, "eth_getTransactionCount", json!([who, "latest"])).expect("nonce");
    u64::from_str_radix(v.as_str().expect("hex").trim_start_matches("0x"), 16).expect("hex")
}

/// A receipt a client saw: tx hash → (block hash, sender index, nonce).
type Seen = Arc<Mutex<HashMap<String, (String, usize, u64)>>>;

#[test]
fn acknowledged_transactions_survive_kill_9_and_the_chain_verifies() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let (mut child, addr) = spawn_node(&data);

    let deployer = PrivateKeySigner::random();
    let hash = rpc(addr, "eth_sendRawTransaction", json!([sign(&deployer, 0, None, counter_bytecode(), 1_000_000)]))
        .expect("deploy");
    let counter: Address = wait_receipt(addr, &hash)["contractAddress"].as_str().expect("addr").parse().expect("addr");

    let keys: Vec<PrivateKeySigner> = (0..4).map(|_| PrivateKeySigner::random()).collect();
    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = keys
        .iter()
        .cloned()
        .enumerate()
        .map(|(k, key)| {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut nonce = 0u64;
                'outer: while !stop.load(Ordering::Relaxed) {
                    let mut sent = Vec::new();
                    for _ in 0..10 {
                        match rpc(
                            addr,
                            "eth_sendRawTransaction",
                            json!([sign(&key, nonce, Some(counter), increment(1), 100_000)]),
                        ) {
                            Ok(h) => sent.push((h, nonce)),
                            Err(_) => break 'outer, // the node is gone
                        }
                        nonce += 1;
                    }
                    for (h, n) in sent {
                        loop {
                            match rpc(addr, "eth_getTransactionReceipt", json!([h])) {
                                Ok(r) if !r.is_null() => {
                                    assert_eq!(r["status"], "0x1");
                                    let block = r["blockHash"].as_str().expect("block hash").to_string();
                                    seen.lock()
                                        .expect("lock")
                                        .insert(h.as_str().expect("hash").to_string(), (block, k, n));
                                    break;
                                }
                                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                                Err(_) => break 'outer,
                            }
                        }
                    }
                }
            })
        })
        .collect();

    // Let the load run, then kill -9 in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().expect("lock").len() < 400 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let seen = seen.lock().expect("lock").clone();
    assert!(seen.len() >= 100, "only {} receipts seen before the kill", seen.len());

    // Restart: every acknowledged transaction is there, in the same block.
    let (mut child, addr) = spawn_node(&data);
    for (hash, (block, _, _)) in &seen {
        let r = rpc(addr, "eth_getTransactionReceipt", json!([hash])).expect("receipt");
        assert!(!r.is_null(), "acknowledged transaction {hash} lost");
        assert_eq!(r["blockHash"].as_str(), Some(block.as_str()));
    }
    // Nonces continue from the durable state.
    for (k, key) in keys.iter().enumerate() {
        let highest_seen = seen.values().filter(|(_, s, _)| *s == k).map(|(_, _, n)| *n).max();
        let next = nonce_of(addr, key.address());
        if let Some(h) = highest_seen {
            assert!(next > h, "sender {k}: next nonce {next} but nonce {h} was acknowledged");
        }
        let h = rpc(addr, "eth_sendRawTransaction", json!([sign(key, next, Some(counter), increment(1), 100_000)]))
            .expect("continues");
        assert_eq!(wait_receipt(addr, &h)["status"], "0x1");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["verify", "--data-dir"])
        .arg(&data)
        .output()
        .expect("verify runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("verified"), "{stdout}");
    println!("{} acknowledged transactions survived; {stdout}", seen.len());
}

#[test]
fn verify_names_the_first_block_that_does_not_match() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let (mut child, addr) = spawn_node(&data);
    let key = PrivateKeySigner::random();
    let hash = rpc(addr, "eth_sendRawTransaction", json!([sign(&key, 0, None, counter_bytecode(), 1_000_000)]))
        .expect("deploy");
    let receipt = wait_receipt(addr, &hash);
    let block =
        u64::from_str_radix(receipt["blockNumber"].as_str().expect("n").trim_start_matches("0x"), 16).expect("hex");
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    // Flip one byte of that block's stored transaction through redb.
    {
        let db = redb::Database::open(data.join("chain.redb")).expect("open");
        let tx = db.begin_write().expect("write");
        {
            let key: alloy::primitives::B256 = serde_json::from_value(hash.clone()).expect("hash");
            let positions = tx.open_table(tradechain_engine::store::tables::TX_POSITIONS).expect("table");
            let pos = positions.get(key.as_slice()).expect("get").expect("indexed").value();
            let mut t = tx.open_table(tradechain_engine::store::tables::TRANSACTIONS).expect("table");
            let mut v = t.get(pos).expect("get").expect("exists").value().to_vec();
            let at = v.len() / 2;
            v[at] ^= 0x01;
            t.insert(pos, v.as_slice()).expect("insert");
        }
        tx.commit().expect("commit");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_tradechain"))
        .args(["verify", "--data-dir"])
        .arg(&data)
        .output()
        .expect("verify runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains(&format!("block {block} does not match")), "{stderr}");
}
