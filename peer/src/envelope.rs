//! Sealing private data from one node to another.
//!
//! HPKE (RFC 9180) in Auth mode with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and
//! ChaCha20-Poly1305: the payload is encrypted to the recipient node's key from the
//! Consortium's node directory and authenticated by the sending node's key from the same
//! directory, so a node outside the directory cannot pass for one in it. The `info` of the
//! key schedule binds the envelope to its [`Subject`] (which order, what kind of data,
//! its content hash, sender and recipient nodes): an envelope replayed for another order,
//! another kind of data or another recipient does not open. An opened payload is accepted
//! only if its digest is the hash anchored on chain (keccak-256 for an order's details,
//! SHA-256 for a document, as each is anchored), so even a directory member that seals the
//! wrong bytes under the right subject is refused.

use alloy_primitives::{B256, keccak256};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::TryRngCore;
use sha2::Digest as _;

type Kem = X25519HkdfSha256;
type PrivateKey = <Kem as hpke::Kem>::PrivateKey;
type PublicKey = <Kem as hpke::Kem>::PublicKey;

/// Domain separation: the protocol and its version, first in every envelope's `info`.
const DOMAIN: &[u8] = b"tradechain private data v1";

/// Why an envelope was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// A key is not a valid X25519 key.
    #[error("not an X25519 key")]
    InvalidKey,
    /// It does not open: tampered, from another sender, for another recipient or subject.
    #[error("the envelope does not open: not sealed by that node, to this node, for this subject")]
    DoesNotOpen,
    /// It opened, but the content is not the one anchored on chain.
    #[error("the content's hash {found} is not the hash on chain {expected}")]
    HashMismatch {
        /// The digest of what was delivered.
        found: B256,
        /// What the chain says.
        expected: B256,
    },
    /// Not a kind of private data this protocol carries.
    #[error("unknown kind of data {0:?}: details or document:<type>")]
    UnknownKind(String),
    /// Sealing failed (no randomness, or a key the library refused).
    #[error("cannot seal: {0}")]
    Seal(String),
}

/// A node's encryption key pair: the public half goes in the Consortium's directory.
pub struct NodeKey {
    secret: PrivateKey,
    public: PublicKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey").field("public", &self.public_bytes()).finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A fresh key pair from the operating system's randomness.
    ///
    /// # Errors
    /// [`EnvelopeError::Seal`] when no randomness is available.
    pub fn generate() -> Result<NodeKey, EnvelopeError> {
        let mut ikm = [0u8; 32];
        rand_core::OsRng.try_fill_bytes(&mut ikm).map_err(|e| EnvelopeError::Seal(format!("no randomness: {e}")))?;
        // RFC 9180's DeriveKeyPair from fresh input keying material.
        let (secret, public) = Kem::derive_keypair(&ikm);
        Ok(NodeKey { secret, public })
    }

    /// The key pair whose secret was kept as `secret` (32 bytes, [`NodeKey::secret_bytes`]).
    ///
    /// # Errors
    /// [`EnvelopeError::InvalidKey`] if the bytes are not an X25519 secret.
    pub fn from_secret(secret: &[u8; 32]) -> Result<NodeKey, EnvelopeError> {
        let secret = PrivateKey::from_bytes(secret).map_err(|_| EnvelopeError::InvalidKey)?;
        let public = Kem::sk_to_pk(&secret);
        Ok(NodeKey { secret, public })
    }

    /// The secret, to be kept sealed (never in a backup in clear).
    #[must_use]
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes().into()
    }

    /// The public key, as registered in the directory.
    #[must_use]
    pub fn public_bytes(&self) -> [u8; 32] {
        self.public.to_bytes().into()
    }
}

/// What kind of private data an envelope carries, and so how its hash is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An order's details: canonical JSON, anchored as its keccak-256 (`detailsHash`).
    Details,
    /// A document of the given type (the contract's `DocType`), anchored as the SHA-256
    /// of its bytes (`submitDocument`'s hash).
    Document(u8),
}

