//! Ethereum-shaped JSON for blocks, transactions, receipts and logs (what ethers/viem parse).
//! Transactions, receipts and logs use alloy's RPC types; blocks are built here because the
//! block hash is tradechain's own (see [`crate::block`]). The sealer's signature is exposed as
//! `extraData`, the sealer as `miner`.

use alloy::consensus::TxEnvelope;
use alloy::consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy::consensus::transaction::Recovered;
use alloy::primitives::{Address, B256, Log as PrimitiveLog};
use alloy::rpc::types::{Log, Transaction, TransactionReceipt};
use serde_json::{Value, json};

use crate::block::SealedBlock;
use crate::receipt::StoredReceipt;

/// `0x`-prefixed hex quantity.
pub(crate) fn quantity(n: u64) -> Value {
    Value::String(format!("{n:#x}"))
}

/// Where a sealed transaction sits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Location {
    pub(crate) block_hash: B256,
    pub(crate) block_number: u64,
    pub(crate) index: u64,
    pub(crate) timestamp: u64,
}

/// A block; `transactions` is either hashes or full transaction objects.
pub(crate) fn block(b: &SealedBlock, transactions: Vec<Value>) -> Value {
    let h = &b.header;
    let size = 444 + 65 + 32 * b.transactions.len() as u64;
    json!({
        "number": quantity(h.number),
        "hash": b.hash,
        "parentHash": h.parent_hash,
        "nonce": "0x0000000000000000",
        "sha3Uncles": EMPTY_OMMER_ROOT_HASH,
        "logsBloom": h.logs_bloom,
        "transactionsRoot": h.transactions_root,
        "stateRoot": h.state_root,
        "receiptsRoot": h.receipts_root,
        "miner": h.sealer,
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": b.signature,
        "size": quantity(size),
        "gasLimit": quantity(h.gas_limit),
        "gasUsed": quantity(h.gas_used),
        "timestamp": quantity(h.timestamp),
        "transactions": transactions,
        "uncles": [],
        "baseFeePerGas": "0x0",
        "mixHash": B256::ZERO,
    })
}

/// A transaction, pending (`at = None`) or sealed.
pub(crate) fn transaction(envelope: TxEnvelope, from: Address, at: Option<Location>) -> Value {
    let tx = Transaction {
        inner: Recovered::new_unchecked(envelope, from),
        block_hash: at.map(|l| l.block_hash),
        block_number: at.map(|l| l.block_number),
        transaction_index: at.map(|l| l.index),
        effective_gas_price: Some(0),
        block_timestamp: at.map(|l| l.timestamp),
    };
    serde_json::to_value(tx).unwrap_or(Value::Null)
}

fn rpc_log(inner: &PrimitiveLog, r: &StoredReceipt, at: &Location, i: usize) -> Log {
    Log {
        inner: inner.clone(),
        block_hash: Some(at.block_hash),
        block_number: Some(at.block_number),
        block_timestamp: Some(at.timestamp),
        transaction_hash: Some(r.tx_hash),
        transaction_index: Some(u64::from(r.index)),
        log_index: Some(r.first_log_index + i as u64),
        removed: false,
    }
}

/// The logs of a receipt, RPC-shaped.
pub(crate) fn logs(r: &StoredReceipt, at: &Location) -> Vec<Log> {
    r.logs.iter().enumerate().map(|(i, l)| rpc_log(l, r, at, i)).collect()
}

/// A receipt.
pub(crate) fn receipt(r: &StoredReceipt, at: &Location) -> Value {
    let receipt = TransactionReceipt {
        inner: r.envelope(logs(r, at)),
        transaction_hash: r.tx_hash,
        transaction_index: Some(u64::from(r.index)),
        block_hash: Some(at.block_hash),
        block_number: Some(at.block_number),
        gas_used: r.gas_used,
        effective_gas_price: 0,
        blob_gas_used: None,
        blob_gas_price: None,
        from: r.from,
        to: r.to,
        contract_address: r.contract_address,
    };
    serde_json::to_value(receipt).unwrap_or(Value::Null)
}
