//! Domain constants mirrored from the Solidity sources. The contracts are the authority;
//! the contract tests name roles, documents and states through these, so a drift fails them.

/// Role bits of a consortium member (`Roles.sol`).
pub mod role {
    /// Buys or sells under orders; a firm that both imports and exports holds it once.
    pub const TRADER: u32 = 1 << 0;
    /// Commits to pay for its buyer, examines documents, confirms or fails payments.
    pub const BANK: u32 = 1 << 1;
    /// Offers receivables and payables finance on milestones.
    pub const FINANCIER: u32 = 1 << 2;
    /// Attests bills of lading.
    pub const CARRIER: u32 = 1 << 3;
    /// Attests inspection certificates.
    pub const INSPECTOR: u32 = 1 << 4;
    /// Runs the consortium: registers, re-roles and suspends organisations; may close disputes.
    pub const OPERATOR: u32 = 1 << 5;
    /// Every role bit at once (`Roles.ALL`).
    pub const ALL: u32 = (1 << 6) - 1;
}

macro_rules! domain_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $v:literal => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name { $($(#[$vm])* $variant = $v),+ }

        impl $name {
            /// Every value, in Solidity declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in the API and in timelines.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// The value of the Solidity enum's `uint8` as a contract returns it; `None` when
            /// the contract knows a value this crate does not.
            pub fn from_u8(v: u8) -> Option<Self> {
                match v { $($v => Some($name::$variant),)+ _ => None }
            }

            /// Inverse of `as_str`; `None` for any other text.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($label => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

domain_enum!(
    /// The documents a milestone can require (`TradeOrders.DocType`); a milestone names
    /// them as a bitmask of `1 << type`.
    DocType {
        /// The seller's invoice for the goods.
        CommercialInvoice = 0 => "commercial_invoice",
        /// What each package of the shipment holds.
        PackingList = 1 => "packing_list",
        /// The carrier's receipt for the goods and document of title; attested by a carrier.
        BillOfLading = 2 => "bill_of_lading",
        /// Where the goods were produced, for customs and preferential duty.
        CertificateOfOrigin = 3 => "certificate_of_origin",
        /// An inspector's report on quality or quantity; attested by an inspector.
        InspectionCertificate = 4 => "inspection_certificate",
        /// Evidence of cargo insurance cover.
        InsuranceCertificate = 5 => "insurance_certificate",
    }
);

impl DocType {
    /// This type's bit in a milestone's required-documents mask.
    pub fn bit(self) -> u16 {
        1 << (self as u8)
    }

    /// The document types named by a bitmask, in type order.
    pub fn from_mask(mask: u16) -> Vec<DocType> {
        Self::ALL.iter().copied().filter(|d| mask & d.bit() != 0).collect()
    }
}

domain_enum!(
    /// `TradeOrders.OrderState`.
    OrderState {
        /// No such order (the contract's zero value).
        None = 0 => "none",
        /// Proposed by the buyer, awaiting the seller's acceptance.
        Proposed = 1 => "proposed",
        /// Accepted by the seller, awaiting the buyer's bank's commitment.
        Accepted = 2 => "accepted",
        /// Rejected by the seller; final.
        Rejected = 3 => "rejected",
        /// The buyer's bank committed to pay; documents are submitted and milestones run.
        Committed = 4 => "committed",
        /// Every milestone paid; final.
        Completed = 5 => "completed",
        /// Cancelled before commitment (by the buyer alone while proposed, by both once accepted); final.
        Cancelled = 6 => "cancelled",
        /// Ran past its expiry with no milestone triggered and no timely presentation under
        /// examination, so nothing is owed; final.
        Expired = 7 => "expired",
    }
);

domain_enum!(
    /// `TradeOrders.Charges`: who bears the banks' charges (ISO 20022 `ChrgBr`).
    Charges {
        /// SHAR: each party its own bank's.
        Shared = 0 => "shared",
        /// DEBT: the buyer (the debtor) bears all.
        Debtor = 1 => "debtor",
        /// CRED: the seller (the creditor) bears all.
        Creditor = 2 => "creditor",
    }
);

domain_enum!(
    /// `TradeOrders.Cover`: how the buyer's bank covers its undertaking.
    Cover {
        /// The bank pays from its own account and claims the buyer separately.
        BankRisk = 0 => "bank_risk",
        /// The buyer's funds are earmarked when the bank commits.
        Earmark = 1 => "earmark",
    }
);

domain_enum!(
    /// `TradeOrders.DocState`: the current presentation of one document type of an order.
    DocState {
        /// Never presented.
        None = 0 => "none",
        /// Presented; under examination once examinable (attested, where an issuer attests).
        Submitted = 1 => "submitted",
        /// Accepted by the buyer's bank, or deemed accepted when its period passed.
        Accepted = 2 => "accepted",
        /// Refused in one notice stating every discrepancy; the seller may present again.
        Rejected = 3 => "rejected",
    }
);

domain_enum!(
    /// `TradeOrders.MilestoneState`.
    MilestoneState {
        /// Waiting for its required documents to be accepted.
        Pending = 0 => "pending",
        /// All documents accepted; the due date (presentation + tenor, on a banking day) is set.
        Triggered = 1 => "triggered",
        /// Payment released (`PaymentDue` emitted), awaiting the payer's confirmation.
        Due = 2 => "due",
        /// The payer confirmed payment; final.
        Paid = 3 => "paid",
        /// The payer recorded a failed payment; payment may be released again.
        Failed = 4 => "failed",
        /// The payer failed three times in a row: shown as a default; the payee may demand again.
        Defaulted = 5 => "defaulted",
    }
);

domain_enum!(
    /// `Receivables.FinancingState`.
    FinancingState {
        /// No such financing (the contract's zero value).
        None = 0 => "none",
        /// Offered by the financier, awaiting the firm's (seller's or buyer's) answer.
        Offered = 1 => "offered",
        /// Binding: proceeds assigned (receivables, after the acknowledged advance) or payer
        /// changed (payables, after the seller's and the buyer's bank's approvals).
        Live = 2 => "live",
        /// Payables finance: the milestone is paid, the buyer's extended term runs.
        AwaitingRepayment = 3 => "awaiting_repayment",
        /// Payables finance: repayment released, the buyer's bank owes the financier.
        RepaymentDue = 4 => "repayment_due",
        /// The financier was paid; fingerprints released; final.
        Settled = 5 => "settled",
        /// The firm declined the offer; final.
        Declined = 6 => "declined",
        /// The financier withdrew the offer before acceptance; final.
        Withdrawn = 7 => "withdrawn",
        /// Taken by the firm: receivable and fingerprints reserved, awaiting the advance
        /// (receivables) or the approvals (payables) by the deadline.
        Accepted = 8 => "accepted",
        /// Not made binding by its deadline, or its order ended; released; final.
        Lapsed = 9 => "lapsed",
        /// Ended by agreement of the financier and the firm; released; final.
        Cancelled = 10 => "cancelled",
        /// Payables: the financier defaulted on paying the seller; the buyer's bank pays; final.
        Defaulted = 11 => "defaulted",
    }
);
