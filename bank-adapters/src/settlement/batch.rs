//! Settling in bulk, as a bank does: new instructions go to the bank in batches (one
//! pain.001 with one payment information block per debtor account and date), and the
//! bookings it reports are confirmed on chain in batches (one `confirmPayments` transaction
//! each). The bank's round trip of one batch overlaps the chain confirmation of the one
//! before it (pipelined).
//!
//! Exactly once holds per instruction, as when each is sent alone: a whole batch is marked
//! `sent` in one database transaction before its message leaves; a booking is recorded
//! (`accepted`) before it is confirmed on chain; a row is `settled` only from a successful
//! receipt or a chain that already shows its milestone paid. A crash anywhere in a batch
//! leaves each row where the single path would have left it, and the next pass picks each
//! up from there (a status enquiry for `sent`, a confirmation for `accepted`). A batch the
//! chain refuses as a whole (`confirmPayments` never half-applies) is confirmed one by one.

use std::collections::HashMap;

use alloy::primitives::U256;
use futures_util::{StreamExt, TryStreamExt, stream};
use sha2::{Digest, Sha256};
use tradechain_contracts::{MilestoneState, TradeOrders};

use super::confirmation::milestone_of;
use super::{CHAIN_TXS_AT_ONCE, CrashPoint, READS_AT_ONCE, SettlementWorker, WorkerError, payment_reference};
use crate::outbox::{Change, Instruction, KIND_REIMBURSEMENT, State};
use crate::payment::{CreditTransfer, RailStatus};
use crate::rails::Rails;

/// A name for a batch's payment information blocks: 24 hex digits unique per batch, so
/// `{batch}-{n}` stays within `PmtInfId`'s 35 characters.
fn batch_name(first: &str) -> String {
    let mut h = Sha256::new();
    h.update(first.as_bytes());
    h.update(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default().to_be_bytes());
    hex::encode(&h.finalize()[..12])
}

/// What one payment information block states for all its transfers.
fn block_key(t: &CreditTransfer) -> (String, chrono::NaiveDate, bool, &'static str) {
    (t.debtor.iban.to_string(), t.requested_execution_date, t.is_sepa(), t.charge_bearer_code())
}

