//! Documents: the seller uploads a file (stored content-addressed on disk by its SHA-256,
//! the hash anchored on chain with its type), the carrier or inspector attests it, the
//! buyer's bank accepts or rejects it with a reason; the order's parties download it.

use alloy::primitives::{B256, U256};
use alloy::sol_types::SolCall;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use sea_orm::{EntityTrait, TransactionTrait};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tradechain_contracts::{DocType, TradeOrders};
use tradechain_peer::envelope::Kind;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::consortium::item::Item;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::files::media;
use crate::order::act;
use crate::order::view::{self, DocumentView, OrderDetail};
use crate::readmodel::{document, document_file};
use crate::request::{Body, PathArgs};
use crate::{AppState, files, terms, transaction};

/// An issuer's attestation: the hash it issued (default: the hash presented) and, for a
/// bill of lading, the on-board date: the date of shipment (UCP 600 art. 20(a)(ii)).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attestation {
    /// 0x + 64 hex digits; default the hash the seller presented.
    pub(crate) hash: Option<String>,
    /// Bills of lading only: the on-board date, YYYY-MM-DD. Not later than the order's
    /// latest shipment date, nor than the presentation, which it precedes by at most 21
    /// days (UCP 600 art. 14(c)).
    pub(crate) shipment_date: Option<String>,
}

/// A refusal (UCP 600 art. 16(c)-(d)): one notice per presentation, stating every
/// discrepancy; the bank cannot add one later.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rejection {
    /// Every discrepancy, 1 to 8, each 1 to 280 characters.
    pub(crate) discrepancies: Vec<String>,
}

pub(crate) fn routes(max_document_bytes: usize, max_json_bytes: usize) -> Router<AppState> {
    let base = "/orders/{id}/documents/{doc_type}";
    Router::new()
        .route(base, put(upload).layer(DefaultBodyLimit::max(max_document_bytes)))
        .route(&format!("{base}/content"), get(download))
        .route(&format!("{base}/attest"), post(attest).layer(DefaultBodyLimit::max(max_json_bytes)))
        .route(&format!("{base}/accept"), post(accept).layer(DefaultBodyLimit::max(max_json_bytes)))
        .route(&format!("{base}/reject"), post(reject).layer(DefaultBodyLimit::max(max_json_bytes)))
        .route(&format!("{base}/deem-accepted"), post(deem).layer(DefaultBodyLimit::max(max_json_bytes)))
}

/// Present a document: the request body is the file (PDF, PNG, JPEG, TIFF, XML, JSON or
/// plain text, its bytes matching its Content-Type; at most the configured size); its
/// SHA-256 goes on chain.
#[utoipa::path(put, path = "/v1/orders/{id}/documents/{doc_type}", tag = "documents", operation_id = "upload_document",
    params(("id" = i64, Path), ("doc_type" = String, Path, description = "e.g. bill_of_lading")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, doc_type)): PathArgs<(i64, String)>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<OrderDetail>> {
    let kind = terms::doc_type(&doc_type)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", e.body_text())
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_JSON", e.body_text())
        }
    })?;
    if body.is_empty() {
        return Err(ApiError::validation("VALIDATION_FAILED", "the document is empty"));
    }
    view::load_visible(&state, &caller, id).await?;
    let hash = B256::from_slice(&Sha256::digest(&body));
    let hex_hash = hex::encode(hash);
    let call = TradeOrders::submitDocumentCall {
        orderId: U256::from(id.max(0) as u64),
        docType: kind as u8,
        hash,
        uri: format!("sha256:{hex_hash}"),
    };
    let input = call.abi_encode();
    // Nothing is stored unless the chain would accept the presentation. Answered in this
    // order: a revert, a file that is no document, a missing key.
    let (gas, signer) =
        transaction::simulate_and_signer(&state, &caller, state.suite.trade_orders, &input.clone().into()).await;
    let gas = gas?;
    let content_type = media::of_upload(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), &body)?;
    let signer = signer?;
    let hex_hash = files::write(&state, &format!("{hash:#x}"), &body).await?;
    {
        // The file's row, and that it was written here for this order (what this node
        // delivers to the other parties' nodes), in one commit in the process's turn.
        let it = Item { order_id: id, kind: Kind::Document(kind as u8), hash };
        let _turn = state.indexer.write_turn().await;
        let txn = state.db.begin().await?;
        files::record(&txn, &hex_hash, body.len(), content_type, &caller.addr).await?;
        crate::consortium::item::record(&txn, &it, "written", None).await?;
        txn.commit().await?;
    }
    crate::order::act_signed(&state, &signer, &caller, id, input, Some(gas)).await
}

