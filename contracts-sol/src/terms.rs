//! Domain constants mirrored from the Solidity sources. The contracts are the authority;
//! the contract tests name roles, documents and states through these, so a drift fails them.

/// Role bits of a consortium member (`Roles.sol`).
pub mod role {
    pub const TRADER: u32 = 1 << 0;
    pub const BANK: u32 = 1 << 1;
    pub const FINANCIER: u32 = 1 << 2;
    pub const CARRIER: u32 = 1 << 3;
    pub const INSPECTOR: u32 = 1 << 4;
    pub const OPERATOR: u32 = 1 << 5;
    pub const ALL: u32 = (1 << 6) - 1;
}

macro_rules! domain_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $v:literal => $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum $name { $($variant = $v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in the API and in timelines.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn from_u8(v: u8) -> Option<Self> {
                match v { $($v => Some($name::$variant),)+ _ => None }
            }

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
        CommercialInvoice = 0 => "commercial_invoice",
        PackingList = 1 => "packing_list",
        BillOfLading = 2 => "bill_of_lading",
        CertificateOfOrigin = 3 => "certificate_of_origin",
        InspectionCertificate = 4 => "inspection_certificate",
        InsuranceCertificate = 5 => "insurance_certificate",
    }
);

impl DocType {
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
        None = 0 => "none",
        Proposed = 1 => "proposed",
        Accepted = 2 => "accepted",
        Rejected = 3 => "rejected",
        Committed = 4 => "committed",
        Completed = 5 => "completed",
        Cancelled = 6 => "cancelled",
        Expired = 7 => "expired",
        Disputed = 8 => "disputed",
    }
);

domain_enum!(
    /// `TradeOrders.MilestoneState`.
    MilestoneState {
        Pending = 0 => "pending",
        Triggered = 1 => "triggered",
        Due = 2 => "due",
        Paid = 3 => "paid",
        Failed = 4 => "failed",
    }
);

domain_enum!(
    /// `Receivables.FinancingState`.
    FinancingState {
        None = 0 => "none",
        Offered = 1 => "offered",
        Live = 2 => "live",
        AwaitingRepayment = 3 => "awaiting_repayment",
        RepaymentDue = 4 => "repayment_due",
        Settled = 5 => "settled",
        Declined = 6 => "declined",
        Withdrawn = 7 => "withdrawn",
    }
);
