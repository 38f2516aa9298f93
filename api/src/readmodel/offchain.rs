//! Tables that hold what the chain does not: never dropped by a rebuild.

/// Off-chain onboarding data: custody mode, the encrypted custodial key, bank account.
pub mod member {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "members")]
    pub struct Model {
        /// The organisation (lower-case 0x hex).
        #[sea_orm(primary_key, auto_increment = false)]
        pub address: String,
        /// `custodial` (the node holds its key) or `own` (it signs itself).
        pub custody: String,
        /// Its key, sealed under the node's master key (custodial only).
        #[sea_orm(column_type = "Text")]
        pub key_ciphertext: Option<String>,
        /// Its bank account (ISO 13616).
        pub iban: Option<String>,
        /// Its bank (ISO 9362).
        pub bic: Option<String>,
        /// When it was created (unix seconds).
        pub created_at: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// API tokens, stored as SHA-256 of the token only.
pub mod api_token {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        /// SHA-256 of the token (the token itself is never stored).
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        /// The organisation the token acts for (0x address).
        pub org: String,
        /// What the token is for (its name).
        pub label: String,
        /// When it was created (unix seconds).
        pub created_at: i64,
        /// When it stops working (unix seconds), if ever.
        pub expires_at: Option<i64>,
        /// When it last authenticated a request (unix seconds, to the minute).
        pub last_used_at: Option<i64>,
        /// When it was revoked (unix seconds): it authenticates nothing since.
        pub revoked_at: Option<i64>,
        /// A web app session: the token it was opened with, which must still authenticate
        /// for the session to (revoking or expiring it ends the session).
        pub parent_hash: Option<String>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Off-chain order details (canonical JSON) by their keccak256, the on-chain detailsHash.
pub mod order_detail {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "order_details")]
    pub struct Model {
        /// keccak256 of the canonical JSON of the off-chain details.
        #[sea_orm(primary_key, auto_increment = false)]
        pub details_hash: String,
        /// The canonical JSON.
        #[sea_orm(column_type = "Text")]
        pub body: String,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Uploaded files, stored content-addressed on disk by SHA-256.
pub mod document_file {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "document_files")]
    pub struct Model {
        /// keccak256 of the document's bytes.
        #[sea_orm(primary_key, auto_increment = false)]
        pub hash: String,
        /// Bytes.
        pub size: i64,
        /// The media type it was uploaded with.
        pub content_type: String,
        /// Who uploaded it (0x address).
        pub uploaded_by: String,
        /// When it was created (unix seconds).
        pub created_at: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Reads that must be auditable (a financier reading a firm's history).
pub mod audit {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        /// In the order written.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// When (unix seconds).
        pub at: i64,
        /// Who read (0x address).
        pub actor: String,
        /// What was read, or refused (`firm_history`, `credit_profile_refused`, …).
        pub action: String,
        /// Whose history (0x address).
        pub subject: String,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The review flags (near duplicates, JSON array) raised when this node took a financing
/// offer, for its financier: computed from the near keys on chain at that moment.
pub mod financing_review {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "financing_reviews")]
    pub struct Model {
        /// The financing it belongs to.
        #[sea_orm(primary_key, auto_increment = false)]
        pub financing_id: i64,
        /// The review flags raised (JSON array).
        #[sea_orm(column_type = "Text")]
        pub review: String,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The duplicate-financing registry's keys, one row per version, sealed under the node's
/// master key (see `registry`).
pub mod registry_key {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "registry_keys")]
    pub struct Model {
        /// 1, 2, …: the highest is current.
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        /// The key, sealed (hex of nonce ‖ ciphertext, bound to its version).
        #[sea_orm(column_type = "Text")]
        pub sealed: String,
        /// When it was made (unix seconds).
        pub created_at: i64,
        /// When a newer key replaced it (unix seconds); it keeps matching for the rotation
        /// window after that.
        pub retired_at: Option<i64>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The read model's schema version (row id 1).
pub mod schema_version {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "schema_version")]
    pub struct Model {
        /// Always 1: one row.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The last schema version before migrations (3).
        pub version: i32,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// This node's encryption key in the consortium's node directory (row id 1), sealed under
/// the master key: every API process of the node uses the same one.
pub mod node_key {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "node_keys")]
    pub struct Model {
        /// Always 1: one row.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The X25519 secret, sealed (hex of nonce ‖ ciphertext).
        #[sea_orm(column_type = "Text")]
        pub sealed: String,
        /// Its public key (0x hex), as registered in the directory.
        pub public_key: String,
        /// When it was made (unix seconds).
        pub created_at: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Private data owed to another node: one row per item (order, kind, content hash) and
/// recipient node, delivered until acknowledged.
pub mod peer_outbox {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "peer_outbox")]
    pub struct Model {
        /// In the order planned.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// The order the data belongs to.
        pub order_id: i64,
        /// `details` or `document:<type>`.
        pub kind: String,
        /// Its hash as anchored on chain (0x hex).
        pub content_hash: String,
        /// The node it goes to (its id in the directory).
        pub recipient_node: i64,
        /// `pending`, `delivered`, `refused` (the recipient said no for good) or
        /// `cancelled` (the recipient is no longer entitled).
        pub state: String,
        /// Attempts so far.
        pub attempts: i32,
        /// Not before (unix milliseconds).
        pub next_attempt_at: i64,
        /// Why the last attempt failed.
        #[sea_orm(column_type = "Text")]
        pub last_error: Option<String>,
        /// When it was planned (unix seconds).
        pub created_at: i64,
        /// When the recipient acknowledged it (unix seconds).
        pub delivered_at: Option<i64>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Every delivery another node made to this one, stored or refused, and why.
pub mod peer_receipt {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "peer_receipts")]
    pub struct Model {
        /// In the order received.
        #[sea_orm(primary_key)]
        pub id: i64,
        /// When (unix seconds).
        pub at: i64,
        /// The node that claimed to send it.
        pub sender_node: i64,
        /// The order it claimed to be about.
        pub order_id: i64,
        /// `details` or `document:<type>`, as claimed.
        pub kind: String,
        /// The hash it claimed (0x hex).
        pub content_hash: String,
        /// `stored`, `duplicate` or `refused`.
        pub outcome: String,
        /// The refusal's stable code and message.
        #[sea_orm(column_type = "Text")]
        pub reason: Option<String>,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How far the delivery planner has read the indexed events (row id 1).
pub mod peer_cursor {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_cursor")]
    pub struct Model {
        /// Always 1: one row.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        /// The block of the last event planned.
        pub block: i64,
        /// Its index in the block.
        pub log_index: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Which order an item of private data is kept for: written here for it, or received or
/// fetched for it from a peer. A hash alone is public on chain; an item is served and
/// delivered for an order only under its row here.
pub mod private_item {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "private_items")]
    pub struct Model {
        /// The order.
        #[sea_orm(primary_key, auto_increment = false)]
        pub order_id: i64,
        /// `details` or `document:<type>`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        /// Its hash as anchored on chain (0x hex).
        #[sea_orm(primary_key, auto_increment = false)]
        pub content_hash: String,
        /// `written` (by one of this node's organisations), `received` or `fetched`.
        pub origin: String,
        /// The node it came from (received or fetched).
        pub node: Option<i64>,
        /// When (unix seconds; 0 for what was kept before this table).
        pub at: i64,
    }

    /// The key: what a second record of the same item conflicts on.
    pub const KEY: [Column; 3] = [Column::OrderId, Column::Kind, Column::ContentHash];

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Details an organisation of this node stored for a proposal of its own: when the
/// indexer meets that organisation's proposal anchoring that hash, it records the details
/// as written here for the new order ([`private_item`]), in the block's transaction. Keyed
/// by the writer too: a hash is public, and a stranger anchoring it on an order of its own
/// must not have this node deliver the details as that order's.
pub mod details_writer {
    use sea_orm::entity::prelude::*;

    /// A row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "details_writers")]
    pub struct Model {
        /// The organisation that stored the details to propose with them (0x hex).
        #[sea_orm(primary_key, auto_increment = false)]
        pub writer: String,
        /// The details' hash (0x hex), as the proposal anchors it.
        #[sea_orm(primary_key, auto_increment = false)]
        pub details_hash: String,
        /// When (unix seconds).
        pub at: i64,
    }

    /// No relations: the read model joins by hand.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
