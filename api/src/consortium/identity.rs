//! This node's place in the consortium: its encryption keys (the first made at its first
//! start, each kept sealed under the master key in the read model, so every API process of
//! the node holds the same ones; a rotation adds a newer one) and, once a member registered it and the operator approved it, its id in
//! the Consortium's node directory, which the node finds by its own key: a node never
//! claims an id, the directory says which one is keyed to it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use tradechain_peer::directory::{self, Directory};
use tradechain_peer::envelope::NodeKey;

use crate::error::{ApiError, ApiResult};
use crate::keystore::Keystore;
use crate::readmodel::{event, node_key};
use crate::{AppState, StartError};

/// Binds the sealed secret to its use: a custodial key's ciphertext does not open as it.
const LABEL: &[u8] = b"tradechain node encryption key";

/// This node's keys, each version sealed in `node_keys`; the newest is the one it registers.
/// Older ones are kept: a delivery sealed to the key the node had a moment ago (by a peer
/// that read the directory before a rotation) still opens. Opened keys are cached here;
/// the versions are read from the read model each time, so a rotation by another process
/// of the node is seen at once.
#[derive(Default)]
pub(crate) struct NodeKeys {
    opened: Mutex<BTreeMap<i32, Arc<NodeKey>>>,
}

impl NodeKeys {
    /// Every key of this node, newest first (at least one once the node has started).
    ///
    /// # Errors
    /// The read model's, or a kept key the master key does not open.
    pub(crate) async fn all(&self, db: &impl ConnectionTrait, keystore: &Keystore) -> ApiResult<Vec<Arc<NodeKey>>> {
        let rows = node_key::Entity::find().order_by_desc(node_key::Column::Id).all(db).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(k) = self.opened.lock().map_err(|_| ApiError::internal("node keys poisoned"))?.get(&row.id) {
                out.push(k.clone());
                continue;
            }
            let secret = keystore
                .open_secret(LABEL, &row.sealed)
                .map_err(|_| ApiError::internal("the master key does not open this node's encryption key"))?;
            let key = Arc::new(NodeKey::from_secret(&secret).map_err(ApiError::internal)?);
            self.opened.lock().map_err(|_| ApiError::internal("node keys poisoned"))?.insert(row.id, key.clone());
            out.push(key);
        }
        Ok(out)
    }

    /// The newest key: the one this node registers.
    ///
    /// # Errors
    /// As [`NodeKeys::all`]; `INTERNAL` if there is none.
    pub(crate) async fn current(&self, db: &impl ConnectionTrait, keystore: &Keystore) -> ApiResult<Arc<NodeKey>> {
        self.all(db, keystore).await?.into_iter().next().ok_or_else(|| ApiError::internal("no node key"))
    }

    /// Make and keep a new key, newer than every other; it counts once registered in the
    /// directory (`rotateNodeKey`).
    ///
    /// # Errors
    /// The read model's, or no randomness.
    pub(crate) async fn rotate(&self, db: &impl ConnectionTrait, keystore: &Keystore) -> ApiResult<Arc<NodeKey>> {
        let newest = node_key::Entity::find().order_by_desc(node_key::Column::Id).one(db).await?.map_or(0, |r| r.id);
        let fresh = NodeKey::generate().map_err(ApiError::internal)?;
        insert(db, keystore, newest.saturating_add(1), &fresh).await.map_err(ApiError::internal)?;
        let fresh = Arc::new(fresh);
        self.opened
            .lock()
            .map_err(|_| ApiError::internal("node keys poisoned"))?
            .insert(newest.saturating_add(1), fresh.clone());
        Ok(fresh)
    }
}

async fn insert(db: &impl ConnectionTrait, keystore: &Keystore, id: i32, key: &NodeKey) -> Result<(), String> {
    let sealed = keystore.seal_secret(LABEL, &key.secret_bytes()).map_err(|e| format!("node key: {e}"))?;
    let row = node_key::ActiveModel {
        id: Set(id),
        sealed: Set(sealed),
        public_key: Set(format!("0x{}", hex::encode(key.public_bytes()))),
        created_at: Set(chrono::Utc::now().timestamp()),
    };
    node_key::Entity::insert(row).exec_without_returning(db).await.map(|_| ()).map_err(|e| format!("node key: {e}"))
}

/// This node's keys: the ones kept in the read model, or a first one kept there now (if
/// two processes start at once, both end with the one that was stored first).
///
/// # Errors
/// The read model's, or a kept key the master key does not open.
pub(crate) async fn load_or_create(db: &impl ConnectionTrait, keystore: &Keystore) -> Result<NodeKeys, StartError> {
    if node_key::Entity::find_by_id(1).one(db).await?.is_none() {
        let fresh = NodeKey::generate().map_err(|e| StartError::Keys(format!("node key: {e}")))?;
        // Another process may have stored its key first: that one is kept, read below.
        let _ = insert(db, keystore, 1, &fresh).await;
    }
    let keys = NodeKeys::default();
    keys.all(db, keystore).await.map_err(|e| StartError::Keys(e.message))?;
    Ok(keys)
}

