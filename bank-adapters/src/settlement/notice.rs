//! What following a block range produces, shared by the modules that read it: the payments
//! this bank owes ([`DueNotice`]), the accounts they move money between ([`Account`]), and
//! everything one range records at once ([`Batch`]).

use std::fmt;

use alloy::primitives::{Address, U256};

use crate::outbox::{CoverChange, Instruction, Watch};
use crate::payment::ChargeBearer;
use tradechain_contracts::TradeOrders;
use tradechain_money::identifier::EndToEndId;

/// An account a transfer debits or credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Account {
    /// A member's account, from the directory (for the bank itself: its own account).
    Member(Address),
    /// The bank's escrow account, where earmarked funds are held.
    Escrow,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Member(a) => write!(f, "{a}"),
            Account::Escrow => f.write_str("the bank's escrow account"),
        }
    }
}

/// A payment the chain says this bank owes now.
pub(super) struct DueNotice {
    pub(super) end_to_end_id: EndToEndId,
    pub(super) kind: &'static str,
    pub(super) financing_id: Option<U256>,
    pub(super) order_id: U256,
    pub(super) milestone: i64,
    pub(super) attempt: u32,
    pub(super) payer: Address,
    pub(super) payee: Address,
    /// The account debited.
    pub(super) debtor: Account,
    /// The account credited.
    pub(super) creditor: Account,
    pub(super) amount: u128,
    pub(super) currency: [u8; 3],
    /// The requested execution date (unix seconds).
    pub(super) due_date: u64,
    pub(super) block: i64,
    pub(super) charges: ChargeBearer,
}

/// What the worker needs of an order: only fields fixed when it is proposed (an amendment
/// changes its details hash, latest shipment and expiry, never its parties, amount,
/// currency or charges), so they can be kept once read and never go stale. Its state, what
/// was paid and the like are always read from the chain when needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OrderTerms {
    pub(super) buyer: Address,
    pub(super) buyer_bank: Address,
    pub(super) seller_bank: Address,
    pub(super) amount: u128,
    pub(super) currency: [u8; 3],
    pub(super) charges: u8,
}

impl From<&TradeOrders::Order> for OrderTerms {
    fn from(o: &TradeOrders::Order) -> Self {
        OrderTerms {
            buyer: o.buyer,
            buyer_bank: o.buyerBank,
            seller_bank: o.sellerBank,
            amount: o.amount,
            currency: o.currency.0,
            charges: o.charges,
        }
    }
}

/// What one block range brings, recorded in one database transaction with the cursor.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) instructions: Vec<Instruction>,
    pub(super) watches: Vec<Watch>,
    pub(super) covers: Vec<CoverChange>,
    /// The chain's time at the end of the range (unix seconds).
    pub(super) now: u64,
    /// The terms of the orders the range's events name (`None`: not this bank's to see).
    pub(super) orders: std::collections::HashMap<U256, Option<OrderTerms>>,
    /// The stored covers of the orders whose payments the range brings, read together before
    /// its events are (`None`: this bank covers none on that order).
    pub(super) stored_covers: std::collections::HashMap<String, Option<crate::outbox::cover::Model>>,
    /// This bank's execution date of a payment due on a given day (unix day number).
    pub(super) execution_dates: std::collections::HashMap<u64, u64>,
}
