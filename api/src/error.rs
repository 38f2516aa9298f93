//! Every error the API answers, as JSON `{"error": {"code", "message"}}` with the right
//! HTTP status. Codes are stable: clients branch on them, the OpenAPI document lists them
//! ([`ALL_CODES`] plus every contract revert, see [`revert_status`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// A stable code a client can branch on and a message a person can read.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `ORDER_NOT_FOUND`, `NOT_ORDER_SELLER`, `INVALID_CURRENCY`.
    pub code: String,
    /// For a person: what was refused and why.
    pub message: String,
}

/// An API error: status, stable code, message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The HTTP status answered.
    pub status: StatusCode,
    /// The stable code (`ORDER_NOT_FOUND`), listed in the OpenAPI document.
    pub code: String,
    /// For a person.
    pub message: String,
}

/// Codes the API itself raises (contract reverts come on top, see [`revert_status`]).
pub const ALL_CODES: &[(&str, u16, &str)] = &[
    ("UNAUTHENTICATED", 401, "missing or unknown API token"),
    ("FORBIDDEN", 403, "the organisation may not do this"),
    ("OPERATOR_ONLY", 403, "only the consortium operator may do this"),
    (
        "ORGANISATION_SUSPENDED",
        403,
        "the operator suspended the organisation: it may read and do nothing until reinstated",
    ),
    (
        "TX_NOT_PERMITTED",
        403,
        "the chain admits transactions from active members only (and contract creation from the operator)",
    ),
    ("RATE_LIMITED", 429, "too many registry queries: wait and try again"),
    ("NOT_BANK", 403, "only a bank may do this (keep a holiday calendar)"),
    ("NO_LIVE_CONSENT", 403, "the firm has not granted this financier a live consent"),
    ("WRONG_SENDER", 403, "a relayed transaction is not signed by the calling organisation"),
    ("NOT_FOUND", 404, "no such route or resource"),
    ("ORDER_NOT_FOUND", 404, "no such order among those the organisation may see"),
    ("ORGANISATION_NOT_FOUND", 404, "no such organisation"),
    ("DOCUMENT_NOT_FOUND", 404, "no such document on this order"),
    ("FIGURE_NOT_FOUND", 404, "no such figure in a credit profile"),
    ("PROOF_NOT_FOUND", 404, "no such suite event that the caller may see at that transaction and log index"),
    ("INVALID_JSON", 400, "the body is not the JSON this route expects"),
    ("BODY_TOO_LARGE", 413, "the body exceeds the route's size limit"),
    ("VALIDATION_FAILED", 422, "a field is missing, malformed or out of range"),
    ("INVALID_CURRENCY", 422, "not an ISO 4217 currency code"),
    ("INVALID_INCOTERM", 422, "not one of the eleven Incoterms 2020 rules"),
    ("INVALID_AMOUNT", 422, "amounts are positive integers in minor units, as strings"),
    ("INVALID_MILESTONE", 422, "a milestone names neither or both of share_bps and amount_minor, or no document"),
    ("MILESTONES_DO_NOT_SUM", 422, "milestones must cover exactly 100% of the amount"),
    ("INVALID_DATES", 422, "dates must be in the future and in order (latest shipment <= expiry)"),
    ("INVALID_ADDRESS", 422, "not a 0x-prefixed 20-byte address"),
    ("INVALID_DOCUMENT_TYPE", 422, "unknown document type"),
    ("UNSUPPORTED_MEDIA_TYPE", 415, "a document is PDF, PNG, JPEG, TIFF, XML, JSON or plain text"),
    ("MEDIA_TYPE_MISMATCH", 422, "the file's bytes are not what its Content-Type says (or read as HTML)"),
    ("INVALID_BANK_ACCOUNT", 422, "IBAN (ISO 13616) or BIC (ISO 9362) malformed"),
    ("INVALID_TRANSACTION", 422, "the relayed transaction cannot be decoded"),
    ("TX_REJECTED", 422, "the chain refused the transaction (nonce, size, pool)"),
    ("REGISTRY_UNAVAILABLE", 503, "the duplicate-financing registry did not answer"),
    ("TX_REVERTED", 409, "the transaction reverted without a known custom error"),
    ("NON_CUSTODIAL", 409, "the node holds no key for this organisation: relay a signed transaction"),
    ("TOKEN_REVOKED", 401, "the API token was revoked"),
    ("CSRF_FAILED", 403, "a change made with the web app's session cookie without its CSRF token"),
    ("TOKEN_EXPIRED", 401, "the API token has expired"),
    ("TOKEN_NOT_FOUND", 404, "no such token of the caller's"),
    ("ORGANISATION_EXISTS", 409, "an organisation with this name or address exists"),
    ("NAME_CONFUSABLE", 409, "the name reads like a registered organisation's (case, spacing, look-alike letters)"),
    ("INVALID_NAME", 422, "a name is 1 to 140 bytes with no control, format or zero-width character"),
    ("CHAIN_UNAVAILABLE", 503, "the chain did not answer in time"),
    (
        "OVERLOADED",
        503,
        "the node, or this organisation, has as many writes in progress as it takes at once: nothing was changed; retry after the Retry-After header's seconds",
    ),
    ("NOT_READY", 503, "the read model is behind the chain"),
    ("NOT_THIS_NODE", 409, "a node changes its own directory entry only (its key, its endpoint)"),
    ("INTERNAL", 500, "unexpected failure; the request id is in the logs"),
];

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_string(), message: message.into() }
    }

    /// 422: the request breaks a rule of the API or the contracts.
    pub fn validation(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404: nothing the caller may see has this name.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 409: the object is not in a state that allows this.
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 401: no valid token.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "send `Authorization: Bearer <token>`")
    }

    /// 500: logged in full here; the caller only hears `INTERNAL`.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error")
    }

    /// 503: the chain did not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_UNAVAILABLE", message)
    }

    /// 404 `ORDER_NOT_FOUND`: also what an order the caller may not see answers.
    pub fn order_not_found(id: impl std::fmt::Display) -> Self {
        Self::not_found("ORDER_NOT_FOUND", format!("order {id} not found"))
    }

    /// A contract revert decoded into its stable code (`NOT_ORDER_SELLER`, …).
    pub fn from_revert(data: &[u8]) -> Self {
        match tradechain_contracts::revert::decode(data) {
            Some(r) => Self::new(revert_status(&r.code), &r.code, r.message),
            None => Self::conflict("TX_REVERTED", format!("reverted: 0x{}", hex::encode(data))),
        }
    }
}

