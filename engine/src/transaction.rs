//! Raw transactions from clients: decode, check without state, recover the sender.
//!
//! Accepted types: legacy (EIP-155 chain id required), EIP-2930 and EIP-1559. Blob (EIP-4844) and
//! set-code (EIP-7702) transactions are rejected. Fees: this is a permissioned chain with base fee
//! 0; whatever fee a transaction offers, it is executed at gas price 0 and nothing is charged.

use alloy::consensus::transaction::SignerRecoverable;
use alloy::consensus::{Transaction as _, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, B512, Bytes, TxKind, U256, uint};
use revm::context::TxEnv;

/// Signs an EIP-1559 call or creation (`to == None`) at gas price 0 and returns its
/// EIP-2718 encoding, ready for `eth_sendRawTransaction` or [`crate::Node::submit_raw`].
/// The one signing helper for the CLI, tests and benchmarks, so they all send what a
/// wallet would.
pub fn sign_eip1559(
    key: &alloy::signers::local::PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: Option<Address>,
    input: Bytes,
    gas_limit: u64,
) -> Result<Bytes, alloy::signers::Error> {
    use alloy::consensus::{SignableTransaction, TxEip1559};
    use alloy::eips::eip2718::Encodable2718;
    use alloy::signers::SignerSync;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        to: to.map_or(TxKind::Create, TxKind::Call),
        input,
        ..Default::default()
    };
    let sig = key.sign_hash_sync(&tx.signature_hash())?;
    Ok(TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into())
}

/// secp256k1n / 2: the largest `s` a canonical signature may have (EIP-2).
pub(crate) const SECP256K1N_HALF: U256 = uint!(0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0_U256);

/// Smallest gas any transaction needs.
pub(crate) const MIN_TX_GAS: u64 = 21_000;

/// Why a transaction was not accepted. The message is what the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxRejection {
    /// Not a valid EIP-2718 encoding (empty, malformed, or with trailing bytes).
    #[error("invalid transaction encoding: {0}")]
    Decode(String),
    /// A blob (EIP-4844) or set-code (EIP-7702) transaction; carries the type byte.
    #[error("transaction type {0} not supported (use legacy, EIP-2930 or EIP-1559)")]
    UnsupportedType(u8),
    /// The raw transaction is larger than the node accepts.
    #[error("transaction of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Its size, in bytes.
        size: usize,
        /// The node's `max_tx_bytes`.
        max: usize,
    },
    /// Signed for another chain, or a pre-EIP-155 legacy transaction without a chain id.
    #[error("invalid chain id: expected {expected}, got {got}")]
    WrongChainId {
        /// This chain's id.
        expected: u64,
        /// The transaction's chain id, or a note that it has none.
        got: String,
    },
    /// The sender cannot be recovered, or `s` is above secp256k1n/2 (EIP-2).
    #[error("invalid signature: {0}")]
    BadSignature(String),
    /// The transaction could never be sealed: its gas limit is above what one sender may use
    /// in a block (`max_sender_block_gas`, at most the block gas limit).
    #[error("gas limit {gas} exceeds {max}, the most gas one sender may use in a block")]
    GasLimitTooHigh {
        /// The transaction's gas limit.
        gas: u64,
        /// The most gas one sender may use in a block.
        max: u64,
    },
    /// Below the 21000 gas every transaction costs.
    #[error("intrinsic gas too low: gas limit {gas} is below {min}")]
    GasLimitTooLow {
        /// The transaction's gas limit.
        gas: u64,
        /// The minimum, 21000.
        min: u64,
    },
    /// The nonce was already used: a replay, or a transaction already mined.
    #[error("nonce too low: next nonce of {sender} is {expected}, transaction has {got}")]
    NonceTooLow {
        /// The recovered sender.
        sender: Address,
        /// The sender's next nonce in the committed state.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce is further ahead of the sender's next one than the pool queues.
    #[error("nonce too far in the future: next nonce of {sender} is {expected}, transaction has {got} (max gap {gap})")]
    NonceTooHigh {
        /// The recovered sender.
        sender: Address,
        /// The sender's next nonce in the committed state.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
        /// The node's `max_nonce_gap`.
        gap: u64,
    },
    /// The same transaction is already pending or sealed.
    #[error("already known")]
    AlreadyKnown,
    /// Another transaction with this sender and nonce is pending; the pool does not replace.
    #[error(
        "a different transaction with nonce {nonce} from {sender} is already pending (replacement is not supported)"
    )]
    ReplacementNotSupported {
        /// The recovered sender.
        sender: Address,
        /// The nonce both transactions use.
        nonce: u64,
    },
    /// The pool holds its maximum (`max_pool_txs`, carried); retry later.
    #[error("transaction pool is full ({0} transactions)")]
    PoolFull(usize),
    /// The sender already has as many transactions, or as many bytes, waiting as one sender
    /// may (`max_pending_per_sender`, `max_pending_bytes_per_sender`); retry once some are
    /// sealed. One account cannot fill the pool, the blocks or the disk.
    #[error("{sender} already has {pending} waiting (at most {max}); retry once some are sealed")]
    SenderLimit {
        /// The recovered sender.
        sender: Address,
        /// What it has waiting: "12 transactions", "250000 bytes".
        pending: String,
        /// The limit, in the same unit.
        max: String,
    },
    /// The node's admission rule refused the sender or the transaction (tradechain: the
    /// sender is no active member of the consortium, or a member creates a contract); the
    /// reason is carried. JSON-RPC answers it with code -32007, as Besu's permissioning does.
    #[error("transaction not permitted: {0}")]
    NotPermitted(String),
    /// Cannot run: init code over the EIP-3860 limit, refused by the EVM when its block was
    /// built (automine), or that block could not be sealed.
    #[error("transaction could not be executed: {0}")]
    Invalid(String),
}