impl Kind {
    /// The digest the chain anchors for content of this kind.
    #[must_use]
    pub fn digest(self, content: &[u8]) -> B256 {
        match self {
            Kind::Details => keccak256(content),
            Kind::Document(_) => B256::from_slice(&sha2::Sha256::digest(content)),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Details => f.write_str("details"),
            Kind::Document(t) => write!(f, "document:{t}"),
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = EnvelopeError;
    fn from_str(s: &str) -> Result<Kind, EnvelopeError> {
        match s.split_once(':') {
            None if s == "details" => Ok(Kind::Details),
            Some(("document", t)) if !t.starts_with('+') => {
                t.parse().map(Kind::Document).map_err(|_| EnvelopeError::UnknownKind(s.to_string()))
            }
            _ => Err(EnvelopeError::UnknownKind(s.to_string())),
        }
    }
}

/// What an envelope is about; both ends must name the same subject for it to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The order the data belongs to.
    pub order_id: u64,
    /// What it is.
    pub kind: Kind,
    /// The content's hash, as anchored on chain ([`Kind::digest`]).
    pub content_hash: B256,
    /// The sending node's id in the directory.
    pub sender_node: u64,
    /// The receiving node's id in the directory.
    pub recipient_node: u64,
}

impl Subject {
    /// The HPKE `info`: the domain, then each field length-prefixed where its length varies.
    fn info(&self) -> Vec<u8> {
        let kind = self.kind.to_string();
        let mut info = Vec::with_capacity(DOMAIN.len() + 64 + kind.len());
        info.extend_from_slice(DOMAIN);
        info.extend_from_slice(&self.order_id.to_be_bytes());
        info.extend_from_slice(&u32::try_from(kind.len()).unwrap_or(u32::MAX).to_be_bytes());
        info.extend_from_slice(kind.as_bytes());
        info.extend_from_slice(self.content_hash.as_slice());
        info.extend_from_slice(&self.sender_node.to_be_bytes());
        info.extend_from_slice(&self.recipient_node.to_be_bytes());
        info
    }
}

/// A sealed payload: the encapsulated key and the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The sender's ephemeral X25519 public key (HPKE `enc`).
    pub encapsulated: [u8; 32],
    /// The payload, encrypted and authenticated.
    pub ciphertext: Vec<u8>,
}

fn public_key(bytes: &[u8; 32]) -> Result<PublicKey, EnvelopeError> {
    PublicKey::from_bytes(bytes).map_err(|_| EnvelopeError::InvalidKey)
}

/// Seal `payload` from `sender` to the node whose directory key is `recipient`, about
/// `subject`.
///
/// # Errors
/// [`EnvelopeError::InvalidKey`] for a malformed recipient key; [`EnvelopeError::Seal`].
pub fn seal(
    sender: &NodeKey,
    recipient: &[u8; 32],
    subject: &Subject,
    payload: &[u8],
) -> Result<Envelope, EnvelopeError> {
    let recipient = public_key(recipient)?;
    let mode = OpModeS::Auth((sender.secret.clone(), sender.public.clone()));
    let mut rng = rand_core::OsRng.unwrap_err();
    let (enc, ciphertext) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
        &mode,
        &recipient,
        &subject.info(),
        payload,
        &[],
        &mut rng,
    )
    .map_err(|e| EnvelopeError::Seal(e.to_string()))?;
    Ok(Envelope { encapsulated: enc.to_bytes().into(), ciphertext })
}

/// Open `envelope` as `recipient`, if the node whose directory key is `sender` sealed it
/// for `subject`, and its content is the one whose hash is `subject.content_hash`.
///
/// # Errors
/// [`EnvelopeError::DoesNotOpen`], [`EnvelopeError::HashMismatch`],
/// [`EnvelopeError::InvalidKey`].
pub fn open(
    recipient: &NodeKey,
    sender: &[u8; 32],
    subject: &Subject,
    envelope: &Envelope,
) -> Result<Vec<u8>, EnvelopeError> {
    let sender = public_key(sender)?;
    let encapsulated =
        <Kem as hpke::Kem>::EncappedKey::from_bytes(&envelope.encapsulated).map_err(|_| EnvelopeError::DoesNotOpen)?;
    let payload = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Auth(sender),
        &recipient.secret,
        &encapsulated,
        &subject.info(),
        &envelope.ciphertext,
        &[],
    )
    .map_err(|_| EnvelopeError::DoesNotOpen)?;
    let found = subject.kind.digest(&payload);
    if found != subject.content_hash {
        return Err(EnvelopeError::HashMismatch { found, expected: subject.content_hash });
    }
    Ok(payload)
}
