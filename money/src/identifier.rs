//! Banking identifiers: IBAN (ISO 13616), BIC (ISO 9362), and the EndToEndId that makes a
//! payment instruction idempotent from the chain to the bank and back.

use std::fmt;

use alloy_primitives::{U256, keccak256};
use serde::{Deserialize, Serialize};

use crate::registry::{IBAN_REGISTRY, ISO_3166};

/// An identifier that does not have the shape its standard requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Not an IBAN of ISO 13616's shape, or not of its country's length and format.
    #[error("invalid IBAN {value:?}: {reason}")]
    Iban {
        /// The text given (clipped).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a BIC of ISO 9362's shape, or not in an ISO 3166 country.
    #[error("invalid BIC {value:?}: {reason}")]
    Bic {
        /// The text given (clipped).
        value: String,
        /// What is wrong with it.
        reason: String,
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

/// An International Bank Account Number, validated per ISO 13616: a country of the IBAN
/// registry, two check digits (02 to 98: 00, 01 and 99 cannot result from the computation),
/// the country's length and BBAN format (the registry's, e.g. Germany `8!n10!n`: 22
/// characters in all), and the whole number, rearranged (first four characters moved to the
/// end, letters as 10..35), is 1 modulo 97.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iban(String);

impl Iban {
    /// Parse the electronic form (no spaces, upper case).
    pub fn parse(value: &str) -> Result<Self, IdentifierError> {
        let err = |reason: String| IdentifierError::Iban { value: clip(value), reason };
        let b = value.as_bytes();
        if !(15..=34).contains(&b.len()) {
            return Err(err("length must be 15 to 34 characters".into()));
        }
        if !b[..2].iter().all(u8::is_ascii_uppercase) {
            return Err(err("must start with a two-letter country code".into()));
        }
        if !b[2..4].iter().all(u8::is_ascii_digit) {
            return Err(err("characters 3 and 4 must be check digits".into()));
        }
        if !b[4..].iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return Err(err("account part must be upper-case letters and digits".into()));
        }
        let country = &value[..2];
        let Some(&(_, length, format, _)) = registry_entry(country) else {
            return Err(err(format!("{country} has no IBAN (not in the ISO 13616 registry)")));
        };
        if b.len() != usize::from(length) {
            return Err(err(format!("{country} IBANs are {length} characters, not {}", b.len())));
        }
        if !bban_follows(format, &b[4..]) {
            return Err(err(format!("the account part does not follow {country}'s format {format}")));
        }
        if matches!(&value[2..4], "00" | "01" | "99") {
            return Err(err("check digits 00, 01 and 99 are never issued".into()));
        }
        if mod97(b[4..].iter().chain(&b[..4])) != 1 {
            return Err(err("check digits do not match (mod 97 != 1)".into()));
        }
        Ok(Iban(value.to_string()))
    }

    /// Whether its country is in the SEPA schemes' geographical scope (as the registry
    /// tables of this crate record it).
    #[must_use]
    pub fn is_sepa(&self) -> bool {
        registry_entry(self.country()).is_some_and(|e| e.3)
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

fn registry_entry(country: &str) -> Option<&'static (&'static str, u8, &'static str, bool)> {
    IBAN_REGISTRY.binary_search_by(|e| e.0.cmp(country)).ok().map(|i| &IBAN_REGISTRY[i])
}

/// Whether `bban` follows a registry format such as `4!a6!n8!n`: each field `<n>!<t>` is
/// exactly `n` characters of type `t` (`n` digits, `a` upper-case letters, `c` either).
fn bban_follows(format: &str, bban: &[u8]) -> bool {
    let mut rest = bban;
    let mut fields = format.split_inclusive(|c: char| c.is_ascii_alphabetic());
    fields.all(|field| {
        let (count, kind) = field.split_at(field.len() - 1);
        let Ok(n) = count.trim_end_matches('!').parse::<usize>() else { return false };
        if rest.len() < n {
            return false;
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        match kind {
            "n" => head.iter().all(u8::is_ascii_digit),
            "a" => head.iter().all(u8::is_ascii_uppercase),
            "c" => head.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            _ => false,
        }
    }) && rest.is_empty()
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
        let err = |reason: &str| IdentifierError::Bic { value: clip(value), reason: reason.to_string() };
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
        if ISO_3166.binary_search(&&value[4..6]).is_err() {
            return Err(err("characters 5 and 6 are not an ISO 3166 country code"));
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
        // "QQ" and "EU" are no ISO 3166 country.
        for bad in ["DEUTDEF", "DEUTDEFF50", "DEUT12FF", "deutdeff", "DEUTDEFF5000", "DEUTQQFF", "ECBFEUFF"] {
            assert!(Bic::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_iban_follows_its_countrys_length_and_format() {
        // One character short or long for Germany; letters where Germany has digits; a
        // country with no IBAN; a French IBAN's letters in the account number are allowed.
        for (bad, why) in [
            ("DE8937040044053201300", "22 characters"),
            ("DE89370400440532013000X", "22 characters"),
            ("DE27ABCD0044053201300A", "format 8!n10!n"),
            ("US64SVBKUS6S3300958879", "no IBAN"),
        ] {
            let err = Iban::parse(bad).expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(Iban::parse("FR1420041010050500013M02606").is_ok());
        assert!(Iban::parse("NO9386011117947").is_ok(), "Norway's 15 characters, the shortest");
        assert!(Iban::parse("LC55HEMM000100010012001200023015").is_ok(), "Saint Lucia's 32");
    }

    #[test]
    fn check_digits_00_01_and_99_are_refused_even_when_mod_97_holds() {
        // Each of these is 1 modulo 97 (the check digits forced to 00, 01, 99 by choosing the
        // account number), so only the rule on the check digits refuses them.
        for digits in ["00", "01", "99"] {
            let iban = forced_check_digits("GB", "WEST", digits);
            assert_eq!(mod97(iban.as_bytes()[4..].iter().chain(&iban.as_bytes()[..4])), 1, "{iban}");
            let err = Iban::parse(&iban).expect_err(&iban).to_string();
            assert!(err.contains("never issued"), "{iban}: {err}");
        }
    }

    /// A GB IBAN with check digits `digits` whose mod 97 holds: search the account number.
    fn forced_check_digits(country: &str, bank: &str, digits: &str) -> String {
        (0..10_000_000u64)
            .map(|n| format!("{country}{digits}{bank}{n:014}"))
            .find(|c| mod97(c.as_bytes()[4..].iter().chain(&c.as_bytes()[..4])) == 1)
            .expect("one in 97 account numbers fits")
    }

    #[test]
    fn every_registry_format_is_consistent_with_its_length() {
        for (country, length, format, _) in IBAN_REGISTRY {
            let n: usize = format
                .split_inclusive(|c: char| c.is_ascii_alphabetic())
                .map(|f| f[..f.len() - 1].trim_end_matches('!').parse::<usize>().expect("count"))
                .sum();
            assert_eq!(n + 4, usize::from(*length), "{country} {format}");
        }
        assert!(IBAN_REGISTRY.windows(2).all(|w| w[0].0 < w[1].0), "sorted for the binary search");
        assert!(ISO_3166.windows(2).all(|w| w[0] < w[1]), "sorted for the binary search");
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
        fn iban_from_bban_always_validates(bank in "[A-Z]{4}", account in "[0-9]{14}") {
            let bban = format!("{bank}{account}");
            let iban = Iban::from_bban("GB", &bban).expect("computed check digits validate");
            prop_assert_eq!(&iban.as_str()[4..], bban.as_str());
        }

        #[test]
        fn changing_one_digit_breaks_the_iban(bban in "[0-9]{18}", pos in 0usize..12, delta in 1u8..10) {
            let iban = Iban::from_bban("DE", &bban).expect("valid");
            let mut bytes = iban.as_str().as_bytes().to_vec();
            let i = 4 + pos;
            bytes[i] = b'0' + (bytes[i] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).expect("ascii");
            prop_assert!(Iban::parse(&changed).is_err());
        }
    }
}
