//! The node directory through REST: a member registers this node (its peer endpoint; the
//! node's own encryption key goes with it, never one the caller supplies), the operator
//! approves or revokes a node, an organisation chooses the approved node that serves it, and
//! anyone signed in reads the directory. The rules are the Consortium contract's
//! (`registerNode`, `approveNode`, `revokeNode`, `chooseNode`), answered with its codes.

use alloy::primitives::{B256, U256};
use alloy::sol_types::{SolCall, SolEvent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tradechain_contracts::Consortium;
use tradechain_peer::directory;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::codec::addr;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::request::{Body, PathArgs};
use crate::{AppState, transaction};

/// A node of the directory.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NodeView {
    /// Its id in the directory.
    pub(crate) id: u64,
    /// The member that runs it (0x address).
    pub(crate) owner: String,
    /// Its peer endpoint.
    pub(crate) endpoint: String,
    /// Its X25519 encryption key (0x + 64 hex digits).
    pub(crate) encryption_key: String,
    /// Whether the operator approved it (and has not revoked it).
    pub(crate) approved: bool,
    /// Whether its member is active (registered, not suspended).
    pub(crate) owner_active: bool,
    /// Whether it is the node answering.
    pub(crate) this_node: bool,
}

/// The directory as this node reads it from the chain, and this node's key.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Directory {
    /// This node's encryption key: what `POST /v1/nodes` registers.
    pub(crate) encryption_key: String,
    /// This node's id, once registered and approved.
    pub(crate) node_id: Option<u64>,
    /// Every node.
    pub(crate) nodes: Vec<NodeView>,
}

/// Register this node for the calling member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterNode {
    /// Where other nodes reach this node's peer endpoint: `http://` or `https://`, at
    /// most 200 bytes.
    pub(crate) endpoint: String,
}

/// Why the operator revokes a node.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeNode {
    /// For the record (at most 280 bytes).
    pub(crate) reason: String,
}

/// The node an organisation chooses.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeChoice {
    /// An approved node's id; 0 for none.
    pub(crate) node_id: u64,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/nodes", get(list).post(register))
        .route("/nodes/{id}/approve", post(approve))
        .route("/nodes/{id}/revoke", post(revoke))
        .route("/nodes/{id}/rotate-key", post(rotate_key))
        .route("/nodes/{id}/endpoint", put(move_endpoint))
        .route("/organisations/me/node", put(choose))
}

/// A peer endpoint the other nodes can call: `http://` or `https://`, a host name (letters,
/// digits and hyphens in dot-separated labels of at most 63, no hyphen at either end), an
/// optional port, an optional path of letters, digits and `._~-/`; nothing else (no user
/// name, query or fragment); at most 200 bytes. The OpenAPI document states the same
/// pattern (`openapi::constraints`); the URL parser has the last word (a port in range).
fn check_endpoint(endpoint: &str) -> ApiResult<()> {
    let bad = |why: &str| ApiError::validation("INVALID_ENDPOINT", format!("endpoint: {why}"));
    if endpoint.len() > 200 {
        return Err(bad("at most 200 bytes"));
    }
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .ok_or_else(|| bad("http:// or https://"))?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let (host, port) = authority.split_once(':').map_or((authority, None), |(h, p)| (h, Some(p)));
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.is_empty() || !host.split('.').all(label_ok) {
        return Err(bad("a host name of letters, digits and hyphens"));
    }
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad("a port of 1 to 5 digits"));
    }
    if !path.bytes().all(|b| b.is_ascii_alphanumeric() || b"._~-/".contains(&b)) {
        return Err(bad("a path of letters, digits and ._~-/"));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || !endpoint.starts_with(&format!("{}://", url.scheme())) {
        return Err(bad("http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("a host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("no user name, password, query or fragment"));
    }
    Ok(())
}

async fn read(state: &AppState) -> ApiResult<Directory> {
    let dir = directory::load_nodes(state.chain.as_ref(), state.suite.consortium)
        .await
        .map_err(|e| ApiError::unavailable(format!("node directory: {e}")))?;
    let keys = state.node_keys.all(&state.db, &state.keystore).await?;
    let own: Vec<[u8; 32]> = keys.iter().map(|k| k.public_bytes()).collect();
    let node_id = own.iter().find_map(|k| dir.node_with_key(k));
    let nodes = dir
        .nodes
        .values()
        .map(|n| NodeView {
            id: n.id,
            owner: addr(&n.owner),
            endpoint: n.endpoint.clone(),
            encryption_key: format!("{:#x}", B256::from(n.encryption_key)),
            approved: n.approved,
            owner_active: n.owner_active,
            this_node: own.contains(&n.encryption_key),
        })
        .collect();
    let current = own.first().copied().unwrap_or_default();
    Ok(Directory { encryption_key: format!("{:#x}", B256::from(current)), node_id, nodes })
}

/// The consortium's node directory, and this node's key and id.
#[utoipa::path(get, path = "/v1/nodes", tag = "nodes", operation_id = "list_nodes",
    responses((status = 200, body = Directory), (status = 401, body = ErrorBody)), security(("token" = [])))]
