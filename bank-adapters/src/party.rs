//! Who is who at the bank: a chain address's account holder name, IBAN and BIC.
//!
//! The worker asks a [`PartyDirectory`] for the debtor's and the creditor's account details
//! of each payment. For now the directory is configuration ([`StaticDirectory`]); the API's
//! read model will provide one later through the same trait.

use std::collections::HashMap;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use tradechain_money::identifier::{Bic, Iban};

/// An account holder as a payment message names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Account holder name (`Nm`, at most 140 characters).
    pub name: String,
    /// The account (`Id/IBAN`, ISO 13616).
    pub iban: Iban,
    /// BIC of the bank holding the account (`FinInstnId/BICFI`).
    pub bic: Bic,
}

/// Account details of consortium members, by chain address.
pub trait PartyDirectory: Send + Sync {
    /// The account to pay from or to for this address; `None` when unknown (the payment
    /// then waits for a person: nobody guesses an account).
    fn party(&self, address: Address) -> Option<Party>;
}

/// A directory from configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StaticDirectory {
    /// Account details by the member's chain address.
    pub parties: HashMap<Address, Party>,
}

impl StaticDirectory {
    /// Add (or replace) the account of `address`.
    pub fn with(mut self, address: Address, party: Party) -> Self {
        self.parties.insert(address, party);
        self
    }
}

impl PartyDirectory for StaticDirectory {
    fn party(&self, address: Address) -> Option<Party> {
        self.parties.get(&address).cloned()
    }
}