/// A decoded, checked, sender-recovered transaction waiting for a block.
#[derive(Debug, Clone)]
pub struct PendingTx {
    /// The transaction hash (keccak256 of the EIP-2718 encoding).
    pub hash: B256,
    /// The sender recovered from the signature.
    pub sender: Address,
    /// The decoded transaction.
    pub envelope: TxEnvelope,
    /// The EIP-2718 encoding as received (what the store keeps).
    pub raw: Bytes,
}

impl PendingTx {
    /// The sender's nonce this transaction uses.
    pub(crate) fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    /// Most gas the transaction may use.
    pub(crate) fn gas_limit(&self) -> u64 {
        self.envelope.gas_limit()
    }

    /// EIP-2718 type byte (0 legacy, 1 EIP-2930, 2 EIP-1559).
    pub(crate) fn tx_type(&self) -> u8 {
        self.envelope.tx_type() as u8
    }

    /// The called address; `None` for a contract creation.
    pub(crate) fn to(&self) -> Option<Address> {
        self.envelope.to()
    }

    /// The revm transaction: gas price 0 (no fee is charged on this chain).
    pub(crate) fn tx_env(&self) -> TxEnv {
        let e = &self.envelope;
        TxEnv {
            tx_type: self.tx_type(),
            caller: self.sender,
            gas_limit: e.gas_limit(),
            gas_price: 0,
            kind: e.kind(),
            value: e.value(),
            data: e.input().clone(),
            nonce: e.nonce(),
            chain_id: e.chain_id(),
            access_list: e.access_list().cloned().unwrap_or_default(),
            gas_priority_fee: if self.tx_type() == 2 { Some(0) } else { None },
            ..Default::default()
        }
    }
}

/// Limits a raw transaction is checked against before it touches state.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The only EIP-155 chain id accepted.
    pub chain_id: u64,
    /// Largest accepted raw transaction, in bytes.
    pub max_tx_bytes: usize,
    /// A transaction's gas limit must be at most this: the block gas limit, or the lower
    /// share of it one sender may use per block.
    pub block_gas_limit: u64,
}

