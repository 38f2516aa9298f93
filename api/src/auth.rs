//! Authentication per organisation: `Authorization: Bearer tc_…`. Tokens are random
//! (256 bits), shown once, and stored only as their SHA-256. The [`Caller`] extractor
//! resolves a token to its organisation and current on-chain roles.

use std::sync::Arc;

use alloy::primitives::Address;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Iterable, JoinType, QueryFilter,
    QuerySelect,
};
use sha2::{Digest, Sha256};
use tradechain_contracts::role;

use crate::error::ApiError;
use crate::keystore::random_bytes;
use crate::readmodel::{api_token, member, organisation};
use crate::{AppState, codec::addr};

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Create an API token for the organisation at `org` (lower-case 0x address); returns the
/// token, which is not stored anywhere in clear. The CLI's `tradechain token create`
/// calls this on the node's read model.
pub async fn create_token(db: &impl ConnectionTrait, org: &str, label: &str) -> Result<String, sea_orm::DbErr> {
    create_token_until(db, org, label, None).await
}

/// As [`create_token`], expiring at `expires_at` (unix seconds) if given.
pub async fn create_token_until(
    db: &impl ConnectionTrait,
    org: &str,
    label: &str,
    expires_at: Option<i64>,
) -> Result<String, sea_orm::DbErr> {
    let token = format!("tc_{}", hex::encode(random_bytes::<32>()));
    let now = chrono::Utc::now().timestamp();
    api_token::Entity::insert(api_token::ActiveModel {
        token_hash: Set(token_hash(&token)),
        org: Set(org.to_string()),
        label: Set(label.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        parent_hash: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// A web app session for `org`, opened with the token whose hash is `parent`, expiring at
/// `expires_at`: it authenticates only while that token does ([`live_token`]).
pub(crate) async fn create_session(
    db: &impl ConnectionTrait,
    org: &str,
    label: &str,
    expires_at: i64,
    parent: &str,
) -> Result<String, sea_orm::DbErr> {
    let token = format!("tc_{}", hex::encode(random_bytes::<32>()));
    api_token::Entity::insert(api_token::ActiveModel {
        token_hash: Set(token_hash(&token)),
        org: Set(org.to_string()),
        label: Set(label.to_string()),
        created_at: Set(chrono::Utc::now().timestamp()),
        expires_at: Set(Some(expires_at)),
        last_used_at: Set(None),
        revoked_at: Set(None),
        parent_hash: Set(Some(parent.to_string())),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// A token's public id: the first 16 hex digits of its hash (it names the token in lists
/// and revocations; neither the token nor its hash can be recovered from it).
pub fn token_id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// Create a token for the organisation named `name` (the CLI's `--org NAME`).
pub async fn create_token_by_name(db: &impl ConnectionTrait, name: &str) -> Result<String, ApiError> {
    let org = organisation_named(db, name).await?;
    Ok(create_token(db, &org.address, "cli").await?)
}

/// The organisation registered as `name` (the CLI names organisations by name).
pub(crate) async fn organisation_named(db: &impl ConnectionTrait, name: &str) -> Result<organisation::Model, ApiError> {
    organisation::Entity::find()
        .filter(organisation::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("ORGANISATION_NOT_FOUND", format!("no organisation named {name:?}")))
}

/// The authenticated organisation behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its address on chain.
    pub address: Address,
    /// Lower-case 0x address, as stored in the read model.
    pub addr: String,
    /// Its registered name.
    pub name: String,
    /// Its role bits (`tradechain_contracts::role`).
    pub roles: u32,
    /// Whether the operator suspended it (then it may do nothing).
    pub suspended: bool,
    /// Its custodial key as the read model seals it, read with the token: a custodial
    /// write needs no read of its own for it ([`crate::transaction::signer_of`]).
    pub(crate) sealed_key: Option<SealedKey>,
    /// A write's place among those the node takes at once ([`crate::overload`]), held for
    /// as long as the request is handled; `None` for a read.
    pub(crate) write: Option<Arc<crate::overload::WritePermit>>,
}

/// An organisation's custodial key, sealed under the node's master key
/// (`members.key_ciphertext`). Never printed: a caller is logged with its request.
#[derive(Clone)]
pub(crate) struct SealedKey(pub(crate) String);

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedKey(..)")
    }
}

impl Caller {
    /// Whether it holds the operator role.
    pub fn is_operator(&self) -> bool {
        self.roles & role::OPERATOR != 0
    }

    /// `MISSING_ROLE` unless it is the operator.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::forbidden("OPERATOR_ONLY", "only the consortium operator may do this"))
        }
    }
}

/// A suspended organisation is refused on every route, reads included: suspension stops it
/// seeing, not only doing (`ORGANISATION_SUSPENDED`). The one exception takes access away
/// from others ([`EvenSuspended`]).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = authenticated(parts, state).await?;
        if caller.suspended {
            return Err(suspended());
        }
        admitted(parts, state, caller)
    }
}

