//! The buyer's bank's undertaking cannot bounce. A payment undertaking (ICC URDTT, a bank
//! payment obligation, a letter of credit) is the bank's own irrevocable promise: the seller
//! is paid whether or not the buyer has the money on the day. The bank states how it covers
//! the promise when it commits (`TradeOrders.commit(order, cover)`), and its worker keeps
//! to it:
//! - **earmark**: on the commitment, the order's amount moves from the buyer's account to
//!   the bank's escrow account (a transfer like any other; refused for want of funds, a
//!   person at the bank takes it up and the bank carries the risk). Each milestone is then
//!   paid from the escrow; when the order ends (completed or expired) what the escrow still
//!   holds goes back to the buyer. This is also the escrowed advance payment: the money is
//!   locked when the bank commits and released to the seller when the documents are
//!   accepted.
//! - **bank risk**: each milestone is paid from the bank's own account, and the buyer is
//!   debited separately to reimburse the bank. A buyer short of funds (AM04) leaves the bank
//!   a claim on its customer, parked for a person; the seller has been paid.
//!
//! A milestone is paid from the escrow only when the earmark is booked and still holds the
//! whole amount (reserved as the instruction is recorded); otherwise the bank pays at its
//! own risk. So no payment of the bank's ever depends on the buyer's balance that day.

use alloy::primitives::U256;
use tradechain_contracts::{Cover, TradeOrders};

use super::notice::{Account, Batch, DueNotice};
use super::{SettlementWorker, WorkerError, as_i64};
use crate::outbox::{CoverChange, Instruction, KIND_EARMARK, KIND_MILESTONE, KIND_REIMBURSEMENT, KIND_RELEASE, cover};
use crate::party::Party;
use crate::payment::ChargeBearer;
use crate::rails::Rails;
use tradechain_chain::BlockLog;
use tradechain_money::identifier::EndToEndId;

/// An EndToEndId for one of the bank's own transfers: `TC{chain}-{tag}{order}` plus
/// `-{suffix}`, or a hash of them when that exceeds 35 characters.
pub(crate) fn own_end_to_end_id(chain_id: u64, tag: char, order: &str, suffix: &str) -> EndToEndId {
    let plain = if suffix.is_empty() {
        format!("TC{chain_id}-{tag}{order}")
    } else {
        format!("TC{chain_id}-{tag}{order}-{suffix}")
    };
    EndToEndId::parse(&plain).unwrap_or_else(|_| {
        let digest = alloy::primitives::keccak256(plain.as_bytes());
        let id = format!("TC{tag}{}", &hex::encode(digest)[..32]);
        EndToEndId::parse(&id).unwrap_or_else(|_| unreachable!("35 safe characters"))
    })
}

/// An undertaking's cover as this range leaves it: what is stored, with the range's own
/// changes applied.
fn cover_now(stored: Option<cover::Model>, changes: &[CoverChange], order: &str) -> Option<cover::Model> {
    let mut c = stored;
    for change in changes {
        match change {
            CoverChange::Open { order_id, mode, currency, amount } if order_id == order && c.is_none() => {
                c = Some(cover::Model {
                    key: String::new(),
                    bank_id: String::new(),
                    order_id: order_id.clone(),
                    mode: mode.clone(),
                    currency: currency.clone(),
                    amount_minor: amount.to_string(),
                    earmarked: false,
                    drawn_minor: "0".into(),
                    ended: false,
                    released: false,
                    updated_at: 0,
                });
            }
            CoverChange::Draw { order_id, amount } if order_id == order => {
                if let Some(c) = c.as_mut() {
                    c.drawn_minor = c.drawn().saturating_add(*amount).to_string();
                }
            }
            CoverChange::End { order_id } if order_id == order => {
                if let Some(c) = c.as_mut() {
                    c.ended = true;
                }
            }
            _ => {}
        }
    }
    c
}

impl<R: Rails> SettlementWorker<R> {
    /// The account details of `a`.
    pub(super) fn account(&self, a: Account) -> Option<Party> {
        let w = &self.inner;
        match a {
            Account::Member(address) => w.directory.party(address),
            Account::Escrow => w.config.escrow_account.clone(),
        }
    }

    async fn cover_of(&self, order: &str, batch: &Batch) -> Result<Option<cover::Model>, WorkerError> {
        let w = &self.inner;
        let stored = match batch.stored_covers.get(order) {
            Some(c) => c.clone(),
            None => w.outbox.cover(&w.bank_id, order).await?,
        };
        Ok(cover_now(stored, &batch.covers, order))
    }

