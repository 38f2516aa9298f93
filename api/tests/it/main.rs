//! The API's tests, over real HTTP on loopback against the embedded node (SQLite and
//! PostgreSQL read models) or a Hardhat network: whole trades, financing, consents and
//! credit profiles, authenticity, live events, remote backends, and the OpenAPI document.
//! One test binary, a module per feature.

mod authenticity;
mod credit;
mod financier_errors;
mod financing;
mod hardening;
mod holiday;
mod keys;
mod live;
mod members_only;
mod openapi;
mod readmodel;
mod registry;
mod remote;
mod tokens;
mod trade;
