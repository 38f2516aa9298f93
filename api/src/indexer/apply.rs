//! The typed events of the suite applied to the read model's tables.

use alloy::primitives::{Address, B256, U256};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter,
};
use tradechain_contracts::{Consents, Consortium, TradeOrders};

use super::{Ctx, end_to_end_id, reference_text, state_str, u256_i64};
use crate::codec::{addr, bytes3_str, i32_of, i64_of};
use crate::readmodel::{
    consent, details_writer, document, holiday, milestone, order, organisation, payment, private_item,
    verification_request,
};

/// The payer and payee of order `id`'s milestones, from the `OrderProposed` that follows
/// its `MilestoneDefined` events in the same transaction (`TradeOrders.propose`).
fn proposal_parties(ctx: &Ctx<'_>, id: U256) -> Option<(String, String)> {
    use alloy::sol_types::SolEvent;
    let same_tx = ctx.later.iter().take_while(|l| l.tx_hash == ctx.log.tx_hash);
    same_tx
        .filter(|l| l.log.address == ctx.log.log.address)
        .filter_map(|l| TradeOrders::OrderProposed::decode_log(&l.log).ok())
        .find(|e| e.orderId == id)
        .map(|e| (addr(&e.buyerBank), addr(&e.seller)))
}

/// Applies a `TradeOrders` event; the rows it creates go to `inserts`.
pub(super) async fn apply_order_event(ctx: &Ctx<'_>, chain_id: u64, inserts: &mut Inserts) -> Result<(), DbErr> {
    use TradeOrders::TradeOrdersEvents as E;
    use alloy::sol_types::SolEventInterface;
    use tradechain_contracts::OrderState as S;
    let Ok(ev) = E::decode_raw_log(ctx.log.log.topics(), &ctx.log.log.data.data) else { return Ok(()) };
    let txn = ctx.txn;
    match ev {
        E::OrderProposed(e) => {
            let id = u256_i64(e.orderId);
            inserts.orders.push(order::ActiveModel {
                id: Set(id),
                buyer: Set(addr(&e.buyer)),
                seller: Set(addr(&e.seller)),
                buyer_bank: Set(addr(&e.buyerBank)),
                seller_bank: Set(addr(&e.sellerBank)),
                // AttestersNamed follows when the order names any.
                carrier: Set(addr(&Address::ZERO)),
                inspector: Set(addr(&Address::ZERO)),
                amount: Set(e.amount.to_string()),
                paid: Set("0".into()),
                currency: Set(bytes3_str(&e.currency.0)),
                incoterm: Set(bytes3_str(&e.incoterm.0)),
                // ChargesAgreed follows when the parties agreed anything but shared charges.
                charges: Set(tradechain_contracts::Charges::Shared.as_str().into()),
                cover: Set(None),
                details_hash: Set(format!("{:#x}", e.detailsHash)),
                latest_shipment: Set(i64_of(e.latestShipment)),
                expiry: Set(i64_of(e.expiry)),
                state: Set(state_str(S::Proposed)),
                created_block: Set(ctx.block),
                created_at: Set(ctx.ts),
                updated_block: Set(ctx.block),
                cancel_requested_by: Set(None),
                disputes: Set(0),
                dispute_raised_by: Set(None),
                amendments: Set(0),
                pending_amendment: Set(None),
            });
            // Its milestones, defined just before, were queued with their payer and payee.
            inserts.proposals.push(Proposal {
                order_id: id,
                writer: addr(&e.buyer),
                details_hash: format!("{:#x}", e.detailsHash),
                at: ctx.ts,
            });
        }
        E::MilestoneDefined(e) => {
            // `propose` emits its milestones, then `OrderProposed` in the same transaction:
            // the payer (the buyer's bank) and payee (the seller) come from there, so the
            // row is written once, not inserted and then updated.
            let (payer, payee) = proposal_parties(ctx, e.orderId).unwrap_or_default();
            inserts.milestones.push(milestone::ActiveModel {
                order_id: Set(u256_i64(e.orderId)),
                idx: Set(u256_i64(e.index) as i32),
                amount: Set(e.amount.to_string()),
                required_docs: Set(i32::from(e.requiredDocs)),
                tenor_days: Set(i32::from(e.tenorDays)),
                state: Set("pending".into()),
                triggered_at: Set(None),
                due_date: Set(None),
                paid_at: Set(None),
                attempts: Set(0),
                failures: Set(0),
                payer: Set(payer),
                payee: Set(payee),
                financing_id: Set(None),
                payment_ref: Set(None),
            });
        }
        E::AttestersNamed(e) => {
            update_order(ctx, e.orderId, |o| {
                o.carrier = Set(addr(&e.carrier));
                o.inspector = Set(addr(&e.inspector));
            })
            .await?;
        }
        E::OrderAccepted(e) => set_state(ctx, e.orderId, S::Accepted).await?,
        E::OrderRejected(e) => set_state(ctx, e.orderId, S::Rejected).await?,
        E::OrderCommitted(e) => {
            let cover = tradechain_contracts::Cover::from_u8(e.cover).map_or("unknown", |c| c.as_str());
            update_order(ctx, e.orderId, |o| {
                o.state = Set(state_str(S::Committed));
                o.cover = Set(Some(cover.into()));
            })
            .await?;
        }
        E::ChargesAgreed(e) => {
            let charges = tradechain_contracts::Charges::from_u8(e.charges).map_or("unknown", |c| c.as_str());
            update_order(ctx, e.orderId, |o| o.charges = Set(charges.into())).await?;
        }
        E::OrderCancelled(e) => set_state(ctx, e.orderId, S::Cancelled).await?,
        E::OrderExpired(e) => set_state(ctx, e.orderId, S::Expired).await?,
        E::OrderCompleted(e) => set_state(ctx, e.orderId, S::Completed).await?,
        E::CancellationRequested(e) => {
            update_order(ctx, e.orderId, |o| o.cancel_requested_by = Set(Some(addr(&e.by)))).await?;
        }
        E::AmendmentProposed(e) => {
            let pending = serde_json::json!({
                "amendment_id": e.amendmentId.to_string(),
                "proposer": addr(&e.proposer),
                "details_hash": format!("{:#x}", e.detailsHash),
                "latest_shipment": e.latestShipment,
                "expiry": e.expiry,
            })
            .to_string();
            update_order(ctx, e.orderId, |o| o.pending_amendment = Set(Some(pending))).await?;
        }
        E::AmendmentApproved(e) => {
            // The approvals so far, so the parties see whose is still missing.
            if let Some(o) = order::Entity::find_by_id(u256_i64(e.orderId)).one(txn).await? {
                let mut pending: serde_json::Value =
                    o.pending_amendment.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
                if let Some(approvals) = pending.as_object_mut() {
                    let list = approvals.entry("approved_by").or_insert_with(|| serde_json::json!([]));
                    if let Some(list) = list.as_array_mut() {
                        list.push(serde_json::Value::String(addr(&e.approver)));
                    }
                }
                let pending = pending.to_string();
                update_order(ctx, e.orderId, |o| o.pending_amendment = Set(Some(pending))).await?;
            }
        }
        E::OrderAmended(e) => {
            if let Some(o) = order::Entity::find_by_id(u256_i64(e.orderId)).one(txn).await? {
                let pending: serde_json::Value =
                    o.pending_amendment.as_deref().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default();
                let amendments = o.amendments + 1;
                let mut am = o.into_active_model();
                if let Some(h) = pending["details_hash"].as_str() {
                    am.details_hash = Set(h.to_string());
                }
                if let Some(v) = pending["latest_shipment"].as_i64() {
                    am.latest_shipment = Set(v);
                }
                if let Some(v) = pending["expiry"].as_i64() {
                    am.expiry = Set(v);
                }
                am.pending_amendment = Set(None);
                am.amendments = Set(amendments);
                am.updated_block = Set(ctx.block);
                am.update(txn).await?;
            }
        }
        E::DisputeRaised(e) => {
            if let Some(o) = order::Entity::find_by_id(u256_i64(e.orderId)).one(txn).await? {
                let disputes = o.disputes + 1;
                let mut am = o.into_active_model();
                am.dispute_raised_by = Set(Some(addr(&e.by)));
                am.disputes = Set(disputes);
                am.updated_block = Set(ctx.block);
                am.update(txn).await?;
            }
        }
        E::DisputeResolved(e) => update_order(ctx, e.orderId, |o| o.dispute_raised_by = Set(None)).await?,
        E::DocumentSubmitted(e) => {
            let id = u256_i64(e.orderId);
            let seller = order::Entity::find_by_id(id).one(txn).await?.map(|o| o.seller).unwrap_or_default();
            // Documents awaiting their named issuer's attestation have no period yet.
            let needs_attestation = e.examineBy == 0;
            let row = document::ActiveModel {
                order_id: Set(id),
                doc_type: Set(i32::from(e.docType)),
                hash: Set(format!("{:#x}", e.hash)),
                uri: Set(e.uri.clone()),
                issuer: Set(seller),
                state: Set("submitted".into()),
                attested: Set(!needs_attestation),
                deemed: Set(false),
                version: Set(i32_of(e.version)),
                submitted_at: Set(ctx.ts),
                examine_by: Set(i64_of(e.examineBy)),
                shipment_date: Set(None),
                discrepancies: Set(None),
                submitted_block: Set(ctx.block),
                updated_block: Set(ctx.block),
            };
            // A corrected presentation replaces the last: one statement, whether or not it is the first.
            use document::Column as C;
            let replaced = [
                C::Hash,
                C::Uri,
                C::Issuer,
                C::State,
                C::Attested,
                C::Deemed,
                C::Version,
                C::SubmittedAt,
                C::ExamineBy,
                C::ShipmentDate,
                C::Discrepancies,
                C::SubmittedBlock,
                C::UpdatedBlock,
            ];
            document::Entity::insert(row)
                .on_conflict(OnConflict::columns([C::OrderId, C::DocType]).update_columns(replaced).to_owned())
                .exec_without_returning(txn)
                .await?;
        }
        E::DocumentAttested(e) => {
            update_document(ctx, e.orderId, e.docType, |d| {
                d.attested = Set(true);
                d.issuer = Set(addr(&e.issuer));
                d.examine_by = Set(i64_of(e.examineBy));
                d.shipment_date = Set((e.shipmentDate != 0).then(|| i64_of(e.shipmentDate)));
            })
            .await?;
        }
        E::DocumentAccepted(e) => {
            update_document(ctx, e.orderId, e.docType, |d| {
                d.state = Set("accepted".into());
                d.deemed = Set(e.deemed);
            })
            .await?;
        }
        E::DocumentRejected(e) => {
            update_document(ctx, e.orderId, e.docType, |d| {
                d.state = Set("rejected".into());
                d.discrepancies = Set(Some(serde_json::json!(e.discrepancies).to_string()));
            })
            .await?;
        }
        E::MilestoneTriggered(e) => {
            set_milestone(ctx, e.orderId, e.index, |m| {
                m.state = Set("triggered".into());
                m.triggered_at = Set(Some(ctx.ts));
                m.due_date = Set(Some(i64_of(e.dueDate)));
            })
            .await?;
        }
        E::PaymentDue(e) => {
            let (order_id, index, attempt) = (u256_i64(e.orderId), i32_of(e.milestone), i32_of(e.attempt));
            set_milestone(ctx, e.orderId, e.milestone, |m| {
                m.state = Set("due".into());
                m.attempts = Set(attempt);
            })
            .await?;
            payment::Entity::insert(payment::ActiveModel {
                order_id: Set(order_id),
                milestone: Set(index),
                attempt: Set(attempt),
                end_to_end_id: Set(end_to_end_id(chain_id, order_id, index, attempt)),
                payer: Set(addr(&e.payer)),
                payee: Set(addr(&e.payee)),
                amount: Set(e.amount.to_string()),
                currency: Set(bytes3_str(&e.currency.0)),
                due_date: Set(i64_of(e.dueDate)),
                state: Set("due".into()),
                bank_reference: Set(None),
                failure_code: Set(None),
                failure_reason: Set(None),
                due_tx: Set(format!("{:#x}", ctx.log.tx_hash)),
                due_block: Set(ctx.block),
                settled_tx: Set(None),
                settled_block: Set(None),
            })
            .exec(txn)
            .await?;
        }
        E::PaymentConfirmed(e) => {
            set_milestone(ctx, e.orderId, e.milestone, |m| {
                m.state = Set("paid".into());
                m.paid_at = Set(Some(ctx.ts));
                m.payment_ref = Set(Some(reference_text(&e.paymentReference)));
            })
            .await?;
            if let Some(o) = order::Entity::find_by_id(u256_i64(e.orderId)).one(txn).await? {
                let paid = o.paid.parse::<u128>().unwrap_or(0).saturating_add(e.amount);
                let mut am = o.into_active_model();
                am.paid = Set(paid.to_string());
                am.updated_block = Set(ctx.block);
                am.update(txn).await?;
            }
            settle_payment(ctx, e.orderId, e.milestone, "paid", Some(&e.paymentReference), None).await?;
        }
        E::PaymentFailed(e) => {
            update_milestone(ctx, e.orderId, e.milestone, |m| {
                m.state = Set("failed".into());
                m.failures = Set(m.failures.as_ref() + 1);
            })
            .await?;
            let failure = (reason_code_text(e.reasonCode.0), e.reason);
            settle_payment(ctx, e.orderId, e.milestone, "failed", Some(&e.paymentReference), Some(failure)).await?;
        }
        E::PaymentDefaulted(e) => {
            // PayerChanged follows when a financier defaulted and the buyer's bank pays again.
            set_milestone(ctx, e.orderId, e.milestone, |m| m.state = Set("defaulted".into())).await?;
        }
        E::ProceedsAssigned(e) => {
            // Financing 0: a cancelled financing gave the proceeds back to the seller.
            set_milestone(ctx, e.orderId, e.milestone, |m| {
                m.payee = Set(addr(&e.payee));
                m.financing_id = Set((!e.financingId.is_zero()).then(|| e.financingId.to_string()));
            })
            .await?;
        }
        E::PayerChanged(e) => {
            // Back to the buyer's bank: the financing ended (cancelled, or its financier
            // defaulted, in which case the milestone is due from the bank at once).
            let buyer_bank = order::Entity::find_by_id(u256_i64(e.orderId)).one(txn).await?.map(|o| o.buyer_bank);
            let restored = buyer_bank.as_deref() == Some(addr(&e.payer).as_str());
            update_milestone(ctx, e.orderId, e.milestone, |m| {
                m.payer = Set(addr(&e.payer));
                m.financing_id = Set((!restored).then(|| e.financingId.to_string()));
                if restored {
                    m.failures = Set(0);
                    if m.state.as_ref() == "defaulted" {
                        m.state = Set("triggered".into());
                    }
                }
            })
            .await?;
        }
        E::Linked(_) => {}
    }
    Ok(())
}