/// Decode and check a raw transaction (no signature recovery yet).
pub fn decode(raw: &[u8], limits: &Limits) -> Result<TxEnvelope, TxRejection> {
    if raw.len() > limits.max_tx_bytes {
        return Err(TxRejection::TooLarge { size: raw.len(), max: limits.max_tx_bytes });
    }
    if raw.is_empty() {
        return Err(TxRejection::Decode("empty input".into()));
    }
    let mut buf = raw;
    let envelope = TxEnvelope::decode_2718(&mut buf).map_err(|e| TxRejection::Decode(e.to_string()))?;
    if !buf.is_empty() {
        return Err(TxRejection::Decode(format!("{} trailing bytes", buf.len())));
    }
    match &envelope {
        TxEnvelope::Legacy(_) | TxEnvelope::Eip2930(_) | TxEnvelope::Eip1559(_) => {}
        other => return Err(TxRejection::UnsupportedType(other.tx_type() as u8)),
    }
    match envelope.chain_id() {
        Some(id) if id == limits.chain_id => {}
        Some(id) => {
            return Err(TxRejection::WrongChainId { expected: limits.chain_id, got: id.to_string() });
        }
        None => {
            return Err(TxRejection::WrongChainId {
                expected: limits.chain_id,
                got: "none (pre-EIP-155 legacy transaction)".into(),
            });
        }
    }
    let gas = envelope.gas_limit();
    if gas > limits.block_gas_limit {
        return Err(TxRejection::GasLimitTooHigh { gas, max: limits.block_gas_limit });
    }
    if gas < MIN_TX_GAS {
        return Err(TxRejection::GasLimitTooLow { gas, min: MIN_TX_GAS });
    }
    if matches!(envelope.kind(), TxKind::Create) && envelope.input().len() > 2 * 24_576 {
        return Err(TxRejection::Invalid("init code exceeds 49152 bytes (EIP-3860)".into()));
    }
    Ok(envelope)
}

