//! The firms' credit facts ([`crate::readmodel::credit_facts`]): each event a credit profile
//! is computed from, recorded for the order's buyer and for its seller as the block is
//! indexed, in the same database transaction.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::readmodel::credit_facts::{self, CHUNK};
use crate::readmodel::{event, order};

/// The events a profile is computed from.
pub const KINDS: [&str; 5] =
    ["OrderCompleted", "PaymentConfirmed", "MilestoneTriggered", "DisputeRaised", "DocumentRejected"];

/// One event of [`KINDS`] as it counts for the parties of its order: what the figures
/// need of the event (its place on chain and its fields) and of the order (its parties
/// and currency, fixed at creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// The event's block.
    pub block: i64,
    /// Its index in the block.
    pub log_index: i64,
    /// The transaction that emitted it.
    pub tx_hash: String,
    /// The event's name (one of [`KINDS`]).
    pub kind: String,
    /// The order it belongs to.
    pub order_id: i64,
    /// The block's time (unix seconds).
    pub timestamp: i64,
    /// The order's buyer (0x address).
    pub buyer: String,
    /// The order's seller (0x address).
    pub seller: String,
    /// The order's currency (ISO 4217).
    pub currency: String,
    /// OrderCompleted: the amount paid (minor units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<String>,
    /// MilestoneTriggered and PaymentConfirmed: the milestone's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestone: Option<String>,
    /// MilestoneTriggered: the due date (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<i64>,
}

impl Fact {
    /// The fact of event `e` (decoded `fields`) on order `o`.
    pub fn of(o: &order::Model, e: &event::Model, fields: &Value) -> Fact {
        let field = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
        let (paid, milestone, due_date) = match e.kind.as_str() {
            "OrderCompleted" => (field("paid"), None, None),
            "MilestoneTriggered" => (None, field("index"), field("dueDate").and_then(|d| d.parse().ok())),
            "PaymentConfirmed" => (None, field("milestone"), None),
            _ => (None, None, None),
        };
        Fact {
            block: e.block,
            log_index: e.log_index,
            tx_hash: e.tx_hash.clone(),
            kind: e.kind.clone(),
            order_id: o.id,
            timestamp: e.timestamp,
            buyer: o.buyer.clone(),
            seller: o.seller.clone(),
            currency: o.currency.clone(),
            paid,
            milestone,
            due_date,
        }
    }
}

/// The facts of a run of blocks, appended per firm when the run is applied: a firm with
/// several facts in one run (a payment's confirmation and the order's completion, say, or
/// a busy bank's many) has its last chunk read and written once, not once per fact. Only
/// [`append_facts`] reads the facts while the run's transaction is open.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// The orders looked up so far in the run: a fact needs only what is fixed when an
    /// order is proposed (its id, parties and currency), so a row read earlier in the run serves.
    orders: std::collections::HashMap<i64, order::Model>,
    /// Each firm's new facts, in chain order.
    by_firm: std::collections::BTreeMap<String, Vec<Fact>>,
}

impl Pending {
    /// Record event `e` (decoded `fields`) of order `id` for the order's buyer and seller.
    pub(super) async fn record<C: ConnectionTrait>(
        &mut self,
        db: &C,
        id: i64,
        e: &event::Model,
        fields: &Value,
    ) -> Result<(), DbErr> {
        let o = match self.orders.entry(id) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match order::Entity::find_by_id(id).one(db).await? {
                Some(o) => v.insert(o),
                None => return Ok(()),
            },
        };
        let fact = Fact::of(o, e, fields);
        if o.seller != o.buyer {
            self.by_firm.entry(o.seller.clone()).or_default().push(fact.clone());
        }
        self.by_firm.entry(o.buyer.clone()).or_default().push(fact);
        Ok(())
    }

    /// Append what was recorded, in `db`.
    pub(super) async fn write<C: ConnectionTrait>(self, db: &C) -> Result<(), DbErr> {
        for (firm, facts) in &self.by_firm {
            append_facts(db, firm, facts).await?;
        }
        Ok(())
    }
}

