//! Verification requests and consents: a financier asks a firm to read its trade history;
//! the firm grants (until an expiry) or declines, and may revoke at any time. Requests,
//! grants, declines and revocations are on chain (`Consents`); every read of a firm's
//! history, served or refused, is written to the audit log ([`record_read`]). A firm sees
//! who may look, who asked and who looked (`GET /v1/consents`).

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::{SolCall, SolEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consents, role};
use utoipa::ToSchema;

use crate::auth::{Caller, EvenSuspended};
use crate::codec::addr;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::{audit, consent, verification_request};
use crate::request::{Body, PathArgs};
use crate::{AppState, terms, transaction};

/// A financier's request to read a firm's trade history.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewVerificationRequest {
    /// The firm's 0x address.
    pub(crate) firm: String,
    /// Why the financier asks (1..=280 bytes), shown to the firm.
    pub(crate) purpose: String,
}

/// The firm's grant: access until the end of `expires_at` (UTC), at most two years ahead.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct Grant {
    /// YYYY-MM-DD
    pub(crate) expires_at: String,
}

/// An unprompted grant: the firm opens its history to a financier that has not asked
/// (e.g. when applying to it for credit).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DirectGrant {
    /// The financier's address (0x).
    pub(crate) financier: String,
    /// YYYY-MM-DD
    pub(crate) expires_at: String,
}

/// A verification request as recorded on chain.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VerificationRequestView {
    pub(crate) id: i64,
    pub(crate) financier: String,
    pub(crate) firm: String,
    pub(crate) purpose: String,
    /// open, granted, declined, withdrawn
    pub(crate) state: String,
    /// Unix seconds (block time).
    pub(crate) created_at: i64,
}

/// A firm's consent to one financier.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsentView {
    pub(crate) firm: String,
    pub(crate) financier: String,
    /// The request it answered ("0" when granted unprompted).
    pub(crate) request_id: String,
    /// Unix seconds: access ends then (the revocation time once revoked).
    pub(crate) expires_at: i64,
    /// granted, revoked
    pub(crate) state: String,
}

/// One read (or refused read) of a firm's history, from the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryRead {
    /// Who read (or tried to).
    pub(crate) reader: String,
    /// Whose history.
    pub(crate) firm: String,
    /// firm_history or credit_profile (served), firm_history_refused or
    /// credit_profile_refused, authenticity_read, proof_read, rpc_read (a read only the
    /// firm's consent allowed), registry_query (a duplicate-financing question about it)
    pub(crate) action: String,
    /// Unix seconds (server time).
    pub(crate) at: i64,
}

/// Who may look, who asked and who looked: for a firm, about it; for a financier, its own.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConsentOverview {
    pub(crate) consents: Vec<ConsentView>,
    pub(crate) requests: Vec<VerificationRequestView>,
    pub(crate) reads: Vec<HistoryRead>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/verification-requests", post(request))
        .route("/verification-requests/{id}/grant", post(grant))
        .route("/verification-requests/{id}/decline", post(decline))
        .route("/verification-requests/{id}/withdraw", post(withdraw))
        .route("/consents", get(overview).post(grant_directly))
        .route("/consents/{financier}/revoke", post(revoke))
}

fn request_view(r: verification_request::Model) -> VerificationRequestView {
    VerificationRequestView {
        id: r.id,
        financier: r.financier,
        firm: r.firm,
        purpose: r.purpose,
        state: r.state,
        created_at: r.created_at,
    }
}

fn consent_view(c: consent::Model) -> ConsentView {
    ConsentView {
        firm: c.firm,
        financier: c.financier,
        request_id: c.request_id,
        expires_at: c.expires_at,
        state: c.state,
    }
}

/// Record a read of `firm`'s history by `actor` in the audit log.
pub(crate) async fn record_read(state: &AppState, actor: &str, firm: &str, action: &str) -> ApiResult<()> {
    audit::Entity::insert(audit::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        at: Set(chrono::Utc::now().timestamp()),
        actor: Set(actor.to_string()),
        action: Set(action.to_string()),
        subject: Set(firm.to_string()),
    })
    .exec_without_returning(&state.db)
    .await?;
    Ok(())
}

/// Actions of the audit log that are reads of a firm's history (served, then refused).
pub(crate) const HISTORY_READS: [&str; 8] = [
    "firm_history",
    "firm_history_refused",
    "credit_profile",
    "credit_profile_refused",
    "authenticity_read",
    "proof_read",
    "rpc_read",
    "registry_query",
];

