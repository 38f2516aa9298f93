//! Blocks: the header, its hash, the sealer's signature, and transaction receipts.
//!
//! Block hash = keccak256 of the header's fixed-layout encoding ([`Header::encode`]), which covers
//! every header field; the sealer signs that hash (secp256k1, 65 bytes r‖s‖v). Transactions root
//! and receipts root are Ethereum's ordered Merkle-Patricia trie roots (alloy's
//! `calculate_transaction_root` / `calculate_receipt_root`) over the EIP-2718 encodings. The state
//! root is a chained digest of state changes (see [`crate::state`]).

use alloy::consensus::{Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, TxType};
use alloy::primitives::{Address, B256, Bloom, Bytes, Log, keccak256, logs_bloom};
use alloy::signers::local::PrivateKeySigner;
use alloy::signers::{Signature, SignerSync};
use serde::{Deserialize, Serialize};

/// A block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub parent_hash: B256,
    pub number: u64,
    pub timestamp: u64,
    pub gas_limit: u64,
    pub gas_used: u64,
    pub state_root: B256,
    pub transactions_root: B256,
    pub receipts_root: B256,
    pub logs_bloom: Bloom,
    /// Address of the sealing key.
    pub sealer: Address,
    pub chain_id: u64,
}

impl Header {
    /// Fixed layout: parent(32) number(8) timestamp(8) gas_limit(8) gas_used(8) state_root(32)
    /// transactions_root(32) receipts_root(32) logs_bloom(256) sealer(20) chain_id(8), integers
    /// big-endian, prefixed by the domain tag `tradechain/header/v1`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(20 + 444);
        b.extend_from_slice(b"tradechain/header/v1");
        b.extend_from_slice(self.parent_hash.as_slice());
        b.extend_from_slice(&self.number.to_be_bytes());
        b.extend_from_slice(&self.timestamp.to_be_bytes());
        b.extend_from_slice(&self.gas_limit.to_be_bytes());
        b.extend_from_slice(&self.gas_used.to_be_bytes());
        b.extend_from_slice(self.state_root.as_slice());
        b.extend_from_slice(self.transactions_root.as_slice());
        b.extend_from_slice(self.receipts_root.as_slice());
        b.extend_from_slice(self.logs_bloom.as_slice());
        b.extend_from_slice(self.sealer.as_slice());
        b.extend_from_slice(&self.chain_id.to_be_bytes());
        b
    }

    /// The block hash.
    pub fn hash(&self) -> B256 {
        keccak256(self.encode())
    }
}

/// A sealed block: header, its hash, the sealer's signature over the hash, and the hashes of
/// its transactions in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedBlock {
    pub header: Header,
    pub hash: B256,
    pub signature: Bytes,
    pub transactions: Vec<B256>,
}

/// Why a block's seal does not check out.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("stored hash {stored} differs from the header's hash {computed}")]
    HashMismatch { stored: B256, computed: B256 },
    #[error("signature unreadable: {0}")]
    BadSignature(String),
    #[error("signed by {signer}, expected sealer {expected}")]
    WrongSigner { signer: Address, expected: Address },
    #[error("signing failed: {0}")]
    Signing(String),
}

impl SealedBlock {
    /// Hash and sign `header` with the sealing key.
    pub fn seal(header: Header, transactions: Vec<B256>, key: &PrivateKeySigner) -> Result<Self, SealError> {
        let hash = header.hash();
        let sig = key.sign_hash_sync(&hash).map_err(|e| SealError::Signing(e.to_string()))?;
        Ok(Self { header, hash, signature: Bytes::from(sig.as_bytes().to_vec()), transactions })
    }

    /// Check the stored hash and that the signature is the header's sealer's.
    pub fn check_seal(&self) -> Result<(), SealError> {
        let computed = self.header.hash();
        if computed != self.hash {
            return Err(SealError::HashMismatch { stored: self.hash, computed });
        }
        let sig = Signature::from_raw(&self.signature).map_err(|e| SealError::BadSignature(e.to_string()))?;
        let signer =
            sig.recover_address_from_prehash(&self.hash).map_err(|e| SealError::BadSignature(e.to_string()))?;
        if signer != self.header.sealer {
            return Err(SealError::WrongSigner { signer, expected: self.header.sealer });
        }
        Ok(())
    }
}

