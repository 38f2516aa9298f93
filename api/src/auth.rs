//! Authentication per organisation: `Authorization: Bearer tc_…`. Tokens are random
//! (256 bits), shown once, and stored only as their SHA-256. The [`Caller`] extractor
//! resolves a token to its organisation and current on-chain roles.

use alloy::primitives::Address;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use sha2::{Digest, Sha256};
use tradechain_contracts::role;

use crate::error::ApiError;
use crate::keystore::random_bytes;
use crate::readmodel::{api_token, organisation};
use crate::{AppState, codec::addr};

/// SHA-256 of a token, hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Create an API token for the organisation at `org` (lower-case 0x address); returns the
/// token, which is not stored anywhere in clear. The CLI's `tradechain token create`
/// calls this on the node's read model.
pub async fn create_token(db: &impl ConnectionTrait, org: &str, label: &str) -> Result<String, sea_orm::DbErr> {
    let token = format!("tc_{}", hex::encode(random_bytes::<32>()));
    let now = chrono::Utc::now().timestamp();
    api_token::Entity::insert(api_token::ActiveModel {
        token_hash: Set(token_hash(&token)),
        org: Set(org.to_string()),
        label: Set(label.to_string()),
        created_at: Set(now),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// Create a token for the organisation named `name` (the CLI's `--org NAME`).
pub async fn create_token_by_name(db: &impl ConnectionTrait, name: &str) -> Result<String, ApiError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let org = organisation::Entity::find()
        .filter(organisation::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("ORGANISATION_NOT_FOUND", format!("no organisation named {name:?}")))?;
    Ok(create_token(db, &org.address, "cli").await?)
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
        let caller = EvenSuspended::from_request_parts(parts, state).await?.0;
        if caller.suspended {
            return Err(suspended());
        }
        Ok(caller)
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
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
        let Some(token) = token.filter(|t| !t.is_empty()) else { return Err(ApiError::unauthenticated()) };
        resolve(state, token).await.map(EvenSuspended)
    }
}

/// The organisation behind `token` and its current roles and standing, or
/// `UNAUTHENTICATED`. Used by REST, SSE and the JSON-RPC gate alike.
pub(crate) async fn resolve(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let hash = token_hash(token);
    let cached = state.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&hash).cloned();
    let org = match cached {
        Some(org) => org,
        None => {
            let row = api_token::Entity::find_by_id(hash.clone())
                .one(&state.db)
                .await?
                .ok_or_else(ApiError::unauthenticated)?;
            state.tokens.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(hash, row.org.clone());
            row.org
        }
    };
    let o =
        organisation::Entity::find_by_id(org.clone()).one(&state.db).await?.ok_or_else(ApiError::unauthenticated)?;
    let address: Address = org.parse().map_err(ApiError::internal)?;
    tracing::Span::current().record("org", o.name.as_str());
    Ok(Caller { address, addr: addr(&address), name: o.name, roles: o.roles as u32, suspended: o.suspended })
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
