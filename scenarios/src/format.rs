//! The scenario file format (TOML). Unknown fields are refused; every error names its
//! line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::Error;

/// A whole scenario: who takes part, the orders' terms, and the steps with what must
/// hold after them.
#[derive(Debug)]
pub struct Scenario {
    /// Its title.
    pub name: String,
    /// What it shows, for the timeline's header.
    pub description: Option<String>,
    /// The organisations (`[[party]]`).
    pub parties: Vec<PartySpec>,
    /// The orders' terms (`[[order]]`).
    pub orders: Vec<OrderSpec>,
    /// The steps (`[[step]]`), each with where it is in the file.
    pub steps: Vec<Spanned<Step>>,
}

/// Everything of a file but its steps, which are read one by one so that an error in one
/// names the line of the field at fault (serde's internal tagging buffers a step and
/// loses the positions in it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(rename = "party")]
    parties: Vec<PartySpec>,
    #[serde(rename = "order", default)]
    orders: Vec<OrderSpec>,
    #[serde(rename = "step")]
    _steps: serde::de::IgnoredAny,
}

/// An organisation: onboarded by the operator with these roles. Traders and financiers
/// get an account at the sandbox bank, funded with `funds` minor units.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartySpec {
    /// Its name in the scenario (and, with a run suffix, on the node).
    pub name: String,
    /// Its roles (`trader`, `bank`, `financier`, `carrier`, `inspector`).
    pub roles: Vec<String>,
    /// Minor units credited to its sandbox-bank account at the start.
    #[serde(default)]
    pub funds: i64,
    /// Which member node serves it (`"a"`, `"b"`, …), in a consortium of member nodes:
    /// it is onboarded there, acts there, and chooses that node in the directory. Parties
    /// that name none are served by the first node.
    #[serde(default)]
    pub node: Option<String>,
}

/// An order's terms. Dates are days after the moment the order is proposed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    /// The name steps use for this order.
    pub id: String,
    /// The importer (a party's name).
    pub buyer: String,
    /// The exporter.
    pub seller: String,
    /// The importer's bank.
    pub buyer_bank: String,
    /// The exporter's bank.
    pub seller_bank: String,
    /// The carrier named to attest the bill of lading (a party's name).
    #[serde(default)]
    pub carrier: Option<String>,
    /// The inspector named to attest the inspection certificate (a party's name).
    #[serde(default)]
    pub inspector: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Who bears the banks' charges: `shared` (default), `debtor`, `creditor`.
    #[serde(default)]
    pub charges: Option<String>,
    /// The order's amount in minor units.
    pub amount_minor: u64,
    /// Incoterms 2020 rule.
    pub incoterm: String,
    /// Latest shipment, days after the proposal.
    pub latest_shipment_days: u32,
    /// Expiry, days after the proposal.
    pub expiry_days: u32,
    /// The goods, one line.
    #[serde(default)]
    pub goods: Option<String>,
    /// UN/LOCODE of the port of loading.
    #[serde(default)]
    pub port_of_loading: Option<String>,
    /// UN/LOCODE of the port of discharge.
    #[serde(default)]
    pub port_of_discharge: Option<String>,
    /// The payment terms (`[[order.milestone]]`).
    #[serde(rename = "milestone")]
    pub milestones: Vec<MilestoneSpec>,
}

/// One payment term: exactly one of `share_bps` and `amount_minor`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneSpec {
    /// Share of the order amount in basis points.
    #[serde(default)]
    pub share_bps: Option<u16>,
    /// Exact amount in minor units.
    #[serde(default)]
    pub amount_minor: Option<u64>,
    /// The documents whose acceptance triggers it.
    pub documents: Vec<String>,
    /// Days after the trigger until it is due (0: at sight).
    #[serde(default)]
    pub tenor_days: u16,
}

/// Declares a step's fields: exactly what its action takes, plus what every step may say
/// of its outcome (`expect_error`, `expect`). Unknown fields are refused.
macro_rules! step_fields {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)*
            /// The step must be refused with this error code (e.g. `DOCUMENT_NOT_ATTESTED`).
            #[serde(default)]
            pub expect_error: Option<String>,
            /// What must hold after the step.
            #[serde(default)]
            pub expect: Option<Expect>,
        }
    };
}

step_fields!(
    /// An organisation (`actor`) acts on an order.
    OrderAct {
        /// Who acts.
        actor: String,
        /// On which order.
        order: String,
    }
);

