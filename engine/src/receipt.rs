//! Transaction receipts as the store keeps them, and the receipts root and logs bloom a block
//! header commits to.
//!
//! Receipts root = Ethereum's ordered Merkle-Patricia trie root (alloy's
//! `calculate_receipt_root`) over the receipts' EIP-2718 encodings.

use alloy::consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy::primitives::{Address, B256, Bloom, Bytes, Log, logs_bloom};
use serde::{Deserialize, Serialize};

/// A transaction's receipt as stored, with where it sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    /// Hash of the transaction this receipt is for.
    pub tx_hash: B256,
    /// The block that holds the transaction.
    pub block_number: u64,
    /// The transaction's position in its block (0-based).
    pub index: u32,
    /// The recovered sender.
    pub from: Address,
    /// The called address; `None` for a contract creation.
    pub to: Option<Address>,
    /// EIP-2718 type byte (0 legacy, 1 EIP-2930, 2 EIP-1559).
    pub tx_type: u8,
    /// `false` when the transaction reverted or halted: it is still included, its changes are not.
    pub success: bool,
    /// Gas this transaction used (nothing is charged: gas price is 0).
    pub gas_used: u64,
    /// Gas used by the block up to and including this transaction.
    pub cumulative_gas_used: u64,
    /// The created contract's address, for a successful creation.
    pub contract_address: Option<Address>,
    /// Block-wide index of this receipt's first log.
    pub first_log_index: u64,
    /// Logs emitted, in order; empty when the transaction failed.
    pub logs: Vec<Log>,
}

/// Reads a [`StoredReceipt`] encoding; `None` when truncated or malformed.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }
    fn b256(&mut self) -> Option<B256> {
        self.take(32).map(B256::from_slice)
    }
    fn address(&mut self) -> Option<Address> {
        self.take(20).map(Address::from_slice)
    }
    fn opt_address(&mut self) -> Option<Option<Address>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.address().map(Some),
            _ => None,
        }
    }
}

const RECEIPT_FORMAT: u8 = 1;

impl StoredReceipt {
    /// Compact binary encoding for the store (format byte 1, integers big-endian):
    /// tx hash, block, index, from, to?, type, success, gas used, cumulative gas,
    /// contract address?, first log index, then the logs (address, topics, data).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(
            160 + self.logs.iter().map(|l| 64 + 32 * l.topics().len() + l.data.data.len()).sum::<usize>(),
        );
        b.push(RECEIPT_FORMAT);
        b.extend_from_slice(self.tx_hash.as_slice());
        b.extend_from_slice(&self.block_number.to_be_bytes());
        b.extend_from_slice(&self.index.to_be_bytes());
        b.extend_from_slice(self.from.as_slice());
        put_opt_address(&mut b, self.to);
        b.push(self.tx_type);
        b.push(u8::from(self.success));
        b.extend_from_slice(&self.gas_used.to_be_bytes());
        b.extend_from_slice(&self.cumulative_gas_used.to_be_bytes());
        put_opt_address(&mut b, self.contract_address);
        b.extend_from_slice(&self.first_log_index.to_be_bytes());
        b.extend_from_slice(&(self.logs.len() as u32).to_be_bytes());
        for log in &self.logs {
            b.extend_from_slice(log.address.as_slice());
            b.push(log.topics().len() as u8);
            for t in log.topics() {
                b.extend_from_slice(t.as_slice());
            }
            b.extend_from_slice(&(log.data.data.len() as u32).to_be_bytes());
            b.extend_from_slice(&log.data.data);
        }
        b
    }

    /// Inverse of [`StoredReceipt::encode`].
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut c = Cursor(bytes);
        if c.u8()? != RECEIPT_FORMAT {
            return None;
        }
        let tx_hash = c.b256()?;
        let block_number = c.u64()?;
        let index = c.u32()?;
        let from = c.address()?;
        let to = c.opt_address()?;
        let tx_type = c.u8()?;
        let success = match c.u8()? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let gas_used = c.u64()?;
        let cumulative_gas_used = c.u64()?;
        let contract_address = c.opt_address()?;
        let first_log_index = c.u64()?;
        let count = c.u32()? as usize;
        let mut logs = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let address = c.address()?;
            let n = c.u8()? as usize;
            let mut topics = Vec::with_capacity(n);
            for _ in 0..n {
                topics.push(c.b256()?);
            }
            let len = c.u32()? as usize;
            let data = Bytes::copy_from_slice(c.take(len)?);
            logs.push(Log::new(address, topics, data)?);
        }
        if !c.0.is_empty() {
            return None;
        }
        Some(Self {
            tx_hash,
            block_number,
            index,
            from,
            to,
            tx_type,
            success,
            gas_used,
            cumulative_gas_used,
            contract_address,
            first_log_index,
            logs,
        })
    }

    /// Bloom filter of this receipt's logs.
    pub(crate) fn bloom(&self) -> Bloom {
        logs_bloom(self.logs.iter())
    }

    /// The consensus receipt (for the receipts root and the RPC shape).
    pub(crate) fn envelope<T>(&self, logs: Vec<T>) -> ReceiptEnvelope<T> {
        self.envelope_with(logs, self.bloom())
    }

    /// [`Self::envelope`] with this receipt's bloom computed already.
    fn envelope_with<T>(&self, logs: Vec<T>, bloom: Bloom) -> ReceiptEnvelope<T> {
        let receipt =
            Receipt { status: Eip658Value::Eip658(self.success), cumulative_gas_used: self.cumulative_gas_used, logs };
        let ty = TxType::try_from(self.tx_type).unwrap_or(TxType::Legacy);
        ReceiptEnvelope::from_typed(ty, ReceiptWithBloom::new(receipt, bloom))
    }
}

