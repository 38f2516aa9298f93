//! Payables finance: when a financier paid the seller for the buyer, the buyer's bank repays
//! the financier at the extended due date. The worker watches `RepaymentScheduled`, releases
//! the repayment when it falls due (`releaseRepayment`), pays each `RepaymentDue` addressed
//! to its bank from the buyer's account to the financier's, and sends `confirmRepayment`.
//!
//! Receivables has no on-chain failure for a repayment: a refused repayment is parked for a
//! person (`needs_review`) with the bank's reason.

use alloy::primitives::U256;
use alloy::sol_types::SolEvent;
use tradechain_contracts::{FinancingState, Receivables};

use super::notice::{Account, Batch, DueNotice};
use super::{SettlementWorker, WorkerError, as_i64, payment_reference};
use crate::outbox::{Change, Instruction, KIND_REPAYMENT, OutboxError, State, Watch, watch};
use crate::payment::ChargeBearer;
use crate::rails::Rails;
use tradechain_chain::BlockLog;
use tradechain_money::identifier::EndToEndId;

/// The EndToEndId of a repayment: `TC{chain}-R{financing}` (hash form when too long).
pub fn repayment_end_to_end_id(chain_id: u64, financing_id: U256) -> EndToEndId {
    EndToEndId::parse(&format!("TC{chain_id}-R{financing_id}")).unwrap_or_else(|_| {
        let mut seed = chain_id.to_be_bytes().to_vec();
        seed.extend_from_slice(&financing_id.to_be_bytes::<32>());
        let id = format!("TCR{}", &hex::encode(alloy::primitives::keccak256(&seed))[..32]);
        EndToEndId::parse(&id).unwrap_or_else(|_| unreachable!("35 safe characters"))
    })
}

impl<R: Rails> SettlementWorker<R> {
    pub(super) async fn read_repayment_log(&self, log: &BlockLog, batch: &mut Batch) -> Result<(), WorkerError> {
        let w = &self.inner;
        match log.log.topics().first() {
            Some(t) if *t == Receivables::RepaymentScheduled::SIGNATURE_HASH => {
                match Receivables::RepaymentScheduled::decode_raw_log(
                    log.log.topics().iter().copied(),
                    &log.log.data.data,
                ) {
                    Ok(ev) => batch.watches.push(Watch {
                        order_id: String::new(),
                        milestone: 0,
                        due_date: ev.dueDate,
                        financing_id: Some(ev.financingId.to_string()),
                        doc_type: None,
                    }),
                    Err(e) => tracing::error!(error = %e, "undecodable RepaymentScheduled log skipped"),
                }
            }
            Some(t) if *t == Receivables::RepaymentDue::SIGNATURE_HASH => {
                match Receivables::RepaymentDue::decode_raw_log(log.log.topics().iter().copied(), &log.log.data.data) {
                    Ok(ev) if ev.payer == w.bank => {
                        let order = self.terms_of(ev.orderId).await?;
                        let receivables = w.config.receivables.unwrap_or_default();
                        let f = self
                            .read(receivables, &Receivables::getFinancingCall { financingId: ev.financingId })
                            .await?;
                        let due_date = self.execution_date(ev.dueDate, batch.now).await?;
                        batch.instructions.push(self.instruction_for(DueNotice {
                            end_to_end_id: repayment_end_to_end_id(w.chain_id, ev.financingId),
                            kind: KIND_REPAYMENT,
                            financing_id: Some(ev.financingId),
                            order_id: ev.orderId,
                            milestone: as_i64(f.milestone),
                            attempt: 1,
                            payer: ev.payer,
                            payee: ev.payee,
                            debtor: Account::Member(order.buyer),
                            creditor: Account::Member(ev.payee),
                            amount: ev.amount,
                            currency: ev.currency.0,
                            due_date,
                            block: as_i64(log.block),
                            charges: ChargeBearer::from_chain(order.charges).unwrap_or_default(),
                        }));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "undecodable RepaymentDue log skipped"),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Release a repayment of an order this bank committed to, once due. `true` if sent.
    pub(super) async fn release_repayment(&self, watch: &watch::Model) -> Result<bool, WorkerError> {
        let w = &self.inner;
        let (Some(receivables), Some(Ok(id))) =
            (w.config.receivables, watch.financing_id.as_deref().map(str::parse::<U256>))
        else {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        };
        let Some(f) = self.read_entitled(receivables, &Receivables::getFinancingCall { financingId: id }).await? else {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        };
        let Some(order) = self.order_terms(f.orderId).await? else {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        };
        if f.state != FinancingState::AwaitingRepayment as u8 || order.buyer_bank != w.bank {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        }
        let _guard = w.chain_lock.lock().await;
        match self.write(receivables, &Receivables::releaseRepaymentCall { financingId: id }).await {
            Ok(tx) => {
                tracing::info!(financing = %id, %tx, "repayment released");
                w.outbox.watch_done(&watch.key).await?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(financing = %id, error = %e, reason = ?e.revert_reason(), "repayment release failed");
                Ok(false)
            }
        }
    }

    /// `confirmRepayment` once the bank booked it; settled if the chain already shows it.
    pub(super) async fn confirm_repayment(&self, ins: &Instruction) -> Result<(), WorkerError> {
        let w = &self.inner;
        let corrupt =
            || OutboxError::Corrupt { end_to_end_id: ins.end_to_end_id.clone(), reason: "financing id".into() };
        let id = ins.financing_id.as_deref().and_then(|f| f.parse::<U256>().ok()).ok_or_else(corrupt)?;
        let receivables = w.config.receivables.ok_or_else(corrupt)?;
        let _guard = w.chain_lock.lock().await;
        let f = self.read(receivables, &Receivables::getFinancingCall { financingId: id }).await?;
        let reference = payment_reference(&ins.end_to_end_id, ins.bank_reference.as_deref());
        if f.state == FinancingState::Settled as u8 && f.repaymentRef == reference {
            tracing::info!("repayment already confirmed on chain; settled");
            w.outbox.transition(&ins.end_to_end_id, State::Settled, Change::default()).await?;
            return Ok(());
        }
        if f.state != FinancingState::RepaymentDue as u8 {
            let why = format!("bank paid but the financing is in state {} on chain", f.state);
            tracing::error!(problem = %why, "cannot confirm the repayment; needs review");
            return self.review(ins, &why).await;
        }
        let call = Receivables::confirmRepaymentCall { financingId: id, paymentReference: reference };
        match self.write(receivables, &call).await {
            Ok(tx) => {
                tracing::info!(%tx, "repayment confirmed on chain");
                let change = Change { chain_tx: Some(format!("{tx:#x}")), ..Change::default() };
                w.outbox.transition(&ins.end_to_end_id, State::Settled, change).await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, reason = ?e.revert_reason(), "confirmRepayment failed; will retry");
                w.outbox.defer(&ins.end_to_end_id, ins.retries + 1, self.backoff(ins.retries), &e.to_string()).await?;
            }
        }
        Ok(())
    }
}
