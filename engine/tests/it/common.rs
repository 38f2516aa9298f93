//! Shared helpers for the engine's integration tests: an in-process node on a free loopback
//! port, a tiny HTTP/1.1 JSON-RPC client, and transaction signing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;

use alloy::consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, Bytes, TxKind, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};
use tradechain_engine::{Node, NodeConfig};

pub(crate) const CHAIN_ID: u64 = 7431;

/// A node serving JSON-RPC on 127.0.0.1:<free port>, on its own runtime.
pub(crate) struct TestNode {
    pub(crate) addr: SocketAddr,
    pub(crate) node: Option<Node>,
    pub(crate) data_dir: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestNode {
    pub(crate) fn start(config: NodeConfig) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let data_dir = config.data_dir.clone();
        let node = Node::open(config, Vec::new()).expect("node opens");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
        let addr = listener.local_addr().expect("addr");
        {
            let _guard = runtime.enter();
            node.spawn_producer();
            runtime.spawn(tradechain_engine::rpc::serve(node.clone(), listener, std::future::pending()));
        }
        Self { addr, node: Some(node), data_dir, runtime: Some(runtime) }
    }

    pub(crate) fn node(&self) -> &Node {
        self.node.as_ref().expect("running")
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop serving and release the store (so `verify` can open it).
    pub(crate) fn stop(mut self) -> PathBuf {
        self.node.take();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(5));
        }
        self.data_dir.clone()
    }

    pub(crate) fn rpc(&self, method: &str, params: Value) -> Value {
        rpc(self.addr, method, params)
    }

    /// The `result` of a call, panicking on an error answer.
    pub(crate) fn result(&self, method: &str, params: Value) -> Value {
        let v = self.rpc(method, params);
        assert!(v.get("error").is_none(), "{method} failed: {v}");
        v["result"].clone()
    }
}

/// POST `body` to `path`; returns (status, body).
pub(crate) fn http_post(addr: SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

pub(crate) fn rpc(addr: SocketAddr, method: &str, params: Value) -> Value {
    let req = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    let (_, body) = http_post(addr, "/", req.to_string().as_bytes());
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("bad JSON from {method}: {e}: {body}"))
}

pub(crate) fn dev_config() -> (tempfile::TempDir, NodeConfig) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = NodeConfig::dev_in(dir.path().join("data"));
    (dir, cfg)
}

/// The Counter test contract's creation code.
pub(crate) fn counter_bytecode() -> Bytes {
    let artifact: Value = serde_json::from_str(include_str!("../fixtures/Counter.json")).expect("artifact");
    artifact["bytecode"].as_str().expect("bytecode").parse().expect("hex")
}

/// Calldata for `increment(delta)`.
pub(crate) fn increment_call(delta: u64) -> Bytes {
    let mut data = keccak256("increment(uint256)")[..4].to_vec();
    data.extend_from_slice(&U256::from(delta).to_be_bytes::<32>());
    data.into()
}

/// A signed EIP-1559 transaction at gas price 0.
pub(crate) fn sign_1559(key: &PrivateKeySigner, nonce: u64, to: Option<Address>, input: Bytes, gas: u64) -> Bytes {
    sign_1559_chain(key, CHAIN_ID, nonce, to, input, gas)
}

pub(crate) fn sign_1559_chain(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Option<Address>,
    input: Bytes,
    gas: u64,
) -> Bytes {
    tradechain_engine::transaction::sign_eip1559(key, chain_id, nonce, to, input, gas).expect("sign")
}

/// A signed legacy transaction (EIP-155) at gas price 0.
pub(crate) fn sign_legacy(key: &PrivateKeySigner, nonce: u64, to: Option<Address>, input: Bytes, gas: u64) -> Bytes {
    let tx = TxLegacy {
        chain_id: Some(CHAIN_ID),
        nonce,
        gas_limit: gas,
        to: to.map_or(TxKind::Create, TxKind::Call),
        input,
        ..Default::default()
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).expect("sign");
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

/// Deploy Counter from `key` (nonce 0) through JSON-RPC; returns its address.
pub(crate) fn deploy_counter(n: &TestNode, key: &PrivateKeySigner) -> Address {
    let raw = sign_1559(key, 0, None, counter_bytecode(), 1_000_000);
    let hash = n.result("eth_sendRawTransaction", json!([raw]));
    let receipt = n.result("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(receipt["status"], "0x1", "deploy failed: {receipt}");
    receipt["contractAddress"].as_str().expect("address").parse().expect("address")
}

/// Run `node` (the JS runtime) if present; `None` means skip.
pub(crate) fn node_js_available() -> bool {
    std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success())
}
