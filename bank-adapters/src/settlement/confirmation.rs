//! The chain side of a payment: `confirmPayment` once the bank has booked it, `failPayment`
//! once it has refused it, each idempotent against what the chain already shows.

use alloy::primitives::{FixedBytes, U256};
use tradechain_contracts::{MilestoneState, TradeOrders};

use super::{SettlementWorker, WorkerError, payment_reference};
use crate::outbox::{Change, Instruction, OutboxError, State};
use crate::rails::Rails;

/// The order and milestone index an instruction pays.
pub(super) fn milestone_of(ins: &Instruction) -> Result<(U256, U256), OutboxError> {
    let corrupt =
        |what: &str| OutboxError::Corrupt { end_to_end_id: ins.end_to_end_id.clone(), reason: what.to_string() };
    let order = ins.order_id.parse::<U256>().map_err(|_| corrupt("order id"))?;
    let index = U256::from(u64::try_from(ins.milestone).map_err(|_| corrupt("milestone"))?);
    Ok((order, index))
}

impl<R: Rails> SettlementWorker<R> {
    pub(super) async fn milestone(
        &self,
        ins: &Instruction,
    ) -> Result<(U256, U256, TradeOrders::Milestone), WorkerError> {
        let w = &self.inner;
        let (order, index) = milestone_of(ins)?;
        let m = self.read(w.config.trade_orders, &TradeOrders::getMilestoneCall { orderId: order, index }).await?;
        Ok((order, index, m))
    }

    /// Send `confirmPayment`; settled once the receipt succeeds or the chain shows it paid.
    pub(super) async fn confirm_on_chain(&self, ins: &Instruction) -> Result<(), WorkerError> {
        if ins.is_repayment() {
            return self.confirm_repayment(ins).await;
        }
        let w = &self.inner;
        let _guard = w.chain_lock.lock().await;
        let (order, index, m) = self.milestone(ins).await?;
        let reference = payment_reference(&ins.end_to_end_id, ins.bank_reference.as_deref());
        let attempt_matches = i64::from(m.attempts) == ins.attempt;
        if m.state == MilestoneState::Paid as u8 && attempt_matches {
            tracing::info!("milestone already paid on chain; settled");
            // Recorded before the row settles (and once, by its EndToEndId): a crash
            // between the two cannot lose the bank's claim.
            self.claim_reimbursement(ins).await?;
            w.outbox.transition(&ins.end_to_end_id, State::Settled, Change::default()).await?;
            return Ok(());
        }
        if m.state != MilestoneState::Due as u8 || !attempt_matches {
            let why = format!("bank paid but the milestone is in state {} (attempt {}) on chain", m.state, m.attempts);
            tracing::error!(problem = %why, "cannot confirm; needs review");
            return self.review(ins, &why).await;
        }
        let call = TradeOrders::confirmPaymentCall { orderId: order, index, paymentReference: reference };
        match self.write(w.config.trade_orders, &call).await {
            Ok(tx) => {
                tracing::info!(%tx, "payment confirmed on chain");
                self.claim_reimbursement(ins).await?;
                let change = Change { chain_tx: Some(format!("{tx:#x}")), ..Change::default() };
                w.outbox.transition(&ins.end_to_end_id, State::Settled, change).await?;
                Ok(())
            }
            Err(e) => {
                let delay = self.backoff(ins.retries);
                tracing::warn!(error = %e, reason = ?e.revert_reason(), "confirmPayment failed; will retry");
                w.outbox.defer(&ins.end_to_end_id, ins.retries + 1, delay, &e.to_string()).await?;
                Ok(())
            }
        }
    }

