//! tradechain-money: the money and the banking identifiers that the API, the settlement
//! worker and the bank adapters share.
//!
//! Amounts are integers in minor units of an ISO 4217 currency ([`money::Money`],
//! [`money::Currency`]), rendered and parsed with exactly the currency's fraction digits;
//! accounts and banks are ISO 13616 IBANs ([`identifier::Iban`]) and ISO 9362 BICs
//! ([`identifier::Bic`]); a payment instruction's idempotency key is its ISO 20022
//! EndToEndId ([`identifier::EndToEndId`], derived by [`identifier::end_to_end_id`]).
//!
//! What this crate must never do: use floating point for money, accept an identifier that
//! does not have its standard's shape, or depend on any other tradechain crate (it is the
//! bottom of the stack, so both sides of a payment agree on these types).

pub mod identifier;
pub mod money;
mod registry;
