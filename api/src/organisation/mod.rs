//! Organisations: onboarding by the operator (on-chain registration, custodial key, first
//! API token), the member directory, and more tokens.

mod name;

use alloy::primitives::Bytes;
use alloy::sol_types::SolCall;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consortium, role};
use utoipa::ToSchema;

use crate::auth::{Caller, create_token};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::{member, organisation};
use crate::request::{Body, PathArgs};
use crate::{AppState, StartError, codec::addr, terms, transaction};

/// Role names, in bit order.
pub(crate) const ROLES: &[(&str, u32)] = &[
    ("trader", role::TRADER),
    ("bank", role::BANK),
    ("financier", role::FINANCIER),
    ("carrier", role::CARRIER),
    ("inspector", role::INSPECTOR),
    ("operator", role::OPERATOR),
];

pub(crate) fn role_names(bits: u32) -> Vec<String> {
    ROLES.iter().filter(|(_, b)| bits & b != 0).map(|(n, _)| (*n).to_string()).collect()
}

/// A bank account (ISO 13616 IBAN, ISO 9362 BIC).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct BankAccount {
    pub(crate) iban: String,
    pub(crate) bic: String,
}

/// Onboarding request (operator only).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct NewOrganisation {
    /// 1..=140 bytes, unique.
    pub(crate) name: String,
    /// Any of trader, bank, financier, carrier, inspector, operator.
    pub(crate) roles: Vec<String>,
    /// Non-custodial: the organisation's own address; it signs its transactions itself.
    /// Omitted: the node creates and keeps (encrypted) the organisation's key.
    pub(crate) address: Option<String>,
    pub(crate) bank_account: Option<BankAccount>,
}

/// A consortium member.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Organisation {
    pub(crate) address: String,
    pub(crate) name: String,
    pub(crate) roles: Vec<String>,
    pub(crate) suspended: bool,
    pub(crate) registered_block: i64,
    /// `custodial` (the node signs), `external` (the organisation signs), `node` (the operator).
    pub(crate) custody: Option<String>,
    /// Only shown to the organisation itself and to the operator.
    pub(crate) bank_account: Option<BankAccount>,
}

/// The new organisation and its first API token (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Onboarded {
    pub(crate) organisation: Organisation,
    pub(crate) token: String,
}

/// A new API token (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewToken {
    pub(crate) token: String,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/organisations", post(onboard).get(list))
        .route("/organisations/me", get(me))
        .route("/organisations/{address}/tokens", post(new_token))
}

fn view(o: organisation::Model, m: Option<&member::Model>, show_account: bool) -> Organisation {
    let bank_account = match (show_account, m) {
        (true, Some(m)) => match (&m.iban, &m.bic) {
            (Some(iban), Some(bic)) => Some(BankAccount { iban: iban.clone(), bic: bic.clone() }),
            _ => None,
        },
        _ => None,
    };
    Organisation {
        address: o.address,
        name: o.name,
        roles: role_names(o.roles as u32),
        suspended: o.suspended,
        registered_block: o.registered_block,
        custody: m.map(|m| m.custody.clone()),
        bank_account,
    }
}

/// Record the operator's member row (its key is the node's, not in the keystore).
pub(crate) async fn ensure_operator_member(state: &AppState) -> Result<(), StartError> {
    let a = addr(&state.operator.address());
    if member::Entity::find_by_id(a.clone()).one(&state.db).await?.is_none() {
        member::Entity::insert(member::ActiveModel {
            address: Set(a),
            custody: Set("node".into()),
            key_ciphertext: Set(None),
            iban: Set(None),
            bic: Set(None),
            created_at: Set(chrono::Utc::now().timestamp()),
        })
        .exec_without_returning(&state.db)
        .await?;
    }
    Ok(())
}