step_fields!(
    /// The buyer's bank commits its payment undertaking, stating its cover.
    Commitment {
        /// The buyer's bank.
        actor: String,
        /// The order.
        order: String,
        /// `bank_risk` (default: it pays from its own account and claims the buyer back) or
        /// `earmark` (the buyer's funds are held in its escrow from now on).
        #[serde(default)]
        cover: Option<String>,
    }
);

step_fields!(
    /// The seller presents a document; `content` stands in for the PDF's bytes.
    Presentation {
        /// The seller.
        actor: String,
        /// The order.
        order: String,
        /// The document type (`bill_of_lading`, …).
        document: String,
        /// The document's bytes.
        #[serde(default)]
        content: Option<String>,
    }
);

step_fields!(
    /// The issuer the order names (carrier, inspector) attests a presented document; a
    /// carrier states the on-board date, by default the day of the presentation.
    Attestation {
        /// The issuer.
        actor: String,
        /// The order.
        order: String,
        /// The document type.
        document: String,
        /// Bills of lading: shipped this many days before the presentation (default 0).
        #[serde(default)]
        shipped_before_days: Option<u32>,
    }
);

step_fields!(
    /// An organisation acts on one document of an order (accepts it, records its deemed
    /// acceptance).
    DocumentAct {
        /// Who acts.
        actor: String,
        /// The order.
        order: String,
        /// The document type.
        document: String,
    }
);

step_fields!(
    /// The buyer's bank refuses a presentation in one notice stating every discrepancy.
    Refusal {
        /// The buyer's bank.
        actor: String,
        /// The order.
        order: String,
        /// The document type.
        document: String,
        /// Every discrepancy.
        discrepancies: Vec<String>,
    }
);

step_fields!(
    /// A trading party raises a dispute, or its raiser withdraws it.
    Dispute {
        /// Who acts.
        actor: String,
        /// The order.
        order: String,
        /// Why (or how it was resolved).
        reason: String,
    }
);

step_fields!(
    /// A trading party proposes new dates; days count from the moment of the step.
    Amendment {
        /// The proposer.
        actor: String,
        /// The order.
        order: String,
        /// New latest shipment, days from now.
        latest_shipment_days: u32,
        /// New expiry, days from now.
        expiry_days: u32,
    }
);

step_fields!(
    /// The payer records that a due payment failed, with its ISO 20022 reason code.
    Failure {
        /// The payer.
        actor: String,
        /// The order.
        order: String,
        /// The milestone, 1-based (default 1).
        #[serde(default)]
        milestone: Option<usize>,
        /// The ISO 20022 status reason code (e.g. `AM04`).
        reason_code: String,
        /// Its words.
        reason: String,
    }
);

step_fields!(
    /// A bank declares days holidays (or banking days again) in its calendar.
    Holidays {
        /// The bank.
        actor: String,
        /// The days, counted from the moment of the step (0: today).
        days: Vec<u32>,
        /// Holidays (default) or banking days again.
        #[serde(default)]
        holiday: Option<bool>,
    }
);

step_fields!(
    /// A financier asks a firm to let it read its trade history.
    Verification {
        /// The financier.
        actor: String,
        /// The firm.
        firm: String,
    }
);

step_fields!(
    /// The chain's clock moves forward.
    Days {
        /// Whole days.
        days: u32,
    }
);

step_fields!(
    /// The settlement workers act on an order's payments.
    Settlement {
        /// The order.
        order: String,
    }
);

step_fields!(
    /// Something happens at the sandbox bank.
    BankEvent {}
);

step_fields!(
    /// A financier offers to finance a milestone; `financing` names the offer for later
    /// steps.
    Offer {
        /// The financier.
        actor: String,
        /// The order.
        order: String,
        /// The name later steps use for this offer.
        financing: String,
        /// `receivable` or `payable`.
        kind: String,
        /// The milestone financed, 1-based (default 1).
        #[serde(default)]
        milestone: Option<usize>,
        /// Receivables: the advance, in minor units.
        #[serde(default)]
        advance_minor: Option<u64>,
        /// Payables: the days added to the buyer's term.
        #[serde(default)]
        extra_days: Option<u32>,
        /// The discount (receivables) or fee (payables) rate.
        #[serde(default)]
        rate_bps: Option<u32>,
        /// The invoice's number (default `INV-<order>`).
        #[serde(default)]
        invoice: Option<String>,
        /// The invoice's amount (default the order's).
        #[serde(default)]
        invoice_amount_minor: Option<u64>,
        /// Days after its acceptance by which it must be made binding (default 10).
        #[serde(default)]
        deadline_days: Option<u8>,
    }
);