/// Sets the columns `f` sets (and `updated_block`) of order `id`, if the read model has it:
/// one statement, no read first (`f` only sets, never reads, the row).
async fn update_order(ctx: &Ctx<'_>, id: U256, f: impl FnOnce(&mut order::ActiveModel)) -> Result<(), DbErr> {
    let mut am = <order::ActiveModel as ActiveModelTrait>::default();
    f(&mut am);
    am.updated_block = Set(ctx.block);
    order::Entity::update_many().set(am).filter(order::Column::Id.eq(u256_i64(id))).exec(ctx.txn).await?;
    Ok(())
}

/// The rows a run of blocks creates (orders, their milestones, and the details their
/// proposers stored here), queued and written together: a block of proposals costs a few
/// multi-row statements, not three statements a proposal. Only creations are queued; the
/// indexer writes the queue out ([`Inserts::write`]) before applying any other event, so
/// every later statement of the run (an update, a lookup, the live changes) finds them.
#[derive(Debug, Default)]
pub(super) struct Inserts {
    orders: Vec<order::ActiveModel>,
    milestones: Vec<milestone::ActiveModel>,
    proposals: Vec<Proposal>,
}

/// A proposal's anchor of its details: who proposed, which hash.
#[derive(Debug)]
struct Proposal {
    order_id: i64,
    writer: String,
    details_hash: String,
    at: i64,
}

