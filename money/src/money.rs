//! Amounts in minor units of an ISO 4217 currency, and their decimal rendering.
//!
//! The chain stores integers in minor units (`uint128`); ISO 20022 messages carry decimals
//! with exactly the currency's number of fraction digits (ISO 4217 "minor unit"). Nothing
//! here ever touches a float.

use std::fmt;

/// A money-format error: the amount or currency cannot be rendered or parsed exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a code of the ISO 4217 list (or one without a minor unit).
    #[error("unknown ISO 4217 currency code {0:?}")]
    UnknownCurrency(String),
    /// The decimal does not have exactly the currency's fraction digits.
    #[error("amount {text:?} is not a decimal with exactly {exponent} fraction digits for {currency}")]
    Precision {
        /// The text given (clipped).
        text: String,
        /// The currency.
        currency: String,
        /// Its fraction digits.
        exponent: u8,
    },
    /// Not a plain non-negative decimal.
    #[error("amount {0:?} is not a plain non-negative decimal")]
    Syntax(String),
    /// Too large for 128 bits of minor units.
    #[error("amount {0:?} is too large")]
    Overflow(String),
    /// A code ISO 4217 withdrew; payments use its replacement.
    #[error("{code} was withdrawn from ISO 4217 (legal tender until {until}): use {replaced_by}")]
    Withdrawn {
        /// The withdrawn code.
        code: String,
        /// The code that replaced it.
        replaced_by: &'static str,
        /// The end of its legal tender, and why.
        until: &'static str,
    },
}

/// ISO 4217 currencies a payment can be made in, with their minor unit (number of fraction
/// digits): SIX Group's list one as published on 2026-01-01 (as shipped in the PyPI package
/// `iso4217` 1.16.20260101), without what is not money one pays a supplier in: the funds
/// codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI), units of account (UYW, XAD, XDR, XSU, XUA)
/// and the codes without a minor unit (precious metals, bond units, XTS, XXX).
///
/// Exponent 0: BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF;
/// exponent 3: BHD IQD JOD KWD LYD OMR TND. Everything else listed here has 2.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("AOA", 2), ("ARS", 2), ("AUD", 2), ("AWG", 2),
    ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2),
    ("BOB", 2), ("BRL", 2), ("BSD", 2), ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2),
    ("CDF", 2), ("CHF", 2), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2),
    ("CZK", 2), ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2), ("ETB", 2),
    ("EUR", 2), ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2), ("GIP", 2), ("GMD", 2),
    ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2), ("HTG", 2), ("HUF", 2), ("IDR", 2),
    ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2), ("ISK", 0), ("JMD", 2), ("JOD", 3), ("JPY", 0),
    ("KES", 2), ("KGS", 2), ("KHR", 2), ("KMF", 0), ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2),
    ("KZT", 2), ("LAK", 2), ("LBP", 2), ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2),
    ("MDL", 2), ("MGA", 2), ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2),
    ("MVR", 2), ("MWK", 2), ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2), ("NIO", 2),
    ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2), ("PGK", 2), ("PHP", 2),
    ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2), ("RSD", 2), ("RUB", 2), ("RWF", 0),
    ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2), ("SEK", 2), ("SGD", 2), ("SHP", 2), ("SLE", 2),
    ("SOS", 2), ("SRD", 2), ("SSP", 2), ("STN", 2), ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2),
    ("TJS", 2), ("TMT", 2), ("TND", 3), ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2),
    ("UAH", 2), ("UGX", 0), ("USD", 2), ("UYU", 2), ("UZS", 2), ("VED", 2), ("VES", 2), ("VND", 0),
    ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2), ("XCG", 2), ("XOF", 0), ("XPF", 0), ("YER", 2),
    ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

