//! Which order each item of private data is kept for (issue 20, found in review): a node
//! keeps details and files by their hash, and a hash is public on chain, so a member could
//! anchor another firm's hash on an order of its own and have a node serve, or deliver, that
//! firm's data as its own order's. From now on an item is served and delivered for an order
//! only if it was written here for that order, or received or fetched for it. An off-chain
//! table, created with its columns written out; what this node already keeps is recorded for
//! the orders that anchored it when it was written (the read model's orders and documents).

use sea_orm::sea_query::{Alias, ColumnDef, Index, Table};
use sea_orm::{ConnectionTrait, DbErr};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

/// See the module docs.
pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0006_private_items"
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
                    .table(Alias::new("private_items"))
                    .if_not_exists()
                    .col(col("order_id").big_integer().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("content_hash").string().not_null())
                    .col(col("origin").string().not_null())
                    .col(col("node").big_integer().null())
                    .col(col("at").big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("order_id"))
                            .col(Alias::new("kind"))
                            .col(Alias::new("content_hash")),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if manager.has_table("orders").await? && manager.has_table("order_details").await? {
            db.execute_unprepared(
                "INSERT INTO private_items (order_id, kind, content_hash, origin, node, at) \
                 SELECT o.id, 'details', o.details_hash, 'written', NULL, 0 FROM orders o \
                 WHERE EXISTS (SELECT 1 FROM order_details d WHERE d.details_hash = o.details_hash)",
            )
            .await?;
        }
        if manager.has_table("documents").await? && manager.has_table("document_files").await? {
            db.execute_unprepared(
                "INSERT INTO private_items (order_id, kind, content_hash, origin, node, at) \
                 SELECT d.order_id, 'document:' || CAST(d.doc_type AS TEXT), d.hash, 'written', NULL, 0 FROM documents d \
                 WHERE EXISTS (SELECT 1 FROM document_files f WHERE f.hash = d.hash)",
            )
            .await?;
        }
        Ok(())
    }
}
