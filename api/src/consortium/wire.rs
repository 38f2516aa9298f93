//! What travels between nodes' peer endpoints: the envelope's ciphertext as the body, and
//! what it is about in headers (which the envelope binds, so a changed header makes it not
//! open). Two calls: `POST /peer/v1/deliveries` (a node pushes an item to a node entitled
//! to it) and `POST /peer/v1/content` (a node asks an entitled peer for an item it lacks;
//! the answer is sealed to the asking node's key from the directory, so asking in another
//! node's name yields nothing readable).

use alloy::primitives::B256;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use tradechain_peer::envelope::{Envelope, Kind, Subject};

use crate::error::ApiError;

/// The push of an item.
pub(crate) const DELIVERIES: &str = "/peer/v1/deliveries";
/// The request for an item.
pub(crate) const CONTENT: &str = "/peer/v1/content";

const SENDER: &str = "tradechain-sender-node";
const RECIPIENT: &str = "tradechain-recipient-node";
const ORDER: &str = "tradechain-order";
const KIND: &str = "tradechain-kind";
const HASH: &str = "tradechain-content-hash";
const ENCAPSULATED: &str = "tradechain-encapsulated";
const MEDIA_TYPE: &str = "tradechain-media-type";

/// The codes a peer endpoint refuses with; those a sender retries are marked.
pub(crate) mod code {
    /// Headers missing or malformed.
    pub(crate) const INVALID_DELIVERY: &str = "INVALID_DELIVERY";
    /// Addressed to another node.
    pub(crate) const NOT_FOR_THIS_NODE: &str = "NOT_FOR_THIS_NODE";
    /// The sender is not an approved node of an active member in the directory.
    pub(crate) const UNKNOWN_NODE: &str = "UNKNOWN_NODE";
    /// The receiving node (or the asking one) serves no organisation entitled to the item.
    pub(crate) const NOT_ENTITLED: &str = "NOT_ENTITLED";
    /// No such order on chain (yet, as this node has indexed it): retried.
    pub(crate) const ORDER_NOT_FOUND: &str = "ORDER_NOT_FOUND";
    /// The chain anchors no such item on the order (yet, as this node has indexed it): retried.
    pub(crate) const NOT_ANCHORED: &str = "NOT_ANCHORED";
    /// It does not open: tampered, or not sealed by that node to this one for this subject.
    pub(crate) const ENVELOPE_REJECTED: &str = "ENVELOPE_REJECTED";
    /// It opened, but its content is not what the chain anchors.
    pub(crate) const CONTENT_HASH_MISMATCH: &str = "CONTENT_HASH_MISMATCH";
    /// This node is not (yet) an approved node of the directory: retried.
    pub(crate) const NODE_NOT_IN_DIRECTORY: &str = "NODE_NOT_IN_DIRECTORY";
    /// The asked node does not keep the item.
    pub(crate) const CONTENT_NOT_HELD: &str = "CONTENT_NOT_HELD";

    /// Whether a sender tries again later after this refusal, rather than giving the item
    /// up: the recipient may be behind the chain (an order, a document, a consent, a key
    /// rotation it has not read yet) or not yet approved; or the envelope was damaged on
    /// the way. [`GIVE_UP_AFTER`] attempts at most for those that may be for good.
    pub(crate) fn retried(code: &str, attempts: i32) -> bool {
        [ORDER_NOT_FOUND, NOT_ANCHORED, NODE_NOT_IN_DIRECTORY].contains(&code)
            || ([ENVELOPE_REJECTED, NOT_ENTITLED].contains(&code) && attempts < GIVE_UP_AFTER)
    }

    /// Attempts after which a refusal that may be for good is taken as final.
    pub(crate) const GIVE_UP_AFTER: i32 = 10;
}

/// An item in transit: its subject, the envelope's encapsulated key, the media type.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// What it is about (sender and recipient nodes included).
    pub(crate) subject: Subject,
    /// HPKE `enc`; zero in a request for content.
    pub(crate) encapsulated: [u8; 32],
    /// The content's media type (documents; `application/json` for details).
    pub(crate) media_type: String,
}

impl Header {
    /// The headers of a request or answer carrying `envelope`.
    pub(crate) fn to_headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(HeaderName::from_static(name), v);
            }
        };
        put(SENDER, self.subject.sender_node.to_string());
        put(RECIPIENT, self.subject.recipient_node.to_string());
        put(ORDER, self.subject.order_id.to_string());
        put(KIND, self.subject.kind.to_string());
        put(HASH, format!("{:#x}", self.subject.content_hash));
        put(ENCAPSULATED, hex::encode(self.encapsulated));
        put(MEDIA_TYPE, self.media_type.clone());
        h
    }

    /// Read from a request's or an answer's headers.
    ///
    /// # Errors
    /// `INVALID_DELIVERY` naming the header missing or malformed.
    pub(crate) fn from_headers(h: &HeaderMap) -> Result<Header, ApiError> {
        let get = |name: &str| -> Result<&str, ApiError> {
            h.get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| invalid(format!("header {name} is missing or not text")))
        };
        let number = |name: &str| -> Result<u64, ApiError> {
            get(name)?.parse::<u64>().map_err(|_| invalid(format!("header {name}: a decimal number")))
        };
        let kind: Kind = get(KIND)?.parse().map_err(|e| invalid(format!("header {KIND}: {e}")))?;
        let content_hash: B256 =
            get(HASH)?.parse().map_err(|_| invalid(format!("header {HASH}: 0x + 64 hex digits")))?;
        let encapsulated = hex::decode(get(ENCAPSULATED)?)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| invalid(format!("header {ENCAPSULATED}: 64 hex digits")))?;
        let media_type = h.get(MEDIA_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/octet-stream");
        Ok(Header {
            subject: Subject {
                order_id: number(ORDER)?,
                kind,
                content_hash,
                sender_node: number(SENDER)?,
                recipient_node: number(RECIPIENT)?,
            },
            encapsulated,
            media_type: media_type.to_string(),
        })
    }

    /// The envelope this header and `ciphertext` make.
    pub(crate) fn envelope(&self, ciphertext: Vec<u8>) -> Envelope {
        Envelope { encapsulated: self.encapsulated, ciphertext }
    }
}

fn invalid(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_REQUEST, code::INVALID_DELIVERY, message)
}

/// The body of a peer's answer, if it is at most `limit` bytes: a dishonest peer's endless
/// answer is not read into memory.
pub(crate) async fn read_capped(mut res: reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    if res.content_length().is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return None;
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}
