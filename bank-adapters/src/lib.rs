//! tradechain-bank-adapters: what a partner bank runs so that payments release themselves
//! when an order's terms are met, with no one chasing them and no payment lost or made twice.
//!
//! A [`settlement::SettlementWorker`] per bank follows the chain through its Ethereum
//! JSON-RPC interface ([`tradechain_chain::Chain`]; the embedded node or any EVM network),
//! releases the bank's milestones when they fall due, records every `PaymentDue` addressed
//! to the bank in a durable [`outbox::Outbox`] (sea-orm; SQLite by default, PostgreSQL
//! supported) under an idempotency key that is also the ISO 20022 EndToEndId
//! ([`tradechain_money::identifier::EndToEndId`]), pays it through the bank's [`rails::Rails`], and confirms it
//! on chain with the bank's key (`confirmPayment`, or `failPayment` on a rejection).
//!
//! Rails: [`iso20022_http::IsoHttpRails`] (pain.001.001.09 out; pain.002 and camt.054 back,
//! built and checked by [`iso20022`]) and [`webhook::WebhookRails`] (HMAC-signed JSON). The
//! [`sandbox`] bank is a separate process with a double-entry ledger and fault switches that
//! speaks the ISO adapter's protocol (`sandbox-bank` binary, `tradechain sandbox-bank`).
//!
//! What this crate must never do:
//! - send a payment instruction that is not durably recorded first, or send one again
//!   without first asking the bank for its status by EndToEndId;
//! - mark a payment settled before the chain shows it confirmed;
//! - act on a bank answer it cannot fully check (malformed, hostile, another EndToEndId,
//!   another amount): such an instruction is parked for a person, never resent;
//! - use floating point for money ([`tradechain_money::money`] renders minor units exactly);
//! - import anything from a crate above it (api, scenarios).
//!
//! Main types: [`settlement::SettlementWorker`], [`outbox::Outbox`], [`rails::Rails`],
//! [`payment::CreditTransfer`], [`payment::RailStatus`], [`party::PartyDirectory`],
//! [`config::BankSettings`] (a worker from configuration), [`sandbox::run`].

pub mod config;
pub mod iso20022;
pub mod iso20022_http;
pub mod outbox;
pub mod party;
pub mod payment;
pub mod rails;
pub mod sandbox;
pub mod settlement;
pub mod webhook;
