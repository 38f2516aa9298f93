//! tradechain-peer's tests: one binary, a module per feature.

mod directory;
mod envelope;
