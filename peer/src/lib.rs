//! Private data between the member nodes of a consortium.
//!
//! Each member runs its own node; an order's off-chain data (its details, its documents)
//! must reach the nodes of the organisations entitled to it, and no other. This crate is
//! what travels: [`envelope`] seals a payload from one node to another (HPKE, RFC 9180,
//! in its authenticated mode, so the recipient knows which node of the directory sent it)
//! bound to what it is about, and opens it only if it is exactly the content whose hash is
//! anchored on chain; [`directory`] says which nodes an order's data goes to.

pub mod directory;
pub mod envelope;