/// `ORGANISATION_SUSPENDED`.
pub(crate) fn suspended() -> ApiError {
    ApiError::forbidden(
        "ORGANISATION_SUSPENDED",
        "the operator suspended this organisation: it may read and do nothing until reinstated",
    )
}

/// The caller whether suspended or not: only for what a suspended organisation may still do,
/// revoke a consent it gave (taking access away is always allowed, as in the contract).
#[derive(Debug, Clone)]
pub struct EvenSuspended(pub Caller);

impl FromRequestParts<AppState> for EvenSuspended {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = authenticated(parts, state).await?;
        admitted(parts, state, caller).map(EvenSuspended)
    }
}

/// The caller a request's token names (and, from a browser, its CSRF header checks).
async fn authenticated(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let Some(presented) = presented(&parts.headers) else { return Err(ApiError::unauthenticated()) };
    if presented.by_cookie && !parts.method.is_safe() {
        check_csrf(&parts.headers, &presented.token)?;
    }
    resolve(state, &presented.token).await
}

/// `caller` with a write's place if the request is a write, or `OVERLOADED`
/// ([`crate::overload`]). Taken after authentication, so that a stranger holds no place,
/// and before the body is read or anything stored, so that a refused write changed nothing.
fn admitted(parts: &Parts, state: &AppState, mut caller: Caller) -> Result<Caller, ApiError> {
    if !parts.method.is_safe() {
        caller.write = Some(Arc::new(state.writes.admit(caller.address)?));
    }
    Ok(caller)
}

/// The cookie that carries a web app session (a short-lived token made at sign-in, see
/// the api's `web` module). HttpOnly: the page's script never reads it.
pub const SESSION_COOKIE: &str = "tc_session";

/// The header a web app request that changes something must carry: the session's CSRF
/// token, which the sign-in answer gives the page's script and no other site can learn.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A token as the request presented it.
#[derive(Debug, Clone)]
pub(crate) struct Presented {
    /// The token.
    pub(crate) token: String,
    /// Whether it came in the session cookie (a browser) rather than `Authorization`.
    pub(crate) by_cookie: bool,
}

/// The token a request presents: `Authorization: Bearer …` first, else the web app's
/// session cookie.
pub(crate) fn presented(headers: &axum::http::HeaderMap) -> Option<Presented> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if let Some(token) = bearer {
        return Some(Presented { token: token.to_string(), by_cookie: false });
    }
    session_cookie(headers).map(|token| Presented { token, by_cookie: true })
}

/// The session cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The CSRF token of a session: derived from the session's secret token, so only a page
/// that was given it at sign-in (or asked `/app/session` with the cookie, which another
/// site's page cannot read the answer of) knows it.
pub fn csrf_of(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tradechain web session csrf\0");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// `CSRF_FAILED` unless the request carries the session's CSRF token: a cookie is sent by
/// the browser whichever site made the request; the header only by our own page.
pub(crate) fn check_csrf(headers: &axum::http::HeaderMap, token: &str) -> Result<(), ApiError> {
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = csrf_of(token);
    // Constant time: the comparison must not tell how many leading characters were right.
    let same =
        sent.len() == expected.len() && sent.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "CSRF_FAILED",
            "a change made with the web app's session needs the session's CSRF token in the X-CSRF-Token header",
        ))
    }
}

/// What authenticating a request reads, in one statement: the token, its organisation
/// and the organisation's sealed custodial key, if the node holds one. No `Debug`: the key
/// is never printed.
#[derive(sea_orm::FromQueryResult)]
struct Authenticated {
    #[sea_orm(nested)]
    token: api_token::Model,
    org_name: Option<String>,
    org_roles: Option<i64>,
    org_suspended: Option<bool>,
    key_ciphertext: Option<String>,
}

