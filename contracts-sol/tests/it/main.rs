//! The contract suite's tests: every contract's transitions and reverts executed from the
//! committed bytecode in revm, the money invariants as properties, and the artifacts
//! checked against the sources. One test binary, a module per feature.

mod artifacts;
mod attacks;
mod batch;
mod consents;
mod consortium;
mod fuzz;
mod invariants;
mod need_to_know;
mod orders;
mod receivables;
mod rules;
