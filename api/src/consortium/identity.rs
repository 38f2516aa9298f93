//! This node's place in the consortium: its encryption key (made at its first start, kept
//! sealed under the master key in the read model, so every API process of the node holds
//! the same one) and, once a member registered it and the operator approved it, its id in
//! the Consortium's node directory, which the node finds by its own key: a node never
//! claims an id, the directory says which one is keyed to it.

use std::sync::Arc;

use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use tradechain_peer::directory::{self, Directory};
use tradechain_peer::envelope::NodeKey;

use crate::error::{ApiError, ApiResult};
use crate::keystore::Keystore;
use crate::readmodel::node_key;
use crate::{AppState, StartError};

/// Binds the sealed secret to its use: a custodial key's ciphertext does not open as it.
const LABEL: &[u8] = b"tradechain node encryption key";

/// This node's key: the one kept in the read model, or a new one kept there now (if two
/// processes start at once, both end with the one that was stored first).
///
/// # Errors
/// The read model's, or a kept key the master key does not open.
pub(crate) async fn load_or_create(db: &impl ConnectionTrait, keystore: &Keystore) -> Result<Arc<NodeKey>, StartError> {
    if node_key::Entity::find_by_id(1).one(db).await?.is_none() {
        let fresh = NodeKey::generate().map_err(|e| StartError::Keys(format!("node key: {e}")))?;
        let sealed = keystore
            .seal_secret(LABEL, &fresh.secret_bytes())
            .map_err(|e| StartError::Keys(format!("node key: {e}")))?;
        let row = node_key::ActiveModel {
            id: Set(1),
            sealed: Set(sealed),
            public_key: Set(format!("0x{}", hex::encode(fresh.public_bytes()))),
            created_at: Set(chrono::Utc::now().timestamp()),
        };
        // Another process may have stored its key first: that one is kept, read below.
        let _ = node_key::Entity::insert(row).exec_without_returning(db).await;
    }
    let row = node_key::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| StartError::Keys("node key: not stored".into()))?;
    let secret = keystore
        .open_secret(LABEL, &row.sealed)
        .map_err(|_| StartError::Keys("the master key does not open this node's encryption key".into()))?;
    let key = NodeKey::from_secret(&secret).map_err(|e| StartError::Keys(format!("node key: {e}")))?;
    Ok(Arc::new(key))
}

/// The directory as read now, and this node's id in it.
pub(crate) struct Peers {
    /// Every node; organisations' choices are learnt as needed.
    pub(crate) directory: Directory,
    /// This node's id.
    pub(crate) me: u64,
}

/// The directory, if this node is in it (registered, approved, its member active); `None`
/// on a node that has not joined a consortium of nodes, which then delivers nothing and
/// takes no delivery.
///
/// # Errors
/// `CHAIN_UNAVAILABLE` when the chain does not answer.
pub(crate) async fn peers(state: &AppState) -> ApiResult<Option<Peers>> {
    let directory = directory::load_nodes(state.chain.as_ref(), state.suite.consortium)
        .await
        .map_err(|e| ApiError::unavailable(format!("node directory: {e}")))?;
    Ok(directory.node_with_key(&state.node_key.public_bytes()).map(|me| Peers { directory, me }))
}