/// Append `facts` (in chain order) to `firm`'s credit facts: fill its last chunk, then
/// start new ones. Public for benchmarks that seed a large read model.
pub async fn append_facts<C: ConnectionTrait>(db: &C, firm: &str, facts: &[Fact]) -> Result<(), DbErr> {
    if facts.is_empty() {
        return Ok(());
    }
    let last = credit_facts::Entity::find()
        .filter(credit_facts::Column::Firm.eq(firm))
        .order_by_desc(credit_facts::Column::Chunk)
        .limit(1)
        .one(db)
        .await?;
    let (mut chunk, mut count, mut text, mut stored) = match last {
        Some(m) => (m.chunk, m.count, m.facts, true),
        None => (0, 0, String::from("[]"), false),
    };
    for fact in facts {
        if count >= CHUNK {
            write(db, firm, chunk, count, std::mem::take(&mut text), stored).await?;
            (chunk, count, text, stored) = (chunk + 1, 0, String::from("[]"), false);
        }
        let json = serde_json::to_string(fact).map_err(|e| DbErr::Custom(format!("credit fact: {e}")))?;
        // The stored text is a JSON array this function wrote: extend it in place.
        text.pop();
        if count > 0 {
            text.push(',');
        }
        text.push_str(&json);
        text.push(']');
        count += 1;
    }
    write(db, firm, chunk, count, text, stored).await
}

async fn write<C: ConnectionTrait>(
    db: &C,
    firm: &str,
    chunk: i32,
    count: i32,
    facts: String,
    stored: bool,
) -> Result<(), DbErr> {
    if stored {
        // Without `RETURNING`: the chunk's text, up to CHUNK facts, is not sent back.
        credit_facts::Entity::update_many()
            .col_expr(credit_facts::Column::Count, count.into())
            .col_expr(credit_facts::Column::Facts, facts.into())
            .filter(credit_facts::Column::Firm.eq(firm))
            .filter(credit_facts::Column::Chunk.eq(chunk))
            .exec(db)
            .await?;
    } else {
        let row = credit_facts::ActiveModel {
            firm: Set(firm.to_string()),
            chunk: Set(chunk),
            count: Set(count),
            facts: Set(facts),
        };
        credit_facts::Entity::insert(row).exec_without_returning(db).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(block: i64) -> Fact {
        Fact {
            block,
            log_index: 0,
            tx_hash: format!("0x{block:064x}"),
            kind: "OrderCompleted".into(),
            order_id: block,
            timestamp: 1_767_225_600,
            buyer: "0xb".into(),
            seller: "0xs".into(),
            currency: "USD".into(),
            paid: Some("100".into()),
            milestone: None,
            due_date: None,
        }
    }

    #[tokio::test]
    async fn appends_fill_the_last_chunk_then_start_new_ones_in_chain_order() {
        let db = crate::readmodel::connect("sqlite::memory:").await.expect("sqlite");
        crate::readmodel::migrate(&db).await.expect("migrate");
        let extra = CHUNK / 2 + 3;
        let n = i64::from(CHUNK + extra);
        // One fact, then the rest in two uneven batches: chunk boundaries fall mid-batch.
        append_facts(&db, "0xb", &[fact(0)]).await.expect("append");
        let rest: Vec<Fact> = (1..n).map(fact).collect();
        let (a, b) = rest.split_at(CHUNK as usize - 10);
        append_facts(&db, "0xb", a).await.expect("append");
        append_facts(&db, "0xb", b).await.expect("append");
        append_facts(&db, "0xother", &[fact(7)]).await.expect("append");

        let rows = credit_facts::Entity::find()
            .filter(credit_facts::Column::Firm.eq("0xb"))
            .order_by_asc(credit_facts::Column::Chunk)
            .all(&db)
            .await
            .expect("rows");
        assert_eq!(rows.iter().map(|r| (r.chunk, r.count)).collect::<Vec<_>>(), vec![(0, CHUNK), (1, extra)]);
        let read: Vec<Fact> = rows
            .iter()
            .flat_map(|r| serde_json::from_str::<Vec<Fact>>(&r.facts).expect("a JSON array of facts"))
            .collect();
        assert_eq!(read, (0..n).map(fact).collect::<Vec<_>>());
    }
}
