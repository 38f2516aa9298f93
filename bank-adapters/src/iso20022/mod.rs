//! ISO 20022 messages the ISO adapter and the sandbox bank exchange:
//! [`pain001`] (customer credit transfer initiation, out), [`pain002`] (payment status
//! report, back) and [`camt054`] (debit/credit notification, back).
//!
//! Every message is written element by element in the schema's sequence order with
//! `quick-xml`, and every message read back is checked against the structure of the
//! standard before anything acts on it: namespace, required elements, element order,
//! identifier formats (IBAN, BIC, `Max35Text` ids) and amount precision by currency.
//! Input a real bank would never send (DOCTYPE, entities, oversize, foreign namespaces) is
//! refused as hostile.

pub mod camt054;
pub(crate) mod pain001;
pub(crate) mod pain002;
pub(crate) mod xml;

#[cfg(test)]
mod schema_tests;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use tradechain_money::identifier::IdentifierError;
use tradechain_money::money::{Currency, Money, MoneyError};

/// Namespace of pain.001.001.09.
pub(crate) const PAIN_001_NS: &str = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09";
/// Namespace of pain.002.001.10, the status report that answers pain.001.001.09.
pub(crate) const PAIN_002_NS: &str = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10";
/// Namespace of camt.054.001.08.
pub(crate) const CAMT_054_NS: &str = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08";

/// Why a message could not be written or was refused on reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not well-formed XML (unbalanced tags, bad encoding, text outside the root).
    #[error("malformed XML: {0}")]
    Xml(String),
    /// Something no bank sends and attackers do: DOCTYPE, undeclared entities, processing
    /// instructions, oversize or over-deep input.
    #[error("hostile XML refused: {0}")]
    Hostile(String),
    /// An element outside the message's ISO 20022 namespace.
    #[error("element {element} is not in namespace {expected}")]
    Namespace {
        /// Local name of the offending element.
        element: String,
        /// The namespace the message must use, e.g. `urn:iso:std:iso:20022:tech:xsd:pain.002.001.10`.
        expected: String,
    },
    /// A required element is absent or empty (its path is given).
    #[error("required element missing: {0}")]
    Missing(String),
    /// Children out of the schema's sequence order.
    #[error("element {element} out of schema order inside {parent}")]
    Order {
        /// The element whose children are out of order.
        parent: String,
        /// The first child found out of order.
        element: String,
    },
    /// A value breaks the schema or disagrees with the instruction (length, code list,
    /// EndToEndId, amount).
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The element or attribute, by its ISO 20022 tag or path (e.g. `OrgnlTxRef/Amt`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An amount that is not valid for its currency (unknown ISO 4217 code, wrong number of
    /// decimals).
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// A malformed IBAN, BIC or EndToEndId.
    #[error(transparent)]
    Identifier(#[from] IdentifierError),
    /// The XML writer failed (unbalanced elements, I/O): a bug here, not bad input.
    #[error("cannot write message: {0}")]
    Write(String),
}

impl MessageError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        MessageError::Invalid { field, reason: reason.into() }
    }
}

/// `Max35Text` / `Max140Text`: 1..=max characters.
pub(crate) fn max_text(field: &'static str, value: &str, max: usize) -> Result<(), MessageError> {
    let n = value.chars().count();
    if n == 0 || n > max {
        return Err(MessageError::invalid(field, format!("must be 1 to {max} characters, got {n}")));
    }
    Ok(())
}

/// An `ActiveOrHistoricCurrencyAndAmount`: the `Ccy` attribute must be a known ISO 4217
/// code and the value must carry exactly that currency's number of decimals.
pub(crate) fn read_amount(el: &xml::Element) -> Result<Money, MessageError> {
    let code = el.attr("Ccy").ok_or_else(|| MessageError::Missing(format!("{}/@Ccy", el.name)))?;
    let currency = Currency::parse(code)?;
    let minor = currency.parse_minor(el.text.trim())?;
    Ok(Money::new(minor, currency))
}

pub(crate) fn iso_datetime(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn parse_datetime(field: &'static str, s: &str) -> Result<DateTime<Utc>, MessageError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| MessageError::invalid(field, format!("not an ISO date-time: {e}")))
}

pub(crate) fn parse_date(field: &'static str, s: &str) -> Result<NaiveDate, MessageError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| MessageError::invalid(field, format!("not an ISO date: {e}")))
}
