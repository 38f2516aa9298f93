//! Need to know, as the read model answers it: who may see an order and who may see a
//! financing. One rule for every interface of the node (REST, the live stream, the
//! JSON-RPC gate), and the same as the contracts' views apply on chain, less the consent
//! (a financier with a firm's consent reads its history through the audited credit
//! profile, not through the orders themselves).

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::{financing, order};

const ZERO: &str = "0x0000000000000000000000000000000000000000";

/// The buyer, the seller and their banks.
pub fn parties(o: &order::Model) -> [&str; 4] {
    [o.buyer.as_str(), o.seller.as_str(), o.buyer_bank.as_str(), o.seller_bank.as_str()]
}

/// Who may see order `o` (0x addresses): its parties, the carrier and the inspector it
/// names (they attest its documents), and each financier whose financing of it the firm
/// accepted (it pays, or is paid, on the order). The operator sees everything besides.
///
/// # Errors
/// When the read model cannot be read.
pub async fn order_viewers<C: ConnectionTrait>(db: &C, o: &order::Model) -> Result<Vec<String>, DbErr> {
    let financiers = financing::Entity::find()
        .filter(financing::Column::OrderId.eq(o.id))
        .filter(financing::Column::AcceptedAt.is_not_null())
        .all(db)
        .await?;
    Ok(viewers(o, financiers.into_iter().map(|f| f.financier)))
}

/// Whether `who` (a lower-case 0x address) may see order `o`: [`order_viewers`]'s rule,
/// read only as far as needed (the parties, carrier and inspector are on the order row;
/// only anyone else needs the financings read).
///
/// # Errors
/// When the read model cannot be read.
pub async fn may_view<C: ConnectionTrait>(db: &C, o: &order::Model, who: &str) -> Result<bool, DbErr> {
    if viewers(o, []).iter().any(|v| v == who) {
        return Ok(true);
    }
    Ok(order_viewers(db, o).await?.iter().any(|v| v == who))
}

/// [`order_viewers`] of many orders at once, by order id (orders missing from `orders` are
/// not in the answer): two reads, whatever their number, for the indexer's live changes.
///
/// # Errors
/// When the read model cannot be read.
pub async fn orders_viewers<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<String>>, DbErr> {
    let mut out = std::collections::HashMap::new();
    // Bounded statements: SQLite and PostgreSQL both cap a statement's parameters.
    for ids in ids.chunks(500) {
        let orders = order::Entity::find().filter(order::Column::Id.is_in(ids.iter().copied())).all(db).await?;
        let mut financiers: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for f in financing::Entity::find()
            .filter(financing::Column::OrderId.is_in(ids.iter().copied()))
            .filter(financing::Column::AcceptedAt.is_not_null())
            .all(db)
            .await?
        {
            financiers.entry(f.order_id).or_default().push(f.financier);
        }
        for o in orders {
            let who = viewers(&o, financiers.remove(&o.id).unwrap_or_default());
            out.insert(o.id, who);
        }
    }
    Ok(out)
}

/// The rule of [`order_viewers`], given the financiers whose financing of `o` was accepted.
fn viewers(o: &order::Model, financiers: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut who: Vec<String> = parties(o).iter().map(|a| (*a).to_string()).collect();
    who.extend([&o.carrier, &o.inspector].into_iter().filter(|a| a.as_str() != ZERO).cloned());
    who.extend(financiers);
    who.sort();
    who.dedup();
    who
}

/// Who may see financing `f` of order `o`: its financier, its firm and the order's parties
/// (the buyer's bank repays payables finance; the seller's proceeds are assigned), not a
/// rival financier, whatever consent it holds.
pub fn financing_viewers(f: &financing::Model, o: Option<&order::Model>) -> Vec<String> {
    let mut who = vec![f.financier.clone(), f.firm.clone()];
    if let Some(o) = o {
        who.extend(parties(o).iter().map(|a| (*a).to_string()));
    }
    who.sort();
    who.dedup();
    who
}