step_fields!(
    /// An organisation acts on a named financing.
    FinancingAct {
        /// Who acts.
        actor: String,
        /// The financed order.
        order: String,
        /// The financing's name.
        financing: String,
    }
);

step_fields!(
    /// The repayer confirms the repayment of a payables financing.
    Repayment {
        /// The repayer.
        actor: String,
        /// The financed order.
        order: String,
        /// The financing's name.
        financing: String,
        /// The payment reference (default `REPAY-<id>`).
        #[serde(default)]
        reference: Option<String>,
    }
);

step_fields!(
    /// An organisation releases a milestone that has fallen due.
    Release {
        /// Who releases.
        actor: String,
        /// The order.
        order: String,
        /// The milestone, 1-based (default 1).
        #[serde(default)]
        milestone: Option<usize>,
    }
);

step_fields!(
    /// The payer confirms it paid a due milestone.
    Payment {
        /// The payer.
        actor: String,
        /// The order.
        order: String,
        /// The milestone, 1-based (default 1).
        #[serde(default)]
        milestone: Option<usize>,
        /// The payment reference (default `PAY-<order>-<milestone>`).
        #[serde(default)]
        reference: Option<String>,
        /// The financing whose state `expect.financing_state` checks.
        #[serde(default)]
        financing: Option<String>,
    }
);

step_fields!(
    /// A firm grants a financier a consent to read its history.
    Consent {
        /// The firm.
        actor: String,
        /// The financier.
        financier: String,
        /// For how many days.
        days: u32,
    }
);

step_fields!(
    /// A financier reads a firm's credit profile.
    CreditQuery {
        /// The financier.
        actor: String,
        /// The firm.
        firm: String,
    }
);

/// One step of a scenario: its `action`, with exactly the fields that action takes.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    /// The buyer proposes an order (its terms from the `[[order]]` of that name).
    Propose(OrderAct),
    /// The seller accepts a proposed order.
    Accept(OrderAct),
    /// The buyer's bank commits its payment undertaking.
    Commit(Commitment),
    /// Someone records that an order expired.
    Expire(OrderAct),
    /// The seller presents a document.
    SubmitDocument(Presentation),
    /// The issuer (carrier, inspector) attests a presented document.
    Attest(Attestation),
    /// The buyer's bank accepts a document.
    AcceptDocument(DocumentAct),
    /// The buyer's bank refuses a presentation, stating every discrepancy.
    RejectDocument(Refusal),
    /// Anyone records the deemed acceptance of a presentation whose period passed.
    DeemAccepted(DocumentAct),
    /// A trading party raises a dispute (it stops nothing the bank does).
    RaiseDispute(Dispute),
    /// The party that raised the dispute withdraws it.
    ResolveDispute(Dispute),
    /// A trading party proposes new dates.
    ProposeAmendment(Amendment),
    /// The other trading party, or once committed the buyer's bank, approves the pending
    /// amendment.
    ApproveAmendment(OrderAct),
    /// The chain's clock moves forward.
    AdvanceDays(Days),
    /// The settlement workers run until nothing of the order is payable and unpaid.
    WaitSettled(Settlement),
    /// Each settlement worker makes one pass; nothing need be paid.
    TrySettle(Settlement),
    /// The sandbox bank goes down (503 on every ISO endpoint).
    BankDown(BankEvent),
    /// The sandbox bank comes back.
    BankUp(BankEvent),
    /// A financier offers to finance a milestone.
    OfferFinancing(Offer),
    /// The financed firm takes the offer.
    AcceptFinancing(FinancingAct),
    /// The financier records the advance it paid.
    AdvanceFinancing(FinancingAct),
    /// The seller acknowledges receiving the advance; the proceeds pass to the financier.
    AcknowledgeAdvance(FinancingAct),
    /// Payables: the seller or the buyer's bank approves the change of payer.
    ApproveFinancing(FinancingAct),
    /// Anyone lapses a financing not made binding by its deadline, or whose order ended.
    LapseFinancing(FinancingAct),
    /// The financier or the firm asks to cancel a financing (both must).
    CancelFinancing(FinancingAct),
    /// The payer records a failed payment with its ISO 20022 reason code.
    FailMilestone(Failure),
    /// A bank changes its holiday calendar.
    SetHolidays(Holidays),
    /// A financier asks a firm for access to its history.
    RequestVerification(Verification),
    /// The actor releases a triggered milestone that has fallen due.
    ReleaseMilestone(Release),
    /// The payer confirms it paid a due milestone.
    ConfirmMilestone(Payment),
    /// The financed firm releases the repayment of a payables financing at its date.
    ReleaseRepayment(FinancingAct),
    /// The repayer confirms the repayment.
    ConfirmRepayment(Repayment),
    /// A firm grants a financier a consent to read its history.
    GrantConsent(Consent),
    /// A financier reads a firm's credit profile.
    QueryCredit(CreditQuery),
}