    /// This bank committed to `order_id`: open its cover and, when it earmarks, move the
    /// buyer's funds into the escrow.
    pub(super) async fn read_commitment(
        &self,
        order_id: U256,
        cover: u8,
        log: &BlockLog,
        batch: &mut Batch,
    ) -> Result<(), WorkerError> {
        let w = &self.inner;
        let order = self.order_in(batch, order_id).await?;
        let mode = Cover::from_u8(cover).unwrap_or(Cover::BankRisk);
        let key = order_id.to_string();
        batch.covers.push(CoverChange::Open {
            order_id: key.clone(),
            mode: mode.as_str().into(),
            currency: String::from_utf8_lossy(&order.currency).into_owned(),
            amount: order.amount,
        });
        if mode == Cover::Earmark {
            tracing::info!(order = %order_id, amount = order.amount, "earmarking the buyer's funds");
            let due_date = self.execution_date_in(batch, batch.now).await?;
            batch.instructions.push(self.instruction_for(DueNotice {
                end_to_end_id: own_end_to_end_id(w.chain_id, 'E', &key, ""),
                kind: KIND_EARMARK,
                financing_id: None,
                order_id,
                milestone: 0,
                attempt: 1,
                payer: order.buyer,
                payee: w.bank,
                debtor: Account::Member(order.buyer),
                creditor: Account::Escrow,
                amount: order.amount,
                currency: order.currency,
                due_date,
                block: as_i64(log.block),
                charges: ChargeBearer::Shared,
            }));
        }
        Ok(())
    }

    /// Who pays a milestone this bank owes under its undertaking: the escrow when the
    /// earmark is booked and holds the amount (reserved now), else the bank's own account
    /// (the buyer reimburses it once the payment is booked, [`Self::claim_reimbursement`]).
    pub(super) async fn undertaking_debtor(
        &self,
        ev: &TradeOrders::PaymentDue,
        batch: &mut Batch,
    ) -> Result<Account, WorkerError> {
        let w = &self.inner;
        let key = ev.orderId.to_string();
        let cover = self.cover_of(&key, batch).await?;
        if let Some(c) = cover.filter(|c| c.mode == Cover::Earmark.as_str() && c.remaining() >= ev.amount) {
            tracing::info!(order = %key, amount = ev.amount, left = c.remaining() - ev.amount, "paying from the escrow");
            batch.covers.push(CoverChange::Draw { order_id: key, amount: ev.amount });
            return Ok(Account::Escrow);
        }
        Ok(Account::Member(w.bank))
    }

    /// A milestone this bank paid from its own account is booked: the buyer owes it back.
    pub(super) async fn claim_reimbursement(&self, ins: &Instruction) -> Result<(), WorkerError> {
        if let Some(claim) = self.reimbursement_claim(ins).await?
            && self.inner.outbox.record(claim).await?
        {
            tracing::info!(order = %ins.order_id, milestone = ins.milestone, "paid at the bank's risk: the buyer reimburses it");
        }
        Ok(())
    }

    /// The claim on the buyer for a milestone this bank paid from its own account, if it did.
    pub(super) async fn reimbursement_claim(&self, ins: &Instruction) -> Result<Option<Instruction>, WorkerError> {
        let w = &self.inner;
        let own = w.directory.party(w.bank);
        if ins.kind != KIND_MILESTONE || own.is_none_or(|p| p.iban.as_str() != ins.debtor_iban) {
            return Ok(None);
        }
        let (Ok(order_id), Ok(amount), Ok(attempt)) =
            (ins.order_id.parse::<U256>(), ins.amount_minor.parse::<u128>(), u32::try_from(ins.attempt))
        else {
            return Ok(None);
        };
        let order = self.terms_of(order_id).await?;
        let currency = tradechain_money::money::Currency::parse(&ins.currency).map_or([0u8; 3], |c| {
            let b = c.code().as_bytes();
            [b[0], b[1], b[2]]
        });
        Ok(Some(self.instruction_for(DueNotice {
            end_to_end_id: own_end_to_end_id(w.chain_id, 'B', &ins.order_id, &format!("{}-{attempt}", ins.milestone)),
            kind: KIND_REIMBURSEMENT,
            financing_id: None,
            order_id,
            milestone: ins.milestone,
            attempt,
            payer: order.buyer,
            payee: w.bank,
            debtor: Account::Member(order.buyer),
            creditor: Account::Member(w.bank),
            amount,
            currency,
            due_date: u64::try_from(ins.due_date).unwrap_or(0),
            block: ins.block_number,
            charges: ChargeBearer::Shared,
        })))
    }

