//! Tables derived from the chain only: dropped and rebuilt by re-indexing.

/// Consortium members (OrganisationRegistered, RolesChanged, suspension).
pub mod organisation {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "organisations")]
    pub struct Model {
        /// Its address (lower-case 0x hex).
        #[sea_orm(primary_key, auto_increment = false)]
        pub address: String,
        /// Its registered name.
        pub name: String,
        /// Its role bits (`tradechain_contracts::role`).
        pub roles: i64,
        /// Whether the operator suspended it.
        pub suspended: bool,
        /// The block it was registered in.
        pub registered_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Orders (TradeOrders); amounts in minor units as decimal strings.
pub mod order {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        /// Its id on chain.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        /// The importer (0x address).
        pub buyer: String,
        /// The exporter (0x address).
        pub seller: String,
        /// The importer's bank, which commits and pays (0x address).
        pub buyer_bank: String,
        /// The exporter's bank (0x address).
        pub seller_bank: String,
        /// The carrier named to attest the bill of lading (0x address; zero when none).
        pub carrier: String,
        /// The inspector named to attest the inspection certificate (0x address; zero when none).
        pub inspector: String,
        /// Amount in minor units (decimal string).
        pub amount: String,
        /// What has been paid, in minor units (decimal string).
        pub paid: String,
        /// ISO 4217 code.
        pub currency: String,
        /// Incoterms 2020 rule.
        pub incoterm: String,
        /// Who bears the banks' charges: `shared`, `debtor`, `creditor`.
        pub charges: String,
        /// How the buyer's bank covers its undertaking, once committed: `bank_risk`, `earmark`.
        pub cover: Option<String>,
        /// keccak256 of the canonical JSON of the off-chain details.
        pub details_hash: String,
        /// Latest shipment date (unix seconds, end of day UTC).
        pub latest_shipment: i64,
        /// Expiry (unix seconds, end of day UTC).
        pub expiry: i64,
        /// Its state: `proposed`, `accepted`, `committed`, `completed`, …
        pub state: String,
        /// The block it was created in.
        pub created_block: i64,
        /// When it was created (unix seconds).
        pub created_at: i64,
        /// The block of its last change.
        pub updated_block: i64,
        /// The party that asked to cancel, waiting for the other (0x address).
        pub cancel_requested_by: Option<String>,
        /// How many disputes were raised on it.
        pub disputes: i32,
        /// The party whose dispute is open (0x address), if one is: shown, never blocking.
        pub dispute_raised_by: Option<String>,
        /// How many amendments were proposed.
        pub amendments: i32,
        /// The amendment waiting for approval (JSON), if any.
        #[sea_orm(column_type = "Text")]
        pub pending_amendment: Option<String>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Payment terms of an order, one row per milestone.
pub mod milestone {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "milestones")]
    pub struct Model {
        /// The order (its id on chain).
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        /// The milestone's index in its order (0-based).
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i32,
        /// Amount in minor units (decimal string).
        pub amount: String,
        /// The documents it needs, as a bitmask of `1 << DocType`.
        pub required_docs: i32,
        /// Days after the trigger until it is due (0: at sight).
        pub tenor_days: i32,
        /// Its state: `pending`, `triggered`, `due`, `paid`, `failed`, `defaulted`.
        pub state: String,
        /// When its documents were all accepted (unix seconds).
        pub triggered_at: Option<i64>,
        /// When it is due (unix seconds).
        pub due_date: Option<i64>,
        /// When it was confirmed paid (unix seconds).
        pub paid_at: Option<i64>,
        /// Payment attempts released so far.
        pub attempts: i32,
        /// Payment attempts its payer failed.
        pub failures: i32,
        /// Who pays it (0x address): the buyer's bank, or a financier under payables finance.
        pub payer: String,
        /// Who is paid (0x address): the seller, or the assignee of its proceeds.
        pub payee: String,
        /// The financing of it, if any.
        pub financing_id: Option<String>,
        /// The payer's payment reference (0x bytes32).
        pub payment_ref: Option<String>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Documents presented on an order: hash, type, issuer, examination.
pub mod document {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        /// The order (its id on chain).
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        /// The document type (`tradechain_contracts::DocType`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_type: i32,
        /// keccak256 of the document's bytes.
        pub hash: String,
        /// Where the seller says the file is.
        #[sea_orm(column_type = "Text")]
        pub uri: String,
        /// Who issued it (0x address): the seller, or the carrier or inspector that attested it.
        pub issuer: String,
        /// Its state: `submitted`, `accepted`, `rejected`.
        pub state: String,
        /// Whether its issuer attested it (bills of lading, inspection certificates).
        pub attested: bool,
        /// Whether it was accepted by the lapse of the examination period (UCP 600 art. 16), not by the bank.
        pub deemed: bool,
        /// 1, then one more for each corrected presentation.
        pub version: i32,
        /// When the seller presented this version (unix seconds).
        pub submitted_at: i64,
        /// The end of the bank's examination period (unix seconds; 0 while it awaits its
        /// issuer's attestation).
        pub examine_by: i64,
        /// Bills of lading: the on-board date its carrier attested (unix seconds).
        pub shipment_date: Option<i64>,
        /// Every discrepancy the bank stated in its one refusal notice (a JSON array).
        #[sea_orm(column_type = "Text")]
        pub discrepancies: Option<String>,
        /// The block of its presentation.
        pub submitted_block: i64,
        /// The block of its last change.
        pub updated_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Payment attempts (PaymentDue → PaymentConfirmed / PaymentFailed) with their ISO 20022 EndToEndId.
pub mod payment {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        /// The order (its id on chain).
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        /// The milestone's index.
        #[sea_orm(primary_key, auto_increment = false)]
        pub milestone: i32,
        /// The payment attempt (1, then one more after each failure).
        #[sea_orm(primary_key, auto_increment = false)]
        pub attempt: i32,
        /// The ISO 20022 EndToEndId the bank pays under.
        pub end_to_end_id: String,
        /// Who pays it (0x address): the buyer's bank, or a financier under payables finance.
        pub payer: String,
        /// Who is paid (0x address): the seller, or the assignee of its proceeds.
        pub payee: String,
        /// Amount in minor units (decimal string).
        pub amount: String,
        /// ISO 4217 code.
        pub currency: String,
        /// When it is due (unix seconds).
        pub due_date: i64,
        /// Its state: `due`, `paid`, `failed`.
        pub state: String,
        /// The bank's own reference for the booking.
        pub bank_reference: Option<String>,
        /// The ISO 20022 reason code the payer gave for failing it (`AM04`, …).
        pub failure_code: Option<String>,
        /// The payer's explanation of the failure.
        #[sea_orm(column_type = "Text")]
        pub failure_reason: Option<String>,
        /// The transaction that released it.
        pub due_tx: String,
        /// The block that released it.
        pub due_block: i64,
        /// The transaction that confirmed or failed it.
        pub settled_tx: Option<String>,
        /// The block that confirmed or failed it.
        pub settled_block: Option<i64>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A firm's consents to financiers (Consents).
pub mod consent {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        /// The trading firm (0x address).
        #[sea_orm(primary_key, auto_increment = false)]
        pub firm: String,
        /// The financier (0x address).
        #[sea_orm(primary_key, auto_increment = false)]
        pub financier: String,
        /// The verification request it answers ("0": unprompted).
        pub request_id: String,
        /// When access ends (unix seconds; the revocation time once revoked).
        pub expires_at: i64,
        /// Its state: `granted`, `revoked`.
        pub state: String,
        /// The block of its last change.
        pub updated_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The near-duplicate keys an offer recorded on chain (`NearKeysRecorded`): the salted
/// near key of the invoice (seller, normalised number) and salted digests of its amount,
/// date and buyer bound to it. Every node sees every offer's keys.
pub mod near_key {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "near_keys")]
    pub struct Model {
        /// The financing it belongs to.
        #[sea_orm(primary_key, auto_increment = false)]
        pub financing_id: i64,
        /// Salted key of the invoice's seller and number.
        pub near_key: String,
        /// Salted digest of the invoice's amount and currency.
        pub amount_digest: String,
        /// Salted digest of the invoice's date.
        pub date_digest: String,
        /// Salted digest of the invoice's buyer.
        pub buyer_digest: String,
        /// The block it was recorded in.
        pub block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A firm's credit-relevant chain events ([`crate::credit::Fact`]), kept by the indexer as
/// JSON arrays of up to [`credit_facts::CHUNK`] facts per row (rows written when it was
/// larger keep theirs), in chain order: a credit
/// profile then reads a few rows by primary key instead of the firm's orders and their
/// events (hundreds of rows), and appending rewrites only the last chunk.
pub mod credit_facts {
    use sea_orm::entity::prelude::*;

    /// Facts per row. An append reads and rewrites the firm's last chunk, about 400 bytes a
    /// fact: at 256 a busy firm's each new fact rewrote 50 KB on average. A profile reads
    /// all of a firm's rows, whatever their size; rows written with more stay as they are.
    pub const CHUNK: i32 = 32;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "credit_facts")]
    pub struct Model {
        /// The firm whose facts these are (0x address).
        #[sea_orm(primary_key, auto_increment = false)]
        pub firm: String,
        /// The chunk's number (0-based, in chain order).
        #[sea_orm(primary_key, auto_increment = false)]
        pub chunk: i32,
        /// How many facts the chunk holds.
        pub count: i32,
        /// The facts, a JSON array.
        #[sea_orm(column_type = "Text")]
        pub facts: String,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every event of the suite, decoded: the orders' timelines.
pub mod event {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        /// The block it was emitted in.
        #[sea_orm(primary_key, auto_increment = false)]
        pub block: i64,
        /// Its index in the block.
        #[sea_orm(primary_key, auto_increment = false)]
        pub log_index: i64,
        /// The transaction that emitted it.
        pub tx_hash: String,
        /// The contract that emitted it.
        pub contract: String,
        /// The event's name (`OrderProposed`, …).
        pub kind: String,
        /// The order (its id on chain).
        pub order_id: Option<i64>,
        /// Its fields, as JSON.
        #[sea_orm(column_type = "Text")]
        pub data: String,
        /// The block's time (unix seconds).
        pub timestamp: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    /// The events of order `id` in chain order: an order's timeline. Read at every answer
    /// that shows an order; the index `events_timeline` holds them in this order already.
    pub fn timeline(id: i64) -> Select<Entity> {
        use sea_orm::QueryOrder;
        Entity::find().filter(Column::OrderId.eq(id)).order_by_asc(Column::Block).order_by_asc(Column::LogIndex)
    }
}

/// The last block the indexer wrote (row id 1).
pub mod cursor {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "indexer_cursor")]
    pub struct Model {
        /// Always 1: one row.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The last block indexed.
        pub last_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Financings of milestones (Receivables): offers, their answers, advance, repayment and
/// settlement. `amount` is the advance (receivables) or the repayment (payables).
pub mod financing {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "financings")]
    pub struct Model {
        /// Its id on chain.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        /// `receivable` or `payable`.
        pub kind: String,
        /// Its state: `offered`, `live`, `settled`, …
        pub state: String,
        /// The financier (0x address).
        pub financier: String,
        /// The trading firm (0x address).
        pub firm: String,
        /// The order (its id on chain).
        pub order_id: i64,
        /// The milestone's index.
        pub milestone: i32,
        /// The advance (receivables) or the repayment (payables), in minor units.
        pub amount: String,
        /// Discount (receivables) or fee (payables) rate in basis points.
        pub rate_bps: i32,
        /// Payables: days added to the buyer's term.
        pub extra_days: i32,
        /// When it was offered (unix seconds).
        pub offered_at: i64,
        /// The block of the offer.
        pub offered_block: i64,
        /// When the firm took it (unix seconds).
        pub accepted_at: Option<i64>,
        /// Once taken: by when it must be made binding (advance acknowledged, or payables
        /// approvals given), else anyone may lapse it (unix seconds).
        pub deadline: Option<i64>,
        /// Payables: whether the seller approved the change of payer.
        pub seller_approved: bool,
        /// Payables: whether the buyer's bank approved the change of payer and the fee.
        pub bank_approved: bool,
        /// Receivables: whether the seller acknowledged receiving the advance.
        pub advance_acknowledged: bool,
        /// The party that asked to cancel it, waiting for the other (0x address).
        pub cancel_requested_by: Option<String>,
        /// The financier's reference for the advance it paid.
        pub advance_ref: Option<String>,
        /// Payables: when the buyer's bank repays (unix seconds).
        pub repayment_due: Option<i64>,
        /// Payables: what the buyer's bank repays, in minor units.
        pub repayment_amount: Option<String>,
        /// The reference of the repayment.
        pub repayment_ref: Option<String>,
        /// When it was settled (unix seconds).
        pub settled_at: Option<i64>,
        /// The block of its last change.
        pub updated_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The duplicate-financing registry as the chain holds it: salted fingerprints of
/// financed documents and the financing that registered each (live until released).
pub mod fingerprint {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "fingerprints")]
    pub struct Model {
        /// A salted fingerprint of a financed document.
        #[sea_orm(primary_key, auto_increment = false)]
        pub fingerprint: String,
        /// The financing it belongs to.
        pub financing_id: i64,
        /// Whether the financing that registered it is live.
        pub live: bool,
        /// The block of its last change.
        pub updated_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Financiers' requests to read a firm's trade history (Consents).
pub mod verification_request {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "verification_requests")]
    pub struct Model {
        /// Its id on chain.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        /// The financier (0x address).
        pub financier: String,
        /// The trading firm (0x address).
        pub firm: String,
        /// What the financier says it wants to verify.
        #[sea_orm(column_type = "Text")]
        pub purpose: String,
        /// open, granted, declined
        pub state: String,
        /// When it was created (unix seconds).
        pub created_at: i64,
        /// The block it was created in.
        pub created_block: i64,
        /// The block of its last change.
        pub updated_block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Banks' holiday calendars (Consortium `HolidaysSet`): the days that are not banking
/// days, which examination periods and due dates skip.
pub mod holiday {
    use sea_orm::entity::prelude::*;

    /// A row: one holiday of one bank.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "holidays")]
    pub struct Model {
        /// The bank (0x address).
        #[sea_orm(primary_key, auto_increment = false)]
        pub bank: String,
        /// The day (days since 1970-01-01, UTC).
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: i64,
        /// When the bank declared it (unix seconds): presentations made before keep the
        /// calendar they were made under.
        pub declared_at: i64,
        /// The block it was declared in.
        pub block: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