impl Step {
    /// The action's name as a person reads it in an error (`AcceptDocument`).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Step::Propose(_) => "Propose",
            Step::Accept(_) => "Accept",
            Step::Commit(_) => "Commit",
            Step::Expire(_) => "Expire",
            Step::SubmitDocument(_) => "SubmitDocument",
            Step::Attest(_) => "Attest",
            Step::AcceptDocument(_) => "AcceptDocument",
            Step::RejectDocument(_) => "RejectDocument",
            Step::DeemAccepted(_) => "DeemAccepted",
            Step::RaiseDispute(_) => "RaiseDispute",
            Step::ResolveDispute(_) => "ResolveDispute",
            Step::ProposeAmendment(_) => "ProposeAmendment",
            Step::ApproveAmendment(_) => "ApproveAmendment",
            Step::AcknowledgeAdvance(_) => "AcknowledgeAdvance",
            Step::ApproveFinancing(_) => "ApproveFinancing",
            Step::LapseFinancing(_) => "LapseFinancing",
            Step::CancelFinancing(_) => "CancelFinancing",
            Step::FailMilestone(_) => "FailMilestone",
            Step::SetHolidays(_) => "SetHolidays",
            Step::RequestVerification(_) => "RequestVerification",
            Step::AdvanceDays(_) => "AdvanceDays",
            Step::WaitSettled(_) => "WaitSettled",
            Step::TrySettle(_) => "TrySettle",
            Step::BankDown(_) => "BankDown",
            Step::BankUp(_) => "BankUp",
            Step::OfferFinancing(_) => "OfferFinancing",
            Step::AcceptFinancing(_) => "AcceptFinancing",
            Step::AdvanceFinancing(_) => "AdvanceFinancing",
            Step::ReleaseMilestone(_) => "ReleaseMilestone",
            Step::ConfirmMilestone(_) => "ConfirmMilestone",
            Step::ReleaseRepayment(_) => "ReleaseRepayment",
            Step::ConfirmRepayment(_) => "ConfirmRepayment",
            Step::GrantConsent(_) => "GrantConsent",
            Step::QueryCredit(_) => "QueryCredit",
        }
    }

    /// Who acts, for the steps an organisation takes.
    #[must_use]
    pub fn actor(&self) -> Option<&str> {
        match self {
            Step::Propose(s) | Step::Accept(s) | Step::Expire(s) | Step::ApproveAmendment(s) => Some(&s.actor),
            Step::Commit(s) => Some(&s.actor),
            Step::SubmitDocument(s) => Some(&s.actor),
            Step::Attest(s) => Some(&s.actor),
            Step::AcceptDocument(s) | Step::DeemAccepted(s) => Some(&s.actor),
            Step::RejectDocument(s) => Some(&s.actor),
            Step::RaiseDispute(s) | Step::ResolveDispute(s) => Some(&s.actor),
            Step::ProposeAmendment(s) => Some(&s.actor),
            Step::FailMilestone(s) => Some(&s.actor),
            Step::SetHolidays(s) => Some(&s.actor),
            Step::RequestVerification(s) => Some(&s.actor),
            Step::OfferFinancing(s) => Some(&s.actor),
            Step::AcceptFinancing(s)
            | Step::AdvanceFinancing(s)
            | Step::ReleaseRepayment(s)
            | Step::AcknowledgeAdvance(s)
            | Step::ApproveFinancing(s)
            | Step::LapseFinancing(s)
            | Step::CancelFinancing(s) => Some(&s.actor),
            Step::ConfirmRepayment(s) => Some(&s.actor),
            Step::ReleaseMilestone(s) => Some(&s.actor),
            Step::ConfirmMilestone(s) => Some(&s.actor),
            Step::GrantConsent(s) => Some(&s.actor),
            Step::QueryCredit(s) => Some(&s.actor),
            Step::AdvanceDays(_) | Step::WaitSettled(_) | Step::TrySettle(_) | Step::BankDown(_) | Step::BankUp(_) => {
                None
            }
        }
    }

    /// The order the step is about, if any.
    #[must_use]
    pub fn order(&self) -> Option<&str> {
        match self {
            Step::Propose(s) | Step::Accept(s) | Step::Expire(s) | Step::ApproveAmendment(s) => Some(&s.order),
            Step::Commit(s) => Some(&s.order),
            Step::SubmitDocument(s) => Some(&s.order),
            Step::Attest(s) => Some(&s.order),
            Step::AcceptDocument(s) | Step::DeemAccepted(s) => Some(&s.order),
            Step::RejectDocument(s) => Some(&s.order),
            Step::RaiseDispute(s) | Step::ResolveDispute(s) => Some(&s.order),
            Step::ProposeAmendment(s) => Some(&s.order),
            Step::FailMilestone(s) => Some(&s.order),
            Step::WaitSettled(s) | Step::TrySettle(s) => Some(&s.order),
            Step::OfferFinancing(s) => Some(&s.order),
            Step::AcceptFinancing(s)
            | Step::AdvanceFinancing(s)
            | Step::ReleaseRepayment(s)
            | Step::AcknowledgeAdvance(s)
            | Step::ApproveFinancing(s)
            | Step::LapseFinancing(s)
            | Step::CancelFinancing(s) => Some(&s.order),
            Step::ConfirmRepayment(s) => Some(&s.order),
            Step::ReleaseMilestone(s) => Some(&s.order),
            Step::ConfirmMilestone(s) => Some(&s.order),
            Step::AdvanceDays(_)
            | Step::BankDown(_)
            | Step::BankUp(_)
            | Step::GrantConsent(_)
            | Step::QueryCredit(_)
            | Step::SetHolidays(_)
            | Step::RequestVerification(_) => None,
        }
    }

    /// The document the step is about, if any.
    #[must_use]
    pub fn document(&self) -> Option<&str> {
        match self {
            Step::SubmitDocument(s) => Some(&s.document),
            Step::Attest(s) => Some(&s.document),
            Step::AcceptDocument(s) | Step::DeemAccepted(s) => Some(&s.document),
            Step::RejectDocument(s) => Some(&s.document),
            _ => None,
        }
    }

    /// The named financing the step is about, if any.
    #[must_use]
    pub fn financing(&self) -> Option<&str> {
        match self {
            Step::OfferFinancing(s) => Some(&s.financing),
            Step::AcceptFinancing(s)
            | Step::AdvanceFinancing(s)
            | Step::ReleaseRepayment(s)
            | Step::AcknowledgeAdvance(s)
            | Step::ApproveFinancing(s)
            | Step::LapseFinancing(s)
            | Step::CancelFinancing(s) => Some(&s.financing),
            Step::ConfirmRepayment(s) => Some(&s.financing),
            Step::ConfirmMilestone(s) => s.financing.as_deref(),
            _ => None,
        }
    }

    /// Every party the step names besides its actor (a financier, a firm).
    fn other_parties(&self) -> Vec<(&'static str, &str)> {
        match self {
            Step::GrantConsent(s) => vec![("financier", &s.financier)],
            Step::QueryCredit(s) => vec![("firm", &s.firm)],
            Step::RequestVerification(s) => vec![("firm", &s.firm)],
            _ => Vec::new(),
        }
    }

    /// What the step says of its outcome: the refusal it expects, and what must hold.
    #[must_use]
    pub fn outcome(&self) -> (Option<&str>, Option<&Expect>) {
        macro_rules! of {
            ($s:expr) => {
                ($s.expect_error.as_deref(), $s.expect.as_ref())
            };
        }
        match self {
            Step::Propose(s) | Step::Accept(s) | Step::Expire(s) | Step::ApproveAmendment(s) => {
                of!(s)
            }
            Step::Commit(s) => of!(s),
            Step::SubmitDocument(s) => of!(s),
            Step::Attest(s) => of!(s),
            Step::AcceptDocument(s) | Step::DeemAccepted(s) => of!(s),
            Step::RejectDocument(s) => of!(s),
            Step::RaiseDispute(s) | Step::ResolveDispute(s) => of!(s),
            Step::ProposeAmendment(s) => of!(s),
            Step::FailMilestone(s) => of!(s),
            Step::SetHolidays(s) => of!(s),
            Step::RequestVerification(s) => of!(s),
            Step::AdvanceDays(s) => of!(s),
            Step::WaitSettled(s) | Step::TrySettle(s) => of!(s),
            Step::BankDown(s) | Step::BankUp(s) => of!(s),
            Step::OfferFinancing(s) => of!(s),
            Step::AcceptFinancing(s)
            | Step::AdvanceFinancing(s)
            | Step::ReleaseRepayment(s)
            | Step::AcknowledgeAdvance(s)
            | Step::ApproveFinancing(s)
            | Step::LapseFinancing(s)
            | Step::CancelFinancing(s) => of!(s),
            Step::ConfirmRepayment(s) => of!(s),
            Step::ReleaseMilestone(s) => of!(s),
            Step::ConfirmMilestone(s) => of!(s),
            Step::GrantConsent(s) => of!(s),
            Step::QueryCredit(s) => of!(s),
        }
    }

    /// The step as an error names it: the action, then actor, order, document, days.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = self.name().to_string();
        for part in [self.actor(), self.order(), self.document()].into_iter().flatten() {
            out.push(' ');
            out.push_str(part);
        }
        let days = match self {
            Step::AdvanceDays(d) => Some(d.days),
            Step::GrantConsent(c) => Some(c.days),
            _ => None,
        };
        if let Some(d) = days {
            out.push_str(&format!(" {d}"));
        }
        out
    }
}

