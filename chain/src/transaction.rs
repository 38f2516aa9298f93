//! The one signing, nonce and fee policy of tradechain.
//!
//! Every transaction any part of tradechain signs goes through [`Sender::submit`]:
//! 1. its gas limit comes from the chain's simulation ([`Chain::estimate_gas`]); a revert
//!    there ends it with [`Rejection::Reverted`] and nothing is sent;
//! 2. then under the sender's lock (one nonce sequence per address in this process):
//! 3. its fees from [`Chain::fees`]: an EIP-1559 transaction where the network has a base
//!    fee (zero on the embedded chain and free-gas networks), a legacy one at the network's
//!    gas price where blocks have none;
//! 4. its nonce from [`Chain::nonce`] (the pending count, never below what this process
//!    already used);
//! 5. a refusal that says the nonce was taken ([`Rejection::is_nonce_conflict`]: another
//!    process sent for the same address, a retry had landed) is simulated, signed and sent
//!    again with a fresh nonce, at most [`MAX_ATTEMPTS`] times; any other refusal is final.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;

use crate::{Chain, ChainError, Fees, Receipt, wait_receipt};

/// Sends of one transaction before a nonce conflict is reported: several API processes of
/// one member may each take the nonce a few times in a row.
pub const MAX_ATTEMPTS: u32 = 12;

/// How long [`Sender::send`] waits for a receipt.
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// What to send.
#[derive(Debug, Clone)]
pub struct TxRequest {
    /// The contract called, or `None` to create one.
    pub to: Option<Address>,
    /// Native currency sent along (wei).
    pub value: U256,
    /// Call data (or init code).
    pub input: Bytes,
    /// A fixed gas limit instead of the simulation's (a plain transfer: 21,000).
    pub gas_limit: Option<u64>,
}

impl TxRequest {
    /// A call of `input` to `to`.
    #[must_use]
    pub fn call(to: Address, input: Bytes) -> Self {
        TxRequest { to: Some(to), value: U256::ZERO, input, gas_limit: None }
    }

    /// A transfer of `value` wei to `to`.
    #[must_use]
    pub fn transfer(to: Address, value: U256) -> Self {
        TxRequest { to: Some(to), value, input: Bytes::new(), gas_limit: Some(21_000) }
    }
}

/// Signs and submits transactions, one nonce sequence per sender (see the module docs).
#[derive(Debug, Default)]
pub struct Sender {
    locks: Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>,
}

impl Sender {
    /// A sender with no locks held yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self, who: Address) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(who).or_default().clone()
    }

    /// Sign `tx` with `signer` and submit it: its hash once the chain accepted it.
    ///
    /// # Errors
    /// [`ChainError::Rejected`] with [`crate::Rejection::Reverted`] when the simulation
    /// reverts (nothing was sent), with the node's refusal otherwise; a nonce conflict only
    /// after [`MAX_ATTEMPTS`] sends.
    pub async fn submit(
        &self,
        chain: &dyn Chain,
        signer: &PrivateKeySigner,
        tx: &TxRequest,
    ) -> Result<B256, ChainError> {
        let from = signer.address();
        let lock = self.lock(from);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Simulated before taking the sender's lock: it needs no nonce, and a sender's
            // transactions sent together (a worker's batches) are simulated side by side
            // instead of one after another.
            let gas_limit = match tx.gas_limit {
                Some(g) => g,
                None => chain.estimate_gas(from, tx.to, tx.value, tx.input.clone()).await?,
            };
            let _guard = lock.lock().await;
            let fees = chain.fees().await?;
            let nonce = chain.nonce(from).await?;
            let raw = sign(signer, chain.chain_id(), nonce, fees, gas_limit, tx)?;
            match chain.send_own(raw, from).await {
                Ok(hash) => return Ok(hash),
                Err(ChainError::Rejected(r)) if r.is_nonce_conflict() && attempt < MAX_ATTEMPTS => {
                    tracing::warn!(%from, nonce, reason = %r, "nonce taken meanwhile; sending again");
                    // A moment for the other sender's transaction to reach the pending count.
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 5)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`Sender::submit`], then wait for the receipt (which may show a revert).
    ///
    /// # Errors
    /// As [`Sender::submit`]; [`ChainError::Timeout`] when no receipt came in
    /// [`RECEIPT_TIMEOUT`].
    pub async fn send(
        &self,
        chain: &dyn Chain,
        signer: &PrivateKeySigner,
        tx: &TxRequest,
    ) -> Result<Receipt, ChainError> {
        let hash = self.submit(chain, signer, tx).await?;
        wait_receipt(chain, hash, RECEIPT_TIMEOUT).await
    }
}

