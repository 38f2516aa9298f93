//! The duplicate-financing registry. A financing offer registers on chain fingerprints of
//! its invoice (and bill of lading) and near keys of its invoice, so that the same
//! receivable financed twice, by any financier on any node, is caught (the contract refuses
//! a live fingerprint; the API flags a near duplicate). Those digests must reveal nothing:
//! they are HMAC-SHA256 ([`digest`]) under a key that only the registry holds ([`keyring`]),
//! not a salt every member knows, so nobody with the chain and every member's configuration
//! can recover an invoice's number, date or amount by trying candidates.
//!
//! Where it runs: in a node of its own, the registry is in the node ([`Registry::Local`]);
//! in a consortium it is one service of the operator's node that the other nodes ask over
//! authenticated HTTP (`POST /v1/registry/fingerprints`, [`Registry::Remote`]): the asking
//! node's credential, and the financier's own signature over the question, so no node asks
//! in a financier's name without its key. The key never leaves the registry.
//!
//! It is no oracle: it answers a financier only for a financing that financier is offering
//! now (the order and milestone exist, the financier is no party to the order and holds the
//! live consent of the firm whose receivable it is, as the contract requires of an offer),
//! at most `queries_per_hour` times an hour per financier (`RATE_LIMITED`), and writes every
//! question to the audit log (`registry_query`) of the node that holds the registry, where
//! the firm sees it (`GET /v1/consents`).
//!
//! Rotation (`POST /v1/registry/rotate`, the operator): a new key becomes current; during
//! the rotation window an offer also carries the fingerprints under the keys it replaced
//! (a duplicate registered before the rotation is still refused), and near keys are looked
//! up under each; past the window an old key is deleted.

mod digest;
mod keyring;

use std::time::Duration;

use alloy::primitives::{Address, B256, Signature, U256};
use alloy::signers::SignerSync;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use tradechain_contracts::{Consents, Consortium, DocType, TradeOrders, role};
use utoipa::ToSchema;

pub(crate) use digest::{InvoiceFields, NearKeys, normalise_invoice_number};
pub(crate) use keyring::Keyring;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::readmodel::audit;
use crate::request::Body;
use crate::{AppState, transaction};

/// Whose receivable an offer finances: the seller's (receivables finance) or the buyer's
/// payable (payables finance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Side {
    Receivable,
    Payable,
}

/// What a financier asks: the digests of its offer's invoice on one milestone of one order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Query {
    /// The financier offering (0x address).
    #[schema(value_type = String)]
    pub(crate) financier: Address,
    pub(crate) order_id: u64,
    pub(crate) milestone: u64,
    pub(crate) side: Side,
    #[schema(value_type = Object)]
    pub(crate) invoice: InvoiceFields,
}

/// The digests under one key version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Digests {
    pub(crate) version: i32,
    #[schema(value_type = String)]
    pub(crate) invoice: B256,
    /// The bill of lading's, when the milestone is paid against one already presented.
    #[schema(value_type = Option<String>)]
    pub(crate) bill_of_lading: Option<B256>,
    #[schema(value_type = Object)]
    pub(crate) near: NearKeys,
}

/// The registry's answer: the digests under the current key first, then under each key in
/// its rotation window.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Answer {
    pub(crate) keys: Vec<Digests>,
}

/// A question another node forwards: signed by the financier (EIP-191) over
/// [`signed_message`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct SignedQuery {
    pub(crate) query: Query,
    /// Unix seconds when signed; refused beyond five minutes either way.
    pub(crate) signed_at: i64,
    /// 0x, 65 bytes.
    pub(crate) signature: String,
}

/// What a financier signs: the question, bound to the chain and the time.
fn signed_message(chain_id: u64, query: &Query, signed_at: i64) -> Vec<u8> {
    let body = serde_json::to_string(query).unwrap_or_default();
    format!("tradechain registry query\nchain {chain_id}\nat {signed_at}\n{body}").into_bytes()
}

/// Where the registry is.
pub(crate) enum Registry {
    /// In this node: its keys, and each financier's hourly allowance of questions.
    Local { keyring: Keyring, per_hour: u32 },
    /// The operator's registry, asked over HTTP with this node's credential.
    Remote { url: String, token: Option<String>, http: reqwest::Client },
}

/// The registry settings (`[api.registry]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RegistryConfig {
    /// The operator's node holding the registry (`http://…`); absent: this node holds it.
    pub url: Option<String>,
    /// This node's credential at that node: an API token the registry's operator issued
    /// with the operator role (members' own tokens are refused there).
    pub token: Option<String>,
    /// How long a replaced key keeps matching, in days.
    pub rotation_window_days: u32,
    /// Questions one financier may ask an hour.
    pub queries_per_hour: u32,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self { url: None, token: None, rotation_window_days: 90, queries_per_hour: 120 }
    }
}

