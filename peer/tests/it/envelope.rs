//! The envelope between nodes, attacked: whoever is not the named sender, not the named
//! recipient, or not sealing the content anchored on chain for this very subject, gets
//! nothing through.

use tradechain_peer::envelope::{Envelope, EnvelopeError, Kind, NodeKey, Subject, open, seal};

const BILL_OF_LADING: &[u8] = b"%PDF-1.7 bill of lading MAEU 2026-11-02, 18 t green coffee";

/// A bill of lading (the contract's `DocType` 2).
const BILL: Kind = Kind::Document(2);

fn key() -> NodeKey {
    NodeKey::generate().expect("randomness")
}

/// Node 1 (the exporter's bank) sends order 42's bill of lading to node 2 (the importer's).
fn subject() -> Subject {
    Subject { order_id: 42, kind: BILL, content_hash: BILL.digest(BILL_OF_LADING), sender_node: 1, recipient_node: 2 }
}

#[test]
fn the_recipient_opens_what_the_sender_sealed_for_it() {
    let (a, b) = (key(), key());
    let sealed = seal(&a, &b.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    assert!(!sealed.ciphertext.windows(8).any(|w| w == &BILL_OF_LADING[..8]), "not in clear");
    assert_eq!(open(&b, &a.public_bytes(), &subject(), &sealed).expect("opens"), BILL_OF_LADING);
    // The same payload sealed twice differs (a fresh encapsulated key each time).
    let again = seal(&a, &b.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    assert_ne!(again, sealed);
}

#[test]
fn a_key_kept_as_its_secret_is_the_same_key() {
    let a = key();
    let kept = NodeKey::from_secret(&a.secret_bytes()).expect("a secret");
    assert_eq!(kept.public_bytes(), a.public_bytes());
    let b = key();
    let sealed = seal(&b, &a.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    assert!(open(&kept, &b.public_bytes(), &subject(), &sealed).is_ok(), "the restored key opens it");
}

#[test]
fn a_tampered_envelope_does_not_open() {
    let (a, b) = (key(), key());
    let sealed = seal(&a, &b.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    for i in [0, sealed.ciphertext.len() / 2, sealed.ciphertext.len() - 1] {
        let mut bad = sealed.clone();
        bad.ciphertext[i] ^= 1;
        assert_eq!(open(&b, &a.public_bytes(), &subject(), &bad), Err(EnvelopeError::DoesNotOpen));
    }
    let mut bad = sealed.clone();
    bad.encapsulated[3] ^= 1;
    assert_eq!(open(&b, &a.public_bytes(), &subject(), &bad), Err(EnvelopeError::DoesNotOpen));
    let truncated = Envelope { ciphertext: sealed.ciphertext[..10].to_vec(), ..sealed };
    assert_eq!(open(&b, &a.public_bytes(), &subject(), &truncated), Err(EnvelopeError::DoesNotOpen));
}

/// A node outside the directory (or a member's node passing for another) seals with its
/// own key: the recipient checks the sender's key from the directory, and it does not open.
#[test]
fn a_node_cannot_pass_for_another() {
    let (a, b, impostor) = (key(), key(), key());
    let forged = seal(&impostor, &b.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    assert_eq!(open(&b, &a.public_bytes(), &subject(), &forged), Err(EnvelopeError::DoesNotOpen));
}

/// A third node that intercepts an envelope (a proxy, a misdelivery) cannot read it.
#[test]
fn only_the_named_recipient_reads_it() {
    let (a, b, c) = (key(), key(), key());
    let sealed = seal(&a, &b.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    assert_eq!(open(&c, &a.public_bytes(), &subject(), &sealed), Err(EnvelopeError::DoesNotOpen));
}

/// An envelope opens only for the subject it was sealed for: replayed as another order's
/// data, as another kind of data, or as if sent to another node, it does not open.
#[test]
fn an_envelope_replayed_for_another_subject_does_not_open() {
    let (a, b) = (key(), key());
    let sealed = seal(&a, &b.public_bytes(), &subject(), BILL_OF_LADING).expect("sealed");
    for other in [
        Subject { order_id: 43, ..subject() },
        Subject { kind: Kind::Document(0), ..subject() },
        Subject { recipient_node: 3, ..subject() },
        Subject { sender_node: 9, ..subject() },
    ] {
        assert_eq!(open(&b, &a.public_bytes(), &other, &sealed), Err(EnvelopeError::DoesNotOpen), "{other:?}");
    }
}

/// A member's node that seals other bytes under the subject of the anchored document (a
/// doctored bill of lading) is caught by the hash on chain.
#[test]
fn content_other_than_the_anchored_hash_is_refused() {
    let (a, b) = (key(), key());
    let doctored = b"%PDF-1.7 bill of lading MAEU 2026-10-02, 18 t green coffee";
    let sealed = seal(&a, &b.public_bytes(), &subject(), doctored).expect("sealed");
    assert_eq!(
        open(&b, &a.public_bytes(), &subject(), &sealed),
        Err(EnvelopeError::HashMismatch { found: BILL.digest(doctored), expected: BILL.digest(BILL_OF_LADING) })
    );
}

/// Each kind is checked against the digest the chain anchors for it: an order's details
/// by keccak-256, a document by SHA-256; the label round-trips and nothing else parses.
#[test]
fn each_kind_is_checked_against_its_own_anchor() {
    let body = br#"{"goods":"green coffee"}"#;
    assert_eq!(Kind::Details.digest(body), alloy_primitives::keccak256(body));
    assert_ne!(BILL.digest(body), Kind::Details.digest(body));
    for kind in [Kind::Details, BILL, Kind::Document(0)] {
        assert_eq!(kind.to_string().parse::<Kind>(), Ok(kind));
    }
    for label in ["", "detail", "document", "document:", "document:+1", "document:256", "docs:1", "details:1"] {
        assert!(matches!(label.parse::<Kind>(), Err(EnvelopeError::UnknownKind(_))), "{label}");
    }
}
