//! API tokens have a lifecycle: each has a name, an optional expiry and a last-used time;
//! an organisation issues, lists and revokes its own, the operator anyone's. A revoked or
//! expired token authenticates nothing from the next request on, on every process of the
//! node (tokens are read at each request, never cached), and the event streams it opened
//! end ([`crate::events`]). The token itself is shown once, at issue; the node keeps its
//! SHA-256 only, and names it by a public id (its hash's first 16 hex digits).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, create_token_until, token_hash, token_id};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::{api_token, organisation};
use crate::request::{Body, PathArgs, QueryArgs};
use crate::{AppState, codec::addr, terms};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/tokens", get(list).post(issue)).route("/tokens/{id}/revoke", post(revoke))
}

/// A token as listed (never the token itself).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenView {
    /// Its public id (the first 16 hex digits of its SHA-256).
    pub(crate) id: String,
    /// The organisation it acts for (0x address).
    pub(crate) organisation: String,
    pub(crate) name: String,
    /// Unix seconds.
    pub(crate) created_at: i64,
    /// Unix seconds; absent: it does not expire.
    pub(crate) expires_at: Option<i64>,
    /// Unix seconds, to the minute; absent: never used.
    pub(crate) last_used_at: Option<i64>,
    /// Unix seconds; absent: live.
    pub(crate) revoked_at: Option<i64>,
}

fn view(t: api_token::Model) -> TokenView {
    TokenView {
        id: token_id(&t.token_hash),
        organisation: t.org,
        name: t.label,
        created_at: t.created_at,
        expires_at: t.expires_at,
        last_used_at: t.last_used_at,
        revoked_at: t.revoked_at,
    }
}

/// A new token: what to call it and, optionally, the last day it works.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenRequest {
    /// 1 to 64 characters, e.g. "settlement worker" or "ERP integration".
    pub(crate) name: String,
    /// The last day it works (YYYY-MM-DD, through 23:59:59 UTC); absent: no expiry.
    #[schema(format = Date)]
    pub(crate) expires_at: Option<String>,
    /// The operator only: the organisation to issue it for (0x address); absent: the caller.
    pub(crate) organisation: Option<String>,
}

/// An issued token: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IssuedToken {
    /// The bearer token. Store it now: the node keeps only its hash.
    pub(crate) token: String,
    #[serde(flatten)]
    pub(crate) details: TokenView,
}

/// Which tokens to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TokenQuery {
    /// The operator only: another organisation's tokens (0x address).
    pub(crate) organisation: Option<String>,
}

/// The organisation whose tokens the caller manages: its own, or (the operator) any.
async fn subject(state: &AppState, caller: &Caller, asked: Option<&str>) -> ApiResult<String> {
    let Some(asked) = asked else { return Ok(caller.addr.clone()) };
    let a = addr(&terms::address("organisation", asked)?);
    if a == caller.addr {
        return Ok(a);
    }
    caller.require_operator()?;
    if organisation::Entity::find_by_id(a.clone()).one(&state.db).await?.is_none() {
        return Err(ApiError::not_found("ORGANISATION_NOT_FOUND", format!("no organisation at {a}")));
    }
    Ok(a)
}

/// The caller's tokens (the operator: any organisation's), newest first.
#[utoipa::path(get, path = "/v1/tokens", tag = "organisations", operation_id = "list_tokens", params(TokenQuery),
    responses((status = 200, body = [TokenView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<TokenQuery>,
) -> ApiResult<Json<Vec<TokenView>>> {
    let org = subject(&state, &caller, q.organisation.as_deref()).await?;
    let rows = api_token::Entity::find()
        .filter(api_token::Column::Org.eq(org))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(&state.db)
        .await?;
    Ok(Json(rows.into_iter().map(view).collect()))
}

/// Issue a token for the caller (the operator: for any organisation).
#[utoipa::path(post, path = "/v1/tokens", tag = "organisations", operation_id = "issue_token",
    request_body = NewTokenRequest,
    responses((status = 201, body = IssuedToken), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<IssuedToken>)> {
    // At most 64 characters as sent (the document's maxLength), then trimmed.
    let name = req.name.trim();
    if name.is_empty() || req.name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::validation("VALIDATION_FAILED", "name must be 1 to 64 printable characters"));
    }
    let expires_at = match req.expires_at.as_deref() {
        Some(d) => {
            let end = i64::try_from(terms::date_end("expires_at", d)?).unwrap_or(i64::MAX);
            if end <= chrono::Utc::now().timestamp() {
                return Err(ApiError::validation("INVALID_DATES", "expires_at must be today or later"));
            }
            Some(end)
        }
        None => None,
    };
    let org = subject(&state, &caller, req.organisation.as_deref()).await?;
    let token = create_token_until(&state.db, &org, name, expires_at).await?;
    let row = api_token::Entity::find_by_id(token_hash(&token))
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("issued token not stored"))?;
    tracing::info!(org = %org, id = %token_id(&row.token_hash), "API token issued");
    Ok((StatusCode::CREATED, Json(IssuedToken { token, details: view(row) })))
}

/// Revoke a token by its id: the caller's own (the operator: anyone's). It authenticates
/// nothing from the next request on, and its open event streams end.
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "organisations", operation_id = "revoke_token",
    params(("id" = String, Path, description = "the token's public id (16 hex digits)")),
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<Json<TokenView>> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ApiError::validation("VALIDATION_FAILED", "id: 16 lower-case hex digits"));
    }
    let not_found = || ApiError::not_found("TOKEN_NOT_FOUND", format!("no token {id} of yours"));
    let mut find = api_token::Entity::find().filter(api_token::Column::TokenHash.starts_with(&id));
    // Another organisation's token is answered as missing, as if it did not exist.
    if !caller.is_operator() {
        find = find.filter(api_token::Column::Org.eq(caller.addr.clone()));
    }
    let row = find.one(&state.db).await?.ok_or_else(not_found)?;
    let mut row = row;
    if row.revoked_at.is_none() {
        let now = chrono::Utc::now().timestamp();
        let active = api_token::ActiveModel {
            token_hash: Set(row.token_hash.clone()),
            revoked_at: Set(Some(now)),
            ..Default::default()
        };
        api_token::Entity::update(active).exec(&state.db).await?;
        row.revoked_at = Some(now);
        tracing::info!(org = %row.org, id = %id, by = %caller.addr, "API token revoked");
    }
    Ok(Json(view(row)))
}