    /// `order_id` ended: what the escrow still holds goes back to the buyer (now, or when
    /// the earmark is booked if it is still in flight).
    pub(super) async fn read_order_end(
        &self,
        order_id: U256,
        log: &BlockLog,
        batch: &mut Batch,
    ) -> Result<(), WorkerError> {
        let key = order_id.to_string();
        let Some(cover) = self.cover_of(&key, batch).await? else { return Ok(()) };
        batch.covers.push(CoverChange::End { order_id: key });
        if cover.earmarked && !cover.released && cover.remaining() > 0 {
            let release = self.release_instruction(order_id, &cover, as_i64(log.block), batch.now).await?;
            batch.instructions.push(release);
        }
        Ok(())
    }

    async fn release_instruction(
        &self,
        order_id: U256,
        cover: &cover::Model,
        block: i64,
        now: u64,
    ) -> Result<Instruction, WorkerError> {
        let w = &self.inner;
        let order = self.terms_of(order_id).await?;
        let amount = cover.remaining();
        tracing::info!(order = %order_id, amount, "releasing what the escrow holds to the buyer");
        let due_date = self.execution_date(now, now).await?;
        Ok(self.instruction_for(DueNotice {
            end_to_end_id: own_end_to_end_id(w.chain_id, 'X', &order_id.to_string(), ""),
            kind: KIND_RELEASE,
            financing_id: None,
            order_id,
            milestone: 0,
            attempt: 1,
            payer: w.bank,
            payee: order.buyer,
            debtor: Account::Escrow,
            creditor: Account::Member(order.buyer),
            amount,
            currency: order.currency,
            due_date,
            block,
            charges: ChargeBearer::Shared,
        }))
    }

    /// The bank booked one of its own transfers (nothing to confirm on chain): an earmark
    /// now covers the order; a release is done.
    pub(super) async fn own_transfer_booked(&self, ins: &Instruction) -> Result<(), WorkerError> {
        let w = &self.inner;
        match ins.kind.as_str() {
            KIND_EARMARK => {
                w.outbox.mark_cover(&w.bank_id, &ins.order_id, true).await?;
                // The order may have ended while the earmark was in flight.
                let cover = w.outbox.cover(&w.bank_id, &ins.order_id).await?;
                if let (Some(c), Ok(order_id)) = (cover, ins.order_id.parse::<U256>())
                    && c.ended
                    && !c.released
                    && c.remaining() > 0
                {
                    let now = w.chain.block_header(w.chain.head().await?).await?.map_or(0, |h| h.timestamp);
                    let release = self.release_instruction(order_id, &c, ins.block_number, now).await?;
                    w.outbox.record(release).await?;
                }
            }
            KIND_RELEASE => w.outbox.mark_cover(&w.bank_id, &ins.order_id, false).await?,
            _ => {}
        }
        Ok(())
    }

    /// Why one of the bank's own transfers refused by its bank needs a person: the seller's
    /// payment does not depend on it.
    pub(super) fn own_transfer_refused(ins: &Instruction) -> String {
        let reason = ins.reason.as_deref().unwrap_or("no reason");
        match ins.kind.as_str() {
            KIND_EARMARK => format!(
                "the buyer's funds could not be earmarked ({reason}): the bank pays this order's milestones at its own risk"
            ),
            KIND_REIMBURSEMENT => {
                format!(
                    "the buyer did not reimburse milestone {} ({reason}): the bank's claim on its customer",
                    ins.milestone
                )
            }
            _ => format!("the escrow's release to the buyer was refused ({reason})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_transfers_have_short_distinct_end_to_end_ids() {
        let e = own_end_to_end_id(7431, 'E', "12", "");
        assert_eq!(e.as_str(), "TC7431-E12");
        assert_eq!(own_end_to_end_id(7431, 'B', "12", "0-1").as_str(), "TC7431-B12-0-1");
        let huge = U256::MAX.to_string();
        let long = own_end_to_end_id(7431, 'X', &huge, "");
        assert!(long.as_str().len() <= 35 && long.as_str().starts_with("TCX"), "{long}");
        assert_ne!(long, own_end_to_end_id(7431, 'E', &huge, ""));
    }
}