/// The EIP-2718 bytes of `tx` signed by `signer` with `nonce`, `fees` and `gas_limit`.
///
/// # Errors
/// [`ChainError::Unavailable`] if the key cannot sign (it always can for a local key).
pub fn sign(
    signer: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    fees: Fees,
    gas_limit: u64,
    tx: &TxRequest,
) -> Result<Bytes, ChainError> {
    let to = tx.to.map_or(TxKind::Create, TxKind::Call);
    let unsigned_err = |e: secp256k1::Error| ChainError::Unavailable(format!("cannot sign: {e}"));
    let envelope: TxEnvelope = match fees {
        Fees::Eip1559 { max_fee_per_gas, max_priority_fee_per_gas } => {
            let t = TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to,
                value: tx.value,
                access_list: alloy::eips::eip2930::AccessList::default(),
                input: tx.input.clone(),
            };
            let sig = sign_hash(signer, &t.signature_hash()).map_err(unsigned_err)?;
            t.into_signed(sig).into()
        }
        Fees::Legacy { gas_price } => {
            let t = TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price,
                gas_limit,
                to,
                value: tx.value,
                input: tx.input.clone(),
            };
            let sig = sign_hash(signer, &t.signature_hash()).map_err(unsigned_err)?;
            t.into_signed(sig).into()
        }
    };
    Ok(Bytes::from(envelope.encoded_2718()))
}

/// Sign the 32-byte `hash` with `key` through libsecp256k1: RFC 6979 nonces and a low `s`,
/// so the same signature alloy's k256 signer makes (a test compares them), for about a
/// quarter of its time. Every write of the platform signs once; on two cores it shows.
///
/// # Errors
/// Never for a key a `PrivateKeySigner` holds (a valid scalar); typed for the API's sake.
pub fn sign_hash(key: &PrivateKeySigner, hash: &B256) -> Result<alloy::signers::Signature, secp256k1::Error> {
    // The key's bytes are copied out of k256's key (which erases itself) for this call only:
    // erased again before returning, as k256 would.
    let bytes = zeroize::Zeroizing::new(<[u8; 32]>::from(key.credential().to_bytes()));
    let mut secret = secp256k1::SecretKey::from_byte_array(*bytes)?;
    let signed = secp256k1::SECP256K1.sign_ecdsa_recoverable(secp256k1::Message::from_digest(hash.0), &secret);
    secret.non_secure_erase();
    let (id, compact) = signed.serialize_compact();
    // The recovery id's low bit is the parity of R's y (ids 2 and 3, an overflowing x, have
    // a chance near 2^-128; their parity is still the low bit).
    Ok(alloy::signers::Signature::from_bytes_and_parity(&compact, i32::from(id) & 1 == 1))
}

#[cfg(test)]
mod tests {
    use alloy::consensus::transaction::SignerRecoverable;
    use alloy::eips::eip2718::Decodable2718;
    use alloy::network::TxSignerSync;
    use alloy::primitives::keccak256;
    use alloy::signers::SignerSync;

    use super::*;

    /// Whoever checks a platform signature with k256 (alloy, ethers, a bank's own code) must
    /// read exactly what k256 would have signed: same r, same low s, same parity.
    #[test]
    fn libsecp256k1_signs_what_k256_signs() {
        for i in 0..64u64 {
            let key = PrivateKeySigner::from_bytes(&keccak256(i.to_be_bytes())).expect("key");
            let hash = keccak256((i * 7919).to_le_bytes());
            let ours = sign_hash(&key, &hash).expect("signs");
            assert_eq!(ours, key.sign_hash_sync(&hash).expect("k256 signs"), "key {i}");
            assert_eq!(ours.recover_address_from_prehash(&hash).expect("recovers"), key.address());
        }
    }

    #[test]
    fn a_transaction_is_signed_as_alloy_signs_it_for_both_fee_kinds() {
        let key = PrivateKeySigner::from_bytes(&keccak256("buyer")).expect("key");
        let tx = TxRequest::call(Address::repeat_byte(7), Bytes::from(vec![1, 2, 3]));
        let eip1559 = Fees::Eip1559 { max_fee_per_gas: 30, max_priority_fee_per_gas: 2 };
        for (nonce, fees) in [(0, eip1559), (9, Fees::Legacy { gas_price: 5 })] {
            let raw = sign(&key, 7431, nonce, fees, 90_000, &tx).expect("signs");
            let envelope = TxEnvelope::decode_2718(&mut raw.as_ref()).expect("decodes");
            assert_eq!(envelope.recover_signer().expect("recovers"), key.address());
            let alloys: TxEnvelope = match fees {
                Fees::Eip1559 { max_fee_per_gas, max_priority_fee_per_gas } => {
                    let mut t = TxEip1559 {
                        chain_id: 7431,
                        nonce,
                        gas_limit: 90_000,
                        max_fee_per_gas,
                        max_priority_fee_per_gas,
                        to: TxKind::Call(Address::repeat_byte(7)),
                        value: U256::ZERO,
                        access_list: alloy::eips::eip2930::AccessList::default(),
                        input: tx.input.clone(),
                    };
                    let sig = key.sign_transaction_sync(&mut t).expect("alloy signs");
                    t.into_signed(sig).into()
                }
                Fees::Legacy { gas_price } => {
                    let mut t = TxLegacy {
                        chain_id: Some(7431),
                        nonce,
                        gas_price,
                        gas_limit: 90_000,
                        to: TxKind::Call(Address::repeat_byte(7)),
                        value: U256::ZERO,
                        input: tx.input.clone(),
                    };
                    let sig = key.sign_transaction_sync(&mut t).expect("alloy signs");
                    t.into_signed(sig).into()
                }
            };
            assert_eq!(raw.as_ref(), alloys.encoded_2718().as_slice(), "nonce {nonce}");
        }
    }
}
