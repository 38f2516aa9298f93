//! A consortium of member nodes (issue 20): the node's own encryption key (sealed under the
//! master key, shared by every API process of the node), the durable outbox of private data
//! owed to other nodes, the log of every delivery received (stored or refused, and why),
//! and how far the delivery planner has read the chain's events. Off-chain tables: created
//! with their columns written out.

use sea_orm::DbErr;
use sea_orm::sea_query::{Alias, ColumnDef, Index, Table};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0005_consortium"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    // The trait's signature elides the lifetime; async_trait needs the same form here.
    #[allow(elided_lifetimes_in_paths)]
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let col = |name: &str| ColumnDef::new(Alias::new(name));
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("node_keys"))
                    .if_not_exists()
                    .col(col("id").integer().not_null().primary_key())
                    .col(col("sealed").text().not_null())
                    .col(col("public_key").string().not_null())
                    .col(col("created_at").big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("peer_outbox"))
                    .if_not_exists()
                    .col(col("id").big_integer().not_null().auto_increment().primary_key())
                    .col(col("order_id").big_integer().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("content_hash").string().not_null())
                    .col(col("recipient_node").big_integer().not_null())
                    .col(col("state").string().not_null())
                    .col(col("attempts").integer().not_null())
                    .col(col("next_attempt_at").big_integer().not_null())
                    .col(col("last_error").text().null())
                    .col(col("created_at").big_integer().not_null())
                    .col(col("delivered_at").big_integer().null())
                    .to_owned(),
            )
            .await?;
        // Idempotent by content: one row per item and recipient, whoever plans it twice.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("peer_outbox_item")
                    .table(Alias::new("peer_outbox"))
                    .col(Alias::new("order_id"))
                    .col(Alias::new("kind"))
                    .col(Alias::new("content_hash"))
                    .col(Alias::new("recipient_node"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("peer_outbox_due")
                    .table(Alias::new("peer_outbox"))
                    .col(Alias::new("state"))
                    .col(Alias::new("next_attempt_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("peer_receipts"))
                    .if_not_exists()
                    .col(col("id").big_integer().not_null().auto_increment().primary_key())
                    .col(col("at").big_integer().not_null())
                    .col(col("sender_node").big_integer().not_null())
                    .col(col("order_id").big_integer().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("content_hash").string().not_null())
                    .col(col("outcome").string().not_null())
                    .col(col("reason").text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("peer_receipts_content")
                    .table(Alias::new("peer_receipts"))
                    .col(Alias::new("content_hash"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("peer_cursor"))
                    .if_not_exists()
                    .col(col("id").integer().not_null().primary_key())
                    .col(col("block").big_integer().not_null())
                    .col(col("log_index").big_integer().not_null())
                    .to_owned(),
            )
            .await
    }
}
