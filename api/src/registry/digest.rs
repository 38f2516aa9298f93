//! The registry's digests: HMAC-SHA256 under a key only the registry holds, of each field
//! length-prefixed (u32, big-endian) after a domain label, so no two field lists share an
//! encoding and no digest can be recomputed, or brute-forced from the chain, without the key.

use alloy::primitives::{Address, B256};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `fields` under `key`.
fn mac(key: &[u8; 32], fields: &[&[u8]]) -> B256 {
    // A 32-byte key is always a valid HMAC key.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else { return B256::ZERO };
    for field in fields {
        m.update(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        m.update(field);
    }
    B256::from_slice(&m.finalize().into_bytes())
}

/// Invoice numbers compare without case, whitespace or punctuation: "inv-2026/001" is
/// "INV2026001".
pub(crate) fn normalise_invoice_number(number: &str) -> String {
    number.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// An invoice's key fields, normalised by the caller (date `YYYY-MM-DD`, amount in minor
/// units, currency upper case).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct InvoiceFields {
    pub(crate) number: String,
    pub(crate) date: String,
    pub(crate) amount: u128,
    pub(crate) currency: String,
}

/// The fingerprint of an invoice between `seller` and `buyer`.
pub(crate) fn invoice(key: &[u8; 32], seller: &Address, buyer: &Address, inv: &InvoiceFields) -> B256 {
    mac(
        key,
        &[
            b"invoice".as_slice(),
            seller.as_slice(),
            buyer.as_slice(),
            normalise_invoice_number(&inv.number).as_bytes(),
            inv.date.as_bytes(),
            inv.amount.to_string().as_bytes(),
            inv.currency.to_ascii_uppercase().as_bytes(),
        ],
    )
}

/// The fingerprint of a bill of lading, by its file's hash.
pub(crate) fn bill_of_lading(key: &[u8; 32], document_hash: &B256) -> B256 {
    mac(key, &[b"bill_of_lading".as_slice(), document_hash.as_slice()])
}

/// The near key of an invoice (seller, normalised number) and the digests, bound to it, of
/// its amount and currency, date and buyer: two offers with the same near key and another
/// digest are the same invoice number of the same seller with another amount, date or buyer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NearKeys {
    pub(crate) near_key: B256,
    pub(crate) amount: B256,
    pub(crate) date: B256,
    pub(crate) buyer: B256,
}

/// See [`NearKeys`].
pub(crate) fn near_keys(key: &[u8; 32], seller: &Address, buyer: &Address, inv: &InvoiceFields) -> NearKeys {
    let near_key = mac(key, &[b"near", seller.as_slice(), normalise_invoice_number(&inv.number).as_bytes()]);
    let amount = mac(
        key,
        &[
            b"near_amount",
            near_key.as_slice(),
            inv.amount.to_string().as_bytes(),
            inv.currency.to_ascii_uppercase().as_bytes(),
        ],
    );
    let date = mac(key, &[b"near_date", near_key.as_slice(), inv.date.as_bytes()]);
    let buyer = mac(key, &[b"near_buyer", near_key.as_slice(), buyer.as_slice()]);
    NearKeys { near_key, amount, date, buyer }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(number: &str, date: &str, amount: u128, currency: &str) -> InvoiceFields {
        InvoiceFields { number: number.into(), date: date.into(), amount, currency: currency.into() }
    }

    #[test]
    fn invoice_fingerprint_ignores_case_and_punctuation_of_the_number_but_not_the_amount_key_or_parties() {
        let key = [7u8; 32];
        let (s, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let a = invoice(&key, &s, &b, &inv("inv-2026/001", "2026-01-15", 100, "usd"));
        assert_eq!(a, invoice(&key, &s, &b, &inv("INV 2026 001", "2026-01-15", 100, "USD")));
        assert_ne!(a, invoice(&key, &s, &b, &inv("INV2026001", "2026-01-15", 101, "USD")));
        assert_ne!(a, invoice(&key, &b, &s, &inv("INV2026001", "2026-01-15", 100, "USD")));
        assert_ne!(a, invoice(&[8u8; 32], &s, &b, &inv("INV2026001", "2026-01-15", 100, "USD")), "another key");
    }

    #[test]
    fn near_keys_share_the_key_by_seller_and_number_and_differ_by_field() {
        let key = [7u8; 32];
        let (s, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let a = near_keys(&key, &s, &b, &inv("inv-2026/001", "2026-01-15", 100, "usd"));
        let amount = near_keys(&key, &s, &b, &inv("INV 2026 001", "2026-01-15", 101, "USD"));
        assert_eq!(a.near_key, amount.near_key);
        assert_ne!(a.amount, amount.amount);
        assert_eq!((a.date, a.buyer), (amount.date, amount.buyer));
        let date = near_keys(&key, &s, &b, &inv("INV2026001", "2026-01-16", 100, "USD"));
        assert_eq!((a.near_key, a.amount, a.buyer), (date.near_key, date.amount, date.buyer));
        assert_ne!(a.date, date.date);
        assert_ne!(a.near_key, near_keys(&key, &b, &s, &inv("INV2026001", "2026-01-15", 100, "USD")).near_key);
        assert_ne!(a.near_key, near_keys(&[8u8; 32], &s, &b, &inv("INV2026001", "2026-01-15", 100, "USD")).near_key);
    }
}