/// Onboard an organisation: register it on chain (signed by the operator), keep its key
/// (custodial) and return its first API token.
#[utoipa::path(post, path = "/v1/organisations", tag = "organisations", operation_id = "onboard_organisation", request_body = NewOrganisation,
    responses((status = 201, body = Onboarded), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn onboard(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<NewOrganisation>,
) -> ApiResult<(StatusCode, Json<Onboarded>)> {
    caller.require_operator()?;
    let name = name::normalise(&req.name)?;
    let mut roles = 0u32;
    for r in &req.roles {
        let bit = ROLES.iter().find(|(n, _)| n == r).map(|(_, b)| *b).ok_or_else(|| {
            ApiError::validation(
                "VALIDATION_FAILED",
                format!("unknown role {r:?}: trader, bank, financier, carrier, inspector, operator"),
            )
        })?;
        roles |= bit;
    }
    if roles == 0 {
        return Err(ApiError::validation("VALIDATION_FAILED", "at least one role"));
    }
    let account = match &req.bank_account {
        Some(a) => Some((terms::iban(&a.iban)?, terms::bic(&a.bic)?)),
        None => None,
    };
    let external = req.address.as_deref().map(|a| terms::address("address", a)).transpose()?;
    // A name that reads like a registered one would let its holder pass for that member.
    let skeleton = name::skeleton(&name);
    for other in organisation::Entity::find().all(&state.db).await? {
        if other.name == name {
            return Err(ApiError::conflict("ORGANISATION_EXISTS", format!("an organisation named {name:?} exists")));
        }
        if name::skeleton(&other.name) == skeleton {
            return Err(ApiError::conflict(
                "NAME_CONFUSABLE",
                format!("{name:?} reads like {:?}, a registered organisation: choose a distinct name", other.name),
            ));
        }
    }
    if let Some(a) = external
        && (organisation::Entity::find_by_id(addr(&a)).one(&state.db).await?.is_some()
            || member::Entity::find_by_id(addr(&a)).one(&state.db).await?.is_some())
    {
        return Err(ApiError::conflict(
            "ORGANISATION_EXISTS",
            format!("{} is already a registered organisation", addr(&a)),
        ));
    }
    let (address, custody, sealed) = match external {
        Some(a) => (a, "external", None),
        None => {
            let (signer, sealed) = state.keystore.generate().map_err(ApiError::internal)?;
            (signer.address(), "custodial", Some(sealed))
        }
    };
    // The key is stored before the registration so a crash in between loses nothing.
    let a = addr(&address);
    member::Entity::insert(member::ActiveModel {
        address: Set(a.clone()),
        custody: Set(custody.into()),
        key_ciphertext: Set(sealed),
        iban: Set(account.as_ref().map(|x| x.0.clone())),
        bic: Set(account.as_ref().map(|x| x.1.clone())),
        created_at: Set(chrono::Utc::now().timestamp()),
    })
    .exec_without_returning(&state.db)
    .await?;
    let call = Consortium::registerCall { account: address, name: name.clone(), roles };
    let sent =
        transaction::send_as(&state, &state.operator, state.suite.consortium, Bytes::from(call.abi_encode())).await;
    if let Err(e) = sent {
        let _ = member::Entity::delete_by_id(a.clone()).exec(&state.db).await;
        return Err(e);
    }
    // On a network that charges gas, a custodial organisation gets the native currency
    // to pay for its transactions (`chain.fund_wei`; zero on free-gas networks).
    let fund = state.config.chain.fund_wei().map_err(ApiError::internal)?;
    if custody == "custodial" && !fund.is_zero() {
        transaction::transfer(&state, &state.operator, address, fund).await?;
    }
    let token = create_token(&state.db, &a, "onboarding").await?;
    let o = organisation::Entity::find_by_id(a.clone())
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("registered organisation not indexed"))?;
    let m = member::Entity::find_by_id(a).one(&state.db).await?;
    Ok((StatusCode::CREATED, Json(Onboarded { organisation: view(o, m.as_ref(), true), token })))
}

/// The member directory (names, addresses, roles): what a firm needs to name its
/// counterparties and banks.
#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", operation_id = "list_organisations",
    responses((status = 200, body = [Organisation]), (status = 401, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Organisation>>> {
    let orgs = organisation::Entity::find().order_by_asc(organisation::Column::RegisteredBlock).all(&state.db).await?;
    let members = if caller.is_operator() { member::Entity::find().all(&state.db).await? } else { Vec::new() };
    Ok(Json(
        orgs.into_iter()
            .map(|o| {
                let m = members.iter().find(|m| m.address == o.address);
                view(o, m, caller.is_operator())
            })
            .collect(),
    ))
}

/// The calling organisation.
#[utoipa::path(get, path = "/v1/organisations/me", tag = "organisations",
    responses((status = 200, body = Organisation), (status = 401, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Organisation>> {
    let o = organisation::Entity::find_by_id(caller.addr.clone())
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let m = member::Entity::find_by_id(caller.addr).one(&state.db).await?;
    Ok(Json(view(o, m.as_ref(), true)))
}

/// Issue another API token for an organisation (operator only).
#[utoipa::path(post, path = "/v1/organisations/{address}/tokens", tag = "organisations",
    params(("address" = String, Path, description = "the organisation's 0x address")),
    responses((status = 201, body = NewToken), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn new_token(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(address): PathArgs<String>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    caller.require_operator()?;
    let a = addr(&terms::address("address", &address)?);
    if organisation::Entity::find_by_id(a.clone()).one(&state.db).await?.is_none() {
        return Err(ApiError::not_found("ORGANISATION_NOT_FOUND", format!("no organisation at {a}")));
    }
    Ok((StatusCode::CREATED, Json(NewToken { token: create_token(&state.db, &a, "operator").await? })))
}
