//! Tables derived from the chain only: dropped and rebuilt by re-indexing.
#![allow(missing_docs)]

/// Consortium members (OrganisationRegistered, RolesChanged, suspension).
pub mod organisation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "organisations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub address: String,
        pub name: String,
        pub roles: i64,
        pub suspended: bool,
        pub registered_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Orders (TradeOrders); amounts in minor units as decimal strings.
pub mod order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub buyer: String,
        pub seller: String,
        pub buyer_bank: String,
        pub seller_bank: String,
        pub amount: String,
        pub paid: String,
        pub currency: String,
        pub incoterm: String,
        pub details_hash: String,
        pub latest_shipment: i64,
        pub expiry: i64,
        pub state: String,
        pub created_block: i64,
        pub created_at: i64,
        pub updated_block: i64,
        pub cancel_requested_by: Option<String>,
        pub disputes: i32,
        pub amendments: i32,
        #[sea_orm(column_type = "Text")]
        pub pending_amendment: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Payment terms of an order, one row per milestone.
pub mod milestone {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "milestones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub idx: i32,
        pub amount: String,
        pub required_docs: i32,
        pub tenor_days: i32,
        pub state: String,
        pub triggered_at: Option<i64>,
        pub due_date: Option<i64>,
        pub paid_at: Option<i64>,
        pub attempts: i32,
        pub payer: String,
        pub payee: String,
        pub financing_id: Option<String>,
        pub payment_ref: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Documents presented on an order: hash, type, issuer, examination.
pub mod document {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "documents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub doc_type: i32,
        pub hash: String,
        #[sea_orm(column_type = "Text")]
        pub uri: String,
        pub issuer: String,
        pub state: String,
        pub attested: bool,
        pub deemed: bool,
        pub version: i32,
        pub examine_by: i64,
        #[sea_orm(column_type = "Text")]
        pub reason: Option<String>,
        pub submitted_block: i64,
        pub updated_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Payment attempts (PaymentDue → PaymentConfirmed / PaymentFailed) with their ISO 20022 EndToEndId.
pub mod payment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub milestone: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub attempt: i32,
        pub end_to_end_id: String,
        pub payer: String,
        pub payee: String,
        pub amount: String,
        pub currency: String,
        pub due_date: i64,
        pub state: String,
        pub bank_reference: Option<String>,
        #[sea_orm(column_type = "Text")]
        pub failure_reason: Option<String>,
        pub due_tx: String,
        pub due_block: i64,
        pub settled_tx: Option<String>,
        pub settled_block: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A firm's consents to financiers (Consents).
pub mod consent {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub firm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub financier: String,
        pub request_id: String,
        pub expires_at: i64,
        pub state: String,
        pub updated_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The near-duplicate keys an offer recorded on chain (`NearKeysRecorded`): the salted
/// near key of the invoice (seller, normalised number) and salted digests of its amount,
/// date and buyer bound to it. Every node sees every offer's keys.
pub mod near_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "near_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub financing_id: i64,
        pub near_key: String,
        pub amount_digest: String,
        pub date_digest: String,
        pub buyer_digest: String,
        pub block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A firm's credit-relevant chain events ([`crate::credit::Fact`]), kept by the indexer as
/// JSON arrays of up to [`credit_facts::CHUNK`] facts per row, in chain order: a credit
/// profile then reads a few rows by primary key instead of the firm's orders and their
/// events (hundreds of rows), and appending rewrites only the last chunk.
pub mod credit_facts {
    use sea_orm::entity::prelude::*;

    /// Facts per row.
    pub const CHUNK: i32 = 256;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "credit_facts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub firm: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub chunk: i32,
        pub count: i32,
        #[sea_orm(column_type = "Text")]
        pub facts: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every event of the suite, decoded: the orders' timelines.
pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub block: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub log_index: i64,
        pub tx_hash: String,
        pub contract: String,
        pub kind: String,
        pub order_id: Option<i64>,
        #[sea_orm(column_type = "Text")]
        pub data: String,
        pub timestamp: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The last block the indexer wrote (row id 1).
pub mod cursor {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "indexer_cursor")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub last_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Financings of milestones (Receivables): offers, their answers, advance, repayment and
/// settlement. `amount` is the advance (receivables) or the repayment (payables).
pub mod financing {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "financings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub kind: String,
        pub state: String,
        pub financier: String,
        pub firm: String,
        pub order_id: i64,
        pub milestone: i32,
        pub amount: String,
        pub rate_bps: i32,
        pub extra_days: i32,
        pub offered_at: i64,
        pub offered_block: i64,
        pub accepted_at: Option<i64>,
        pub advance_ref: Option<String>,
        pub repayment_due: Option<i64>,
        pub repayment_amount: Option<String>,
        pub repayment_ref: Option<String>,
        pub settled_at: Option<i64>,
        pub updated_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The duplicate-financing registry as the chain holds it: salted fingerprints of
/// financed documents and the financing that registered each (live until released).
pub mod fingerprint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "fingerprints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub fingerprint: String,
        pub financing_id: i64,
        pub live: bool,
        pub updated_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Financiers' requests to read a firm's trade history (Consents).
pub mod verification_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "verification_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i64,
        pub financier: String,
        pub firm: String,
        #[sea_orm(column_type = "Text")]
        pub purpose: String,
        /// open, granted, declined
        pub state: String,
        pub created_at: i64,
        pub created_block: i64,
        pub updated_block: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
