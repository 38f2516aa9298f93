//! A consortium of member nodes: each member runs its own node, and an order's private
//! data (its details, its documents) travels from the node where it is written to the
//! nodes of the organisations entitled to it, sealed to each (HPKE, `tradechain-peer`),
//! checked against the hash on chain on arrival, and to no other node.
//!
//! - [`identity`]: this node's encryption key and its id in the Consortium's directory;
//! - [`item`]: who is entitled to an item, whether the chain anchors it, where it is kept;
//! - [`wire`]: what travels between peer endpoints;
//! - [`outbox`]: the planner and the sender (durable, retried, idempotent by content);
//! - [`endpoint`]: the peer endpoint, on its own listener, that receives and answers;
//! - [`fetch`]: asking an entitled peer for an item this node lacks;
//! - [`node`]: the directory through REST (register, approve, revoke, choose, read).

pub(crate) mod endpoint;
pub(crate) mod fetch;
pub(crate) mod identity;
pub(crate) mod item;
pub(crate) mod node;
pub(crate) mod outbox;
pub(crate) mod wire;
