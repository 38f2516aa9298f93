//! A credit transfer as the rails see it: who pays whom, how much, under which EndToEndId.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::party::Party;
use tradechain_money::identifier::EndToEndId;
use tradechain_money::money::Money;

/// Longest unstructured remittance information (`RmtInf/Ustrd`, `Max140Text`).
pub(crate) const MAX_REMITTANCE: usize = 140;

/// Who bears the banks' charges (`ChrgBr`) of a transfer outside SEPA, as the order's
/// parties agreed it (CBPR+ usage: SHAR, DEBT or CRED). SEPA euro transfers always carry
/// SLEV, the scheme's rule, whatever this says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeBearer {
    /// SHAR: each side pays its own bank.
    #[default]
    Shared,
    /// DEBT: the debtor pays all charges.
    Debtor,
    /// CRED: the creditor pays all charges.
    Creditor,
}

impl ChargeBearer {
    /// The ISO 20022 code (`ChargeBearerType1Code`).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            ChargeBearer::Shared => "SHAR",
            ChargeBearer::Debtor => "DEBT",
            ChargeBearer::Creditor => "CRED",
        }
    }

    /// From the order's on-chain `Charges` value; `None` for a value this build does not
    /// know.
    #[must_use]
    pub fn from_chain(value: u8) -> Option<Self> {
        match tradechain_contracts::Charges::from_u8(value)? {
            tradechain_contracts::Charges::Shared => Some(ChargeBearer::Shared),
            tradechain_contracts::Charges::Debtor => Some(ChargeBearer::Debtor),
            tradechain_contracts::Charges::Creditor => Some(ChargeBearer::Creditor),
        }
    }
}

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
    /// Requested execution date: a banking day of the paying bank, not before the due date.
    pub requested_execution_date: NaiveDate,
    /// Remittance information naming the order and milestone (≤ 140 characters).
    pub remittance: String,
    /// Who bears the charges outside SEPA.
    pub charges: ChargeBearer,
    /// The payment information block (`PmtInfId`) it travels in, shared with the other
    /// transfers of one debtor account and date in a batch; `None`: a block of its own,
    /// named by its EndToEndId. Kept with the instruction, so a status report naming the
    /// block can be checked after a restart.
    pub payment_information_id: Option<String>,
}

impl CreditTransfer {
    /// The `PmtInfId` of the block it travels in: its own EndToEndId unless a batch named one.
    #[must_use]
    pub fn payment_information(&self) -> &str {
        self.payment_information_id.as_deref().unwrap_or(self.end_to_end_id.as_str())
    }

    /// A SEPA credit transfer: euro, between two accounts in the SEPA schemes' scope. It is
    /// written by the EPC's rules (service level `SEPA`, charges `SLEV`); any other is a
    /// cross-border payment in CBPR+ usage (no SEPA service level, the agreed charge bearer).
    #[must_use]
    pub fn is_sepa(&self) -> bool {
        self.amount.currency.code() == "EUR" && self.debtor.iban.is_sepa() && self.creditor.iban.is_sepa()
    }

    /// `ChrgBr` as written: `SLEV` for SEPA, else the agreed bearer's code.
    #[must_use]
    pub fn charge_bearer_code(&self) -> &'static str {
        if self.is_sepa() { "SLEV" } else { self.charges.code() }
    }
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
///
/// Only a booking moves anything on chain (`confirmPayment` cannot be undone). What each
/// ISO 20022 `ExternalPaymentTransactionStatus1Code` means here:
/// - RCVD (received), ACTC (technically accepted: syntax and signature), ACCP (accepted
///   after the customer profile checks), ACWC (accepted with a change, e.g. of the
///   execution date), ACSP (accepted, settlement in process) and PDNG (pending): nothing is
///   booked yet and the bank may still reject it (RJCT after ACSP happens, e.g. when the
///   funds check at execution fails). [`RailStatus::InFlight`]: the worker asks again later.
/// - ACSC (accepted, settlement completed: the debtor's account is debited) and ACCC
///   (accepted, the creditor's account is credited), or a camt.054 notification of the
///   booked debit: [`RailStatus::Settled`], the only status confirmed on chain.
/// - RJCT with its reason code (AM04 insufficient funds, AC01 wrong account, …):
///   [`RailStatus::Rejected`], recorded on chain with `failPayment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RailStatus {
    /// Not booked yet, whatever stage it is at (RCVD, ACTC, ACCP, ACWC, ACSP, PDNG).
    InFlight {
        /// The bank's status code.
        code: String,
    },
    /// Booked: the debtor's account is debited (ACSC) or the creditor credited (ACCC).
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
    /// Whether the bank has booked the payment (it is done; it will not be sent again).
    pub fn is_booked(&self) -> bool {
        matches!(self, RailStatus::Settled { .. })
    }

    /// The bank's reference of a booked payment; `None` until booked, when rejected, or
    /// when the bank gave none.
    pub fn bank_reference(&self) -> Option<&str> {
        match self {
            RailStatus::Settled { bank_reference } => bank_reference.as_deref(),
            _ => None,
        }
    }
}
