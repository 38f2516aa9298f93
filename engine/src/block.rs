//! Blocks: the header, its hash and the sealer's signature.
//!
//! Block hash = keccak256 of the header's fixed-layout encoding (`Header::encode`), which covers
//! every header field; the sealer signs that hash (secp256k1, 65 bytes r‖s‖v). Transactions root
//! and receipts root are Ethereum's ordered Merkle-Patricia trie roots (alloy's
//! `calculate_transaction_root` / `calculate_receipt_root`) over the EIP-2718 encodings; the
//! receipts themselves live in [`crate::receipt`]. The state root is a chained digest of state
//! changes (see [`crate::state`]).

use std::sync::Arc;

use alloy::primitives::{Address, B256, Bloom, Bytes, keccak256};
use alloy::signers::Signature;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::executor::{BlockParams, ExecutedBlock};
use crate::receipt::receipts_root_and_bloom;
use crate::transaction::PendingTx;

/// A block header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Hash of the previous block (zero for block 0).
    pub parent_hash: B256,
    /// Height: 0 for genesis, then +1 per block.
    pub number: u64,
    /// Block time in unix seconds; never before the parent's. The clock for payment terms.
    pub timestamp: u64,
    /// Most gas the block's transactions may use together.
    pub gas_limit: u64,
    /// Gas the block's transactions used together.
    pub gas_used: u64,
    /// Chained state digest, keccak(parent root ‖ this block's diff digest); not a Merkle-Patricia root.
    pub state_root: B256,
    /// Ordered trie root of the raw transactions; for block 0, the genesis spec's digest.
    pub transactions_root: B256,
    /// Ordered trie root of the receipts' EIP-2718 encodings.
    pub receipts_root: B256,
    /// Union of the receipts' logs blooms, so log queries can skip the block.
    pub logs_bloom: Bloom,
    /// Address of the sealing key.
    pub sealer: Address,
    /// EIP-155 chain id the block belongs to.
    pub chain_id: u64,
}

impl Header {
    /// Fixed layout: parent(32) number(8) timestamp(8) gas_limit(8) gas_used(8) state_root(32)
    /// transactions_root(32) receipts_root(32) logs_bloom(256) sealer(20) chain_id(8), integers
    /// big-endian, prefixed by the domain tag `tradechain/header/v1`.
    pub(crate) fn encode(&self) -> Vec<u8> {
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
    pub(crate) fn hash(&self) -> B256 {
        keccak256(self.encode())
    }
}

/// A sealed block: header, its hash, the sealer's signature over the hash, and the hashes of
/// its transactions in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedBlock {
    /// What was sealed.
    pub header: Header,
    /// keccak256 of the header's encoding; what the signature covers.
    pub hash: B256,
    /// The sealer's secp256k1 signature over `hash`, 65 bytes r‖s‖v.
    pub signature: Bytes,
    /// Hashes of the block's transactions, in execution order.
    pub transactions: Vec<B256>,
}

/// Why a block's seal does not check out.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The header was changed after sealing (or the stored hash was).
    #[error("stored hash {stored} differs from the header's hash {computed}")]
    HashMismatch {
        /// The hash recorded with the block.
        stored: B256,
        /// The hash of the header as it is now.
        computed: B256,
    },
    /// The signature bytes are not a recoverable secp256k1 signature.
    #[error("signature unreadable: {0}")]
    BadSignature(String),
    /// A valid signature, but by another key than the header's sealer.
    #[error("signed by {signer}, expected sealer {expected}")]
    WrongSigner {
        /// Who actually signed.
        signer: Address,
        /// The sealer the header names.
        expected: Address,
    },
    /// The sealing key could not sign.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl SealedBlock {
    /// Hash and sign `header` with the sealing key.
    pub fn seal(header: Header, transactions: Vec<B256>, key: &PrivateKeySigner) -> Result<Self, SealError> {
        let hash = header.hash();
        // libsecp256k1 (RFC 6979, low s): the signature k256 makes, for a quarter of its time.
        // The key's bytes are erased again after the call, as k256's own key erases itself.
        let bytes = zeroize::Zeroizing::new(<[u8; 32]>::from(key.credential().to_bytes()));
        let mut secret =
            secp256k1::SecretKey::from_byte_array(*bytes).map_err(|e| SealError::Signing(e.to_string()))?;
        let signed = secp256k1::SECP256K1.sign_ecdsa_recoverable(secp256k1::Message::from_digest(hash.0), &secret);
        secret.non_secure_erase();
        let (id, compact) = signed.serialize_compact();
        // The low bit of the recovery id is R's y parity (ids 2 and 3: an overflowing x).
        let sig = Signature::from_bytes_and_parity(&compact, i32::from(id) & 1 == 1);
        Ok(Self { header, hash, signature: Bytes::from(sig.as_bytes().to_vec()), transactions })
    }

    /// Check the stored hash and that the signature is the header's sealer's.
    pub(crate) fn check_seal(&self) -> Result<(), SealError> {
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

/// The header of a block executed on top of `parent` (everything but the signature).
pub fn header_for(parent: &Header, parent_hash: B256, params: &BlockParams, executed: &ExecutedBlock) -> Header {
    let txs_root = alloy::consensus::proofs::ordered_trie_root_with_encoder(
        &executed.included,
        |tx: &Arc<PendingTx>, buf: &mut Vec<u8>| buf.extend_from_slice(&tx.raw),
    );
    let (receipts_root, logs_bloom) = receipts_root_and_bloom(&executed.receipts);
    Header {
        parent_hash,
        number: params.number,
        timestamp: params.timestamp,
        gas_limit: params.gas_limit,
        gas_used: executed.gas_used,
        state_root: executed.diff.chained_root(parent.state_root),
        transactions_root: txs_root,
        receipts_root,
        logs_bloom,
        sealer: params.beneficiary,
        chain_id: params.chain_id,
    }
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

    /// The seal is signed through libsecp256k1; a verifier holding only k256 (alloy's, the
    /// one `check_seal` uses) must read it as the same signature k256 itself would make.
    #[test]
    fn the_seal_is_the_signature_k256_makes() {
        use alloy::signers::SignerSync;
        for i in 0..32u64 {
            let key = PrivateKeySigner::from_bytes(&keccak256(i.to_be_bytes())).expect("key");
            let mut h = header();
            h.sealer = key.address();
            h.number = i;
            let block = SealedBlock::seal(h, vec![], &key).expect("seal");
            let k256 = key.sign_hash_sync(&block.hash).expect("k256 signs");
            assert_eq!(block.signature.as_ref(), k256.as_bytes().as_slice(), "block {i}");
            block.check_seal().expect("valid");
        }
    }
}
