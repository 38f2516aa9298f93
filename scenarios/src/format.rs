//! The scenario file format (TOML). Unknown fields are refused; every error names its
//! line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::Error;

/// A whole scenario: who takes part, the orders' terms, and the steps with what must
/// hold after them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "party")]
    pub parties: Vec<PartySpec>,
    #[serde(rename = "order")]
    pub orders: Vec<OrderSpec>,
    #[serde(rename = "step")]
    pub steps: Vec<Spanned<Step>>,
}

/// An organisation: onboarded by the operator with these roles. Traders and financiers
/// get an account at the sandbox bank, funded with `funds` minor units.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartySpec {
    pub name: String,
    pub roles: Vec<String>,
    #[serde(default)]
    pub funds: i64,
}

/// An order's terms. Dates are days after the moment the order is proposed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    /// The name steps use for this order.
    pub id: String,
    pub buyer: String,
    pub seller: String,
    pub buyer_bank: String,
    pub seller_bank: String,
    pub currency: String,
    pub amount_minor: u64,
    pub incoterm: String,
    pub latest_shipment_days: u32,
    pub expiry_days: u32,
    #[serde(default)]
    pub goods: Option<String>,
    #[serde(default)]
    pub port_of_loading: Option<String>,
    #[serde(default)]
    pub port_of_discharge: Option<String>,
    #[serde(rename = "milestone")]
    pub milestones: Vec<MilestoneSpec>,
}

/// One payment term: exactly one of `share_bps` and `amount_minor`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MilestoneSpec {
    #[serde(default)]
    pub share_bps: Option<u16>,
    #[serde(default)]
    pub amount_minor: Option<u64>,
    pub documents: Vec<String>,
    #[serde(default)]
    pub tenor_days: u16,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Propose,
    Accept,
    Commit,
    SubmitDocument,
    Attest,
    AcceptDocument,
    RejectDocument,
    Expire,
    AdvanceDays,
    WaitSettled,
    /// A financier offers to finance a milestone (`financing` names the offer).
    OfferFinancing,
    /// The financed firm takes the offer.
    AcceptFinancing,
    /// The financier records the advance it paid.
    AdvanceFinancing,
    /// The sandbox bank goes down (503 on every ISO endpoint).
    BankDown,
    /// The sandbox bank comes back.
    BankUp,
    /// Each settlement worker makes one pass; nothing need be paid.
    TrySettle,
    /// The `actor` releases a triggered milestone that has fallen due.
    ReleaseMilestone,
    /// The payer (`actor`) confirms it paid a due milestone, with a `reference`.
    ConfirmMilestone,
    /// The financed firm (`actor`) releases the repayment of a payables financing at its date.
    ReleaseRepayment,
    /// The repayer (`actor`) confirms the repayment, with a `reference`.
    ConfirmRepayment,
    /// The firm (`actor`) grants `financier` a consent to read its history for `days`.
    GrantConsent,
    /// The financier (`actor`) reads `firm`'s credit profile.
    QueryCredit,
}

/// One step: `actor` does `action` on `order`; then `expect` must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub action: Action,
    #[serde(default)]
    pub actor: Option<String>,
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub document: Option<String>,
    /// The document's bytes (a stand-in for the PDF), for `submit_document`.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub days: Option<u32>,
    /// The financing this step is about (named by `offer_financing`).
    #[serde(default)]
    pub financing: Option<String>,
    /// `receivable` or `payable`, for `offer_financing`.
    #[serde(default)]
    pub kind: Option<String>,
    /// The milestone financed, 1-based (default 1).
    #[serde(default)]
    pub milestone: Option<usize>,
    #[serde(default)]
    pub advance_minor: Option<u64>,
    #[serde(default)]
    pub extra_days: Option<u32>,
    #[serde(default)]
    pub rate_bps: Option<u32>,
    /// The invoice financed: its number and amount.
    #[serde(default)]
    pub invoice: Option<String>,
    #[serde(default)]
    pub invoice_amount_minor: Option<u64>,
    /// A payment reference, for `confirm_milestone` and `confirm_repayment`.
    #[serde(default)]
    pub reference: Option<String>,
    /// The financier a consent is granted to, for `grant_consent`.
    #[serde(default)]
    pub financier: Option<String>,
    /// The firm whose credit profile is read, for `query_credit`.
    #[serde(default)]
    pub firm: Option<String>,
    /// The step must be refused with this error code (e.g. `DOCUMENT_NOT_ATTESTED`).
    #[serde(default)]
    pub expect_error: Option<String>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// What must hold after a step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The order this is about (default: the step's order).
    #[serde(default)]
    pub order: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub paid_minor: Option<u64>,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectMilestone {
    pub state: String,
    #[serde(default)]
    pub amount_minor: Option<u64>,
    #[serde(default)]
    pub payee: Option<String>,
}

