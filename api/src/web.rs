//! The web app (`/app`): the pages exporters, importers, banks, carriers, financiers and the
//! operator work a trade in, served by the node from assets compiled into the binary
//! (`api/web/`: one HTML page, one script, one style sheet; nothing fetched from another
//! host, no build step), and the browser's session.
//!
//! The page's script calls the same `/v1` routes as any client, under the same rules: the
//! only thing added here is how a browser authenticates. Signing in exchanges an
//! organisation's API token for a session, itself a short-lived API token of that
//! organisation ([`SESSION_HOURS`], revocable like any other, listed with its tokens) kept
//! in an HttpOnly, SameSite=Strict cookie the script never sees. A request that changes
//! something with that cookie must also carry the session's CSRF token
//! ([`crate::auth::check_csrf`]), which only our own page is given. The page is served with a
//! strict Content-Security-Policy: scripts and styles from this origin only, no inline
//! code, no framing.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{self, SESSION_COOKIE};
use crate::error::ApiError;
use crate::readmodel::api_token;

/// How long a browser session lasts from sign-in.
pub(crate) const SESSION_HOURS: i64 = 8;

/// The label a session's token is listed under.
pub(crate) const SESSION_LABEL: &str = "web session";

const INDEX: &str = include_str!("../web/index.html");
const SCRIPT: &str = include_str!("../web/app.js");
const STYLE: &str = include_str!("../web/app.css");

/// What the page may load and do: its own script and style only, API calls to its own
/// origin, documents shown from the blobs it fetched; no inline script, no plug-in, no
/// framing by another site, forms posted nowhere.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; frame-src blob:; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/app", get(|| async { Redirect::to("/app/") }))
        .route("/app/", get(index))
        .route("/app/app.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/app/app.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/app/session", get(current).post(sign_in).delete(sign_out))
}

/// Headers every answer of the web app carries.
fn hardened(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    hardened(([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response())
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// The sign-in form's body.
#[derive(Debug, Deserialize)]
struct SignIn {
    /// An API token of the organisation.
    token: String,
}

/// Who is signed in, and the CSRF token the page sends with every change.
#[derive(Debug, Serialize)]
struct Session {
    csrf: String,
    organisation: SessionOrganisation,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct SessionOrganisation {
    address: String,
    name: String,
    roles: Vec<String>,
}

/// A change to the session must come from a page of this node: a browser names the page's
/// origin on every cross-site request, and another site's would differ from our host
/// (the session cookie's SameSite=Strict already keeps it off such requests; this also
/// stops another site signing a victim in as the attacker's organisation).
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    if !host.is_empty() && origin_host == host {
        Ok(())
    } else {
        Err(ApiError::forbidden("CSRF_FAILED", "the session is changed only from this node's own pages"))
    }
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("tc_session=; Max-Age=0"))
}

/// Served over TLS (a terminating proxy says so): the cookie is sent over TLS only.
fn over_tls(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

async fn session_of(state: &AppState, token: &str, expires_at: i64) -> Result<Session, ApiError> {
    let caller = auth::resolve(state, token).await?;
    if caller.suspended {
        return Err(auth::suspended());
    }
    Ok(Session {
        csrf: auth::csrf_of(token),
        organisation: SessionOrganisation {
            address: caller.addr,
            name: caller.name,
            roles: crate::organisation::role_names(caller.roles),
        },
        expires_at,
    })
}

/// Exchange an organisation's API token for a browser session.
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: crate::request::Body<SignIn>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let token = body.0.token.trim().to_string();
    let caller = auth::resolve(&state, &token).await?;
    if caller.suspended {
        return Err(auth::suspended());
    }
    // The session lives while the token it is opened with does; a session opened with a
    // session hangs on the same token.
    let opener = auth::live_token(&state.db, &token).await?;
    let parent = opener.parent_hash.unwrap_or(opener.token_hash);
    let expires_at = chrono::Utc::now().timestamp() + SESSION_HOURS * 3600;
    let session = auth::create_session(&state.db, &caller.addr, SESSION_LABEL, expires_at, &parent).await?;
    tracing::info!(org = %caller.name, "web session opened");
    let answer = session_of(&state, &session, expires_at).await?;
    let mut response = Json(answer).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie(&session, SESSION_HOURS * 3600, over_tls(&headers)));
    Ok(hardened(response))
}

/// The session this browser holds (`UNAUTHENTICATED` if none, or if it ended).
async fn current(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = auth::session_cookie(&headers).ok_or_else(ApiError::unauthenticated)?;
    let row = auth::live_token(&state.db, &token).await?;
    let answer = session_of(&state, &token, row.expires_at.unwrap_or(0)).await?;
    Ok(hardened(Json(answer).into_response()))
}

/// End the session: its token is revoked (whoever copied the cookie can do nothing with it
/// either) and the cookie cleared.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let token = auth::session_cookie(&headers).ok_or_else(ApiError::unauthenticated)?;
    auth::check_csrf(&headers, &token)?;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now().timestamp()))
        .filter(api_token::Column::TokenHash.eq(auth::token_hash(&token)))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&state.db)
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie("", 0, over_tls(&headers)));
    Ok(hardened(response))
}

/// A browser asking for `/` (an HTML page, not a JSON-RPC WebSocket) is sent to the app.
pub(crate) async fn redirect_browsers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let h = request.headers();
    let wants_page = request.method() == axum::http::Method::GET
        && request.uri().path() == "/"
        && !h.contains_key(header::UPGRADE)
        && h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_page {
        return Redirect::to("/app/").into_response();
    }
    next.run(request).await
}
