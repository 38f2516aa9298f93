//! Validation at the edge: every rule the API checks before anything is signed or written
//! (ISO 4217 currency, Incoterms 2020, positive amounts in minor units, milestones that
//! cover exactly 100%, dates in order, IBAN/BIC, addresses, document types).

use alloy::primitives::Address;
use tradechain_contracts::DocType;
use tradechain_money::identifier::{Bic, Iban};
use tradechain_money::money::Currency;

use crate::error::ApiError;

/// The minor-unit exponent of an ISO 4217 currency, or `INVALID_CURRENCY`. The list
/// itself lives in `tradechain_money::money`, shared with the payment rails.
pub(crate) fn currency_exponent(code: &str) -> Result<u32, ApiError> {
    Currency::parse(code).map(|c| u32::from(c.exponent())).map_err(|e| match e {
        // A withdrawn code says what replaced it.
        tradechain_money::money::MoneyError::Withdrawn { .. } => {
            ApiError::validation("INVALID_CURRENCY", e.to_string())
        }
        _ => ApiError::validation("INVALID_CURRENCY", format!("{code:?} is not an ISO 4217 currency code")),
    })
}

/// The eleven Incoterms 2020 rules (DAT is gone since 2020; DPU replaced it).
pub(crate) const INCOTERMS_2020: &[&str] =
    &["EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF"];

pub(crate) fn incoterm(code: &str) -> Result<(), ApiError> {
    if INCOTERMS_2020.contains(&code) {
        Ok(())
    } else {
        Err(ApiError::validation("INVALID_INCOTERM", format!("{code:?} is not an Incoterms 2020 rule")))
    }
}

/// The largest order amount, in minor units: ISO 20022 amounts have at most 18 digits
/// (`totalDigits` 18), so a larger order could never be paid. The contract's `MAX_AMOUNT`.
pub(crate) const MAX_ORDER_AMOUNT: u128 = 999_999_999_999_999_999;

/// Who bears the charges (`shared`, `debtor`, `creditor`; default `shared`).
pub(crate) fn charges(text: Option<&str>) -> Result<tradechain_contracts::Charges, ApiError> {
    let text = text.unwrap_or("shared");
    tradechain_contracts::Charges::parse(text).ok_or_else(|| {
        ApiError::validation("VALIDATION_FAILED", format!("charges {text:?}: expected shared, debtor or creditor"))
    })
}

/// How the buyer's bank covers its undertaking (`bank_risk`, `earmark`; default `bank_risk`).
pub(crate) fn cover(text: Option<&str>) -> Result<tradechain_contracts::Cover, ApiError> {
    let text = text.unwrap_or("bank_risk");
    tradechain_contracts::Cover::parse(text).ok_or_else(|| {
        ApiError::validation("VALIDATION_FAILED", format!("cover {text:?}: expected bank_risk or earmark"))
    })
}

/// A positive amount in minor units, given as a decimal string.
pub(crate) fn amount(field: &str, text: &str) -> Result<u128, ApiError> {
    let bad =
        || ApiError::validation("INVALID_AMOUNT", format!("{field} must be a positive integer string of minor units"));
    if text.is_empty() || text.len() > 38 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u128>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(v) => Ok(v),
    }
}

/// `amount` rendered with the currency's exponent, e.g. 10000000 USD → "100000.00".
pub(crate) fn render(amount: &str, currency: &str) -> String {
    match (Currency::parse(currency), amount.parse::<u128>()) {
        (Ok(c), Ok(minor)) => c.format_minor(minor),
        _ => amount.to_string(),
    }
}

pub(crate) fn address(field: &str, text: &str) -> Result<Address, ApiError> {
    if !(text.len() == 42 && text.starts_with("0x")) {
        return Err(ApiError::validation(
            "INVALID_ADDRESS",
            format!("{field}: expected a 0x-prefixed 20-byte address"),
        ));
    }
    text.parse().map_err(|_| ApiError::validation("INVALID_ADDRESS", format!("{field}: not a valid address")))
}

pub(crate) fn doc_type(text: &str) -> Result<DocType, ApiError> {
    DocType::parse(text).ok_or_else(|| {
        let names: Vec<&str> = DocType::ALL.iter().map(|d| d.as_str()).collect();
        ApiError::validation("INVALID_DOCUMENT_TYPE", format!("{text:?}: expected one of {}", names.join(", ")))
    })
}

/// Unix seconds of the end (23:59:59 UTC) of an ISO 8601 date `YYYY-MM-DD`.
pub(crate) fn date_end(field: &str, text: &str) -> Result<u64, ApiError> {
    let d = iso_date(text)
        .ok_or_else(|| ApiError::validation("INVALID_DATES", format!("{field}: expected a date YYYY-MM-DD")))?;
    let ts = d.and_hms_opt(23, 59, 59).map_or(0, |t| t.and_utc().timestamp());
    u64::try_from(ts).map_err(|_| ApiError::validation("INVALID_DATES", format!("{field}: before 1970")))
}

