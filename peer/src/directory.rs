//! Which nodes receive an order's private data.
//!
//! The Consortium's node directory (on chain) says which node each organisation chose to
//! serve it and which nodes the operator approved. Data goes to the nodes serving the
//! organisations entitled to it (the order's parties, their banks, the named carrier and
//! inspector; later a financier under a live consent), each once, never back to the node
//! that sends it, and to no other node: not a node no entitled organisation chose, not one
//! the operator has not approved, not one whose member is suspended.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::Address;

/// A node of the directory, as read from the Consortium contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryNode {
    /// Its id in the directory.
    pub id: u64,
    /// The member that runs it.
    pub owner: Address,
    /// Its peer endpoint.
    pub endpoint: String,
    /// Its X25519 public key.
    pub encryption_key: [u8; 32],
    /// Whether the operator approved it.
    pub approved: bool,
    /// Whether its owner is an active (registered, unsuspended) member.
    pub owner_active: bool,
}

/// The directory as one node sees it.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// Nodes by id.
    pub nodes: BTreeMap<u64, DirectoryNode>,
    /// The node each organisation chose (organisations that chose none are absent).
    pub node_of: BTreeMap<Address, u64>,
}

impl Directory {
    /// The nodes that must receive data `entitled` organisations may see, sent by node
    /// `sender`: each once, in id order.
    #[must_use]
    pub fn recipients(&self, entitled: &[Address], sender: u64) -> Vec<&DirectoryNode> {
        let ids: BTreeSet<u64> = entitled.iter().filter_map(|org| self.node_of.get(org).copied()).collect();
        ids.into_iter()
            .filter(|id| *id != sender)
            .filter_map(|id| self.nodes.get(&id))
            .filter(|n| n.approved && n.owner_active)
            .collect()
    }

    /// Whether node `node` serves any of `entitled`: a node receiving data for an order
    /// checks this before storing it (a payload for an order none of its organisations is
    /// party to is refused).
    #[must_use]
    pub fn serves_any(&self, node: u64, entitled: &[Address]) -> bool {
        entitled.iter().any(|org| self.node_of.get(org) == Some(&node))
    }
}