/// What must hold after a step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The order this is about (default: the step's order).
    #[serde(default)]
    pub order: Option<String>,
    /// The order's state (`committed`, `completed`, …).
    #[serde(default)]
    pub state: Option<String>,
    /// What has been paid on it, in minor units.
    #[serde(default)]
    pub paid_minor: Option<u64>,
    /// Each milestone's state (and optionally amount and payee), in order.
    #[serde(default)]
    pub milestones: Option<Vec<ExpectMilestone>>,
    /// Sandbox-bank balances in minor units, by party name.
    #[serde(default)]
    pub balances: Option<BTreeMap<String, i64>>,
    /// How many payments the sandbox bank has booked in all.
    #[serde(default)]
    pub bank_payments: Option<usize>,
    /// Figures of the credit profile read by `query_credit`, by name (JSON-equal values).
    #[serde(default)]
    pub figures: Option<BTreeMap<String, toml::Value>>,
    /// The state of the step's financing (e.g. `live`, `settled`).
    #[serde(default)]
    pub financing_state: Option<String>,
    /// The order's documents, by type.
    #[serde(default)]
    pub documents: Option<BTreeMap<String, ExpectDocument>>,
    /// Whether a dispute is open on the order (it stops nothing the bank does).
    #[serde(default)]
    pub dispute_open: Option<bool>,
}

