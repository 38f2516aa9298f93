//! Banking identifiers: IBAN (ISO 13616), BIC (ISO 9362), and the EndToEndId that makes a
//! payment instruction idempotent from the chain to the bank and back.

use std::fmt;

use alloy_primitives::{U256, keccak256};
use serde::{Deserialize, Serialize};

/// An identifier that does not have the shape its standard requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Not an IBAN of ISO 13616's shape.
    #[error("invalid IBAN {value:?}: {reason}")]
    Iban {
        /// The text given (clipped).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a BIC of ISO 9362's shape.
    #[error("invalid BIC {value:?}: {reason}")]
    Bic {
        /// The text given (clipped).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not an EndToEndId ISO 20022 and tradechain accept.
    #[error("invalid EndToEndId {value:?}: {reason}")]
    EndToEndId {
        /// The text given (clipped).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

fn clip(s: &str) -> String {
    s.chars().take(48).collect()
}

/// An International Bank Account Number, validated per ISO 13616: two country letters, two
/// check digits, up to 30 alphanumerics (upper case), and the whole number, rearranged
/// (first four characters moved to the end, letters as 10..35), is 1 modulo 97.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    /// Parse the electronic form (no spaces, upper case).
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        let err = |reason| IdentifierError::Iban { value: clip(value), reason };
        let b = value.as_bytes();
        if !(15..=34).contains(&b.len()) {
            return Err(err("length must be 15 to 34 characters"));
        }
        if !b[..2].iter().all(u8::is_ascii_uppercase) {
            return Err(err("must start with a two-letter country code"));
        }
        if !b[2..4].iter().all(u8::is_ascii_digit) {
            return Err(err("characters 3 and 4 must be check digits"));
        }
        if !b[4..].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return Err(err("account part must be upper-case letters and digits"));
        }
        if mod97(b[4..].iter().chain(&b[..4])) != 1 {
            return Err(err("check digits do not match (mod 97 != 1)"));
        }
        Ok(Iban(value.to_string()))
    }

    /// Build a valid IBAN from a country and a basic bank account number (BBAN), computing
    /// the check digits (98 - (BBAN + country + "00") mod 97).
    pub fn from_bban(country: &str, bban: &str) -> Result<Self, IdentifierError> {
        let seed: Vec<u8> = bban.bytes().chain(country.bytes()).chain(*b"00").collect();
        let check = 98 - mod97(seed.iter());
        Self::parse(&format!("{country}{check:02}{bban}"))
    }

    /// The electronic form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO 3166 country code it starts with.
    #[must_use]
    pub fn country(&self) -> &str {
        &self.0[..2]
    }
}

/// ISO 7064 MOD 97-10 over alphanumerics (digits as themselves, A=10 .. Z=35).
fn mod97<'a>(chars: impl Iterator<Item = &'a u8>) -> u32 {
    chars.fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            (acc * 10 + u32::from(c - b'0')) % 97
        } else {
            (acc * 100 + u32::from(c.to_ascii_uppercase() - b'A') + 10) % 97
        }
    })
}

impl TryFrom<String> for Iban {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Iban::parse(&value)
    }
}

impl From<Iban> for String {
    fn from(value: Iban) -> Self {
        value.0
    }
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Business Identifier Code per ISO 9362: 4 letters (party prefix), 2 letters (country),
/// 2 alphanumerics (location), optionally 3 alphanumerics (branch); 8 or 11 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bic(String);

impl Bic {
    /// Parse an 8- or 11-character BIC.
    ///
    /// # Errors
    /// [`IdentifierError::Bic`] naming what is wrong.
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        let err = |reason| IdentifierError::Bic { value: clip(value), reason };
        let b = value.as_bytes();
        if b.len() != 8 && b.len() != 11 {
            return Err(err("must be 8 or 11 characters"));
        }
        // ISO 9362:2014 allows alphanumerics in the party prefix; SWIFT-issued BICs use letters.
        if !b[..4].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err(err("party prefix must be 4 upper-case alphanumerics"));
        }
        if !b[4..6].iter().all(u8::is_ascii_uppercase) {
            return Err(err("characters 5 and 6 must be a country code"));
        }
        if !b[6..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return Err(err("location and branch must be upper-case alphanumerics"));
        }
        Ok(Bic(value.to_string()))
    }

    /// The code.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Bic {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Bic::parse(&value)
    }
}

impl From<Bic> for String {
    fn from(value: Bic) -> Self {
        value.0
    }
}

impl fmt::Display for Bic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest EndToEndId the ISO 20022 `Max35Text` allows.
pub const MAX_END_TO_END_ID: usize = 35;