/// Rows per multi-row statement: orders have 26 columns, well under SQLite's (32,766) and
/// PostgreSQL's (65,535) bounds on a statement's parameters.
const ROWS: usize = 100;

/// The events whose rows [`Inserts`] queues: `TradeOrders.propose`'s.
pub(super) const QUEUED: [&str; 2] = ["OrderProposed", "MilestoneDefined"];

impl Inserts {
    /// Write out what is queued, in `txn`.
    pub(super) async fn write(self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        for chunk in self.orders.chunks(ROWS) {
            order::Entity::insert_many(chunk.iter().cloned()).exec_without_returning(txn).await?;
        }
        for chunk in self.milestones.chunks(ROWS) {
            milestone::Entity::insert_many(chunk.iter().cloned()).exec_without_returning(txn).await?;
        }
        for chunk in self.proposals.chunks(ROWS) {
            written_here(txn, chunk).await?;
        }
        Ok(())
    }
}

/// Details one of this node's organisations stored to propose with ([`details_writer`]),
/// anchored by that organisation's proposal of the order: recorded as written here for the
/// order ([`private_item`]), in the block's transaction, so the planner that reads this
/// block's events finds them and no crash after the receipt leaves them unrecorded. Only
/// the proposer's own: a stranger anchoring the same (public) hash on an order of its own
/// finds no row of its own, and this node sends it nothing. One read and at most one write
/// for all of `proposals`, whether or not their proposers are this node's organisations.
/// The rows are off chain and kept by a rebuild, so a rebuild from block 0 also records,
/// for an earlier proposal of the same writer anchoring the same hash (sent without the
/// details, which it stored here later), the details it stored: its own details on its
/// own order.
async fn written_here(txn: &DatabaseTransaction, proposals: &[Proposal]) -> Result<(), DbErr> {
    use sea_orm::{Condition, QuerySelect};
    let anchors = proposals.iter().fold(Condition::any(), |any, p| {
        any.add(
            Condition::all()
                .add(details_writer::Column::Writer.eq(p.writer.as_str()))
                .add(details_writer::Column::DetailsHash.eq(p.details_hash.as_str())),
        )
    });
    let stored: std::collections::HashSet<(String, String)> = details_writer::Entity::find()
        .select_only()
        .columns([details_writer::Column::Writer, details_writer::Column::DetailsHash])
        .filter(anchors)
        .into_tuple()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let rows: Vec<private_item::ActiveModel> = proposals
        .iter()
        .filter(|p| stored.contains(&(p.writer.clone(), p.details_hash.clone())))
        .map(|p| private_item::ActiveModel {
            order_id: Set(p.order_id),
            kind: Set("details".into()),
            content_hash: Set(p.details_hash.clone()),
            origin: Set("written".into()),
            node: Set(None),
            at: Set(p.at),
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    private_item::Entity::insert_many(rows)
        .on_conflict(OnConflict::columns(private_item::KEY).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn set_state(ctx: &Ctx<'_>, id: U256, s: tradechain_contracts::OrderState) -> Result<(), DbErr> {
    update_order(ctx, id, |o| o.state = Set(state_str(s))).await
}

async fn update_document(
    ctx: &Ctx<'_>,
    id: U256,
    doc_type: u8,
    f: impl FnOnce(&mut document::ActiveModel),
) -> Result<(), DbErr> {
    // One statement, as `update_order`.
    let mut am = <document::ActiveModel as ActiveModelTrait>::default();
    f(&mut am);
    am.updated_block = Set(ctx.block);
    document::Entity::update_many()
        .set(am)
        .filter(document::Column::OrderId.eq(u256_i64(id)))
        .filter(document::Column::DocType.eq(i32::from(doc_type)))
        .exec(ctx.txn)
        .await?;
    Ok(())
}

/// Sets the columns `f` sets of milestone `index` of order `id`, if the read model has it:
/// one statement, no read first (`f` only sets, never reads, the row).
async fn set_milestone(
    ctx: &Ctx<'_>,
    id: U256,
    index: U256,
    f: impl FnOnce(&mut milestone::ActiveModel),
) -> Result<(), DbErr> {
    let mut am = <milestone::ActiveModel as ActiveModelTrait>::default();
    f(&mut am);
    milestone::Entity::update_many()
        .set(am)
        .filter(milestone::Column::OrderId.eq(u256_i64(id)))
        .filter(milestone::Column::Idx.eq(u256_i64(index) as i32))
        .exec(ctx.txn)
        .await?;
    Ok(())
}

/// Updates a milestone with `f`, which may read the row as it was.
async fn update_milestone(
    ctx: &Ctx<'_>,
    id: U256,
    index: U256,
    f: impl FnOnce(&mut milestone::ActiveModel),
) -> Result<(), DbErr> {
    let key = (u256_i64(id), u256_i64(index) as i32);
    let Some(m) = milestone::Entity::find_by_id(key).one(ctx.txn).await? else { return Ok(()) };
    let mut am = m.into_active_model();
    f(&mut am);
    am.update(ctx.txn).await?;
    Ok(())
}

/// Settles the milestone's current payment attempt (the milestone's `attempts`, which
/// only `PaymentDue` changes): one statement, the attempt read in it.
async fn settle_payment(
    ctx: &Ctx<'_>,
    id: U256,
    index: U256,
    state: &str,
    reference: Option<&B256>,
    failure: Option<(String, String)>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Query;
    let (order_id, index) = (u256_i64(id), u256_i64(index) as i32);
    let attempt = Query::select()
        .column(milestone::Column::Attempts)
        .from(milestone::Entity)
        .and_where(milestone::Column::OrderId.eq(order_id))
        .and_where(milestone::Column::Idx.eq(index))
        .to_owned();
    let (code, reason) = failure.unzip();
    let mut am = <payment::ActiveModel as ActiveModelTrait>::default();
    am.state = Set(state.to_string());
    am.bank_reference = Set(reference.map(reference_text));
    am.failure_code = Set(code);
    am.failure_reason = Set(reason);
    am.settled_tx = Set(Some(format!("{:#x}", ctx.log.tx_hash)));
    am.settled_block = Set(Some(ctx.block));
    payment::Entity::update_many()
        .set(am)
        .filter(payment::Column::OrderId.eq(order_id))
        .filter(payment::Column::Milestone.eq(index))
        .filter(payment::Column::Attempt.in_subquery(attempt))
        .exec(ctx.txn)
        .await?;
    Ok(())
}

pub(super) async fn apply_consortium_event(ctx: &Ctx<'_>) -> Result<(), DbErr> {
    use Consortium::ConsortiumEvents as E;
    use alloy::sol_types::SolEventInterface;
    let Ok(ev) = E::decode_raw_log(ctx.log.log.topics(), &ctx.log.log.data.data) else { return Ok(()) };
    let txn = ctx.txn;
    let update = |account: Address, f: Box<dyn FnOnce(&mut organisation::ActiveModel) + Send>| async move {
        if let Some(o) = organisation::Entity::find_by_id(addr(&account)).one(txn).await? {
            let mut am = o.into_active_model();
            f(&mut am);
            am.update(txn).await?;
        }
        Ok::<(), DbErr>(())
    };
    match ev {
        E::OrganisationRegistered(e) => {
            // On a remote network the operator's registration (seeded at block 0, since the
            // embedded genesis has no receipts) also arrives as the Consortium
            // constructor's event: the event's version wins.
            organisation::Entity::insert(organisation::ActiveModel {
                address: Set(addr(&e.account)),
                name: Set(e.name),
                roles: Set(i64::from(e.roles)),
                suspended: Set(false),
                registered_block: Set(ctx.block),
            })
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(organisation::Column::Address)
                    .update_columns([
                        organisation::Column::Name,
                        organisation::Column::Roles,
                        organisation::Column::Suspended,
                        organisation::Column::RegisteredBlock,
                    ])
                    .to_owned(),
            )
            .exec(txn)
            .await?;
        }
        E::RolesChanged(e) => update(e.account, Box::new(move |o| o.roles = Set(i64::from(e.roles)))).await?,
        E::OrganisationSuspended(e) => update(e.account, Box::new(|o| o.suspended = Set(true))).await?,
        E::OrganisationReinstated(e) => update(e.account, Box::new(|o| o.suspended = Set(false))).await?,
        // The node directory is public and read from the chain by the nodes themselves;
        // its events are kept in `events` like every other.
        E::NodeRegistered(_)
        | E::NodeApproved(_)
        | E::NodeRevoked(_)
        | E::NodeKeyRotated(_)
        | E::NodeEndpointChanged(_)
        | E::NodeChosen(_) => {}
        E::HolidaysSet(e) => {
            let bank = addr(&e.bank);
            for day in e.days_ {
                let key = (bank.clone(), i64::from(day));
                holiday::Entity::delete_by_id(key.clone()).exec(txn).await?;
                if e.holiday {
                    holiday::Entity::insert(holiday::ActiveModel {
                        bank: Set(key.0),
                        day: Set(key.1),
                        declared_at: Set(ctx.ts),
                        block: Set(ctx.block),
                    })
                    .exec(txn)
                    .await?;
                }
            }
        }
    }
    Ok(())
}

pub(super) async fn apply_consent_event(ctx: &Ctx<'_>) -> Result<(), DbErr> {
    use Consents::ConsentsEvents as E;
    use alloy::sol_types::SolEventInterface;
    let Ok(ev) = E::decode_raw_log(ctx.log.log.topics(), &ctx.log.log.data.data) else { return Ok(()) };
    let (firm, financier, request, expires, state) = match ev {
        E::ConsentGranted(e) => {
            if !e.requestId.is_zero() {
                answer_request(ctx, e.requestId, "granted").await?;
            }
            (e.firm, e.financier, e.requestId.to_string(), i64_of(e.expiresAt), "granted")
        }
        E::ConsentRevoked(e) => (e.firm, e.financier, String::new(), 0, "revoked"),
        E::VerificationRequested(e) => {
            verification_request::Entity::insert(verification_request::ActiveModel {
                id: Set(u256_i64(e.requestId)),
                financier: Set(addr(&e.financier)),
                firm: Set(addr(&e.firm)),
                purpose: Set(e.purpose),
                state: Set("open".into()),
                created_at: Set(ctx.ts),
                created_block: Set(ctx.block),
                updated_block: Set(ctx.block),
            })
            .exec(ctx.txn)
            .await?;
            return Ok(());
        }
        E::VerificationDeclined(e) => return answer_request(ctx, e.requestId, "declined").await,
        E::VerificationWithdrawn(e) => return answer_request(ctx, e.requestId, "withdrawn").await,
        E::ReadersSet(_) => return Ok(()),
    };
    let key = (addr(&firm), addr(&financier));
    let existing = consent::Entity::find_by_id(key.clone()).one(ctx.txn).await?;
    let row = consent::ActiveModel {
        firm: Set(key.0),
        financier: Set(key.1),
        request_id: Set(if request.is_empty() {
            existing.as_ref().map(|c| c.request_id.clone()).unwrap_or_default()
        } else {
            request
        }),
        expires_at: Set(if state == "revoked" { existing.as_ref().map_or(0, |c| c.expires_at) } else { expires }),
        state: Set(state.into()),
        updated_block: Set(ctx.block),
    };
    if existing.is_some() {
        row.update(ctx.txn).await?;
    } else {
        consent::Entity::insert(row).exec(ctx.txn).await?;
    }
    Ok(())
}

async fn answer_request(ctx: &Ctx<'_>, id: U256, state: &str) -> Result<(), DbErr> {
    if let Some(r) = verification_request::Entity::find_by_id(u256_i64(id)).one(ctx.txn).await? {
        let mut am = r.into_active_model();
        am.state = Set(state.to_string());
        am.updated_block = Set(ctx.block);
        am.update(ctx.txn).await?;
    }
    Ok(())
}

/// An ISO 20022 status reason code as text (`AM04`); the contract admits only four upper-case
/// letters or digits.
pub(super) fn reason_code_text(code: [u8; 4]) -> String {
    code.iter().map(|&b| char::from(b)).collect()
}