/// What must hold of one document's current presentation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectDocument {
    /// Its state (`submitted`, `accepted`, `rejected`).
    pub state: String,
    /// Accepted by the lapse of the examination period rather than by the bank.
    #[serde(default)]
    pub deemed: Option<bool>,
}

/// What must hold of one milestone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectMilestone {
    /// Its state (`pending`, `triggered`, `due`, `paid`, `failed`, `defaulted`).
    pub state: String,
    /// Its amount in minor units.
    #[serde(default)]
    pub amount_minor: Option<u64>,
    /// Who is paid (a party's name).
    #[serde(default)]
    pub payee: Option<String>,
    /// Who pays (a party's name).
    #[serde(default)]
    pub payer: Option<String>,
}

/// 1-based line and column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}

/// Where, in step table `step`, the field an error `message` complains of is: the unknown
/// field's key, or the `action` value of an unknown action.
fn position_in_step(step: &toml::de::DeTable<'_>, message: &str) -> Option<std::ops::Range<usize>> {
    let quoted = |prefix: &str| {
        let rest = &message[message.find(prefix)? + prefix.len()..];
        Some(rest[..rest.find('`')?].to_string())
    };
    if let Some(field) = quoted("unknown field `") {
        return step.keys().find(|k| k.get_ref().as_ref() == field).map(toml::Spanned::span);
    }
    if message.contains("unknown variant") {
        return step.iter().find(|(k, _)| k.get_ref().as_ref() == "action").map(|(_, v)| v.span());
    }
    None
}