/// Codes withdrawn from ISO 4217 that a counterparty may still send, with what replaced them
/// and the end of their legal tender (CLDR 49), so the refusal says what to use instead.
const WITHDRAWN: &[(&str, &str, &str)] = &[
    ("ANG", "XCG", "2025-06-30"),
    ("BGN", "EUR", "2026-01-31 (Bulgaria adopted the euro on 2026-01-01)"),
    ("CUC", "CUP", "2021-06-01"),
    ("HRK", "EUR", "2023-01-14"),
    ("LTL", "EUR", "2014-12-31"),
    ("MRO", "MRU", "2018-06-30"),
    ("SLL", "SLE", "2023-12-31"),
    ("STD", "STN", "2017-12-31"),
    ("VEF", "VES", "2018-08-20"),
    ("ZWL", "ZWG", "2024-08-31"),
];

/// A known ISO 4217 currency (three upper-case letters with a defined minor unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// Every code payments can be made in, in alphabetical order (e.g. for an API schema's
    /// enum).
    pub fn codes() -> impl Iterator<Item = &'static str> {
        CURRENCIES.iter().map(|(code, _)| *code)
    }

    /// Look up a code (exact, upper case). `None` for anything not in the ISO 4217 list.
    pub fn from_code(code: &str) -> Option<Self> {
        CURRENCIES
            .binary_search_by(|(c, _)| (*c).cmp(code))
            .ok()
            .map(|i| Currency { code: CURRENCIES[i].0, exponent: CURRENCIES[i].1 })
    }

    /// Like [`Currency::from_code`], as an error a caller can report; a withdrawn code says
    /// what replaced it.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        if let Some((_, by, until)) = WITHDRAWN.iter().find(|(c, _, _)| *c == code) {
            return Err(MoneyError::Withdrawn { code: code.to_string(), replaced_by: by, until });
        }
        Self::from_code(code).ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(8).collect()))
    }

    /// The currency of a chain `bytes3` code.
    pub fn from_bytes3(code: [u8; 3]) -> Result<Self, MoneyError> {
        match std::str::from_utf8(&code) {
            Ok(s) => Self::parse(s),
            Err(_) => Err(MoneyError::UnknownCurrency(format!("0x{}", hex::encode(code)))),
        }
    }

    /// The three-letter code.
    #[must_use]
    pub fn code(self) -> &'static str {
        self.code
    }

    /// Number of fraction digits (ISO 4217 minor unit).
    pub fn exponent(self) -> u8 {
        self.exponent
    }

    /// Render `minor` units as a decimal with exactly [`Currency::exponent`] fraction digits
    /// (`12345` USD → `"123.45"`, `5` JPY → `"5"`, `7` KWD → `"0.007"`).
    pub fn format_minor(self, minor: u128) -> String {
        let digits = minor.to_string();
        let exp = usize::from(self.exponent);
        if exp == 0 {
            return digits;
        }
        let padded =
            if digits.len() <= exp { format!("{}{digits}", "0".repeat(exp + 1 - digits.len())) } else { digits };
        let (int, frac) = padded.split_at(padded.len() - exp);
        format!("{int}.{frac}")
    }

    /// Parse a decimal that must carry exactly the currency's fraction digits (no sign, no
    /// exponent, no grouping) back into minor units. `"123.4"` for USD is refused: a bank
    /// message with the wrong precision is malformed, not roundable.
    pub fn parse_minor(self, text: &str) -> Result<u128, MoneyError> {
        let syntax = || MoneyError::Syntax(text.chars().take(48).collect());
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        if let Some(f) = frac
            && !f.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(syntax());
        }
        let frac_len = frac.map_or(0, str::len);
        if frac_len != usize::from(self.exponent) || (frac.is_some() && self.exponent == 0) {
            return Err(MoneyError::Precision {
                text: text.chars().take(48).collect(),
                currency: self.code.to_string(),
                exponent: self.exponent,
            });
        }
        let joined = format!("{int}{}", frac.unwrap_or(""));
        joined.parse::<u128>().map_err(|_| MoneyError::Overflow(text.chars().take(48).collect()))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// An amount in minor units of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units (cents for USD, yen for JPY, fils for KWD).
    pub minor: u128,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// `minor` units of `currency`.
    #[must_use]
    pub fn new(minor: u128, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// The decimal as ISO 20022 writes it (`InstdAmt`, `CtrlSum`).
    pub fn decimal(&self) -> String {
        self.currency.format_minor(self.minor)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ccy(code: &str) -> Currency {
        Currency::from_code(code).expect("known currency")
    }

    #[test]
    fn table_is_sorted_so_lookup_finds_every_code() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, exp) in CURRENCIES {
            assert_eq!(Currency::from_code(code).map(Currency::exponent), Some(*exp));
        }
    }

    #[test]
    fn the_table_is_current_new_codes_in_withdrawn_and_funds_codes_out() {
        // Added: the Caribbean guilder (2025) and the digital bolivar.
        assert_eq!(ccy("XCG").exponent(), 2);
        assert_eq!(ccy("VED").exponent(), 2);
        // Withdrawn: refused with what replaced them.
        for (code, by) in [("BGN", "EUR"), ("ANG", "XCG"), ("HRK", "EUR"), ("SLL", "SLE")] {
            let err = Currency::parse(code).expect_err(code);
            assert!(matches!(&err, MoneyError::Withdrawn { replaced_by, .. } if *replaced_by == by), "{err}");
            assert!(err.to_string().contains(by), "{err}");
        }
        // Funds codes, units of account and codes without a minor unit are not money one pays in.
        for code in ["CLF", "UYI", "UYW", "BOV", "CHE", "CHW", "COU", "MXV", "USN", "XDR", "XSU", "XUA", "XAU", "XTS"] {
            assert!(matches!(Currency::parse(code), Err(MoneyError::UnknownCurrency(_))), "{code}");
        }
    }

    #[test]
    fn exponents_follow_iso_4217() {
        for code in ["JPY", "KRW", "VND", "CLP", "ISK"] {
            assert_eq!(ccy(code).exponent(), 0, "{code}");
        }
        for code in ["BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"] {
            assert_eq!(ccy(code).exponent(), 3, "{code}");
        }
        for code in ["USD", "EUR", "GBP", "CNY", "SGD", "HKD"] {
            assert_eq!(ccy(code).exponent(), 2, "{code}");
        }
    }

    #[test]
    fn unknown_and_lower_case_codes_are_refused() {
        for code in ["usd", "XAU", "ABC", "", "USDX"] {
            assert!(Currency::from_code(code).is_none(), "{code}");
        }
    }

    #[test]
    fn renders_with_exactly_the_currency_exponent() {
        assert_eq!(ccy("USD").format_minor(12345), "123.45");
        assert_eq!(ccy("USD").format_minor(5), "0.05");
        assert_eq!(ccy("USD").format_minor(0), "0.00");
        assert_eq!(ccy("JPY").format_minor(5000), "5000");
        assert_eq!(ccy("KWD").format_minor(7), "0.007");
        assert_eq!(ccy("BHD").format_minor(1_000), "1.000");
    }

    #[test]
    fn parse_refuses_wrong_precision_signs_and_junk() {
        let usd = ccy("USD");
        for bad in ["123.4", "123.456", "123", "-1.00", "+1.00", "1e3", "1,000.00", " 1.00", ".50", "1.", "NaN"] {
            assert!(usd.parse_minor(bad).is_err(), "{bad}");
        }
        assert!(ccy("JPY").parse_minor("100.0").is_err());
        assert_eq!(ccy("JPY").parse_minor("100"), Ok(100));
        assert_eq!(ccy("KWD").parse_minor("0.007"), Ok(7));
    }

    #[test]
    fn parse_reports_overflow_rather_than_wrapping() {
        let huge = format!("{}0.00", u128::MAX);
        assert!(matches!(ccy("USD").parse_minor(&huge), Err(MoneyError::Overflow(_))));
    }

    proptest! {
        #[test]
        fn rendering_round_trips_for_every_amount(minor in any::<u128>(), i in 0..CURRENCIES.len()) {
            let c = ccy(CURRENCIES[i].0);
            let text = c.format_minor(minor);
            prop_assert_eq!(c.parse_minor(&text), Ok(minor));
            let frac = text.split_once('.').map_or(0, |(_, f)| f.len());
            prop_assert_eq!(frac, usize::from(c.exponent()));
        }
    }
}