/// The organisation behind `token` and its current roles and standing, or
/// `UNAUTHENTICATED`. Used by REST, SSE and the JSON-RPC gate alike.
pub(crate) async fn resolve(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    // Every request runs this: one read, where a custodial write read the key again.
    let a = api_token::Entity::find_by_id(token_hash(token))
        .select_only()
        .columns(api_token::Column::iter())
        .column_as(organisation::Column::Name, "org_name")
        .column_as(organisation::Column::Roles, "org_roles")
        .column_as(organisation::Column::Suspended, "org_suspended")
        .column_as(member::Column::KeyCiphertext, "key_ciphertext")
        .join(
            JoinType::LeftJoin,
            api_token::Entity::belongs_to(organisation::Entity)
                .from(api_token::Column::Org)
                .to(organisation::Column::Address)
                .into(),
        )
        .join(
            JoinType::LeftJoin,
            api_token::Entity::belongs_to(member::Entity)
                .from(api_token::Column::Org)
                .to(member::Column::Address)
                .into(),
        )
        .into_model::<Authenticated>()
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let row = still_live(&state.db, a.token).await?;
    let (Some(name), Some(roles), Some(suspended)) = (a.org_name, a.org_roles, a.org_suspended) else {
        return Err(ApiError::unauthenticated());
    };
    let now = chrono::Utc::now().timestamp();
    // Last use to the minute: one write a minute per token at most.
    if row.last_used_at.is_none_or(|t| now - t >= 60) {
        let _turn = state.indexer.write_turn().await;
        let touch = api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, sea_orm::sea_query::Expr::value(now))
            .filter(api_token::Column::TokenHash.eq(row.token_hash.clone()))
            .exec(&state.db)
            .await;
        if let Err(e) = touch {
            tracing::warn!(error = %e, "could not record the token's last use");
        }
    }
    let address: Address = row.org.parse().map_err(ApiError::internal)?;
    tracing::Span::current().record("org", name.as_str());
    Ok(Caller {
        address,
        addr: addr(&address),
        name,
        roles: roles as u32,
        suspended,
        sealed_key: a.key_ciphertext.map(SealedKey),
        write: None,
    })
}

/// The row of `token` if it authenticates now: known, not revoked, not expired. Read at
/// every request, never cached: a revocation or an expiry, written by any process of the
/// node, holds from the next request on.
pub(crate) async fn live_token(db: &DatabaseConnection, token: &str) -> Result<api_token::Model, ApiError> {
    let row = api_token::Entity::find_by_id(token_hash(token)).one(db).await?.ok_or_else(ApiError::unauthenticated)?;
    still_live(db, row).await
}

/// `row`, read just now, if it authenticates: [`live_token`]'s checks.
async fn still_live(db: &DatabaseConnection, row: api_token::Model) -> Result<api_token::Model, ApiError> {
    standing(&row)?;
    // A web session lives only while the token it was opened with does.
    if let Some(parent) = &row.parent_hash {
        let opener =
            api_token::Entity::find_by_id(parent.clone()).one(db).await?.ok_or_else(ApiError::unauthenticated)?;
        standing(&opener)
            .map_err(|e| ApiError::new(e.status, &e.code, format!("{} (the session was opened with it)", e.message)))?;
    }
    Ok(row)
}

/// `TOKEN_REVOKED` or `TOKEN_EXPIRED` unless `row` authenticates now.
fn standing(row: &api_token::Model) -> Result<(), ApiError> {
    if row.revoked_at.is_some() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "TOKEN_REVOKED", "this API token was revoked"));
    }
    if row.expires_at.is_some_and(|e| e <= chrono::Utc::now().timestamp()) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED", "this API token has expired"));
    }
    Ok(())
}

/// For the CLI (`tradechain token create --org NAME`): open the read model named by
/// `config` (migrating it if needed) and create a token for the organisation `name`.
pub async fn create_token_for_org(config: &crate::ApiConfig, name: &str) -> Result<String, ApiError> {
    let db = crate::readmodel::connect(&config.database_url()).await?;
    crate::readmodel::migrate(&db).await?;
    let token = create_token_by_name(&db, name).await;
    db.close().await.ok();
    token
}

/// For the CLI (`tradechain token list --org NAME`): the tokens of the organisation `name`,
/// newest first (never the tokens themselves).
pub async fn tokens_of_org(config: &crate::ApiConfig, name: &str) -> Result<Vec<api_token::Model>, ApiError> {
    use sea_orm::QueryOrder;
    let db = crate::readmodel::connect(&config.database_url()).await?;
    crate::readmodel::migrate(&db).await?;
    let org = organisation_named(&db, name).await?;
    let rows = api_token::Entity::find()
        .filter(api_token::Column::Org.eq(org.address))
        .order_by_desc(api_token::Column::CreatedAt)
        .all(&db)
        .await?;
    db.close().await.ok();
    Ok(rows)
}

/// For the CLI (`tradechain token revoke ID`): revoke the token with public id `id` (see
/// [`token_id`]); `false` if there is none or it was revoked already.
pub async fn revoke_token_by_id(config: &crate::ApiConfig, id: &str) -> Result<bool, ApiError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(ApiError::validation("VALIDATION_FAILED", "a token id is 16 lower-case hex digits"));
    }
    let db = crate::readmodel::connect(&config.database_url()).await?;
    crate::readmodel::migrate(&db).await?;
    let done = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(chrono::Utc::now().timestamp()))
        .filter(api_token::Column::TokenHash.starts_with(id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&db)
        .await?;
    db.close().await.ok();
    Ok(done.rows_affected > 0)
}