/// 1-based line and column of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, col)
}

impl Scenario {
    /// Parse and check a scenario; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, Error> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            Error::Parse { file: file.into(), line, column, message: e.message().trim().to_string() }
        })?;
        scenario.check(file, text)?;
        Ok(scenario)
    }

    /// The references between parts of the file: actors, orders, and what each action needs.
    fn check(&self, file: &str, text: &str) -> Result<(), Error> {
        let party = |n: &str| self.parties.iter().any(|p| p.name == n);
        for o in &self.orders {
            for who in [&o.buyer, &o.seller, &o.buyer_bank, &o.seller_bank] {
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
            if let Some(a) = &s.actor
                && !party(a)
            {
                return Err(bad(format!("actor `{a}` is not a party")));
            }
            for o in s.order.iter().chain(s.expect.as_ref().and_then(|e| e.order.as_ref())) {
                if !self.orders.iter().any(|x| &x.id == o) {
                    return Err(bad(format!("order `{o}` is not defined")));
                }
            }
            if let Some(b) = s.expect.as_ref().and_then(|e| e.balances.as_ref()) {
                for name in b.keys() {
                    if !party(name) {
                        return Err(bad(format!("balance of `{name}`, who is not a party")));
                    }
                }
            }
            let needs_actor = !matches!(
                s.action,
                Action::AdvanceDays | Action::WaitSettled | Action::BankDown | Action::BankUp | Action::TrySettle
            );
            for (field, who) in [("financier", &s.financier), ("firm", &s.firm)] {
                if let Some(w) = who
                    && !party(w)
                {
                    return Err(bad(format!("{field} `{w}` is not a party")));
                }
            }
            if s.action == Action::GrantConsent && (s.financier.is_none() || s.days.is_none()) {
                return Err(bad("grant_consent needs a `financier` and `days`".into()));
            }
            if s.action == Action::QueryCredit && s.firm.is_none() {
                return Err(bad("query_credit needs a `firm`".into()));
            }
            let needs_order = !matches!(
                s.action,
                Action::AdvanceDays | Action::BankDown | Action::BankUp | Action::GrantConsent | Action::QueryCredit
            );
            let needs_financing = matches!(
                s.action,
                Action::OfferFinancing
                    | Action::AcceptFinancing
                    | Action::AdvanceFinancing
                    | Action::ReleaseRepayment
                    | Action::ConfirmRepayment
            );
            if needs_financing && s.financing.is_none() {
                return Err(bad(format!("{:?} needs a `financing` name", s.action)));
            }
            if s.action == Action::OfferFinancing && s.kind.is_none() {
                return Err(bad("offer_financing needs a `kind` (receivable or payable)".into()));
            }
            let needs_doc = matches!(
                s.action,
                Action::SubmitDocument | Action::Attest | Action::AcceptDocument | Action::RejectDocument
            );
            if needs_actor && s.actor.is_none() {
                return Err(bad(format!("{:?} needs an `actor`", s.action)));
            }
            if needs_order && s.order.is_none() {
                return Err(bad(format!("{:?} needs an `order`", s.action)));
            }
            if needs_doc && s.document.is_none() {
                return Err(bad(format!("{:?} needs a `document`", s.action)));
            }
            if s.action == Action::AdvanceDays && s.days.is_none() {
                return Err(bad("advance_days needs `days`".into()));
            }
            if s.action == Action::RejectDocument && s.reason.is_none() {
                return Err(bad("reject_document needs a `reason`".into()));
            }
        }
        Ok(())
    }
}