impl Registry {
    /// The registry `config` names: the operator's over HTTP, or this node's own keys in `db`.
    pub(crate) async fn open(
        config: &RegistryConfig,
        db: &sea_orm::DatabaseConnection,
        keystore: &crate::keystore::Keystore,
    ) -> Result<Self, String> {
        if let Some(url) = &config.url {
            let http = tradechain_chain::http::client(Duration::from_secs(30)).map_err(|e| e.to_string())?;
            return Ok(Registry::Remote {
                url: url.trim_end_matches('/').to_string(),
                token: config.token.clone(),
                http,
            });
        }
        let window = i64::from(config.rotation_window_days) * 86_400;
        let keyring = Keyring::load(db, keystore, window).await.map_err(|e| e.to_string())?;
        Ok(Registry::Local { keyring, per_hour: config.queries_per_hour.max(1) })
    }

    /// The digests for `query`, asked by `caller` (the financier) through this node.
    pub(crate) async fn ask(&self, state: &AppState, caller: &Caller, query: &Query) -> ApiResult<Answer> {
        match self {
            Registry::Local { .. } => self.answer(state, query).await,
            Registry::Remote { url, token, http } => {
                let signer = transaction::signer_of(state, caller).await?;
                let signed_at = chrono::Utc::now().timestamp();
                let message = signed_message(state.chain.chain_id(), query, signed_at);
                let signature = signer.sign_message_sync(&message).map_err(ApiError::internal)?;
                let body = SignedQuery { query: query.clone(), signed_at, signature: signature.to_string() };
                let body = serde_json::to_string(&body).map_err(ApiError::internal)?;
                let mut post = http
                    .post(format!("{url}/v1/registry/fingerprints"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                if let Some(t) = token {
                    post = post.bearer_auth(t);
                }
                let unavailable =
                    |e: String| ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "REGISTRY_UNAVAILABLE", e);
                let res = post.send().await.map_err(|e| unavailable(e.to_string()))?;
                let status = res.status();
                let bytes = res.bytes().await.map_err(|e| unavailable(e.to_string()))?;
                if status.is_success() {
                    return serde_json::from_slice(&bytes).map_err(|e| unavailable(format!("answer: {e}")));
                }
                // The registry's own refusal (RATE_LIMITED, ORDER_NOT_FOUND, …) passes through.
                let refused: ErrorBody =
                    serde_json::from_slice(&bytes).map_err(|e| unavailable(format!("answer: {e}")))?;
                let status =
                    axum::http::StatusCode::from_u16(status.as_u16()).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
                Err(ApiError::new(status, &refused.error.code, refused.error.message))
            }
        }
    }

    /// Answer `query` here (the registry's own checks, then the digests).
    async fn answer(&self, state: &AppState, query: &Query) -> ApiResult<Answer> {
        let Registry::Local { keyring, per_hour } = self else {
            return Err(ApiError::not_found("NOT_FOUND", "this node does not hold the registry"));
        };
        let now = chrono::Utc::now().timestamp();
        // The allowance is counted from the audit log, where every answered question is
        // recorded: it holds across the registry's processes and restarts. (Questions
        // answered at the same instant may pass it by the few in flight.)
        let asked = audit::Entity::find()
            .filter(audit::Column::Actor.eq(crate::codec::addr(&query.financier)))
            .filter(audit::Column::Action.eq("registry_query"))
            .filter(audit::Column::At.gt(now - 3600))
            .count(&state.db)
            .await?;
        if asked >= u64::from(*per_hour) {
            return Err(ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("at most {per_hour} registry questions an hour per financier; try again later"),
            ));
        }
        let (seller, buyer, bill) = offered(state, query).await?;
        let firm = if query.side == Side::Receivable { seller } else { buyer };
        crate::consent::record_read(
            state,
            &crate::codec::addr(&query.financier),
            &crate::codec::addr(&firm),
            "registry_query",
        )
        .await?;
        let keys = keyring
            .active(&state.db, &state.keystore, now)
            .await
            .map_err(|e| ApiError::internal(format!("registry keys: {e}")))?;
        Ok(Answer {
            keys: keys
                .iter()
                .map(|k| Digests {
                    version: k.version,
                    invoice: digest::invoice(&k.key, &seller, &buyer, &query.invoice),
                    bill_of_lading: bill.map(|h| digest::bill_of_lading(&k.key, &h)),
                    near: digest::near_keys(&k.key, &seller, &buyer, &query.invoice),
                })
                .collect(),
        })
    }

    /// Make a new current key (see the module doc); the new version.
    async fn rotate(&self, state: &AppState) -> ApiResult<i32> {
        let Registry::Local { keyring, .. } = self else {
            return Err(ApiError::not_found("NOT_FOUND", "this node does not hold the registry"));
        };
        keyring
            .rotate(&state.db, &state.keystore, chrono::Utc::now().timestamp())
            .await
            .map_err(|e| ApiError::internal(format!("registry keys: {e}")))
    }
}

