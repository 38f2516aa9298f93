//! Which nodes receive an order's private data.
//!
//! The Consortium's node directory (on chain) says which node each organisation chose to
//! serve it and which nodes the operator approved. Data goes to the nodes serving the
//! organisations entitled to it (the order's parties, their banks, the named carrier and
//! inspector; later a financier under a live consent), each once, never back to the node
//! that sends it, and to no other node: not a node no entitled organisation chose, not one
//! the operator has not approved, not one whose member is suspended.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{Address, U256};
use tradechain_chain::{Chain, ChainError, call_sol};
use tradechain_contracts::{Consortium, role};

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
    /// The organisations whose choice was read (chosen or not).
    pub asked: BTreeSet<Address>,
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

    /// A node that may send and receive: approved, its member active.
    #[must_use]
    pub fn live(&self, node: u64) -> Option<&DirectoryNode> {
        self.nodes.get(&node).filter(|n| n.approved && n.owner_active)
    }

    /// The live node whose key is `encryption_key` (the node a process finds itself by);
    /// the newest, should its member have registered it twice.
    #[must_use]
    pub fn node_with_key(&self, encryption_key: &[u8; 32]) -> Option<u64> {
        self.nodes
            .values()
            .rev()
            .find(|n| n.encryption_key == *encryption_key && n.approved && n.owner_active)
            .map(|n| n.id)
    }

    /// Read the choices of those of `organisations` not asked yet.
    ///
    /// # Errors
    /// The chain's, or a node id past what fits a `u64`.
    pub async fn learn_choices(
        &mut self,
        chain: &dyn Chain,
        consortium: Address,
        organisations: &[Address],
    ) -> Result<(), ChainError> {
        for &organisation in organisations {
            if !self.asked.insert(organisation) {
                continue;
            }
            let chosen = call_sol(chain, Address::ZERO, consortium, &Consortium::nodeOfCall { organisation }).await?;
            let chosen = u64::try_from(chosen).map_err(|_| ChainError::Unavailable("node id out of range".into()))?;
            if chosen != 0 {
                self.node_of.insert(organisation, chosen);
            }
        }
        Ok(())
    }
}

/// Read the directory from the chain: every node, its owner's standing, and the choice of
/// each of `organisations` (those an order's data concerns). The views are public: every
/// node must know where each party is served.
///
/// # Errors
/// The chain's, or a node id past what fits a `u64`.
pub async fn load(chain: &dyn Chain, consortium: Address, organisations: &[Address]) -> Result<Directory, ChainError> {
    let mut directory = load_nodes(chain, consortium).await?;
    directory.learn_choices(chain, consortium, organisations).await?;
    Ok(directory)
}

/// Read every node of the directory and its owner's standing, no organisation's choice yet
/// ([`Directory::learn_choices`] adds them as they are needed).
///
/// # Errors
/// The chain's, or a node id past what fits a `u64`.
pub async fn load_nodes(chain: &dyn Chain, consortium: Address) -> Result<Directory, ChainError> {
    let out_of_range = |what: &str| ChainError::Unavailable(format!("{what} out of range"));
    let count = call_sol(chain, Address::ZERO, consortium, &Consortium::nodeCountCall {}).await?;
    let count = u64::try_from(count).map_err(|_| out_of_range("node count"))?;
    let mut directory = Directory::default();
    for id in 1..=count {
        let n = call_sol(chain, Address::ZERO, consortium, &Consortium::nodeCall { nodeId: U256::from(id) }).await?;
        let owner_active =
            call_sol(chain, Address::ZERO, consortium, &Consortium::hasRoleCall { account: n.owner, role: role::ALL })
                .await?;
        directory.nodes.insert(
            id,
            DirectoryNode {
                id,
                owner: n.owner,
                endpoint: n.endpoint,
                encryption_key: n.encryptionKey.0,
                approved: n.approved,
                owner_active,
            },
        );
    }
    Ok(directory)
}
