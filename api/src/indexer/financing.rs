//! Receivables events applied to `financings`, `fingerprints` and `near_keys`.

use alloy::primitives::U256;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DbErr, EntityTrait, IntoActiveModel};
use tradechain_contracts::{FinancingState as S, Receivables};

use super::{Ctx, reference_text, u256_i64};
use crate::codec::{addr, i64_of};
use crate::readmodel::{financing, fingerprint, near_key, order};

/// `receivable` or `payable`, from `Receivables.Kind`.
pub fn kind_str(kind: u8) -> &'static str {
    if kind == 0 { "receivable" } else { "payable" }
}

pub(super) async fn apply_receivables_event(ctx: &Ctx<'_>) -> Result<(), DbErr> {
    use Receivables::ReceivablesEvents as E;
    use alloy::sol_types::SolEventInterface;
    let Ok(ev) = E::decode_raw_log(ctx.log.log.topics(), &ctx.log.log.data.data) else { return Ok(()) };
    let txn = ctx.txn;
    match ev {
        E::FinancingOffered(e) => {
            let order_id = u256_i64(e.orderId);
            // The firm is the seller (receivables) or the buyer (payables) of the order.
            let firm = order::Entity::find_by_id(order_id)
                .one(txn)
                .await?
                .map(|o| if e.kind == 0 { o.seller } else { o.buyer })
                .unwrap_or_default();
            financing::Entity::insert(financing::ActiveModel {
                id: Set(u256_i64(e.financingId)),
                kind: Set(kind_str(e.kind).into()),
                state: Set(S::Offered.as_str().into()),
                financier: Set(addr(&e.financier)),
                firm: Set(firm),
                order_id: Set(order_id),
                milestone: Set(u256_i64(e.milestone) as i32),
                amount: Set(e.amount.to_string()),
                rate_bps: Set(i32::from(e.rateBps)),
                extra_days: Set(i32::from(e.extraDays)),
                offered_at: Set(ctx.ts),
                offered_block: Set(ctx.block),
                accepted_at: Set(None),
                deadline: Set(None),
                seller_approved: Set(false),
                bank_approved: Set(false),
                advance_acknowledged: Set(false),
                cancel_requested_by: Set(None),
                advance_ref: Set(None),
                repayment_due: Set(None),
                repayment_amount: Set(None),
                repayment_ref: Set(None),
                settled_at: Set(None),
                updated_block: Set(ctx.block),
            })
            .exec(txn)
            .await?;
        }
        E::NearKeysRecorded(e) => {
            near_key::Entity::insert(near_key::ActiveModel {
                financing_id: Set(u256_i64(e.financingId)),
                near_key: Set(format!("{:#x}", e.nearKey)),
                amount_digest: Set(format!("{:#x}", e.amount)),
                date_digest: Set(format!("{:#x}", e.date)),
                buyer_digest: Set(format!("{:#x}", e.buyer)),
                block: Set(ctx.block),
            })
            .exec(txn)
            .await?;
        }
        E::FinancingAccepted(e) => {
            update(ctx, e.financingId, |f| {
                f.state = Set(S::Accepted.as_str().into());
                f.accepted_at = Set(Some(ctx.ts));
                f.deadline = Set(Some(i64_of(e.deadline)));
            })
            .await?;
        }
        E::FinancingApproved(e) => {
            // The seller or the buyer's bank of the order: which one, from the order.
            let approver = addr(&e.approver);
            let Some(row) = financing::Entity::find_by_id(u256_i64(e.financingId)).one(txn).await? else {
                return Ok(());
            };
            let is_seller =
                order::Entity::find_by_id(row.order_id).one(txn).await?.is_some_and(|o| o.seller == approver);
            update(ctx, e.financingId, |f| {
                if is_seller {
                    f.seller_approved = Set(true);
                } else {
                    f.bank_approved = Set(true);
                }
            })
            .await?;
        }
        E::AdvanceAcknowledged(e) => update(ctx, e.financingId, |f| f.advance_acknowledged = Set(true)).await?,
        E::FinancingLive(e) => update(ctx, e.financingId, |f| f.state = Set(S::Live.as_str().into())).await?,
        E::FinancingLapsed(e) => update(ctx, e.financingId, |f| f.state = Set(S::Lapsed.as_str().into())).await?,
        E::FinancingCancellationRequested(e) => {
            update(ctx, e.financingId, |f| f.cancel_requested_by = Set(Some(addr(&e.by)))).await?;
        }
        E::FinancingCancelled(e) => {
            update(ctx, e.financingId, |f| f.state = Set(S::Cancelled.as_str().into())).await?;
        }
        E::FinancingDefaulted(e) => update(ctx, e.financingId, |f| f.state = Set(S::Defaulted.as_str().into())).await?,
        E::FinancingDeclined(e) => update(ctx, e.financingId, |f| f.state = Set(S::Declined.as_str().into())).await?,
        E::FinancingWithdrawn(e) => update(ctx, e.financingId, |f| f.state = Set(S::Withdrawn.as_str().into())).await?,
        E::AdvancePaid(e) => {
            update(ctx, e.financingId, |f| f.advance_ref = Set(Some(reference_text(&e.paymentReference)))).await?;
        }
        E::RepaymentScheduled(e) => {
            update(ctx, e.financingId, |f| {
                f.state = Set(S::AwaitingRepayment.as_str().into());
                f.repayment_due = Set(Some(i64_of(e.dueDate)));
                f.repayment_amount = Set(Some(e.amount.to_string()));
            })
            .await?;
        }
        E::RepaymentDue(e) => update(ctx, e.financingId, |f| f.state = Set(S::RepaymentDue.as_str().into())).await?,
        E::RepaymentConfirmed(e) => {
            update(ctx, e.financingId, |f| f.repayment_ref = Set(Some(reference_text(&e.paymentReference)))).await?;
        }
        E::FinancingSettled(e) => {
            update(ctx, e.financingId, |f| {
                f.state = Set(S::Settled.as_str().into());
                f.settled_at = Set(Some(ctx.ts));
            })
            .await?;
        }
        E::FingerprintRegistered(e) => {
            let row = fingerprint::ActiveModel {
                fingerprint: Set(format!("{:#x}", e.fingerprint)),
                financing_id: Set(u256_i64(e.financingId)),
                live: Set(true),
                updated_block: Set(ctx.block),
            };
            if fingerprint::Entity::find_by_id(format!("{:#x}", e.fingerprint)).one(txn).await?.is_some() {
                row.update(txn).await?;
            } else {
                fingerprint::Entity::insert(row).exec(txn).await?;
            }
        }
        E::FingerprintReleased(e) => {
            if let Some(fp) = fingerprint::Entity::find_by_id(format!("{:#x}", e.fingerprint)).one(txn).await? {
                let mut am = fp.into_active_model();
                am.live = Set(false);
                am.updated_block = Set(ctx.block);
                am.update(txn).await?;
            }
        }
    }
    Ok(())
}

async fn update(ctx: &Ctx<'_>, id: U256, f: impl FnOnce(&mut financing::ActiveModel)) -> Result<(), DbErr> {
    if let Some(row) = financing::Entity::find_by_id(u256_i64(id)).one(ctx.txn).await? {
        let mut am = row.into_active_model();
        f(&mut am);
        am.updated_block = Set(ctx.block);
        am.update(ctx.txn).await?;
    }
    Ok(())
}
