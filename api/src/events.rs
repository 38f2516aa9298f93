//! Server-sent events: `GET /v1/events` streams every change to the caller's orders, to
//! financings it offered or took and to consents it asked for or gave, as the indexer
//! commits it (event name = the contract event; data = order id, financing id or request
//! id where they apply, block, tx hash).
//! A client that falls behind receives a `lagged` event and should re-read its orders.
//! An organisation the operator suspends receives `suspended` and the stream ends: a
//! suspended organisation reads nothing, live or not. A stream whose token is revoked or
//! expires receives `revoked` and ends within [`STANDING_CHECK`].

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ErrorBody;

/// How often an open stream checks that its token still authenticates.
const STANDING_CHECK: Duration = Duration::from_secs(2);

/// Membership changes reach the stream only to end it on suspension; they are no order's.
fn is_standing(kind: &str) -> bool {
    matches!(
        kind,
        "OrganisationRegistered" | "RolesChanged" | "OrganisationSuspended" | "OrganisationReinstated" | "HolidaysSet"
    )
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/events", get(watch))
}

/// Live changes to the caller's orders, financings and consents (text/event-stream).
#[utoipa::path(get, path = "/v1/events", tag = "orders", operation_id = "watch_orders",
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "events named after the contract event; data: {order_id?, financing_id?, request_id?, kind, block, tx_hash}"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn watch(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = state.indexer.subscribe();
    let me = caller.addr;
    let token = crate::auth::presented(&headers).map(|p| p.token).unwrap_or_default();
    let mut closing = state.closing.clone();
    // The database only: an open stream must not keep the node itself alive.
    let db = state.db.clone();
    let standing = tokio::time::interval(STANDING_CHECK);
    let stream = futures_util::stream::unfold(Some((rx, me, standing)), move |open| {
        let (db, token) = (db.clone(), token.clone());
        async move {
            let (mut rx, me, mut standing) = open?;
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    _ = standing.tick() => {
                        // A token revoked or expired (by any process of the node) ends the
                        // stream it opened, as it refuses the next request.
                        if let Err(e) = crate::auth::live_token(&db, &token).await {
                            let ev = Event::default().event("revoked").data(format!("{{\"code\":\"{}\"}}", e.code));
                            return Some((Ok(ev), None));
                        }
                        continue;
                    }
                };
                match received {
                    Ok(change) if change.kind == "OrganisationSuspended" && change.parties.contains(&me) => {
                        let ev = Event::default().event("suspended").data(format!("{{\"block\":{}}}", change.block));
                        return Some((Ok(ev), None));
                    }
                    Ok(change) if change.parties.contains(&me) && !is_standing(&change.kind) => {
                        let data = serde_json::to_string(&change).unwrap_or_default();
                        let ev = Event::default().event(change.kind.clone()).data(data);
                        return Some((Ok(ev), Some((rx, me, standing))));
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(n)) => {
                        let ev = Event::default().event("lagged").data(format!("{{\"missed\":{n}}}"));
                        return Some((Ok(ev), Some((rx, me, standing))));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    let stream = futures_util::StreamExt::take_until(stream, async move {
        let _ = closing.wait_for(|c| *c).await;
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
