//! Order proposals as `POST /v1/orders` takes them.

use serde_json::{Value, json};

/// A date `days` after the test's day 0 ([`crate::clock::day0`], where its chain's clock
/// starts), YYYY-MM-DD; negative for the past.
#[must_use]
pub fn date_in(days: i64) -> String {
    let day0 = i64::try_from(crate::clock::day0()).expect("a date in range");
    let ts = day0 + days * 86_400;
    chrono::DateTime::from_timestamp(ts, 0).expect("a date in range").format("%Y-%m-%d").to_string()
}

/// A date `days` after the unix time `now`, YYYY-MM-DD (for a chain whose clock moved).
#[must_use]
pub fn date_after(now: u64, days: u64) -> String {
    let ts = i64::try_from(now + days * 86_400).expect("a date in range");
    chrono::DateTime::from_timestamp(ts, 0).expect("a date in range").format("%Y-%m-%d").to_string()
}

/// A proposal of USD 100,000.00 FOB to `seller`, shipment within 30 days, expiry in 60,
/// one milestone paying all at sight against `documents`. Tests change fields in place.
#[must_use]
pub fn order(seller: &str, buyer_bank: &str, seller_bank: &str, documents: &[&str]) -> Value {
    json!({
        "seller": seller, "buyer_bank": buyer_bank, "seller_bank": seller_bank,
        "amount_minor": "10000000", "currency": "USD", "incoterm": "FOB",
        "latest_shipment": date_in(30), "expiry": date_in(60),
        "milestones": [{ "share_bps": 10000, "documents": documents, "tenor_days": 0 }]
    })
}

/// A signed-call order proposal as the benches and tests send it straight to a node: one
/// milestone at sight against the commercial invoice, `amount` USD FOB, shared charges,
/// shipment within 30 days and expiry in 60 of the chain time `now`; `n` makes its
/// details hash its own.
#[must_use]
pub fn proposal(
    seller: alloy::primitives::Address,
    buyer_bank: alloy::primitives::Address,
    seller_bank: alloy::primitives::Address,
    amount: u128,
    now: u64,
    n: u64,
) -> tradechain_contracts::TradeOrders::proposeCall {
    use alloy::primitives::{Address, FixedBytes, keccak256};
    use tradechain_contracts::TradeOrders;
    TradeOrders::proposeCall {
        t: TradeOrders::OrderTerms {
            seller,
            buyerBank: buyer_bank,
            sellerBank: seller_bank,
            carrier: Address::ZERO,
            inspector: Address::ZERO,
            amount,
            currency: FixedBytes::from_slice(b"USD"),
            incoterm: FixedBytes::from_slice(b"FOB"),
            detailsHash: keccak256(n.to_be_bytes()),
            latestShipment: now + 30 * 86_400,
            expiry: now + 60 * 86_400,
            examinationDays: 0,
            charges: tradechain_contracts::Charges::Shared as u8,
        },
        terms: vec![TradeOrders::MilestoneTerms { shareBps: 10_000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }],
    }
}
