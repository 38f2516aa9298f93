//! A credit transfer as the rails see it: who pays whom, how much, under which EndToEndId.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::party::Party;
use tradechain_money::identifier::EndToEndId;
use tradechain_money::money::Money;

/// Longest unstructured remittance information (`RmtInf/Ustrd`, `Max140Text`).
pub(crate) const MAX_REMITTANCE: usize = 140;

/// One credit transfer instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransfer {
    /// The idempotency key; travels unchanged to the bank and back.
    pub end_to_end_id: EndToEndId,
    /// Who pays: the account debited (`Dbtr`, `DbtrAcct`, `DbtrAgt`).
    pub debtor: Party,
    /// Who is paid: the account credited (`Cdtr`, `CdtrAcct`, `CdtrAgt`).
    pub creditor: Party,
    /// The instructed amount (`InstdAmt`), in minor units of its ISO 4217 currency.
    pub amount: Money,
    /// Requested execution date (the milestone's due date, UTC).
    pub requested_execution_date: NaiveDate,
    /// Remittance information naming the order and milestone (≤ 140 characters).
    pub remittance: String,
}

/// The remittance text of a milestone payment, e.g. `tradechain order 12 milestone 1 attempt 1`.
pub(crate) fn remittance(order_id: &str, milestone: u64, attempt: u32) -> String {
    let text = format!("tradechain order {order_id} milestone {milestone} attempt {attempt}");
    text.chars().take(MAX_REMITTANCE).collect()
}

/// The remittance text of a payables-finance repayment, e.g.
/// `tradechain financing 4 repayment order 12`.
pub(crate) fn repayment_remittance(financing_id: &str, order_id: &str) -> String {
    let text = format!("tradechain financing {financing_id} repayment order {order_id}");
    text.chars().take(MAX_REMITTANCE).collect()
}

/// A payment's status at the bank, as the rails report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RailStatus {
    /// Received or technically accepted, outcome not known yet (RCVD, ACTC, PDNG).
    Pending,
    /// Accepted by the bank for execution (ACCP, ACSP).
    Accepted {
        /// The bank's own reference of the booking (`AcctSvcrRef`), when it gives one.
        bank_reference: Option<String>,
    },
    /// Settled: the debtor's account is debited (ACSC) or the creditor credited (ACCC).
    Settled {
        /// The bank's own reference of the booking (`AcctSvcrRef`), when it gives one.
        bank_reference: Option<String>,
    },
    /// Refused (RJCT) with an ISO reason code such as AM04 (insufficient funds).
    Rejected {
        /// ISO 20022 external status reason code (`StsRsnInf/Rsn/Cd`, e.g. `AM04`; `NARR`
        /// when the bank gave none).
        reason: String,
        /// The bank's free-text explanation (`StsRsnInf/AddtlInf`), if any.
        detail: Option<String>,
    },
}

impl RailStatus {
    /// Whether the bank has taken the payment on (it will not be sent again).
    pub fn is_booked(&self) -> bool {
        matches!(self, RailStatus::Accepted { .. } | RailStatus::Settled { .. })
    }

    /// The bank's reference of a booked payment; `None` while pending, when rejected, or
    /// when the bank gave none.
    pub fn bank_reference(&self) -> Option<&str> {
        match self {
            RailStatus::Accepted { bank_reference } | RailStatus::Settled { bank_reference } => {
                bank_reference.as_deref()
            }
            _ => None,
        }
    }
}
