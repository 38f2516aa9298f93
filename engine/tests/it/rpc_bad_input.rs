//! Bad input over real HTTP: each gets a clear JSON-RPC error and changes nothing.

use crate::common::*;
use alloy::primitives::{Address, Bytes};
use alloy::signers::local::PrivateKeySigner;
use serde_json::{Value, json};
use tradechain_engine::NodeConfig;

fn small_body_node() -> (tempfile::TempDir, TestNode) {
    let (tmp, mut cfg) = dev_config();
    cfg.max_body_bytes = 64 * 1024;
    (tmp, TestNode::start(cfg))
}

/// Chain height and a fingerprint of the state, to show nothing changed.
fn snapshot(n: &TestNode) -> (Value, u64) {
    let head = n.result("eth_blockNumber", json!([]));
    let pool = n.node().pool_len() as u64;
    (head, pool)
}

fn error_of(v: &Value) -> (i64, String) {
    let e = v.get("error").unwrap_or_else(|| panic!("expected an error, got {v}"));
    (e["code"].as_i64().expect("code"), e["message"].as_str().expect("message").to_string())
}

#[test]
fn malformed_json_is_a_parse_error() {
    let (_t, n) = small_body_node();
    let before = snapshot(&n);
    let (status, body) = http_post(n.addr, "/", b"{\"jsonrpc\": \"2.0\", \"method\": ");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).expect("json");
    let (code, msg) = error_of(&v);
    assert_eq!(code, -32700);
    assert!(msg.starts_with("parse error"), "{msg}");
    assert_eq!(v["id"], Value::Null);
    assert_eq!(snapshot(&n), before);
}

#[test]
fn non_request_shapes_are_invalid_requests() {
    let (_t, n) = small_body_node();
    for body in [
        json!(42),
        json!([]),
        json!({"jsonrpc": "1.0", "id": 1, "method": "eth_chainId"}),
        json!({"jsonrpc": "2.0", "id": 1, "method": 7}),
    ] {
        let (_, text) = http_post(n.addr, "/", body.to_string().as_bytes());
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(error_of(&v).0, -32600, "{body} -> {v}");
    }
}

#[test]
fn unknown_methods_and_wrong_param_types_are_named() {
    let (_t, n) = small_body_node();
    let (code, msg) = error_of(&n.rpc("eth_mineGold", json!([])));
    assert_eq!(code, -32601);
    assert!(msg.contains("eth_mineGold"));
    let (code, msg) = error_of(&n.rpc("eth_getBalance", json!(["not-an-address", "latest"])));
    assert_eq!(code, -32602);
    assert!(msg.contains("parameter 0 (address)"), "{msg}");
    let (code, _) = error_of(&n.rpc("eth_getBalance", json!([])));
    assert_eq!(code, -32602);
    let (code, _) = error_of(&n.rpc("eth_sendRawTransaction", json!([12])));
    assert_eq!(code, -32602);
    let (code, msg) = error_of(&n.rpc("eth_getBalance", json!([Address::ZERO, "0x99"])));
    assert_eq!(code, -32000);
    assert!(msg.contains("only the latest state"), "{msg}");
}

#[test]
fn oversized_body_gets_413_and_a_json_rpc_error() {
    let (_t, n) = small_body_node();
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_chainId\",\"params\":[\"{}\"]}}",
        "a".repeat(100 * 1024)
    );
    let (status, body) = http_post(n.addr, "/rpc", big.as_bytes());
    assert_eq!(status, 413);
    let v: Value = serde_json::from_str(&body).expect("json");
    let (code, msg) = error_of(&v);
    assert_eq!(code, -32600);
    assert!(msg.contains("limit 65536 bytes"), "{msg}");
}

#[test]
fn batches_answer_each_request_and_skip_notifications() {
    let (_t, n) = small_body_node();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},
        {"jsonrpc": "2.0", "id": "b", "method": "nope"},
    ]);
    let (_, body) = http_post(n.addr, "/", batch.to_string().as_bytes());
    let v: Value = serde_json::from_str(&body).expect("json");
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["result"], "0x1d07");
    assert_eq!(items[1]["id"], "b");
    assert_eq!(items[1]["error"]["code"], -32601);
}