fn put_opt_address(b: &mut Vec<u8>, a: Option<Address>) {
    match a {
        Some(a) => {
            b.push(1);
            b.extend_from_slice(a.as_slice());
        }
        None => b.push(0),
    }
}

/// Receipts root over the receipts' EIP-2718 encodings, and the union of their logs
/// blooms, from one pass: each receipt's bloom (a keccak256 for the address and each topic
/// of each log) is computed once and serves both. (Computed apart, the blooms were an
/// eighth of the sealing thread's time in the lifecycle bench.)
pub(crate) fn receipts_root_and_bloom(receipts: &[StoredReceipt]) -> (B256, Bloom) {
    let mut block = Bloom::ZERO;
    let envelopes: Vec<ReceiptEnvelope<Log>> = receipts
        .iter()
        .map(|r| {
            let bloom = r.bloom();
            block.accrue_bloom(&bloom);
            r.envelope_with(r.logs.clone(), bloom)
        })
        .collect();
    (alloy::consensus::proofs::calculate_receipt_root(&envelopes), block)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass root and bloom are the consensus ones: alloy's root over receipts built
    /// from alloy's own types, and every log of the block in the bloom.
    #[test]
    fn the_receipts_root_and_bloom_from_one_pass_are_the_consensus_ones() {
        let log = |a: u8, topics: usize| {
            Log::new(
                Address::repeat_byte(a),
                (0..topics).map(|t| B256::repeat_byte(a ^ t as u8)).collect(),
                Bytes::new(),
            )
            .expect("log")
        };
        let receipt = |i: u32, logs: Vec<Log>| StoredReceipt {
            tx_hash: B256::repeat_byte(i as u8),
            block_number: 1,
            index: i,
            from: Address::repeat_byte(1),
            to: Some(Address::repeat_byte(2)),
            tx_type: if i.is_multiple_of(2) { 2 } else { 0 },
            success: i != 1,
            gas_used: 21_000,
            cumulative_gas_used: 21_000 * u64::from(i + 1),
            contract_address: None,
            first_log_index: 0,
            logs,
        };
        let receipts = vec![
            receipt(0, vec![log(3, 1), log(4, 3)]),
            receipt(1, vec![]),
            receipt(2, vec![log(9, 2)]),
            receipt(3, vec![log(7, 4)]),
        ];
        // Built here from alloy's own types, not through this module's envelopes.
        let consensus: Vec<ReceiptEnvelope<Log>> = receipts
            .iter()
            .map(|r| {
                let receipt = Receipt {
                    status: Eip658Value::Eip658(r.success),
                    cumulative_gas_used: r.cumulative_gas_used,
                    logs: r.logs.clone(),
                };
                let ty = if r.tx_type == 2 { TxType::Eip1559 } else { TxType::Legacy };
                ReceiptEnvelope::from_typed(ty, ReceiptWithBloom::new(receipt, logs_bloom(r.logs.iter())))
            })
            .collect();
        let (root, bloom) = receipts_root_and_bloom(&receipts);
        assert_eq!(root, alloy::consensus::proofs::calculate_receipt_root(&consensus));
        assert_eq!(bloom, logs_bloom(receipts.iter().flat_map(|r| r.logs.iter())));
        // Each side of it: a receipt left out changes both.
        let (fewer_root, fewer_bloom) = receipts_root_and_bloom(&receipts[..3]);
        assert_ne!(fewer_root, root);
        assert_ne!(fewer_bloom, bloom);
    }

    #[test]
    fn receipt_encoding_round_trips_and_rejects_garbage() {
        let log = Log::new(
            Address::repeat_byte(3),
            vec![B256::repeat_byte(1), B256::repeat_byte(2)],
            Bytes::from_static(b"hi"),
        )
        .expect("log");
        let r = StoredReceipt {
            tx_hash: B256::repeat_byte(9),
            block_number: 7,
            index: 3,
            from: Address::repeat_byte(1),
            to: None,
            tx_type: 2,
            success: true,
            gas_used: 21_000,
            cumulative_gas_used: 63_000,
            contract_address: Some(Address::repeat_byte(2)),
            first_log_index: 5,
            logs: vec![log.clone(), log],
        };
        let bytes = r.encode();
        assert_eq!(StoredReceipt::decode(&bytes), Some(r));
        assert_eq!(StoredReceipt::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(StoredReceipt::decode(&longer), None);
    }
}
