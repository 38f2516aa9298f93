//! The registry's keys: one current key, and the keys it replaced while their rotation
//! window lasts, so a fingerprint registered under an old key still meets its duplicate
//! during the window. Each key is stored sealed under the node's master key
//! (`registry_keys`, ChaCha20-Poly1305, bound to its version), never in clear; a key past
//! its window is deleted. Every API process of the node reads the same table, and reloads
//! it at most every [`RELOAD`], so a rotation in one reaches the others.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::keystore::{Keystore, random_bytes};
use crate::readmodel::registry_key;

/// How long a process trusts its copy of the keys.
const RELOAD: Duration = Duration::from_secs(10);

/// One key version in clear, in memory only.
#[derive(Clone)]
pub(crate) struct KeyVersion {
    pub(crate) version: i32,
    pub(crate) key: [u8; 32],
    pub(crate) retired_at: Option<i64>,
}

impl std::fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVersion").field("version", &self.version).field("retired_at", &self.retired_at).finish()
    }
}

/// Why the keys could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyringError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("registry key {0}: {1}")]
    Seal(i32, crate::keystore::KeyError),
}

/// See the module doc.
pub(crate) struct Keyring {
    window_secs: i64,
    cache: Mutex<(Instant, Vec<KeyVersion>)>,
}

fn label(version: i32) -> Vec<u8> {
    format!("tradechain registry key v{version}").into_bytes()
}

impl Keyring {
    /// The keys in `db`, the first made now if there is none.
    pub(crate) async fn load(
        db: &DatabaseConnection,
        keystore: &Keystore,
        window_secs: i64,
    ) -> Result<Self, KeyringError> {
        let mut keys = read(db, keystore).await?;
        if keys.is_empty() {
            insert(db, keystore, 1).await?;
            keys = read(db, keystore).await?;
        }
        Ok(Self { window_secs, cache: Mutex::new((Instant::now(), keys)) })
    }

    /// The keys an answer uses at `now`: the current one first, then those retired less
    /// than the rotation window ago.
    pub(crate) async fn active(
        &self,
        db: &DatabaseConnection,
        keystore: &Keystore,
        now: i64,
    ) -> Result<Vec<KeyVersion>, KeyringError> {
        let stale = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0.elapsed() > RELOAD;
        if stale {
            let keys = read(db, keystore).await?;
            *self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (Instant::now(), keys);
        }
        let keys = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1.clone();
        Ok(keys.into_iter().filter(|k| k.retired_at.is_none_or(|r| now - r < self.window_secs)).collect())
    }

    /// Make a new current key; the current one retires at `now` and keeps matching for the
    /// window; keys past their window are deleted. Returns the new version.
    pub(crate) async fn rotate(
        &self,
        db: &DatabaseConnection,
        keystore: &Keystore,
        now: i64,
    ) -> Result<i32, KeyringError> {
        let keys = read(db, keystore).await?;
        let next = keys.iter().map(|k| k.version).max().unwrap_or(0) + 1;
        registry_key::Entity::update_many()
            .col_expr(registry_key::Column::RetiredAt, sea_orm::sea_query::Expr::value(now))
            .filter(registry_key::Column::RetiredAt.is_null())
            .exec(db)
            .await?;
        registry_key::Entity::delete_many()
            .filter(registry_key::Column::RetiredAt.lt(now - self.window_secs))
            .exec(db)
            .await?;
        insert(db, keystore, next).await?;
        let keys = read(db, keystore).await?;
        *self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = (Instant::now(), keys);
        Ok(next)
    }
}

async fn read(db: &DatabaseConnection, keystore: &Keystore) -> Result<Vec<KeyVersion>, KeyringError> {
    let rows = registry_key::Entity::find().order_by_desc(registry_key::Column::Version).all(db).await?;
    rows.into_iter()
        .map(|r| {
            let key =
                keystore.open_secret(&label(r.version), &r.sealed).map_err(|e| KeyringError::Seal(r.version, e))?;
            Ok(KeyVersion { version: r.version, key, retired_at: r.retired_at })
        })
        .collect()
}

/// Insert a new random key as `version`; another process that made it first wins.
async fn insert(db: &DatabaseConnection, keystore: &Keystore, version: i32) -> Result<(), KeyringError> {
    let key = random_bytes::<32>();
    let sealed = keystore.seal_secret(&label(version), &key).map_err(|e| KeyringError::Seal(version, e))?;
    let row = registry_key::ActiveModel {
        version: Set(version),
        sealed: Set(sealed),
        created_at: Set(chrono::Utc::now().timestamp()),
        retired_at: Set(None),
    };
    match registry_key::Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(()),
        // Two processes starting at once: the other one's key is the key.
        Err(_) if registry_key::Entity::find_by_id(version).one(db).await?.is_some() => Ok(()),
        Err(e) => Err(e.into()),
    }
}