/// Recover the sender of a decoded transaction.
///
/// Uses libsecp256k1 (the `secp256k1` crate revm already links for the ECRECOVER precompile),
/// about 4x faster than k256 on this machine; [`recover_k256`] is alloy's k256 path, kept for
/// comparison (tests check they agree, the benchmark prints both). High-s signatures (EIP-2)
/// are rejected, as alloy does.
pub fn recover(envelope: TxEnvelope, raw: Bytes) -> Result<PendingTx, TxRejection> {
    let sig = envelope.signature();
    if sig.s() > SECP256K1N_HALF {
        return Err(TxRejection::BadSignature("s value is above secp256k1n/2 (EIP-2)".into()));
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
    let recid = u8::from(sig.v());
    let prehash = envelope.signature_hash();
    let padded = revm::precompile::secp256k1::ecrecover(&B512::from(compact), recid, &prehash)
        .map_err(|e| TxRejection::BadSignature(e.to_string()))?;
    let sender = Address::from_slice(&padded[12..]);
    Ok(PendingTx { hash: *envelope.tx_hash(), sender, envelope, raw })
}

/// Recover the sender with alloy's k256 backend: slower than the libsecp256k1 path [`admit`]
/// uses, kept to compare the two (a test checks they agree; the benchmark times both).
pub fn recover_k256(envelope: TxEnvelope, raw: Bytes) -> Result<PendingTx, TxRejection> {
    let sender = envelope.recover_signer().map_err(|e| TxRejection::BadSignature(e.to_string()))?;
    Ok(PendingTx { hash: *envelope.tx_hash(), sender, envelope, raw })
}

/// Decode, check and recover in one go.
pub fn admit(raw: &[u8], limits: &Limits) -> Result<PendingTx, TxRejection> {
    let envelope = decode(raw, limits)?;
    recover(envelope, Bytes::copy_from_slice(raw))
}

/// Decode and check a transaction whose sender this process knows already, without
/// recovering it again: it signed the bytes itself with `sender`'s key, or recovered
/// `sender` from these very bytes a moment ago. Recovery could only find `sender` again, and
/// costs a write about 57 µs of one core. Anything else goes through [`admit`]. Debug builds
/// (every test) recover anyway and check.
pub fn admit_own(raw: &[u8], limits: &Limits, sender: Address) -> Result<PendingTx, TxRejection> {
    let envelope = decode(raw, limits)?;
    let raw = Bytes::copy_from_slice(raw);
    debug_assert_eq!(
        recover(envelope.clone(), raw.clone()).map(|t| t.sender).ok(),
        Some(sender),
        "a transaction submitted as its signer's own was signed by another key"
    );
    Ok(PendingTx { hash: *envelope.tx_hash(), sender, envelope, raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{SignableTransaction, TxEip1559};
    use alloy::eips::eip2718::Encodable2718;
    use alloy::primitives::U256;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    const LIMITS: Limits = Limits { chain_id: 7431, max_tx_bytes: 1024, block_gas_limit: 30_000_000 };

    fn signed(chain_id: u64, gas: u64) -> (Vec<u8>, Address) {
        let signer = PrivateKeySigner::random();
        let tx = TxEip1559 {
            chain_id,
            nonce: 0,
            gas_limit: gas,
            to: TxKind::Call(Address::ZERO),
            value: U256::ZERO,
            ..Default::default()
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("sign");
        (TxEnvelope::from(tx.into_signed(sig)).encoded_2718(), signer.address())
    }

    #[test]
    fn valid_transaction_recovers_its_sender() {
        let (raw, from) = signed(7431, 50_000);
        assert_eq!(admit(&raw, &LIMITS).expect("admitted").sender, from);
    }

    #[test]
    fn an_own_transaction_is_admitted_as_recovery_would_and_checked_as_any_other() {
        let (raw, from) = signed(7431, 50_000);
        let own = admit_own(&raw, &LIMITS, from).expect("admitted");
        let recovered = admit(&raw, &LIMITS).expect("admitted");
        assert_eq!((own.sender, own.hash, &own.raw), (recovered.sender, recovered.hash, &recovered.raw));
        // Skipping the recovery skips nothing else: another chain's, or an oversized one.
        let (other_chain, from) = signed(1, 50_000);
        assert!(matches!(admit_own(&other_chain, &LIMITS, from), Err(TxRejection::WrongChainId { .. })));
        let small = Limits { max_tx_bytes: raw.len() - 1, ..LIMITS };
        assert!(matches!(admit_own(&raw, &small, from), Err(TxRejection::TooLarge { .. })));
    }

    /// A caller claiming a sender the bytes were not signed by is a bug in this process
    /// (nothing outside reaches `admit_own`): every test build stops it.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "signed by another key")]
    fn an_own_transaction_claimed_for_another_key_stops_a_debug_build() {
        let (raw, _) = signed(7431, 50_000);
        let _ = admit_own(&raw, &LIMITS, Address::repeat_byte(7));
    }

    #[test]
    fn libsecp256k1_and_k256_recover_the_same_sender() {
        for gas in 21_000..21_050 {
            let (raw, from) = signed(7431, gas);
            let a = recover(decode(&raw, &LIMITS).expect("decodes"), Bytes::new()).expect("recovers");
            let b = recover_k256(decode(&raw, &LIMITS).expect("decodes"), Bytes::new()).expect("recovers");
            assert_eq!((a.sender, b.sender), (from, from));
        }
    }

    #[test]
    fn wrong_chain_id_is_rejected() {
        let (raw, _) = signed(1, 50_000);
        assert!(matches!(admit(&raw, &LIMITS), Err(TxRejection::WrongChainId { .. })));
    }

    #[test]
    fn gas_above_block_limit_is_rejected() {
        let (raw, _) = signed(7431, 40_000_000);
        assert!(matches!(admit(&raw, &LIMITS), Err(TxRejection::GasLimitTooHigh { .. })));
    }

    #[test]
    fn garbage_and_tampered_bytes_are_rejected() {
        assert!(matches!(admit(&[0x02, 0x01], &LIMITS), Err(TxRejection::Decode(_))));
        let (mut raw, from) = signed(7431, 50_000);
        let n = raw.len();
        raw[n - 40] ^= 0xff; // inside the signature's r
        match admit(&raw, &LIMITS) {
            Ok(tx) => assert_ne!(tx.sender, from),
            Err(e) => assert!(matches!(e, TxRejection::BadSignature(_) | TxRejection::Decode(_))),
        }
        assert!(matches!(admit(&[0u8; 2000], &LIMITS), Err(TxRejection::TooLarge { .. })));
    }
}