/// The directory as last read from the chain, and the chain's head then: read again once
/// the read model shows any Consortium event after that head (a node registered, approved,
/// revoked, rekeyed or moved, an organisation's choice, a member suspended), so a delivery
/// does not cost a dozen calls to the chain and a change is still seen as soon as indexed.
#[derive(Default)]
pub(crate) struct DirectoryCache {
    cached: Mutex<Option<(u64, Directory)>>,
}

/// The directory as read now, and this node's id and key in it.
pub(crate) struct Peers {
    /// The chain's head when the directory was read.
    pub(crate) at: u64,
    /// Every node; organisations' choices are learnt as needed.
    pub(crate) directory: Directory,
    /// This node's id.
    pub(crate) me: u64,
    /// This node's key as the directory has it: what peers seal to, and what it seals with.
    pub(crate) key: Arc<NodeKey>,
    /// Every key of this node, newest first (a delivery sealed to an older one still opens).
    pub(crate) keys: Vec<Arc<NodeKey>>,
}

/// The directory, if this node is in it (registered, approved, its member active, under
/// any of its keys); `None` on a node that has not joined a consortium of nodes, which then
/// delivers nothing and takes no delivery.
///
/// # Errors
/// `CHAIN_UNAVAILABLE` when the chain does not answer.
pub(crate) async fn peers(state: &AppState) -> ApiResult<Option<Peers>> {
    read(state, false).await
}

/// As [`peers`], read from the chain whatever the cache holds: before refusing a peer
/// that the directory as cached does not know (this node's read model may be behind).
///
/// # Errors
/// `CHAIN_UNAVAILABLE` when the chain does not answer.
pub(crate) async fn fresh(state: &AppState) -> ApiResult<Option<Peers>> {
    read(state, true).await
}

async fn read(state: &AppState, fresh: bool) -> ApiResult<Option<Peers>> {
    let poisoned = || ApiError::internal("directory cache poisoned");
    let cached = if fresh { None } else { state.directory.cached.lock().map_err(|_| poisoned())?.clone() };
    let (at, directory) = match cached {
        Some((at, d)) if !changed_since(state, at).await? => (at, d),
        _ => {
            let at = state.chain.head().await.map_err(|e| ApiError::unavailable(e.to_string()))?;
            let d = directory::load_nodes(state.chain.as_ref(), state.suite.consortium)
                .await
                .map_err(|e| ApiError::unavailable(format!("node directory: {e}")))?;
            *state.directory.cached.lock().map_err(|_| poisoned())? = Some((at, d.clone()));
            (at, d)
        }
    };
    let keys = state.node_keys.all(&state.db, &state.keystore).await?;
    let found = keys.iter().find_map(|k| directory.node_with_key(&k.public_bytes()).map(|me| (me, k.clone())));
    Ok(found.map(|(me, key)| Peers { at, directory, me, key, keys }))
}

/// Keep the organisations' choices `peers` learnt, if the cache still holds the directory
/// they were learnt on.
pub(crate) fn remember(state: &AppState, peers: &Peers) {
    if let Ok(mut cached) = state.directory.cached.lock()
        && let Some((at, d)) = cached.as_mut()
        && *at == peers.at
        && peers.directory.asked.len() > d.asked.len()
    {
        d.clone_from(&peers.directory);
    }
}

/// Whether the read model shows a Consortium event after block `at`.
async fn changed_since(state: &AppState, at: u64) -> ApiResult<bool> {
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    Ok(event::Entity::find()
        .filter(event::Column::Contract.eq("Consortium"))
        .filter(event::Column::Block.gt(at))
        .one(&state.db)
        .await?
        .is_some())
}

/// Open `envelope` from the node whose key is `sender` with any of this node's `keys` (a
/// peer may have sealed it to an older one, not having read a rotation yet).
///
/// # Errors
/// The last key's refusal.
pub(crate) fn open_with_any(
    keys: &[Arc<NodeKey>],
    sender: &[u8; 32],
    subject: &tradechain_peer::envelope::Subject,
    envelope: &tradechain_peer::envelope::Envelope,
) -> Result<Vec<u8>, tradechain_peer::envelope::EnvelopeError> {
    use tradechain_peer::envelope::EnvelopeError;
    let mut opened = Err(EnvelopeError::DoesNotOpen);
    for key in keys {
        opened = tradechain_peer::envelope::open(key, sender, subject, envelope);
        if !matches!(opened, Err(EnvelopeError::DoesNotOpen)) {
            break;
        }
    }
    opened
}