/// The firm at `address` (its address and lower-case text) if `caller` is a financier
/// holding the firm's live consent, checked on chain (`Consents.hasConsent`), not in the
/// read model. A refusal is written to the audit log as `{action}_refused` before it is
/// answered (`NOT_FINANCIER`, `NO_LIVE_CONSENT`); the caller audits the served read.
pub(crate) async fn require_live_consent(
    state: &AppState,
    caller: &Caller,
    address: &str,
    action: &str,
) -> ApiResult<(alloy::primitives::Address, String)> {
    let firm = terms::address("address", address)?;
    let subject = addr(&firm);
    let refused = |e: ApiError| async {
        record_read(state, &caller.addr, &subject, &format!("{action}_refused")).await?;
        Err::<(alloy::primitives::Address, String), ApiError>(e)
    };
    if caller.roles & role::FINANCIER == 0 {
        return refused(ApiError::forbidden("NOT_FINANCIER", "only a financier reads a firm's history")).await;
    }
    let call = Consents::hasConsentCall { firm, financier: caller.address };
    let live = match state.chain.call(caller.address, state.suite.consents, call.abi_encode().into()).await? {
        tradechain_chain::CallResult::Success { output, .. } => {
            Consents::hasConsentCall::abi_decode_returns(&output).map_err(ApiError::internal)?
        }
        tradechain_chain::CallResult::Revert { data } => return Err(ApiError::from_revert(&data)),
        tradechain_chain::CallResult::Halt { reason } => return Err(ApiError::internal(reason)),
    };
    if !live {
        return refused(ApiError::forbidden(
            "NO_LIVE_CONSENT",
            format!("{subject} has not granted {} a live consent", caller.addr),
        ))
        .await;
    }
    Ok((firm, subject))
}

/// The request `id` if the caller is its firm or its financier, else `REQUEST_NOT_FOUND`.
async fn load_request(state: &AppState, caller: &Caller, id: i64) -> ApiResult<verification_request::Model> {
    match verification_request::Entity::find_by_id(id).one(&state.db).await? {
        Some(r) if r.firm == caller.addr || r.financier == caller.addr => Ok(r),
        _ => Err(ApiError::not_found("REQUEST_NOT_FOUND", format!("verification request {id} not found"))),
    }
}

async fn consent_of(state: &AppState, firm: &str, financier: &str) -> ApiResult<ConsentView> {
    consent::Entity::find_by_id((firm.to_string(), financier.to_string()))
        .one(&state.db)
        .await?
        .map(consent_view)
        .ok_or_else(|| ApiError::internal("consent not indexed"))
}

