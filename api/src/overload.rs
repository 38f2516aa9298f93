//! Writes beyond what the node can take in time are refused at once, with `503 OVERLOADED`
//! and `Retry-After`, rather than queued without end.
//!
//! Offered 1,800 order creations a second (the open-loop bench, where this machine serves
//! about 1,300), every write was taken in: the median answer took 718 ms and grew with the
//! backlog, and past the connection bound ([`crate::connection`]) clients met connections
//! reset, 9,800 of them in 20 s, with no status and no code. Now a write is taken in only
//! while the node has fewer than `max_writes_in_flight` in progress, and its organisation
//! fewer than `max_writes_in_flight_per_org`: the rest are answered at once, having changed
//! nothing, and a client knows to come back.
//!
//! The organisation's share is the adversary's limit: a member that floods the node with
//! writes fills its own share and no more, so the others' writes still go through. It is
//! counted per organisation, not per token (a member can make as many tokens as it likes),
//! and taken after authentication, so a stranger without a token holds no share at all.
//! Reads are never refused here: they are cheap, and what a client needs to decide what
//! to retry.

use alloy::primitives::Address;
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::places::{Full, Place, Places};

/// The writes in progress, in all and by organisation.
#[derive(Debug, Clone)]
pub(crate) struct Writes(Places<Address>);

/// One write's place, given back when the request is done (the [`crate::auth::Caller`]
/// that carries it is dropped).
pub(crate) type WritePermit = Place<Address>;

impl Writes {
    pub(crate) fn new(max_total: usize, max_per_org: usize) -> Self {
        Self(Places::new(max_total, max_per_org))
    }

    /// A place for one more write of `org`, or `OVERLOADED` (saying which bound, the
    /// organisation's first); a member refused for its own flood takes nothing from the node's.
    pub(crate) fn admit(&self, org: Address) -> Result<WritePermit, ApiError> {
        self.0.take(org).map_err(|full| {
            overloaded(match full {
                Full::Key(mine) => format!(
                    "this organisation has {mine} writes in progress, as many as the node takes from one \
                     organisation at once: retry when one is answered"
                ),
                Full::Total(all) => {
                    format!("the node has {all} writes in progress, as many as it takes at once: retry shortly")
                }
            })
        })
    }

    /// Writes in progress now, in all.
    pub(crate) fn in_flight(&self) -> usize {
        self.0.taken()
    }
}

/// `503 OVERLOADED` (answered with `Retry-After`, as every 503 of the API is).
fn overloaded(message: String) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn an_organisation_takes_its_share_and_no_more_and_gets_it_back_when_done() {
        let writes = Writes::new(10, 2);
        let first = writes.admit(org(1)).expect("the first");
        let _second = writes.admit(org(1)).expect("the second: at the share");
        let refused = writes.admit(org(1)).expect_err("the third: past the share");
        assert_eq!((refused.status, refused.code.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "OVERLOADED"));
        assert!(refused.message.contains("this organisation"), "{}", refused.message);
        assert_eq!(writes.in_flight(), 2, "a refusal holds nothing");
        // Another organisation is not held back by the first one's flood.
        let _other = writes.admit(org(2)).expect("another organisation");
        drop(first);
        let _again = writes.admit(org(1)).expect("a place given back is taken again");
        assert_eq!(writes.in_flight(), 3, "the second, the other, and the one taken again");
    }

    #[test]
    fn the_node_takes_its_total_and_no_more_from_any_organisation() {
        let writes = Writes::new(3, 2);
        let held: Vec<WritePermit> =
            [1, 1, 2].into_iter().map(|n| writes.admit(org(n)).expect("within the total")).collect();
        let refused = writes.admit(org(3)).expect_err("past the total");
        assert_eq!(refused.code, "OVERLOADED");
        assert!(refused.message.contains("the node has 3 writes"), "{}", refused.message);
        drop(held);
        assert_eq!(writes.in_flight(), 0, "every place given back");
        let _ = writes.admit(org(3)).expect("taken again once the others are done");
    }

    #[test]
    fn a_refusal_for_the_organisations_share_does_not_count_against_the_node() {
        // A flooding member at its share, the node one short of its total: the member's
        // refused writes must not be what fills the node.
        let writes = Writes::new(3, 2);
        let _a = writes.admit(org(1)).expect("1");
        let _b = writes.admit(org(1)).expect("2");
        for _ in 0..5 {
            assert!(writes.admit(org(1)).is_err(), "the flooder is refused");
        }
        let _c = writes.admit(org(2)).expect("the last place is another organisation's");
    }
}
