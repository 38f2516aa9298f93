//! Document files on this node's disk, content-addressed by the SHA-256 anchored on chain:
//! what an upload writes, and what a delivery from another member's node writes alike;
//! [`media`], what a file may be and how it is served.

pub(crate) mod media;

use std::path::PathBuf;

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::readmodel::document_file;

/// Where the file whose SHA-256 is `hash_hex` (64 hex digits, no 0x) is kept.
pub(crate) fn path(state: &AppState, hash_hex: &str) -> PathBuf {
    state.files_dir.join(hash_hex)
}

/// Keep `bytes` (whose SHA-256 is `hash`, 0x hex) with their media type, written by
/// `uploaded_by`: the file first (private, renamed into place, so a reader never sees half
/// of it), then its row. Storing what is already kept changes nothing; `true` if it was new.
pub(crate) async fn keep(
    state: &AppState,
    conn: &impl ConnectionTrait,
    hash: &str,
    bytes: &[u8],
    content_type: &str,
    uploaded_by: &str,
) -> ApiResult<bool> {
    let hex_hash = write(state, hash, bytes).await?;
    record(conn, &hex_hash, bytes.len(), content_type, uploaded_by).await
}

/// The database's half of [`keep`]: the row of a file [`write`] has kept (`hex_hash`, its
/// answer), of `size` bytes; `true` if new.
///
/// # Errors
/// The read model's.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    hex_hash: &str,
    size: usize,
    content_type: &str,
    uploaded_by: &str,
) -> ApiResult<bool> {
    let row = document_file::ActiveModel {
        hash: Set(format!("0x{hex_hash}")),
        size: Set(crate::codec::i64_of(size)),
        content_type: Set(content_type.to_string()),
        uploaded_by: Set(uploaded_by.to_string()),
        created_at: Set(chrono::Utc::now().timestamp()),
    };
    // A concurrent store of the same file is fine: same key, same bytes. Insert only (no
    // read first), so that in a transaction the first statement takes the write lock.
    let inserted = document_file::Entity::insert(row)
        .on_conflict(OnConflict::column(document_file::Column::Hash).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await;
    Ok(crate::readmodel::inserted(inserted)?)
}

/// The disk's half of [`keep`]: the file, private, renamed into place (so a reader never
/// sees half of it), unless it is there already; its hash as hex without 0x. A writer that
/// keeps the row in a transaction in the process's turn to write writes the file first,
/// so that the turn is not held over the disk's time, and then [`record`]s it.
///
/// # Errors
/// The disk's.
pub(crate) async fn write(state: &AppState, hash: &str, bytes: &[u8]) -> ApiResult<String> {
    let hex_hash = hash.trim_start_matches("0x").to_string();
    let target = path(state, &hex_hash);
    if !target.exists() {
        let tmp = state.files_dir.join(format!(".{hex_hash}.{}.{}", std::process::id(), unique()));
        let owned = bytes.to_vec();
        let at = tmp.clone();
        tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_file(&at);
            tradechain_engine::config::write_private(&at, &owned)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        tokio::fs::rename(&tmp, &target).await.map_err(ApiError::internal)?;
    }
    Ok(hex_hash)
}

/// Tells apart two writers of one file in one process.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
