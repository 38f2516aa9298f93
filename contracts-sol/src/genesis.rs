//! How a chain deploys the suite: a fixed list of calls the operator makes from nonce 0.
//!
//! Genesis is a pure function of the operator's address, so every node (and `verify`,
//! replaying from nothing) arrives at the same contract addresses and the same state.

use alloy::primitives::{Address, Bytes};
use alloy::sol_types::{SolCall, SolConstructor};

use crate::{Consents, Consortium, Receivables, TradeOrders};

/// One call the operator makes at genesis: a contract creation (`to == None`) or a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisCall {
    /// The contract called; `None` creates a contract at the operator's next CREATE address.
    pub to: Option<Address>,
    /// Calldata, or for a creation the bytecode followed by the ABI-encoded constructor arguments.
    pub input: Bytes,
}

/// Where the suite lives: the CREATE addresses of the operator's nonces 0..=3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteAddresses {
    /// `Consortium` (nonce 0): membership and roles.
    pub consortium: Address,
    /// `TradeOrders` (nonce 1): orders, milestones, documents and payments.
    pub trade_orders: Address,
    /// `Receivables` (nonce 2): financing and the double-financing registry.
    pub receivables: Address,
    /// `Consents` (nonce 3): firms' consents to financiers' verification requests.
    pub consents: Address,
}

impl SuiteAddresses {
    /// The addresses [`plan`] deploys to when `operator` sends it from nonce 0.
    pub fn for_operator(operator: Address) -> Self {
        Self {
            consortium: operator.create(0),
            trade_orders: operator.create(1),
            receivables: operator.create(2),
            consents: operator.create(3),
        }
    }
}

fn creation(bytecode: &Bytes, args: Vec<u8>) -> Bytes {
    let mut code = bytecode.to_vec();
    code.extend_from_slice(&args);
    code.into()
}

/// The operator's genesis calls, in nonce order: deploy Consortium, TradeOrders,
/// Receivables and Consents, then link them: Receivables and Consents into TradeOrders,
/// TradeOrders and Receivables into Consents (the contracts that may ask it).
pub fn plan(operator: Address) -> Vec<GenesisCall> {
    let a = SuiteAddresses::for_operator(operator);
    vec![
        GenesisCall {
            to: None,
            input: creation(&Consortium::BYTECODE, Consortium::constructorCall { operator }.abi_encode()),
        },
        GenesisCall {
            to: None,
            input: creation(
                &TradeOrders::BYTECODE,
                TradeOrders::constructorCall { consortium_: a.consortium }.abi_encode(),
            ),
        },
        GenesisCall {
            to: None,
            input: creation(
                &Receivables::BYTECODE,
                Receivables::constructorCall { consortium_: a.consortium, orders_: a.trade_orders }.abi_encode(),
            ),
        },
        GenesisCall {
            to: None,
            input: creation(&Consents::BYTECODE, Consents::constructorCall { consortium_: a.consortium }.abi_encode()),
        },
        GenesisCall {
            to: Some(a.trade_orders),
            input: TradeOrders::setLinksCall { receivables_: a.receivables, consents_: a.consents }.abi_encode().into(),
        },
        GenesisCall {
            to: Some(a.consents),
            input: Consents::setReadersCall { orders_: a.trade_orders, receivables_: a.receivables }
                .abi_encode()
                .into(),
        },
    ]
}
