//! Custodial signing keys, encrypted at rest.
//!
//! Each organisation onboarded as custodial gets a fresh secp256k1 key. Its 32 secret
//! bytes are sealed with ChaCha20-Poly1305 under the node's master key (a random 96-bit
//! nonce per key; the organisation's address as associated data, so a ciphertext cannot be
//! moved to another organisation) and stored as hex in the `members` table. ChaCha20-Poly1305
//! rather than the Web3 Secret Storage JSON keys are exported in ([`crate::keyfile`]): the
//! master key is already random (or derived once at start), so a per-key scrypt would only
//! cost time at every signature's first use.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// Why a key could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The stored ciphertext is not of the form this node writes.
    #[error("ciphertext malformed")]
    Malformed,
    /// The master key does not open it (another node's key, or tampered).
    #[error("cannot decrypt the key (wrong master key or tampered ciphertext)")]
    Decrypt,
}

/// Seals and opens custodial keys; keeps opened signers in memory.
pub struct Keystore {
    cipher: ChaCha20Poly1305,
    open: Mutex<HashMap<Address, PrivateKeySigner>>,
}

impl Keystore {
    /// A keystore sealing under `master` (32 bytes).
    pub fn new(master: [u8; 32]) -> Self {
        Self { cipher: ChaCha20Poly1305::new(&Key::from(master)), open: Mutex::new(HashMap::new()) }
    }

    /// A new key and its sealed form (hex of nonce ‖ ciphertext).
    pub fn generate(&self) -> Result<(PrivateKeySigner, String), KeyError> {
        let signer = PrivateKeySigner::random();
        let sealed = self.seal(&signer)?;
        Ok((signer, sealed))
    }

    /// Seal a key for the database: hex of the nonce and the ciphertext, bound to its address.
    pub fn seal(&self, signer: &PrivateKeySigner) -> Result<String, KeyError> {
        let nonce = random_bytes::<12>();
        let address = signer.address();
        let secret = signer.to_bytes();
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: secret.as_slice(), aad: address.as_slice() })
            .map_err(|_| KeyError::Decrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(hex::encode(out))
    }

    /// Seal any 32-byte secret under the master key, bound to `label` (what it is for).
    pub fn seal_secret(&self, label: &[u8], secret: &[u8; 32]) -> Result<String, KeyError> {
        let nonce = random_bytes::<12>();
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: secret.as_slice(), aad: label })
            .map_err(|_| KeyError::Decrypt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(hex::encode(out))
    }

    /// Open a secret sealed by [`Keystore::seal_secret`] under the same `label`.
    pub fn open_secret(&self, label: &[u8], sealed: &str) -> Result<[u8; 32], KeyError> {
        let bytes = hex::decode(sealed).map_err(|_| KeyError::Malformed)?;
        if bytes.len() < 12 {
            return Err(KeyError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| KeyError::Malformed)?;
        let secret =
            self.cipher.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: label }).map_err(|_| KeyError::Decrypt)?;
        secret.try_into().map_err(|_| KeyError::Malformed)
    }

    /// Open the sealed key of `address` (cached after the first time).
    pub fn open(&self, address: Address, sealed: &str) -> Result<PrivateKeySigner, KeyError> {
        if let Some(s) = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&address) {
            return Ok(s.clone());
        }
        let bytes = hex::decode(sealed).map_err(|_| KeyError::Malformed)?;
        if bytes.len() < 12 {
            return Err(KeyError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| KeyError::Malformed)?;
        let secret = self
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ct, aad: address.as_slice() })
            .map_err(|_| KeyError::Decrypt)?;
        let signer = PrivateKeySigner::from_slice(&secret).map_err(|_| KeyError::Malformed)?;
        if signer.address() != address {
            return Err(KeyError::Decrypt);
        }
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(address, signer.clone());
        Ok(signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_key_opens_only_for_its_address_and_master_key() {
        let ks = Keystore::new([7; 32]);
        let (signer, sealed) = ks.generate().expect("generate");
        let fresh = Keystore::new([7; 32]);
        assert_eq!(fresh.open(signer.address(), &sealed).expect("open").address(), signer.address());
        assert!(Keystore::new([8; 32]).open(signer.address(), &sealed).is_err());
        assert!(Keystore::new([7; 32]).open(Address::ZERO, &sealed).is_err());
    }
}
