//! One item of an order's private data (its details, one of its documents): who is
//! entitled to it, whether the chain anchors it, and where this node keeps it.

use alloy::primitives::{Address, B256};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use tradechain_peer::envelope::Kind;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::files;
use crate::readmodel::{access, consent, document, document_file, order, order_detail, organisation, private_item};

/// An order's details or one of its documents, named by its hash on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Item {
    /// The order.
    pub(crate) order_id: i64,
    /// Details or which document.
    pub(crate) kind: Kind,
    /// Its hash as anchored on chain.
    pub(crate) hash: B256,
}

impl Item {
    /// The hash as the read model writes it (0x hex).
    pub(crate) fn hash_hex(&self) -> String {
        format!("{:#x}", self.hash)
    }
}

/// The organisations entitled to order `o`'s private data: those who may see the order
/// ([`access::order_viewers`]: its parties, the named carrier and inspector, a financier
/// whose financing of it the firm accepted) and each financier with a live consent of its
/// buyer or its seller (as the contract's `_mayView` lets them read it): members not
/// suspended, and for a consent, still holding the financier role.
///
/// # Errors
/// The read model's.
pub(crate) async fn entitled<C: ConnectionTrait>(db: &C, o: &order::Model) -> Result<Vec<Address>, DbErr> {
    let viewers = access::order_viewers(db, o).await?;
    let now = chrono::Utc::now().timestamp();
    let consents = consent::Entity::find()
        .filter(
            Condition::any()
                .add(consent::Column::Firm.eq(o.buyer.as_str()))
                .add(consent::Column::Firm.eq(o.seller.as_str())),
        )
        .filter(consent::Column::State.eq("granted"))
        .filter(consent::Column::ExpiresAt.gt(now))
        .all(db)
        .await?;
    let financiers: Vec<String> = consents.into_iter().map(|c| c.financier).collect();
    let members = organisation::Entity::find()
        .filter(organisation::Column::Address.is_in(viewers.iter().chain(&financiers).map(String::as_str)))
        .all(db)
        .await?;
    let standing = |a: &str, role: u32| {
        members.iter().any(|m| m.address == a && !m.suspended && (u32::try_from(m.roles).unwrap_or(0) & role) != 0)
    };
    let who = viewers
        .iter()
        .filter(|a| standing(a, tradechain_contracts::role::ALL))
        .chain(financiers.iter().filter(|a| standing(a, tradechain_contracts::role::FINANCIER)));
    let mut out: Vec<Address> = who.filter_map(|a| a.parse().ok()).collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether the chain (as this node's read model has indexed it) anchors `item` on order
/// `o`: its details now or those of its pending amendment, the document of that type
/// presented now.
///
/// # Errors
/// The read model's.
pub(crate) async fn anchored<C: ConnectionTrait>(db: &C, o: &order::Model, item: &Item) -> Result<bool, DbErr> {
    let hash = item.hash_hex();
    Ok(match item.kind {
        Kind::Details => {
            let pending = o
                .pending_amendment
                .as_deref()
                .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
                .and_then(|p| p["details_hash"].as_str().map(str::to_string));
            o.details_hash == hash || pending.as_deref() == Some(hash.as_str())
        }
        Kind::Document(t) => {
            document::Entity::find_by_id((o.id, i32::from(t))).one(db).await?.is_some_and(|d| d.hash == hash)
        }
    })
}

/// Record that this node keeps `item` for its order: `written` by one of its organisations
/// for that order, or `received` or `fetched` for it from node `node`. Recording it again
/// changes nothing.
///
/// # Errors
/// The read model's.
pub(crate) async fn record(conn: &impl ConnectionTrait, item: &Item, origin: &str, node: Option<u64>) -> ApiResult<()> {
    let row = private_item::ActiveModel {
        order_id: Set(item.order_id),
        kind: Set(item.kind.to_string()),
        content_hash: Set(item.hash_hex()),
        origin: Set(origin.to_string()),
        node: Set(node.map(crate::codec::i64_of)),
        at: Set(chrono::Utc::now().timestamp()),
    };
    let inserted = private_item::Entity::insert(row)
        .on_conflict(OnConflict::columns(private_item::KEY).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await;
    crate::readmodel::inserted(inserted)?;
    Ok(())
}

/// Whether this node keeps `item` for its order (written, received or fetched for it). A
/// hash alone proves nothing: anyone can anchor a hash copied from another order.
///
/// # Errors
/// The read model's.
pub(crate) async fn kept_for(db: &impl ConnectionTrait, item: &Item) -> ApiResult<bool> {
    Ok(provenance(db, item).await?.is_some())
}

/// Whether one of this node's organisations wrote `item` for its order (what this node,
/// and no other, delivers).
///
/// # Errors
/// The read model's.
pub(crate) async fn written_for(db: &impl ConnectionTrait, item: &Item) -> ApiResult<bool> {
    Ok(provenance(db, item).await?.is_some_and(|p| p.origin == "written"))
}

async fn provenance(db: &impl ConnectionTrait, item: &Item) -> Result<Option<private_item::Model>, DbErr> {
    private_item::Entity::find_by_id((item.order_id, item.kind.to_string(), item.hash_hex())).one(db).await
}

/// Whether this node keeps `item` (its row; a document's file is read only when sent).
///
/// # Errors
/// The read model's.
pub(crate) async fn held(state: &AppState, item: &Item) -> ApiResult<bool> {
    Ok(match item.kind {
        Kind::Details => order_detail::Entity::find_by_id(item.hash_hex()).one(&state.db).await?.is_some(),
        Kind::Document(_) => document_file::Entity::find_by_id(item.hash_hex()).one(&state.db).await?.is_some(),
    })
}

/// The bytes this node keeps for `item`, with their media type.
///
/// # Errors
/// The read model's, or a kept file that cannot be read.
pub(crate) async fn content(state: &AppState, item: &Item) -> ApiResult<Option<(Vec<u8>, String)>> {
    match item.kind {
        Kind::Details => Ok(order_detail::Entity::find_by_id(item.hash_hex())
            .one(&state.db)
            .await?
            .map(|d| (d.body.into_bytes(), "application/json".to_string()))),
        Kind::Document(_) => {
            let Some(file) = document_file::Entity::find_by_id(item.hash_hex()).one(&state.db).await? else {
                return Ok(None);
            };
            match tokio::fs::read(files::path(state, item.hash_hex().trim_start_matches("0x"))).await {
                Ok(bytes) => Ok(Some((bytes, file.content_type))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(ApiError::internal(format!("document {}: {e}", item.hash_hex()))),
            }
        }
    }
}

/// Keep details' canonical JSON under their hash (0x hex); `true` if new. Insert only (no
/// read first), so that in a transaction the first statement takes the write lock; a
/// concurrent insert of the same details is fine: same key, same body.
///
/// # Errors
/// The read model's.
pub(crate) async fn keep_details(conn: &impl ConnectionTrait, hash_hex: String, body: String) -> ApiResult<bool> {
    let row = order_detail::ActiveModel { details_hash: Set(hash_hex), body: Set(body) };
    let inserted = order_detail::Entity::insert(row)
        .on_conflict(OnConflict::column(order_detail::Column::DetailsHash).do_nothing().to_owned())
        .exec_without_returning(conn)
        .await;
    Ok(crate::readmodel::inserted(inserted)?)
}

/// Keep `bytes`, already checked to be `item`'s content, as if written here: details as
/// their canonical JSON, a document as the seller's file of that media type. `true` if new.
///
/// # Errors
/// The read model's or the disk's; details that are not UTF-8 (they hashed right, so the
/// proposer anchored bytes no API writes).
pub(crate) async fn keep(
    state: &AppState,
    conn: &impl ConnectionTrait,
    o: &order::Model,
    item: &Item,
    bytes: &[u8],
    content_type: &str,
) -> ApiResult<bool> {
    match item.kind {
        Kind::Details => {
            let body = String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::validation("VALIDATION_FAILED", "order details are UTF-8 JSON"))?;
            keep_details(conn, item.hash_hex(), body).await
        }
        Kind::Document(_) => files::keep(state, conn, &item.hash_hex(), bytes, content_type, &o.seller).await,
    }
}