#[test]
fn bad_transactions_are_rejected_with_reasons_and_change_nothing() {
    let (_t, cfg) = dev_config();
    let n = TestNode::start(cfg);
    let key = PrivateKeySigner::random();
    let counter = deploy_counter(&n, &key);
    let before = snapshot(&n);
    let cases: Vec<(Bytes, &str)> = vec![
        (Bytes::from_static(&[0x02, 0xc0, 0x01]), "invalid transaction encoding"),
        (Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]), "invalid transaction encoding"),
        (
            sign_1559_chain(&key, 1, 1, Some(counter), increment_call(1), 100_000),
            "invalid chain id: expected 7431, got 1",
        ),
        (sign_1559(&key, 0, Some(counter), increment_call(1), 100_000), "nonce too low"),
        (sign_1559(&key, 5000, Some(counter), increment_call(1), 100_000), "nonce too far in the future"),
        (
            sign_1559(&key, 1, Some(counter), increment_call(1), 40_000_000),
            "the most gas one sender may use in a block",
        ),
        (sign_1559(&key, 1, Some(counter), increment_call(1), 1_000), "intrinsic gas too low"),
        (
            sign_1559(&key, 1, Some(counter), Bytes::from(vec![1u8; 200 * 1024]), 30_000_000),
            "exceeds the limit of 131072 bytes",
        ),
    ];
    for (raw, expected) in cases {
        let (code, msg) = error_of(&n.rpc("eth_sendRawTransaction", json!([raw])));
        assert_eq!(code, -32000, "{msg}");
        assert!(msg.contains(expected), "expected {expected:?} in {msg:?}");
    }
    // A signature whose s is out of range: the transaction is refused, nothing runs.
    let mut bad_sig = sign_1559(&key, 1, Some(counter), increment_call(1), 100_000).to_vec();
    let len = bad_sig.len();
    bad_sig[len - 32..].fill(0xff);
    let (code, msg) = error_of(&n.rpc("eth_sendRawTransaction", json!([Bytes::from(bad_sig)])));
    assert_eq!(code, -32000);
    assert!(msg.contains("signature") || msg.contains("encoding"), "{msg}");
    assert_eq!(snapshot(&n), before);
    assert_eq!(n.result("eth_getTransactionCount", json!([key.address(), "latest"])), "0x1");

    // A replayed transaction: the first copy is mined, the second refused.
    let raw = sign_1559(&key, 1, Some(counter), increment_call(1), 100_000);
    n.result("eth_sendRawTransaction", json!([raw]));
    let after_first = snapshot(&n);
    let (code, msg) = error_of(&n.rpc("eth_sendRawTransaction", json!([raw])));
    assert_eq!(code, -32000);
    assert!(msg.contains("already known"), "{msg}");
    assert_eq!(snapshot(&n), after_first);
}

#[test]
fn reverts_carry_revert_data_for_custom_errors() {
    let (_t, n) = small_body_node();
    let key = PrivateKeySigner::random();
    let counter = deploy_counter(&n, &key);
    let v =
        n.rpc("eth_call", json!([{ "from": key.address(), "to": counter, "data": increment_call(5000) }, "latest"]));
    let (code, msg) = error_of(&v);
    assert_eq!(code, 3);
    assert!(msg.starts_with("execution reverted"), "{msg}");
    let data = v["error"]["data"].as_str().expect("data");
    let selector = &alloy::primitives::keccak256("TooLarge(address,uint256,uint256)")[..4];
    assert!(data.starts_with(&format!("0x{}", alloy::hex::encode(selector))), "{data}");
    let v = n.rpc("eth_estimateGas", json!([{ "from": key.address(), "to": counter, "data": increment_call(5000) }]));
    assert_eq!(error_of(&v).0, 3);
}

#[test]
fn dev_methods_are_refused_outside_dev_mode() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = NodeConfig { data_dir: tmp.path().join("data"), block_interval_ms: 50, ..NodeConfig::default() };
    let n = TestNode::start(cfg);
    for m in ["evm_mine", "evm_increaseTime", "evm_snapshot"] {
        let (code, msg) = error_of(&n.rpc(m, json!([1])));
        assert_eq!(code, -32601);
        assert!(msg.contains("not available outside dev mode"), "{msg}");
    }
}