/// A transaction's receipt as stored, with where it sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReceipt {
    pub tx_hash: B256,
    pub block_number: u64,
    pub index: u32,
    pub from: Address,
    pub to: Option<Address>,
    pub tx_type: u8,
    pub success: bool,
    pub gas_used: u64,
    pub cumulative_gas_used: u64,
    pub contract_address: Option<Address>,
    /// Block-wide index of this receipt's first log.
    pub first_log_index: u64,
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

    pub fn bloom(&self) -> Bloom {
        logs_bloom(self.logs.iter())
    }

    /// The consensus receipt (for the receipts root and the RPC shape).
    pub fn envelope<T>(&self, logs: Vec<T>) -> ReceiptEnvelope<T> {
        let receipt =
            Receipt { status: Eip658Value::Eip658(self.success), cumulative_gas_used: self.cumulative_gas_used, logs };
        let ty = TxType::try_from(self.tx_type).unwrap_or(TxType::Legacy);
        ReceiptEnvelope::from_typed(ty, ReceiptWithBloom::new(receipt, self.bloom()))
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

/// Receipts root over the receipts' EIP-2718 encodings.
pub fn receipts_root(receipts: &[StoredReceipt]) -> B256 {
    let envelopes: Vec<ReceiptEnvelope<Log>> = receipts.iter().map(|r| r.envelope(r.logs.clone())).collect();
    alloy::consensus::proofs::calculate_receipt_root(&envelopes)
}

/// The header of a block executed on top of `parent` (everything but the signature).
pub fn header_for(
    parent: &Header,
    parent_hash: B256,
    params: &crate::executor::BlockParams,
    executed: &crate::executor::ExecutedBlock,
) -> Header {
    let txs_root = alloy::consensus::proofs::ordered_trie_root_with_encoder(
        &executed.included,
        |tx: &std::sync::Arc<crate::transaction::PendingTx>, buf: &mut Vec<u8>| buf.extend_from_slice(&tx.raw),
    );
    Header {
        parent_hash,
        number: params.number,
        timestamp: params.timestamp,
        gas_limit: params.gas_limit,
        gas_used: executed.gas_used,
        state_root: executed.diff.chained_root(parent.state_root),
        transactions_root: txs_root,
        receipts_root: receipts_root(&executed.receipts),
        logs_bloom: block_bloom(&executed.receipts),
        sealer: params.beneficiary,
        chain_id: params.chain_id,
    }
}

/// Union of the receipts' blooms.
pub fn block_bloom(receipts: &[StoredReceipt]) -> Bloom {
    let mut bloom = Bloom::ZERO;
    for r in receipts {
        bloom.accrue_bloom(&r.bloom());
    }
    bloom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            parent_hash: B256::ZERO,
            number: 1,
            timestamp: 2,
            gas_limit: 3,
            gas_used: 0,
            state_root: B256::ZERO,
            transactions_root: B256::ZERO,
            receipts_root: B256::ZERO,
            logs_bloom: Bloom::ZERO,
            sealer: Address::ZERO,
            chain_id: 7431,
        }
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

    #[test]
    fn seal_checks_and_detects_tampering() {
        let key = PrivateKeySigner::random();
        let mut h = header();
        h.sealer = key.address();
        let block = SealedBlock::seal(h, vec![], &key).expect("seal");
        block.check_seal().expect("valid");
        let mut tampered = block.clone();
        tampered.header.gas_used = 1;
        assert!(matches!(tampered.check_seal(), Err(SealError::HashMismatch { .. })));
        let mut forged = block;
        forged.header.sealer = Address::ZERO;
        forged.hash = forged.header.hash();
        assert!(matches!(forged.check_seal(), Err(SealError::WrongSigner { .. })));
    }
}