pub(crate) async fn list(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<Directory>> {
    Ok(Json(read(&state).await?))
}

/// Register this node, with its encryption key, as one the calling member runs; the
/// operator approves it before any data goes to or comes from it.
#[utoipa::path(post, path = "/v1/nodes", tag = "nodes", operation_id = "register_node", request_body = RegisterNode,
    responses((status = 201, body = NodeView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn register(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<RegisterNode>,
) -> ApiResult<(StatusCode, Json<NodeView>)> {
    check_endpoint(&req.endpoint)?;
    let call = Consortium::registerNodeCall {
        endpoint: req.endpoint,
        encryptionKey: B256::from(state.node_key().await?.public_bytes()),
    };
    let receipt = transaction::transact(&state, &caller, state.suite.consortium, call.abi_encode().into()).await?;
    let id = receipt
        .logs
        .iter()
        .find_map(|l| Consortium::NodeRegistered::decode_log(l).ok())
        .map(|e| e.nodeId)
        .ok_or_else(|| ApiError::internal("registerNode emitted no NodeRegistered"))?;
    let id = u64::try_from(id).map_err(|_| ApiError::internal("node id out of range"))?;
    let dir = read(&state).await?;
    let node =
        dir.nodes.into_iter().find(|n| n.id == id).ok_or_else(|| ApiError::internal("registered node not found"))?;
    Ok((StatusCode::CREATED, Json(node)))
}

async fn node_view(state: &AppState, id: u64) -> ApiResult<Json<NodeView>> {
    let dir = read(state).await?;
    dir.nodes
        .into_iter()
        .find(|n| n.id == id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("UNKNOWN_NODE", format!("no node {id}")))
}

/// Approve a registered node (operator only).
#[utoipa::path(post, path = "/v1/nodes/{id}/approve", tag = "nodes", operation_id = "approve_node",
    params(("id" = u64, Path)),
    responses((status = 200, body = NodeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<NodeView>> {
    caller.require_operator()?;
    let call = Consortium::approveNodeCall { nodeId: U256::from(id) };
    transaction::transact(&state, &caller, state.suite.consortium, call.abi_encode().into()).await?;
    node_view(&state, id).await
}

/// Revoke a node (operator only): a compromised node receives nothing more, and nobody
/// may choose it until it is approved again.
#[utoipa::path(post, path = "/v1/nodes/{id}/revoke", tag = "nodes", operation_id = "revoke_node",
    params(("id" = u64, Path)), request_body = RevokeNode,
    responses((status = 200, body = NodeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    Body(req): Body<RevokeNode>,
) -> ApiResult<Json<NodeView>> {
    caller.require_operator()?;
    if req.reason.is_empty() || req.reason.len() > 280 {
        return Err(ApiError::validation("VALIDATION_FAILED", "reason: 1 to 280 bytes"));
    }
    let call = Consortium::revokeNodeCall { nodeId: U256::from(id), reason: req.reason };
    transaction::transact(&state, &caller, state.suite.consortium, call.abi_encode().into()).await?;
    node_view(&state, id).await
}

/// This node's entry in the directory, or `NOT_THIS_NODE`: a node changes only its own.
async fn own_entry(state: &AppState, id: u64) -> ApiResult<()> {
    let dir = read(state).await?;
    match dir.nodes.iter().find(|n| n.id == id) {
        None => Err(ApiError::not_found("UNKNOWN_NODE", format!("no node {id}"))),
        Some(n) if !n.this_node => Err(ApiError::conflict(
            "NOT_THIS_NODE",
            format!("node {id} is not the node answering: change it through the node itself"),
        )),
        Some(_) => Ok(()),
    }
}

/// Replace this node's encryption key (its scheduled rotation, or a key feared exposed):
/// the node makes a new key and its member registers it (`rotateNodeKey`, the node's
/// owner only); deliveries are sealed to the new key from then on, and one sealed to the
/// old key by a peer that had not yet read the change still opens.
#[utoipa::path(post, path = "/v1/nodes/{id}/rotate-key", tag = "nodes", operation_id = "rotate_node_key",
    params(("id" = u64, Path)),
    responses((status = 200, body = NodeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
) -> ApiResult<Json<NodeView>> {
    own_entry(&state, id).await?;
    // Only its owner may register the new key: simulated before a key is made.
    let probe = Consortium::rotateNodeKeyCall { nodeId: U256::from(id), encryptionKey: B256::repeat_byte(0x01) };
    transaction::simulate(&state, caller.address, state.suite.consortium, &probe.abi_encode().into()).await?;
    let fresh = state.node_keys.rotate(&state.db, &state.keystore).await?;
    let call =
        Consortium::rotateNodeKeyCall { nodeId: U256::from(id), encryptionKey: B256::from(fresh.public_bytes()) };
    transaction::transact(&state, &caller, state.suite.consortium, call.abi_encode().into()).await?;
    node_view(&state, id).await
}

/// Move this node's peer endpoint (the node's owner only); the operator approves it again
/// before anything is delivered to it there.
#[utoipa::path(put, path = "/v1/nodes/{id}/endpoint", tag = "nodes", operation_id = "move_node_endpoint",
    params(("id" = u64, Path)), request_body = RegisterNode,
    responses((status = 200, body = NodeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn move_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    PathArgs(id): PathArgs<u64>,
    Body(req): Body<RegisterNode>,
) -> ApiResult<Json<NodeView>> {
    check_endpoint(&req.endpoint)?;
    own_entry(&state, id).await?;
    let call = Consortium::setNodeEndpointCall { nodeId: U256::from(id), endpoint: req.endpoint };
    transaction::transact(&state, &caller, state.suite.consortium, call.abi_encode().into()).await?;
    node_view(&state, id).await
}

/// Choose the approved node that serves the calling organisation (0: none): its orders'
/// private data is delivered there from now on.
#[utoipa::path(put, path = "/v1/organisations/me/node", tag = "nodes", operation_id = "choose_node",
    request_body = NodeChoice,
    responses((status = 200, body = NodeChoice), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn choose(
    State(state): State<AppState>,
    caller: Caller,
    Body(req): Body<NodeChoice>,
) -> ApiResult<Json<NodeChoice>> {
    let call = Consortium::chooseNodeCall { nodeId: U256::from(req.node_id) };
    transaction::transact(&state, &caller, state.suite.consortium, call.abi_encode().into()).await?;
    Ok(Json(req))
}
