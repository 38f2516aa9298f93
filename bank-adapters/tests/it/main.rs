//! The bank adapters' tests: settlement end to end against the embedded chain and the
//! sandbox bank in its own process (whole trades, bank faults, crashes of the worker), on a
//! Hardhat network that charges gas, the outbox on SQLite and PostgreSQL, and the webhook
//! rails. One test binary, a module per feature.

mod bank_faults;
mod crash_recovery;
mod examination;
mod hardhat;
mod outbox;
mod sandbox_bank;
mod statuses;
mod undertaking;
mod value_dates;
mod webhook;
mod whole_trade;
