//! tradechain's contract suite: the compiled Solidity artifacts and typed bindings.
//!
//! The Solidity sources live in `contracts/`; `npm run compile` turns them into the JSON
//! artifacts in `artifacts/`, which are committed, so building this crate never needs a
//! Solidity compiler. The `sol!` bindings below are generated from those artifacts at
//! build time, so the Rust types can never drift from the deployed bytecode.
//!
//! This crate must never execute anything or talk to a chain: it is data and types that
//! the engine, the API and the bank adapters share.
//!
//! Main items: the contract bindings ([`Consortium`], [`TradeOrders`], [`Receivables`],
//! [`Consents`]), [`genesis::plan`] (how a chain deploys the suite),
//! [`revert::decode`] (a revert's custom error as a stable code and a readable message),
//! and the domain constants mirrored from Solidity ([`role`], [`DocType`], [`OrderState`],
//! [`MilestoneState`]).

// The generated event and call structs take as many arguments as the Solidity signatures have.
#![allow(clippy::too_many_arguments)]

pub mod genesis;
pub mod revert;
mod terms;

pub use terms::{Charges, Cover, DocState, DocType, FinancingState, MilestoneState, OrderState, role};

// Each binding allows `missing_docs`: it is generated from an ABI artifact, which carries no
// doc comments; the documentation lives in the Solidity sources in `contracts/`.
alloy::sol!(
    #[allow(missing_docs)]
    #[derive(Debug, PartialEq, Eq)]
    Consortium,
    "artifacts/Consortium.json"
);

alloy::sol!(
    #[allow(missing_docs)]
    #[derive(Debug, PartialEq, Eq)]
    TradeOrders,
    "artifacts/TradeOrders.json"
);

alloy::sol!(
    #[allow(missing_docs)]
    #[derive(Debug, PartialEq, Eq)]
    Receivables,
    "artifacts/Receivables.json"
);

impl Receivables::NearKeys {
    /// No near-duplicate keys: the offer records none (the contract skips a zero key).
    pub const NONE: Self = Self {
        key: alloy::primitives::B256::ZERO,
        amount: alloy::primitives::B256::ZERO,
        date: alloy::primitives::B256::ZERO,
        buyer: alloy::primitives::B256::ZERO,
    };
}

alloy::sol!(
    #[allow(missing_docs)]
    #[derive(Debug, PartialEq, Eq)]
    Consents,
    "artifacts/Consents.json"
);

alloy::sol!(
    #[allow(missing_docs)]
    #[derive(Debug, PartialEq, Eq)]
    TradechainErrors,
    "artifacts/TradechainErrors.json"
);

/// The artifact JSON of each deployable contract, as committed (ABI and bytecode).
pub mod artifacts {
    /// `Consortium`: membership, roles and suspension.
    pub const CONSORTIUM: &str = include_str!("../artifacts/Consortium.json");
    /// `TradeOrders`: orders, milestones, documents and payment release.
    pub const TRADE_ORDERS: &str = include_str!("../artifacts/TradeOrders.json");
    /// `Receivables`: receivables and payables finance, and the fingerprint registry.
    pub const RECEIVABLES: &str = include_str!("../artifacts/Receivables.json");
    /// `Consents`: a firm's grants, declines and revocations of financiers' access.
    pub const CONSENTS: &str = include_str!("../artifacts/Consents.json");
    /// Every custom error any contract of the suite can raise.
    pub const ERRORS: &str = include_str!("../artifacts/TradechainErrors.json");
}