/// Download a document's file (the order's parties only).
#[utoipa::path(get, path = "/v1/orders/{id}/documents/{doc_type}/content", tag = "documents", operation_id = "download_document",
    params(("id" = i64, Path), ("doc_type" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn download(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, doc_type)): PathArgs<(i64, String)>,
) -> ApiResult<Response> {
    let kind = terms::doc_type(&doc_type)?;
    let o = view::load_visible(&state, &caller, id).await?;
    let not_found = || ApiError::not_found("DOCUMENT_NOT_FOUND", format!("no {kind} on order {id}"));
    let d = document::Entity::find_by_id((id, kind as i32)).one(&state.db).await?.ok_or_else(not_found)?;
    let hash = d.hash.parse().map_err(|_| not_found())?;
    let it = Item { order_id: id, kind: Kind::Document(kind as u8), hash };
    // Only a file kept for this very order (a hash copied from another order's document is
    // not this order's document); presented at another member's node and not delivered
    // here (yet): asked for now.
    let mut file = match crate::consortium::item::kept_for(&state.db, &it).await? {
        true => document_file::Entity::find_by_id(d.hash.clone()).one(&state.db).await?,
        false => None,
    };
    if file.is_none() && crate::consortium::fetch::missing(&state, &o, &it).await? {
        file = document_file::Entity::find_by_id(d.hash.clone()).one(&state.db).await?;
    }
    let file = file.ok_or_else(not_found)?;
    let bytes = tokio::fs::read(files::path(&state, d.hash.trim_start_matches("0x"))).await.map_err(|_| not_found())?;
    let (content_type, extension) = media::served(&file.content_type);
    let disposition = format!("attachment; filename=\"order-{id}-{kind}.{extension}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, media::CSP.to_string()),
            (header::ETAG, format!("\"{}\"", d.hash)),
        ],
        bytes,
    )
        .into_response())
}

/// The carrier (bill of lading, with its on-board date) or inspector (inspection
/// certificate) the order names attests the hash it issued. It is never a party of the
/// order; it answers the document.
#[utoipa::path(post, path = "/v1/orders/{id}/documents/{doc_type}/attest", tag = "documents", operation_id = "attest_document",
    params(("id" = i64, Path), ("doc_type" = String, Path)), request_body = Attestation,
    responses((status = 200, body = DocumentView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn attest(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, doc_type)): PathArgs<(i64, String)>,
    Body(a): Body<Attestation>,
) -> ApiResult<Json<DocumentView>> {
    let kind = terms::doc_type(&doc_type)?;
    let hash: B256 = match &a.hash {
        Some(h) => h.parse().map_err(|_| ApiError::validation("VALIDATION_FAILED", "hash: 0x + 64 hex digits"))?,
        None => document::Entity::find_by_id((id, kind as i32))
            .one(&state.db)
            .await?
            .and_then(|d| d.hash.parse().ok())
            .unwrap_or_default(),
    };
    let shipment = match (&a.shipment_date, kind) {
        (Some(d), DocType::BillOfLading) => terms::date_start("shipment_date", d)?,
        (None, DocType::BillOfLading) => {
            return Err(ApiError::validation(
                "VALIDATION_FAILED",
                "shipment_date: a bill of lading states its on-board date",
            ));
        }
        (Some(_), _) => {
            return Err(ApiError::validation("VALIDATION_FAILED", "shipment_date: only a bill of lading has one"));
        }
        (None, _) => 0,
    };
    let call = TradeOrders::attestDocumentCall {
        orderId: U256::from(id.max(0) as u64),
        docType: kind as u8,
        hash,
        shipmentDate: shipment,
    };
    transaction::transact(&state, &caller, state.suite.trade_orders, call.abi_encode().into()).await?;
    let d = document::Entity::find_by_id((id, kind as i32))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("DOCUMENT_NOT_FOUND", "document not indexed"))?;
    Ok(Json(DocumentView::from(d)))
}

/// The buyer's bank accepts a document.
#[utoipa::path(post, path = "/v1/orders/{id}/documents/{doc_type}/accept", tag = "documents", operation_id = "accept_document",
    params(("id" = i64, Path), ("doc_type" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, doc_type)): PathArgs<(i64, String)>,
) -> ApiResult<Json<OrderDetail>> {
    let kind = terms::doc_type(&doc_type)?;
    let call = TradeOrders::acceptDocumentCall { orderId: U256::from(id.max(0) as u64), docType: kind as u8 };
    act(&state, &caller, id, call.abi_encode()).await
}

/// The buyer's bank refuses a presentation within the examination period, stating every
/// discrepancy in one notice (UCP 600 art. 16(c)-(d)).
#[utoipa::path(post, path = "/v1/orders/{id}/documents/{doc_type}/reject", tag = "documents", operation_id = "reject_document",
    params(("id" = i64, Path), ("doc_type" = String, Path)), request_body = Rejection,
    responses((status = 200, body = OrderDetail), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, doc_type)): PathArgs<(i64, String)>,
    Body(r): Body<Rejection>,
) -> ApiResult<Json<OrderDetail>> {
    let kind = terms::doc_type(&doc_type)?;
    if r.discrepancies.is_empty() || r.discrepancies.len() > 8 {
        return Err(ApiError::validation("INVALID_DISCREPANCIES", "state 1 to 8 discrepancies, in one notice"));
    }
    for d in &r.discrepancies {
        terms::reason(d)?;
    }
    let call = TradeOrders::rejectDocumentCall {
        orderId: U256::from(id.max(0) as u64),
        docType: kind as u8,
        discrepancies: r.discrepancies,
    };
    act(&state, &caller, id, call.abi_encode()).await
}

/// Record deemed acceptance after the examination period passed without a decision (UCP 600 art. 16).
#[utoipa::path(post, path = "/v1/orders/{id}/documents/{doc_type}/deem-accepted", tag = "documents", operation_id = "deem_document_accepted",
    params(("id" = i64, Path), ("doc_type" = String, Path)),
    responses((status = 200, body = OrderDetail), (status = 409, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn deem(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs((id, doc_type)): PathArgs<(i64, String)>,
) -> ApiResult<Json<OrderDetail>> {
    let kind = terms::doc_type(&doc_type)?;
    let call = TradeOrders::deemAcceptedCall { orderId: U256::from(id.max(0) as u64), docType: kind as u8 };
    act(&state, &caller, id, call.abi_encode()).await
}