    /// Send `failPayment` with the bank's reason, so the parties see the failed payment.
    pub(super) async fn record_failure_on_chain(&self, ins: &Instruction) -> Result<(), WorkerError> {
        if ins.is_repayment() {
            let why = format!(
                "bank rejected the repayment ({}); there is no on-chain failure for repayments",
                ins.reason.as_deref().unwrap_or("no reason")
            );
            tracing::error!(problem = %why, "repayment refused; needs review");
            return self.review(ins, &why).await;
        }
        let w = &self.inner;
        let _guard = w.chain_lock.lock().await;
        let (order, index, m) = self.milestone(ins).await?;
        let recorded = Change { chain_recorded: true, ..Change::default() };
        // Recorded already: this attempt failed (or ended in a default, after which a financier
        // payer hands the milestone back to the buyer's bank, triggered again), or a later
        // attempt was released.
        let ended = [MilestoneState::Failed, MilestoneState::Defaulted, MilestoneState::Triggered];
        let this_attempt = i64::from(m.attempts) == ins.attempt;
        if this_attempt && ended.iter().any(|s| *s as u8 == m.state) || i64::from(m.attempts) > ins.attempt {
            w.outbox.transition(&ins.end_to_end_id, State::Rejected, recorded).await?;
            return Ok(());
        }
        if m.state != MilestoneState::Due as u8 {
            let why = format!("bank rejected but the milestone is in state {} on chain", m.state);
            tracing::error!(problem = %why, "cannot record the failure; needs review");
            return self.review(ins, &why).await;
        }
        let (code, mut reason) = reason_code(ins.reason.as_deref());
        reason.truncate(reason.char_indices().nth(280).map_or(reason.len(), |(i, _)| i));
        let call = TradeOrders::failPaymentCall {
            orderId: order,
            index,
            paymentReference: payment_reference(&ins.end_to_end_id, None),
            reasonCode: FixedBytes(code),
            reason,
        };
        match self.write(w.config.trade_orders, &call).await {
            Ok(tx) => {
                tracing::info!(%tx, "failed payment recorded on chain");
                let change = Change { chain_tx: Some(format!("{tx:#x}")), ..recorded };
                w.outbox.transition(&ins.end_to_end_id, State::Rejected, change).await?;
                Ok(())
            }
            Err(e) => {
                let delay = self.backoff(ins.retries);
                tracing::warn!(error = %e, reason = ?e.revert_reason(), "failPayment failed; will retry");
                w.outbox.defer(&ins.end_to_end_id, ins.retries + 1, delay, &e.to_string()).await?;
                Ok(())
            }
        }
    }
}

/// The ISO 20022 status reason code and words of a rejection as the outbox keeps it
/// (`AM04: insufficient funds`, or the code alone). A reason without a valid code is
/// `NARR` (narrative: the reason is in the words), so the chain always gets a code.
fn reason_code(stored: Option<&str>) -> ([u8; 4], String) {
    let text = stored.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("rejected by the bank");
    let (head, rest) = text.split_once(':').map_or((text, ""), |(h, r)| (h.trim(), r.trim()));
    let b = head.as_bytes();
    if b.len() == 4 && b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        let words = if rest.is_empty() { head.to_string() } else { rest.to_string() };
        ([b[0], b[1], b[2], b[3]], words)
    } else {
        (*b"NARR", text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::reason_code;

    #[test]
    fn a_rejection_gives_the_chain_its_iso_code_and_words() {
        assert_eq!(reason_code(Some("AM04: insufficient funds")), (*b"AM04", "insufficient funds".to_string()));
        assert_eq!(reason_code(Some("AC04")), (*b"AC04", "AC04".to_string()));
        // No valid code: narrative, with the whole text as the words.
        assert_eq!(reason_code(Some("am04: lower case")), (*b"NARR", "am04: lower case".to_string()));
        assert_eq!(reason_code(Some("account closed")), (*b"NARR", "account closed".to_string()));
        assert_eq!(reason_code(None), (*b"NARR", "rejected by the bank".to_string()));
        assert_eq!(reason_code(Some("  ")), (*b"NARR", "rejected by the bank".to_string()));
    }
}
