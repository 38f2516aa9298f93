//! Payments: each attempt a milestone's `PaymentDue` started, with its ISO 20022
//! EndToEndId (`TC{chain}-{order}-{milestone}-{attempt}`) and, once settled, the bank's
//! reference. A bank sees the payments it makes or receives and those of orders it is a
//! party to; a firm those of its orders.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::order::view;
use crate::readmodel::{order, payment};
use crate::request::{PathArgs, QueryArgs};
use crate::{AppState, terms};

/// One payment attempt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PaymentView {
    pub(crate) order_id: i64,
    pub(crate) milestone: i32,
    pub(crate) attempt: i32,
    /// ISO 20022 `PmtId/EndToEndId`.
    pub(crate) end_to_end_id: String,
    pub(crate) payer: String,
    pub(crate) payee: String,
    pub(crate) amount_minor: String,
    pub(crate) amount: String,
    pub(crate) currency: String,
    /// Unix seconds.
    pub(crate) due_date: i64,
    /// due, paid, failed
    pub(crate) state: String,
    pub(crate) bank_reference: Option<String>,
    pub(crate) failure_reason: Option<String>,
    pub(crate) due_tx: String,
    pub(crate) settled_tx: Option<String>,
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PaymentQuery {
    pub(crate) order: Option<i64>,
    /// due, paid, failed
    pub(crate) state: Option<String>,
    /// Page size 1..=500 (default 100).
    pub(crate) limit: Option<u64>,
}

fn view_of(p: payment::Model) -> PaymentView {
    PaymentView {
        amount: terms::render(&p.amount, &p.currency),
        order_id: p.order_id,
        milestone: p.milestone,
        attempt: p.attempt,
        end_to_end_id: p.end_to_end_id,
        payer: p.payer,
        payee: p.payee,
        amount_minor: p.amount,
        currency: p.currency,
        due_date: p.due_date,
        state: p.state,
        bank_reference: p.bank_reference,
        failure_reason: p.failure_reason,
        due_tx: p.due_tx,
        settled_tx: p.settled_tx,
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/payments", get(list)).route("/orders/{id}/payments", get(of_order))
}

/// Payments the caller makes, receives, or that belong to its orders.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", operation_id = "list_payments", params(PaymentQuery),
    responses((status = 200, body = [PaymentView]), (status = 401, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryArgs(q): QueryArgs<PaymentQuery>,
) -> ApiResult<Json<Vec<PaymentView>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::validation("VALIDATION_FAILED", "limit must be 1..=500"));
    }
    let a = caller.addr.as_str();
    let mine = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(
            Condition::any()
                .add(order::Column::Buyer.eq(a))
                .add(order::Column::Seller.eq(a))
                .add(order::Column::BuyerBank.eq(a))
                .add(order::Column::SellerBank.eq(a)),
        )
        .into_query();
    let mut query = payment::Entity::find().filter(
        Condition::any()
            .add(payment::Column::Payer.eq(a))
            .add(payment::Column::Payee.eq(a))
            .add(payment::Column::OrderId.in_subquery(mine)),
    );
    if let Some(o) = q.order {
        query = query.filter(payment::Column::OrderId.eq(o));
    }
    if let Some(s) = &q.state {
        query = query.filter(payment::Column::State.eq(s.as_str()));
    }
    let rows = query
        .order_by_desc(payment::Column::DueBlock)
        .order_by_asc(payment::Column::OrderId)
        .order_by_asc(payment::Column::Milestone)
        .limit(limit)
        .all(&state.db)
        .await?;
    Ok(Json(rows.into_iter().map(view_of).collect()))
}

/// Every payment attempt of one order.
#[utoipa::path(get, path = "/v1/orders/{id}/payments", tag = "payments", operation_id = "order_payments", params(("id" = i64, Path)),
    responses((status = 200, body = [PaymentView]), (status = 404, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn of_order(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<i64>,
) -> ApiResult<Json<Vec<PaymentView>>> {
    view::load_visible(&state, &caller, id).await?;
    let rows = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(id))
        .order_by_asc(payment::Column::Milestone)
        .order_by_asc(payment::Column::Attempt)
        .all(&state.db)
        .await?;
    Ok(Json(rows.into_iter().map(view_of).collect()))
}