/// An ISO 8601 calendar date written exactly `YYYY-MM-DD`, years 1970 to 9999. chrono's
/// `%Y` also takes a sign and more digits (`+10000-01-01`), which no trade document carries
/// and the schema does not allow.
pub(crate) fn iso_date(text: &str) -> Option<chrono::NaiveDate> {
    let b = text.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    (chrono::Datelike::year(&d) >= 1970).then_some(d)
}

/// Unix seconds of the start (00:00:00 UTC) of an ISO 8601 date `YYYY-MM-DD`.
pub(crate) fn date_start(field: &str, text: &str) -> Result<u64, ApiError> {
    Ok(date_end(field, text)? - 86_399)
}

/// A list of ISO 8601 dates as day numbers (unix seconds / 1 day).
pub(crate) fn days(field: &str, texts: &[String]) -> Result<Vec<u32>, ApiError> {
    texts
        .iter()
        .map(|t| {
            let day = date_start(field, t)? / 86_400;
            u32::try_from(day)
                .map_err(|_| ApiError::validation("INVALID_DATES", format!("{field}: {t} is out of range")))
        })
        .collect()
}

/// An ISO 20022 external status reason code (`AM04`, `AC04`, …): four upper-case letters or
/// digits, as the contract checks.
pub(crate) fn reason_code(text: &str) -> Result<[u8; 4], ApiError> {
    let b = text.as_bytes();
    if b.len() != 4 || !b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return Err(ApiError::validation(
            "INVALID_REASON_CODE",
            "reason_code: an ISO 20022 status reason code, four upper-case letters or digits (e.g. AM04)",
        ));
    }
    Ok([b[0], b[1], b[2], b[3]])
}

/// Latest shipment in the future, expiry not before it.
pub(crate) fn dates(latest_shipment: u64, expiry: u64, now: u64) -> Result<(), ApiError> {
    if latest_shipment <= now {
        return Err(ApiError::validation("INVALID_DATES", "latest_shipment must be in the future"));
    }
    if expiry < latest_shipment {
        return Err(ApiError::validation("INVALID_DATES", "expiry must not be before latest_shipment"));
    }
    Ok(())
}

/// IBAN (ISO 13616): country letters, check digits, mod-97 = 1 (`bank_adapters::identifier`).
pub(crate) fn iban(text: &str) -> Result<String, ApiError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    Iban::parse(&compact)
        .map(|i| i.as_str().to_string())
        .map_err(|_| ApiError::validation("INVALID_BANK_ACCOUNT", format!("{text:?} is not a valid IBAN")))
}

/// BIC (ISO 9362): 8 or 11 characters (`bank_adapters::identifier`).
pub(crate) fn bic(text: &str) -> Result<String, ApiError> {
    Bic::parse(&text.trim().to_ascii_uppercase())
        .map(|b| b.as_str().to_string())
        .map_err(|_| ApiError::validation("INVALID_BANK_ACCOUNT", format!("{text:?} is not a valid BIC")))
}

/// A free-text reason for the chain (1..=280 bytes).
pub(crate) fn reason(text: &str) -> Result<(), ApiError> {
    if text.trim().is_empty() || text.len() > 280 {
        return Err(ApiError::validation("VALIDATION_FAILED", "reason must be 1 to 280 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exactly_yyyy_mm_dd_from_1970_to_9999() {
        assert!(iso_date("2026-11-30").is_some());
        assert!(iso_date("9999-12-31").is_some());
        assert!(iso_date("1970-01-01").is_some());
        for bad in [
            "+10000-01-01",
            "10000-01-01",
            "-2026-01-01",
            "+2026-01-01",
            "2026-1-01",
            "2026-02-30",
            "1969-12-31",
            "2026-11-30T00:00",
            " 2026-11-30",
        ] {
            assert!(iso_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn edge_rules() {
        assert_eq!(currency_exponent("JPY").expect("jpy"), 0);
        assert!(currency_exponent("XYZ").is_err());
        assert!(incoterm("DAT").is_err());
        assert!(incoterm("DPU").is_ok());
        assert!(amount("a", "0").is_err());
        assert!(amount("a", "-1").is_err());
        assert_eq!(amount("a", "10000000").expect("amount"), 10_000_000);
        assert_eq!(render("10000000", "USD"), "100000.00");
        assert_eq!(render("5", "KWD"), "0.005");
        assert_eq!(render("5", "JPY"), "5");
        assert!(iban("DE89 3704 0044 0532 0130 00").is_ok());
        assert!(iban("DE89 3704 0044 0532 0130 01").is_err());
        assert!(bic("DEUTDEFF").is_ok());
        assert!(bic("DEUTDEFF500").is_ok());
        assert!(bic("DEUT1EFF").is_err());
    }
}