/// A view of the suite read as the registry's operator.
async fn read<C: alloy::sol_types::SolCall>(state: &AppState, to: Address, call: &C) -> ApiResult<C::Return> {
    Ok(tradechain_chain::call_sol(state.chain.as_ref(), state.operator.address(), to, call).await?)
}

/// The order's seller and buyer, and its bill of lading's hash when the milestone is paid
/// against one already presented, if `query` is an offer its financier may make now; else
/// the refusal (the same `ORDER_NOT_FOUND` as for an order that does not exist when the
/// financier may not see it).
async fn offered(state: &AppState, query: &Query) -> ApiResult<(Address, Address, Option<B256>)> {
    let suite = &state.suite;
    let financier = query.financier;
    let is_financier = Consortium::hasRoleCall { account: financier, role: role::FINANCIER };
    if !read(state, suite.consortium, &is_financier).await? {
        return Err(ApiError::forbidden("NOT_FINANCIER", "only an active financier asks the registry"));
    }
    let not_found = || ApiError::order_not_found(query.order_id);
    let order_id = U256::from(query.order_id);
    let o = read(state, suite.trade_orders, &TradeOrders::getOrderCall { orderId: order_id })
        .await
        .map_err(|_| not_found())?;
    let firm = if query.side == Side::Receivable { o.seller } else { o.buyer };
    let consent = Consents::hasConsentCall { firm, financier };
    if financier == o.seller || financier == o.buyer || !read(state, suite.consents, &consent).await? {
        return Err(not_found());
    }
    if query.milestone >= u64::from(o.milestoneCount) {
        return Err(ApiError::not_found(
            "MILESTONE_NOT_FOUND",
            format!("order {} has no milestone {}", query.order_id, query.milestone),
        ));
    }
    let m = read(
        state,
        suite.trade_orders,
        &TradeOrders::getMilestoneCall { orderId: order_id, index: U256::from(query.milestone) },
    )
    .await?;
    // A milestone paid against the bill of lading is tied to that shipment: its
    // fingerprint joins the invoice's once the bill has been presented.
    let bl = DocType::BillOfLading as u8;
    let mut bill = None;
    if m.requiredDocs & (1 << bl) != 0 {
        let d =
            read(state, suite.trade_orders, &TradeOrders::getDocumentCall { orderId: order_id, docType: bl }).await?;
        bill = (!d.hash.is_zero()).then_some(d.hash);
    }
    Ok((o.seller, o.buyer, bill))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/registry/fingerprints", post(fingerprints)).route("/registry/rotate", post(rotate))
}

/// For the consortium's other nodes: the digests of a financier's offer, asked with the
/// node's credential and signed by the financier. Answered only by the node that holds the
/// registry.
#[utoipa::path(post, path = "/v1/registry/fingerprints", tag = "financing", operation_id = "registry_fingerprints",
    request_body = SignedQuery,
    responses((status = 200, body = Answer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn fingerprints(
    State(state): State<AppState>,
    node: Caller,
    Body(signed): Body<SignedQuery>,
) -> ApiResult<Json<Answer>> {
    // Another node of the consortium, with the credential the registry's operator gave it;
    // a member asks through its own node (an offer or its check), never here.
    node.require_operator()?;
    let now = chrono::Utc::now().timestamp();
    if (now - signed.signed_at).abs() > 300 {
        return Err(ApiError::validation("VALIDATION_FAILED", "signed_at is more than five minutes from now"));
    }
    let signature: Signature = signed
        .signature
        .parse()
        .map_err(|_| ApiError::validation("VALIDATION_FAILED", "signature is not 65 bytes of hex"))?;
    let message = signed_message(state.chain.chain_id(), &signed.query, signed.signed_at);
    let signer =
        signature.recover_address_from_msg(&message).map_err(|_| ApiError::forbidden("FORBIDDEN", "bad signature"))?;
    if signer != signed.query.financier {
        return Err(ApiError::forbidden("FORBIDDEN", "the question is not signed by the financier it names"));
    }
    Ok(Json(state.registry.answer(&state, &signed.query).await?))
}

/// The registry's version after a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rotated {
    /// The new current key's version.
    pub(crate) version: i32,
}

/// The operator rotates the registry's key (see the module doc).
#[utoipa::path(post, path = "/v1/registry/rotate", tag = "financing", operation_id = "rotate_registry_key",
    responses((status = 200, body = Rotated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn rotate(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Rotated>> {
    caller.require_operator()?;
    let version = state.registry.rotate(&state).await?;
    tracing::info!(version, "registry key rotated");
    Ok(Json(Rotated { version }))
}