/// HTTP status of a contract's custom error, by its stable code: the caller lacks the
/// right (403), the thing does not exist (404), the input is wrong (422), or the state
/// forbids it now (409).
pub fn revert_status(code: &str) -> StatusCode {
    const FORBIDDEN: &[&str] = &[
        "MISSING_ROLE",
        "WRONG_ISSUER",
        "ORGANISATION_IS_SUSPENDED",
        "UNKNOWN_ORGANISATION",
        "NO_LIVE_CONSENT",
        "CANNOT_APPROVE_OWN_PROPOSAL",
    ];
    const INVALID: &[&str] = &[
        "ZERO_ADDRESS",
        "EMPTY_NAME",
        "INVALID_ROLES",
        "INVALID_PARTIES",
        "ZERO_AMOUNT",
        "INVALID_CURRENCY",
        "INVALID_INCOTERM",
        "INVALID_DATES",
        "INVALID_EXAMINATION_PERIOD",
        "INVALID_MILESTONE_COUNT",
        "INVALID_MILESTONE",
        "MILESTONES_DO_NOT_SUM",
        "UNKNOWN_DOCUMENT_TYPE",
        "DOCUMENT_NOT_REQUIRED",
        "EMPTY_HASH",
        "HASH_MISMATCH",
        "INVALID_REASON",
        "INVALID_REFERENCE",
        "INVALID_ADVANCE",
        "INVALID_RATE",
        "INVALID_TENOR",
        "INVALID_EXPIRY",
        "TOO_MANY_FINGERPRINTS",
        "CARRIER_REQUIRED",
        "INSPECTOR_REQUIRED",
        "INVALID_ATTESTER",
        "INVALID_SHIPMENT_DATE",
        "LATE_SHIPMENT",
        "INVALID_REASON_CODE",
        "INVALID_DISCREPANCIES",
        "MISSING_INVOICE_FINGERPRINT",
        "INVALID_DEADLINE",
        "INVALID_FEE",
        "INVALID_HOLIDAYS",
        "HOLIDAY_IN_THE_PAST",
        "AMOUNT_TOO_LARGE",
        "INVALID_ENDPOINT",
        "INVALID_NODE_KEY",
    ];
    if code.starts_with("NOT_") && !code.starts_with("NOT_DUE") && !code.starts_with("NOT_EXPIRED")
        || FORBIDDEN.contains(&code)
    {
        StatusCode::FORBIDDEN
    } else if code.ends_with("_NOT_FOUND") || code == "UNKNOWN_NODE" {
        StatusCode::NOT_FOUND
    } else if INVALID.contains(&code) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::CONFLICT
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message } };
        let mut response = (status, Json(body)).into_response();
        // Every 503 here is passing (a node behind, a chain slow to answer, writes at their
        // bound): a client is told when to come back rather than left to guess.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::internal(format!("database: {e}"))
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        use axum::extract::rejection::JsonRejection as J;
        match &e {
            J::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", e.body_text())
            }
            J::JsonDataError(_) => Self::validation("VALIDATION_FAILED", e.body_text()),
            _ => Self::new(StatusCode::BAD_REQUEST, "INVALID_JSON", e.body_text()),
        }
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        Self::validation("VALIDATION_FAILED", e.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        Self::validation("VALIDATION_FAILED", e.body_text())
    }
}

/// What every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