impl Scenario {
    /// Parse and check a scenario; `file` names it in errors.
    ///
    /// # Errors
    /// [`Error::Parse`] for what is not TOML or not the format, [`Error::Invalid`] for a
    /// reference to a party or order that does not exist; each with its line and column.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, Error> {
        let parse_error = |span: Option<std::ops::Range<usize>>, message: &str| {
            let (line, column) = span.map_or((0, 0), |s| line_col(text, s.start));
            Error::Parse { file: file.into(), line, column, message: message.trim().to_string() }
        };
        let head: Head = toml::from_str(text).map_err(|e| parse_error(e.span(), e.message()))?;
        let doc = toml::de::DeTable::parse(text).map_err(|e| parse_error(e.span(), e.message()))?;
        let items = match doc.get_ref().get("step").map(toml::Spanned::get_ref) {
            Some(toml::de::DeValue::Array(items)) => items.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let mut steps = Vec::with_capacity(items.len());
        for item in items {
            let step = Step::deserialize(toml::de::ValueDeserializer::from(item.clone())).map_err(|e| {
                let at = match item.get_ref() {
                    toml::de::DeValue::Table(t) => position_in_step(t, e.message()),
                    _ => None,
                };
                parse_error(at.or(e.span()).or(Some(item.span())), e.message())
            })?;
            steps.push(Spanned::new(item.span(), step));
        }
        let scenario = Scenario {
            name: head.name,
            description: head.description,
            parties: head.parties,
            orders: head.orders,
            steps,
        };
        scenario.check(file, text)?;
        Ok(scenario)
    }

    /// The member nodes the parties name, in the order first named (empty: one node).
    #[must_use]
    pub fn nodes(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for p in &self.parties {
            if let Some(n) = &p.node
                && !names.contains(n)
            {
                names.push(n.clone());
            }
        }
        names
    }

    /// The references between parts of the file: actors, orders, and what each action needs.
    fn check(&self, file: &str, text: &str) -> Result<(), Error> {
        let party = |n: &str| self.parties.iter().any(|p| p.name == n);
        for p in &self.parties {
            if let Some(n) = &p.node
                && (n.is_empty() || n.len() > 16 || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            {
                return Err(Error::Invalid {
                    file: file.into(),
                    line: 0,
                    column: 0,
                    message: format!("party `{}`: node `{n}` is 1 to 16 lower-case letters or digits", p.name),
                });
            }
        }
        if !self.nodes().is_empty() && self.parties.iter().any(|p| p.node.is_none()) {
            return Err(Error::Invalid {
                file: file.into(),
                line: 0,
                column: 0,
                message: "when one party names its node, every party does".into(),
            });
        }
        for o in &self.orders {
            let attesters = o.carrier.iter().chain(&o.inspector);
            for who in [&o.buyer, &o.seller, &o.buyer_bank, &o.seller_bank].into_iter().chain(attesters) {
                if !party(who) {
                    return Err(Error::Invalid {
                        file: file.into(),
                        line: 0,
                        column: 0,
                        message: format!("order `{}` names `{who}`, who is not a party", o.id),
                    });
                }
            }
        }
        for step in &self.steps {
            let (line, column) = line_col(text, step.span().start);
            let bad = |message: String| Error::Invalid { file: file.into(), line, column, message };
            let s = step.get_ref();
            if let Some(a) = s.actor()
                && !party(a)
            {
                return Err(bad(format!("actor `{a}` is not a party")));
            }
            let (_, expect) = s.outcome();
            for o in s.order().into_iter().chain(expect.and_then(|e| e.order.as_deref())) {
                if !self.orders.iter().any(|x| x.id == o) {
                    return Err(bad(format!("order `{o}` is not defined")));
                }
            }
            if let Some(b) = expect.and_then(|e| e.balances.as_ref()) {
                for name in b.keys() {
                    if !party(name) {
                        return Err(bad(format!("balance of `{name}`, who is not a party")));
                    }
                }
            }
            for (field, who) in s.other_parties() {
                if !party(who) {
                    return Err(bad(format!("{field} `{who}` is not a party")));
                }
            }
            if expect.is_some_and(|e| e.financing_state.is_some()) && s.financing().is_none() {
                return Err(bad(format!("{}: expect.financing_state needs the step's `financing`", s.name())));
            }
        }
        Ok(())
    }
}
