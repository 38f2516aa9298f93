//! Why a node refused a transaction or a call, understood once.
//!
//! Nodes say the same things in different words: geth "nonce too low", Besu "Nonce too
//! low" (`NONCE_TOO_LOW`), Hardhat "Nonce too low. Expected nonce to be 3 but got 2.", the
//! embedded engine a typed [`tradechain_engine::TxRejection`]. This module turns every one
//! into a [`Rejection`] a caller can match on, so the retry policy in
//! [`crate::transaction`] and the error mapping in the API never look at message text.

use std::fmt;

use alloy::primitives::Bytes;

/// A node's refusal of a transaction (at submission) or of a call (at simulation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The sender's nonce was already used: another transaction of the same sender got in
    /// first (another process, a retry that had landed).
    NonceTooLow,
    /// The nonce is ahead of the sender's next one (a transaction before it was dropped).
    NonceGap,
    /// The offered fee is below what the network takes, or below the pending transaction
    /// with the same nonce that this one would replace.
    Underpriced,
    /// The node already has this exact transaction.
    AlreadyKnown,
    /// Execution reverted; `data` is the revert data (a contract's custom error), empty when
    /// the node gave none.
    Reverted {
        /// ABI-encoded revert data.
        data: Bytes,
    },
    /// The network does not let this sender (or this kind of transaction) in: not a member
    /// (a tradechain node's admission, Besu's or GoQuorum's account permissioning), or a
    /// member creating a contract.
    NotPermitted {
        /// The node's message, at most 500 characters.
        message: String,
    },
    /// Any other refusal (bad encoding, size, gas limit, full pool), as the node put it.
    Other {
        /// The JSON-RPC error code (-32000 for the engine's own refusals).
        code: i64,
        /// The node's message, at most 500 characters.
        message: String,
    },
}

/// JSON-RPC error code of an execution revert (geth, Besu, the embedded engine).
const EXECUTION_REVERTED: i64 = 3;
/// Besu's `TX_SENDER_NOT_AUTHORIZED`, which the embedded engine's admission answers too.
const NOT_PERMITTED: i64 = -32007;

impl Rejection {
    /// Classify a JSON-RPC error object: its code, message and the revert data it carried
    /// (already extracted by [`crate::rpc`]).
    #[must_use]
    pub fn from_rpc(code: i64, message: &str, data: Option<Bytes>) -> Self {
        let m = message.to_ascii_lowercase();
        if let Some(data) = data.filter(|d| !d.is_empty()) {
            return Rejection::Reverted { data };
        }
        if code == EXECUTION_REVERTED || m.contains("revert") {
            return Rejection::Reverted { data: Bytes::new() };
        }
        if code == NOT_PERMITTED
            || m.contains("not permitted")
            || m.contains("not authorized to send")
            || m.contains("account not authorized")
            || m.contains("transaction permission")
        {
            return Rejection::NotPermitted { message: message.chars().take(500).collect() };
        }
        if m.contains("nonce too low") || m.contains("nonce_too_low") {
            Rejection::NonceTooLow
        } else if m.contains("nonce too high")
            || m.contains("nonce too far")
            || m.contains("too distant")
            || m.contains("nonce_too_high")
        {
            Rejection::NonceGap
        } else if m.contains("underpriced") || m.contains("fee too low") || m.contains("max fee per gas less than") {
            Rejection::Underpriced
        } else if m.contains("already known") || m.contains("known transaction") || m.contains("already imported") {
            Rejection::AlreadyKnown
        } else {
            Rejection::Other { code, message: message.chars().take(500).collect() }
        }
    }

    /// Whether another transaction of the sender (or the same one) holds the nonce this one
    /// used: sending again with a fresh nonce and the current fees is the remedy.
    #[must_use]
    pub fn is_nonce_conflict(&self) -> bool {
        matches!(self, Rejection::NonceTooLow | Rejection::NonceGap | Rejection::Underpriced | Rejection::AlreadyKnown)
    }
}

#[cfg(feature = "embedded")]
impl From<tradechain_engine::TxRejection> for Rejection {
    fn from(e: tradechain_engine::TxRejection) -> Self {
        use tradechain_engine::TxRejection as T;
        match e {
            T::NonceTooLow { .. } => Rejection::NonceTooLow,
            T::NonceTooHigh { .. } => Rejection::NonceGap,
            T::AlreadyKnown | T::ReplacementNotSupported { .. } => Rejection::AlreadyKnown,
            T::NotPermitted(_) => Rejection::NotPermitted { message: e.to_string() },
            other => Rejection::Other { code: -32000, message: other.to_string() },
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NonceTooLow => f.write_str("nonce too low"),
            Rejection::NonceGap => f.write_str("nonce too high"),
            Rejection::Underpriced => f.write_str("transaction underpriced"),
            Rejection::AlreadyKnown => f.write_str("already known"),
            Rejection::Reverted { data } if data.is_empty() => f.write_str("execution reverted"),
            Rejection::Reverted { data } => write!(f, "execution reverted: {data}"),
            Rejection::NotPermitted { message } => f.write_str(message),
            Rejection::Other { code, message } => write!(f, "{message} (JSON-RPC {code})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_dialect_of_a_refused_sender_is_not_permitted() {
        for (code, message) in [
            (-32007, "Sender account not authorized to send transactions"),
            (-32000, "account does not have transaction permissions"),
            (-32007, "transaction not permitted: 0xab is no active member of the consortium"),
        ] {
            assert!(matches!(Rejection::from_rpc(code, message, None), Rejection::NotPermitted { .. }), "{message}");
        }
    }

    #[test]
    fn each_node_dialect_of_a_taken_nonce_is_one_rejection() {
        for (code, message) in [
            (-32000, "nonce too low"),
            (-32001, "Nonce too low"),
            (-32003, "Nonce too low. Expected nonce to be 3 but got 2."),
            (-32000, "nonce too low: next nonce of 0xab is 4, transaction has 3"),
        ] {
            assert_eq!(Rejection::from_rpc(code, message, None), Rejection::NonceTooLow, "{message}");
        }
        assert_eq!(Rejection::from_rpc(-32000, "replacement transaction underpriced", None), Rejection::Underpriced);
        assert_eq!(Rejection::from_rpc(-32000, "already known", None), Rejection::AlreadyKnown);
        assert_eq!(Rejection::from_rpc(-32000, "Known transaction", None), Rejection::AlreadyKnown);
        assert_eq!(
            Rejection::from_rpc(-32000, "Transaction nonce is too distant from current sender nonce", None),
            Rejection::NonceGap
        );
        assert!(Rejection::NonceTooLow.is_nonce_conflict());
    }

    #[test]
    fn revert_data_wins_over_the_message_and_a_revert_is_never_a_nonce_conflict() {
        let data = Bytes::from(vec![0xde, 0xad, 0xbe, 0xef]);
        let r = Rejection::from_rpc(-32603, "Error: VM Exception: nonce too low?", Some(data.clone()));
        assert_eq!(r, Rejection::Reverted { data });
        assert!(!r.is_nonce_conflict());
        assert_eq!(Rejection::from_rpc(3, "execution reverted", None), Rejection::Reverted { data: Bytes::new() });
    }

    #[test]
    fn anything_else_keeps_the_nodes_words_and_is_not_retried() {
        let r = Rejection::from_rpc(-32000, "transaction pool is full (10 transactions)", None);
        assert!(matches!(&r, Rejection::Other { code: -32000, message } if message.contains("pool is full")));
        assert!(!r.is_nonce_conflict());
    }
}