impl<R: Rails> SettlementWorker<R> {
    /// Send `rows` (all `new`) to the bank as one batch and record its answers. Answers the
    /// rows it booked whose milestone is still to be confirmed on chain; everything else is
    /// handled here as the single path handles it.
    pub(super) async fn send_batch(&self, rows: Vec<Instruction>) -> Result<Vec<Instruction>, WorkerError> {
        let w = &self.inner;
        let name = rows.first().map(|r| batch_name(&r.end_to_end_id)).unwrap_or_default();
        let alone = rows.len() == 1;
        let mut blocks: HashMap<_, usize> = HashMap::new();
        let mut marks = Vec::with_capacity(rows.len());
        let mut transfers = Vec::with_capacity(rows.len());
        for ins in &rows {
            let mut transfer = match ins.credit_transfer() {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(end_to_end_id = %ins.end_to_end_id, error = %e, "instruction cannot be turned into a credit transfer; needs review");
                    self.review(ins, &e.to_string()).await?;
                    continue;
                }
            };
            let next = blocks.len();
            let n = *blocks.entry(block_key(&transfer)).or_insert(next);
            transfer.payment_information_id = (!alone).then(|| format!("{name}-{n}"));
            marks.push((ins.end_to_end_id.clone(), transfer.payment_information_id.clone()));
            transfers.push(transfer);
        }
        if transfers.is_empty() {
            return Ok(Vec::new());
        }
        let tp = std::time::Instant::now();
        let sent = w.outbox.mark_sent(&marks).await?;
        let t_mark = tp.elapsed();
        tracing::info!(transfers = transfers.len(), blocks = blocks.len(), "sending a batch to the bank");
        let answers = w.rails.pay_batch(&transfers).await;
        let t_bank = tp.elapsed();
        if w.config.crash_at == Some(CrashPoint::AfterBankAnswer) {
            tracing::error!("fault injection: crashing after the bank answered a batch");
            std::process::abort();
        }
        let mut booked = Vec::new();
        for (ins, answer) in sent.iter().zip(answers) {
            match answer {
                Ok(RailStatus::Settled { bank_reference }) => {
                    booked.push((ins.end_to_end_id.clone(), Change { bank_reference, ..Change::default() }));
                }
                Ok(other) => self.apply(ins, other).await?,
                Err(e) => self.rail_failed(ins, e).await?,
            }
        }
        let accepted = w.outbox.transition_many(State::Accepted, booked).await?;
        let (bank, record) = (t_bank - t_mark, tp.elapsed() - t_bank);
        tracing::debug!(transfers = transfers.len(), mark = ?t_mark, ?bank, ?record, "batch answered");
        if !accepted.is_empty() {
            tracing::info!(booked = accepted.len(), "the bank booked the batch");
        }
        if !accepted.is_empty() && w.config.crash_at == Some(CrashPoint::BeforeChainConfirm) {
            tracing::error!("fault injection: crashing before confirming a batch on chain");
            std::process::abort();
        }
        let mut to_confirm = Vec::new();
        let mut reimbursed = Vec::new();
        for ins in accepted {
            if ins.kind == KIND_REIMBURSEMENT {
                // A claim paid back: nothing else follows from it; settled with the others.
                reimbursed.push((ins.end_to_end_id.clone(), Change::default()));
            } else if !ins.is_on_chain() {
                self.own_transfer_settled(&ins).await?;
            } else if ins.is_repayment() {
                self.confirm_on_chain(&ins).await?;
            } else {
                to_confirm.push(ins);
            }
        }
        w.outbox.transition_many(State::Settled, reimbursed).await?;
        Ok(to_confirm)
    }

    /// Confirm booked milestone payments on chain, `chain_batch` per transaction.
    pub(super) async fn confirm_batch(&self, rows: Vec<Instruction>) -> Result<(), WorkerError> {
        let size = self.inner.config.chain_batch.max(1);
        let mut rows = rows;
        let mut chunks = Vec::new();
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(size));
            chunks.push(std::mem::replace(&mut rows, rest));
        }
        // Every chunk runs to its end, whatever another's outcome: one dropped half-way
        // would leave its mined transaction unrecorded until the next pass.
        let done: Vec<Result<(), WorkerError>> =
            stream::iter(chunks).map(|c| self.confirm_chunk(c)).buffer_unordered(CHAIN_TXS_AT_ONCE).collect().await;
        done.into_iter().collect()
    }

    async fn confirm_chunk(&self, rows: Vec<Instruction>) -> Result<(), WorkerError> {
        let w = &self.inner;
        let tp = std::time::Instant::now();
        let mut paid = Vec::new();
        let mut due: Vec<(Instruction, U256, U256)> = Vec::new();
        // Each milestone as the chain shows it now, read in batches.
        let ids = rows.iter().map(milestone_of).collect::<Result<Vec<_>, _>>()?;
        let calls = ids.iter().map(|(o, i)| TradeOrders::getMilestoneCall { orderId: *o, index: *i }).collect();
        // A read refused (the bank suspended meanwhile, say) fails the chunk: its rows stay
        // `accepted` and are confirmed in a later pass. A booked payment is never parked for
        // want of a read.
        let states = self.read_many(w.config.trade_orders, calls).await?.into_iter().collect::<Result<Vec<_>, _>>()?;
        for ((ins, (order, index)), m) in rows.into_iter().zip(ids).zip(states) {
            let attempt_matches = i64::from(m.attempts) == ins.attempt;
            if m.state == MilestoneState::Paid as u8 && attempt_matches {
                paid.push((ins, None));
            } else if m.state == MilestoneState::Due as u8 && attempt_matches {
                due.push((ins, order, index));
            } else {
                let why =
                    format!("bank paid but the milestone is in state {} (attempt {}) on chain", m.state, m.attempts);
                tracing::error!(end_to_end_id = %ins.end_to_end_id, problem = %why, "cannot confirm; needs review");
                self.review(&ins, &why).await?;
            }
        }
        let t_read = tp.elapsed();
        if !due.is_empty() {
            let call = TradeOrders::confirmPaymentsCall {
                orderIds: due.iter().map(|(_, o, _)| *o).collect(),
                indexes: due.iter().map(|(_, _, i)| *i).collect(),
                refs: due
                    .iter()
                    .map(|(ins, _, _)| payment_reference(&ins.end_to_end_id, ins.bank_reference.as_deref()))
                    .collect(),
            };
            match self.write(w.config.trade_orders, &call).await {
                Ok(tx) => {
                    tracing::info!(%tx, confirmed = due.len(), "payments confirmed on chain in one transaction");
                    let tx = format!("{tx:#x}");
                    paid.extend(due.into_iter().map(|(ins, _, _)| (ins, Some(tx.clone()))));
                }
                Err(e) => {
                    // All or nothing on chain: nothing of it applied. One by one, each meets
                    // its own outcome (and its own backoff).
                    tracing::warn!(error = %e, reason = ?e.revert_reason(), "confirmPayments failed; confirming one by one");
                    for (ins, _, _) in &due {
                        self.confirm_on_chain(ins).await?;
                    }
                    return self.settle_paid(paid).await;
                }
            }
        }
        let t_tx = tp.elapsed();
        let n = paid.len();
        let r = self.settle_paid(paid).await;
        let (tx, settle) = (t_tx - t_read, tp.elapsed() - t_tx);
        tracing::debug!(payments = n, read = ?t_read, ?tx, ?settle, "batch confirmed");
        r
    }

    /// Rows whose milestone the chain shows paid: each `settled` together with the bank's
    /// claim on the buyer where it paid at its own risk (recorded once, by its EndToEndId),
    /// all in one database transaction, so neither exists without the other.
    async fn settle_paid(&self, paid: Vec<(Instruction, Option<String>)>) -> Result<(), WorkerError> {
        let claim = |(ins, tx): (Instruction, Option<String>)| async move {
            let claim = self.reimbursement_claim(&ins).await?;
            Ok::<_, WorkerError>((ins, tx, claim))
        };
        let read: Vec<_> = stream::iter(paid).map(claim).buffered(READS_AT_ONCE).try_collect().await?;
        let mut changes = Vec::with_capacity(read.len());
        let mut claims = Vec::new();
        for (ins, tx, claim) in read {
            claims.extend(claim);
            changes.push((ins.end_to_end_id.clone(), Change { chain_tx: tx, ..Change::default() }));
        }
        if !claims.is_empty() {
            tracing::info!(claims = claims.len(), "paid at the bank's risk: the buyers reimburse it");
        }
        self.inner.outbox.settle_with(changes, claims).await?;
        Ok(())
    }
}