/// A financier asks a firm for access to its trade history.
#[utoipa::path(post, path = "/v1/verification-requests", tag = "consents", operation_id = "request_verification", request_body = NewVerificationRequest,
    responses((status = 201, body = VerificationRequestView), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn request(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<NewVerificationRequest>,
) -> ApiResult<(StatusCode, Json<VerificationRequestView>)> {
    let firm = terms::address("firm", &req.firm)?;
    let purpose = req.purpose.trim().to_string();
    if purpose.is_empty() || purpose.len() > 280 {
        return Err(ApiError::validation("VALIDATION_FAILED", "purpose must be 1 to 280 bytes"));
    }
    if caller.roles & role::FINANCIER == 0 {
        return Err(ApiError::forbidden("NOT_FINANCIER", "only a financier asks for verification"));
    }
    let call = Consents::requestVerificationCall { firm, purpose };
    let receipt = transaction::transact(&state, &caller, state.suite.consents, Bytes::from(call.abi_encode())).await?;
    let id = receipt
        .logs
        .iter()
        .filter(|l| l.address == state.suite.consents)
        .find_map(|l| Consents::VerificationRequested::decode_log(l).ok())
        .map(|e| i64::try_from(e.data.requestId).unwrap_or(i64::MAX))
        .ok_or_else(|| ApiError::internal("no VerificationRequested in the receipt"))?;
    let r = load_request(&state, &caller, id).await?;
    Ok((StatusCode::CREATED, Json(request_view(r))))
}

/// The firm grants the requesting financier access until `expires_at`.
#[utoipa::path(post, path = "/v1/verification-requests/{id}/grant", tag = "consents", operation_id = "grant_consent", params(("id" = i64, Path)),
    request_body = Grant,
    responses((status = 200, body = ConsentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
    Body(g): Body<Grant>,
) -> ApiResult<Json<ConsentView>> {
    let expires_at = terms::date_end("expires_at", &g.expires_at)?;
    let r = load_request(&state, &caller, id).await?;
    let financier = terms::address("financier", &r.financier)?;
    let call = Consents::grantCall { financier, expiresAt: expires_at, requestId: U256::from(id.max(0) as u64) };
    transaction::transact(&state, &caller, state.suite.consents, Bytes::from(call.abi_encode())).await?;
    Ok(Json(consent_of(&state, &caller.addr, &r.financier).await?))
}

/// The firm grants a financier access until `expires_at` without a prior request (on
/// chain with request id 0). The financier must be a registered financier.
#[utoipa::path(post, path = "/v1/consents", tag = "consents", operation_id = "grant_consent_directly",
    request_body = DirectGrant,
    responses((status = 201, body = ConsentView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn grant_directly(
    State(state): State<AppState>,
    caller: Caller,
    Body(g): Body<DirectGrant>,
) -> ApiResult<(StatusCode, Json<ConsentView>)> {
    let expires_at = terms::date_end("expires_at", &g.expires_at)?;
    let financier = terms::address("financier", &g.financier)?;
    let call = Consents::grantCall { financier, expiresAt: expires_at, requestId: U256::ZERO };
    transaction::transact(&state, &caller, state.suite.consents, Bytes::from(call.abi_encode())).await?;
    Ok((StatusCode::CREATED, Json(consent_of(&state, &caller.addr, &addr(&financier)).await?)))
}

/// The firm declines a verification request.
#[utoipa::path(post, path = "/v1/verification-requests/{id}/decline", tag = "consents",
    operation_id = "decline_verification_request", params(("id" = i64, Path)),
    responses((status = 200, body = VerificationRequestView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
) -> ApiResult<Json<VerificationRequestView>> {
    load_request(&state, &caller, id).await?;
    let call = Consents::declineCall { requestId: U256::from(id.max(0) as u64) };
    transaction::transact(&state, &caller, state.suite.consents, Bytes::from(call.abi_encode())).await?;
    Ok(Json(request_view(load_request(&state, &caller, id).await?)))
}

/// The financier withdraws its own open request, 30 days after asking: one request per
/// firm stays open at a time, and a financier has at most 32 open, so an unanswered
/// request must be withdrawn before asking again.
#[utoipa::path(post, path = "/v1/verification-requests/{id}/withdraw", tag = "consents",
    operation_id = "withdraw_verification_request", params(("id" = i64, Path)),
    responses((status = 200, body = VerificationRequestView), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
) -> ApiResult<Json<VerificationRequestView>> {
    load_request(&state, &caller, id).await?;
    let call = Consents::withdrawRequestCall { requestId: U256::from(id.max(0) as u64) };
    transaction::transact(&state, &caller, state.suite.consents, Bytes::from(call.abi_encode())).await?;
    Ok(Json(request_view(load_request(&state, &caller, id).await?)))
}

/// The firm ends a financier's access at once. A suspended firm may still do this (taking
/// access away is always allowed), the one thing it may do.
#[utoipa::path(post, path = "/v1/consents/{financier}/revoke", tag = "consents", operation_id = "revoke_consent",
    params(("financier" = String, Path, description = "the financier's 0x address")),
    responses((status = 200, body = ConsentView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    EvenSuspended(caller): EvenSuspended,
    PathArgs(financier): PathArgs<String>,
) -> ApiResult<Json<ConsentView>> {
    let financier = terms::address("financier", &financier)?;
    let call = Consents::revokeCall { financier };
    transaction::transact(&state, &caller, state.suite.consents, Bytes::from(call.abi_encode())).await?;
    Ok(Json(consent_of(&state, &caller.addr, &addr(&financier)).await?))
}

/// Consents, verification requests and history reads that concern the caller: a firm sees
/// every financier that may look, asked, or looked; a financier sees its own.
#[utoipa::path(get, path = "/v1/consents", tag = "consents", operation_id = "list_consents",
    responses((status = 200, body = ConsentOverview), (status = 401, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn overview(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<ConsentOverview>> {
    let me = caller.addr.as_str();
    let consents = consent::Entity::find()
        .filter(Condition::any().add(consent::Column::Firm.eq(me)).add(consent::Column::Financier.eq(me)))
        .order_by_asc(consent::Column::Firm)
        .order_by_asc(consent::Column::Financier)
        .all(&state.db)
        .await?;
    let requests = verification_request::Entity::find()
        .filter(
            Condition::any()
                .add(verification_request::Column::Firm.eq(me))
                .add(verification_request::Column::Financier.eq(me)),
        )
        .order_by_asc(verification_request::Column::Id)
        .all(&state.db)
        .await?;
    let reads = audit::Entity::find()
        .filter(audit::Column::Action.is_in(HISTORY_READS))
        .filter(Condition::any().add(audit::Column::Subject.eq(me)).add(audit::Column::Actor.eq(me)))
        .order_by_asc(audit::Column::Id)
        .all(&state.db)
        .await?;
    Ok(Json(ConsentOverview {
        consents: consents.into_iter().map(consent_view).collect(),
        requests: requests.into_iter().map(request_view).collect(),
        reads: reads
            .into_iter()
            .map(|a| HistoryRead { reader: a.actor, firm: a.subject, action: a.action, at: a.at })
            .collect(),
    }))
}
