//! Banks' holiday calendars: the days that are not banking days for a bank, which the
//! examination period (UCP 600 art. 14(b): five banking days) and the due date's roll to
//! the next banking day skip. Each bank keeps its own calendar on chain (`Consortium`);
//! only it may change it, only for today or later, and a change applies to presentations
//! made after it, so a bank cannot stretch an examination already running by declaring a
//! holiday in it.

use alloy::primitives::Bytes;
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consortium, role};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::codec::{addr, date_of};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::holiday;
use crate::request::{Body, PathArgs};
use crate::{AppState, terms, transaction};

/// The most days one change names (the contract's bound).
const MAX_DAYS: usize = 64;

/// A change to the caller's (a bank's) calendar.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HolidayChange {
    /// 1 to 64 days, YYYY-MM-DD, today or later (UTC).
    pub(crate) days: Vec<String>,
    /// `true` declares them holidays; `false` makes them banking days again.
    pub(crate) holiday: bool,
}

/// A bank's holidays as the chain holds them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Calendar {
    pub(crate) bank: String,
    pub(crate) holidays: Vec<HolidayView>,
}

/// One holiday.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HolidayView {
    /// YYYY-MM-DD
    pub(crate) day: String,
    /// Unix seconds: presentations made before this keep the calendar they were made under.
    pub(crate) declared_at: i64,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/holidays", post(set)).route("/banks/{address}/holidays", get(calendar))
}

async fn calendar_of(state: &AppState, bank: &str) -> ApiResult<Calendar> {
    let rows = holiday::Entity::find()
        .filter(holiday::Column::Bank.eq(bank))
        .order_by_asc(holiday::Column::Day)
        .all(&state.db)
        .await?;
    Ok(Calendar {
        bank: bank.to_string(),
        holidays: rows
            .into_iter()
            .map(|h| HolidayView { day: date_of(h.day * 86_400), declared_at: h.declared_at })
            .collect(),
    })
}

/// A bank declares days holidays (or banking days again) in its own calendar.
#[utoipa::path(post, path = "/v1/holidays", tag = "organisations", operation_id = "set_holidays",
    request_body = HolidayChange,
    responses((status = 200, body = Calendar), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Body(change): Body<HolidayChange>,
) -> ApiResult<Json<Calendar>> {
    // Who may, before what: a non-bank learns nothing from a calendar's validation.
    if caller.roles & role::BANK == 0 {
        return Err(ApiError::forbidden("NOT_BANK", "only a bank keeps a holiday calendar"));
    }
    if change.days.is_empty() || change.days.len() > MAX_DAYS {
        return Err(ApiError::validation("INVALID_HOLIDAYS", format!("name 1 to {MAX_DAYS} days")));
    }
    let days = terms::days("days", &change.days)?;
    let today = chrono::Utc::now().timestamp() / 86_400;
    if let Some(past) = days.iter().find(|d| i64::from(**d) < today) {
        return Err(ApiError::validation(
            "HOLIDAY_IN_THE_PAST",
            format!("{} is in the past: a calendar changes from today on", date_of(i64::from(*past) * 86_400)),
        ));
    }
    let call = Consortium::setHolidaysCall { days_: days, holiday: change.holiday };
    transaction::transact(&state, &caller, state.suite.consortium, Bytes::from(call.abi_encode())).await?;
    Ok(Json(calendar_of(&state, &caller.addr).await?))
}

/// A bank's holidays (any member may read them: they decide everyone's deadlines).
#[utoipa::path(get, path = "/v1/banks/{address}/holidays", tag = "organisations", operation_id = "bank_holidays",
    params(("address" = String, Path, description = "the bank's 0x address")),
    responses((status = 200, body = Calendar), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn calendar(
    State(state): State<AppState>,
    _caller: Caller,
    PathArgs(bank): PathArgs<String>,
) -> ApiResult<Json<Calendar>> {
    let bank = terms::address("address", &bank)?;
    Ok(Json(calendar_of(&state, &addr(&bank)).await?))
}