/// The idempotency key of one payment instruction, which travels unchanged as the ISO 20022
/// `EndToEndId` (and the webhook's idempotency key): `TC{chain}-{order}-{milestone}-{attempt}`.
///
/// It is a pure function of the chain id, the order, the milestone and the attempt number of
/// the `PaymentDue` event, so every restart of every worker derives the same key for the same
/// obligation, and a new attempt after a failed payment gets a new one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EndToEndId(String);

impl EndToEndId {
    /// Derive the key; fails only when the numbers are too long to fit 35 characters.
    pub fn derive(chain_id: u64, order_id: &str, milestone: u64, attempt: u32) -> Result<Self, IdentifierError> {
        Self::parse(&format!("TC{chain_id}-{order_id}-{milestone}-{attempt}"))
    }

    /// Accept any `Max35Text` id made of characters safe in XML, URLs and logs
    /// (`A-Z a-z 0-9 - . _ / :`), 1 to 35 long.
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        let err = |reason| IdentifierError::EndToEndId { value: clip(value), reason };
        if value.is_empty() || value.len() > MAX_END_TO_END_ID {
            return Err(err("must be 1 to 35 characters"));
        }
        if !value.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._/:".contains(&c)) {
            return Err(err("only letters, digits and - . _ / : are allowed"));
        }
        Ok(EndToEndId(value.to_string()))
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The EndToEndId of a `PaymentDue` (chain, order, milestone, attempt); falls back to a
/// hash form when the numbers are too long for 35 characters (order ids are uint256).
pub fn end_to_end_id(chain_id: u64, order_id: U256, milestone: U256, attempt: u32) -> EndToEndId {
    let milestone_u64 = u64::try_from(milestone).ok();
    if let Some(m) = milestone_u64
        && let Ok(id) = EndToEndId::derive(chain_id, &order_id.to_string(), m, attempt)
    {
        return id;
    }
    let mut seed = Vec::with_capacity(104);
    seed.extend_from_slice(&chain_id.to_be_bytes());
    seed.extend_from_slice(&order_id.to_be_bytes::<32>());
    seed.extend_from_slice(&milestone.to_be_bytes::<32>());
    seed.extend_from_slice(&attempt.to_be_bytes());
    // "TCH" and 32 hex digits: 35 characters of the safe set, so parsing cannot fail.
    EndToEndId(format!("TCH{}", &hex::encode(keccak256(&seed))[..32]))
}

impl TryFrom<String> for EndToEndId {
    type Error = IdentifierError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        EndToEndId::parse(&value)
    }
}

impl From<EndToEndId> for String {
    fn from(value: EndToEndId) -> Self {
        value.0
    }
}

impl fmt::Display for EndToEndId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_example_ibans_are_valid() {
        for iban in
            ["GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300"]
        {
            assert!(Iban::parse(iban).is_ok(), "{iban}");
        }
    }

    #[test]
    fn iban_with_a_wrong_check_digit_or_shape_is_refused() {
        for bad in [
            "GB83WEST12345698765432",
            "gb82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "1282WEST12345698765432",
            "GB8",
        ] {
            assert!(Iban::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bic_must_be_8_or_11_with_a_country() {
        assert!(Bic::parse("DEUTDEFF").is_ok());
        assert!(Bic::parse("DEUTDEFF500").is_ok());
        for bad in ["DEUTDEF", "DEUTDEFF50", "DEUT12FF", "deutdeff", "DEUTDEFF5000"] {
            assert!(Bic::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn end_to_end_id_is_derived_from_chain_order_milestone_and_attempt() {
        let id = EndToEndId::derive(7431, "12", 1, 2).expect("fits");
        assert_eq!(id.as_str(), "TC7431-12-1-2");
        assert_ne!(id, EndToEndId::derive(7431, "12", 1, 3).expect("fits"));
    }

    #[test]
    fn end_to_end_id_longer_than_35_characters_is_refused() {
        assert!(EndToEndId::derive(u64::MAX, "123456789012345", 7, 1).is_err());
        assert!(EndToEndId::parse("has space").is_err());
        assert!(EndToEndId::parse("<x>").is_err());
    }

    proptest! {
        #[test]
        fn iban_from_bban_always_validates(bban in "[A-Z0-9]{11,30}", country in "[A-Z]{2}") {
            let iban = Iban::from_bban(&country, &bban).expect("computed check digits validate");
            prop_assert_eq!(&iban.as_str()[4..], bban.as_str());
        }

        #[test]
        fn changing_one_digit_breaks_the_iban(bban in "[0-9]{12,20}", pos in 0usize..12, delta in 1u8..10) {
            let iban = Iban::from_bban("DE", &bban).expect("valid");
            let mut bytes = iban.as_str().as_bytes().to_vec();
            let i = 4 + pos;
            bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(Iban::parse(&changed).is_err());
        }
    }
}
