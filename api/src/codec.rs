//! How the API writes chain values as text: addresses in lower-case hex (the read model's
//! form), `bytes3` codes (currency, Incoterm) as letters, unix seconds as UTC dates.
//!
//! The lowest module of the crate: the indexer, authorization and every route use it, and
//! it uses nothing of theirs.

use alloy::primitives::Address;

/// Lower-case 0x hex of an address, the read model's form.
pub(crate) fn addr(a: &Address) -> String {
    format!("0x{}", hex::encode(a.as_slice()))
}

/// A bytes3 code (currency, Incoterm) as text.
pub(crate) fn bytes3_str(b: &[u8; 3]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Unix seconds as a UTC date.
pub(crate) fn date_of(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

/// A chain integer as the read model's `BIGINT`: values past `i64::MAX` (never met for block
/// numbers, timestamps and ids, but a remote network is not trusted) saturate rather than
/// wrap into negatives.
pub(crate) fn i64_of(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

/// A chain integer as the read model's `INTEGER`, saturating like [`i64_of`].
pub(crate) fn i32_of(v: impl TryInto<i32>) -> i32 {
    v.try_into().unwrap_or(i32::MAX)
}
