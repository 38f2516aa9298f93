//! Which order or financing a member's call to the suite is about, so the gate simulates
//! (`eth_call`, `eth_estimateGas`) only what the member may see. The views check their
//! caller themselves, but the permissionless functions do not (anyone may `expire` an
//! order or release a due payment, so nothing waits on one party), and their refusals
//! carry the order's state and dates (`NotExpiredYet(expiry)`, `NotDueYet(due)`,
//! `InvalidState(state)`): simulated by a stranger, they would answer what the views refuse.

use std::collections::HashMap;
use std::sync::LazyLock;

use alloy::json_abi::JsonAbi;
use alloy::primitives::{Address, U256};
use tradechain_contracts::artifacts;

use tradechain_contracts::genesis::SuiteAddresses;

/// What a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// An order, by id (the function's first argument is `orderId`).
    Order(U256),
    /// A financing, by id (the function's first argument is `financingId`).
    Financing(U256),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Contract {
    TradeOrders,
    Receivables,
}

/// (contract, selector) → whether the first argument is a financing id (else an order id),
/// for every function of the two contracts whose first argument names one.
static SCOPED: LazyLock<HashMap<(Contract, [u8; 4]), bool>> = LazyLock::new(|| {
    #[derive(serde::Deserialize)]
    struct Artifact {
        abi: JsonAbi,
    }
    let mut map = HashMap::new();
    for (contract, json) in
        [(Contract::TradeOrders, artifacts::TRADE_ORDERS), (Contract::Receivables, artifacts::RECEIVABLES)]
    {
        // Committed artifacts, compiled in and parsed by the contracts crate's tests: a
        // failure here is a build defect; without them nothing is scoped and the views
        // still check their callers.
        let Ok(artifact) = serde_json::from_str::<Artifact>(json) else { continue };
        for f in artifact.abi.functions() {
            let Some(first) = f.inputs.first() else { continue };
            if first.ty != "uint256" {
                continue;
            }
            match first.name.as_str() {
                "orderId" => map.insert((contract, f.selector().0), false),
                "financingId" => map.insert((contract, f.selector().0), true),
                _ => None,
            };
        }
    }
    map
});

/// The order or financing `data` sent to `to` is about, if it is one of the suite's
/// functions that take one first.
pub(super) fn of(suite: &SuiteAddresses, to: Address, data: &[u8]) -> Option<Scope> {
    let contract = if to == suite.trade_orders {
        Contract::TradeOrders
    } else if to == suite.receivables {
        Contract::Receivables
    } else {
        return None;
    };
    let selector: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let financing = *SCOPED.get(&(contract, selector))?;
    // Shorter calldata cannot be decoded by the contract either: it reverts without data.
    let id = U256::from_be_slice(data.get(4..36)?);
    Some(if financing { Scope::Financing(id) } else { Scope::Order(id) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolCall;
    use tradechain_contracts::{Receivables, TradeOrders};

    #[test]
    fn permissionless_functions_and_views_are_scoped_by_their_first_argument() {
        let suite = SuiteAddresses::for_operator(Address::repeat_byte(1));
        let id = U256::from(7);
        let expire = TradeOrders::expireCall { orderId: id }.abi_encode();
        assert_eq!(of(&suite, suite.trade_orders, &expire), Some(Scope::Order(id)));
        let release = TradeOrders::releasePaymentCall { orderId: id, index: U256::ZERO }.abi_encode();
        assert_eq!(of(&suite, suite.trade_orders, &release), Some(Scope::Order(id)));
        let lapse = Receivables::lapseCall { financingId: id }.abi_encode();
        assert_eq!(of(&suite, suite.receivables, &lapse), Some(Scope::Financing(id)));
        // Not about one order: a proposal, a banking-day question, another contract.
        let bank = TradeOrders::bankingDayOfCall { bank: Address::ZERO, ts: 0 }.abi_encode();
        assert_eq!(of(&suite, suite.trade_orders, &bank), None);
        assert_eq!(of(&suite, suite.consortium, &expire), None);
        assert_eq!(of(&suite, suite.trade_orders, &expire[..20]), None);
    }
}
