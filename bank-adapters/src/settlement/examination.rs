//! Deemed acceptance without anyone chasing it (UCP 600 art. 16(f)): a bank that does not
//! refuse a complying presentation within its examination period is precluded from
//! claiming it does not comply. The contract lets anyone record that once the period has
//! passed; a seller who does not know to call an endpoint would otherwise wait forever on
//! a silent bank. So each bank's worker watches the presentations on its orders (as the
//! buyer's bank, whose silence it is, or the seller's bank, whose customer waits) and, on
//! its first pass after the period, sends `deemAccepted`.
//!
//! A presentation's period is known when it becomes examinable: at `DocumentSubmitted`
//! for documents the seller issues, at `DocumentAttested` for those its named carrier or
//! inspector attests. Before acting, the worker reads the document again: a refusal, an
//! acceptance or a newer presentation in the meantime ends the watch without a
//! transaction.

use alloy::primitives::U256;
use alloy::sol_types::SolEvent;
use tradechain_contracts::{DocState, TradeOrders};

use super::notice::Batch;
use super::{SettlementWorker, WorkerError};
use crate::outbox::{Watch, watch};
use crate::rails::Rails;
use tradechain_chain::BlockLog;

impl<R: Rails> SettlementWorker<R> {
    /// A presentation that became examinable: watch it if the order is this bank's.
    pub(super) async fn read_presentation_log(&self, log: &BlockLog, batch: &mut Batch) -> Result<(), WorkerError> {
        let w = &self.inner;
        let (topics, data) = (log.log.topics().iter().copied(), &log.log.data.data);
        let (order_id, doc_type, examine_by) = match log.log.topics().first() {
            Some(t) if *t == TradeOrders::DocumentSubmitted::SIGNATURE_HASH => {
                match TradeOrders::DocumentSubmitted::decode_raw_log(topics, data) {
                    Ok(ev) => (ev.orderId, ev.docType, ev.examineBy),
                    Err(e) => {
                        tracing::error!(error = %e, "undecodable DocumentSubmitted log skipped");
                        return Ok(());
                    }
                }
            }
            _ => match TradeOrders::DocumentAttested::decode_raw_log(topics, data) {
                Ok(ev) => (ev.orderId, ev.docType, ev.examineBy),
                Err(e) => {
                    tracing::error!(error = %e, "undecodable DocumentAttested log skipped");
                    return Ok(());
                }
            },
        };
        // Zero: it waits for its issuer's attestation, which starts the period.
        if examine_by == 0 {
            return Ok(());
        }
        let order = match batch.orders.get(&order_id) {
            Some(cached) => *cached,
            None => {
                let order = self.order_terms(order_id).await?;
                batch.orders.insert(order_id, order);
                order
            }
        };
        let Some(order) = order else { return Ok(()) };
        if order.buyer_bank != w.bank && order.seller_bank != w.bank {
            return Ok(());
        }
        batch.watches.push(Watch {
            order_id: order_id.to_string(),
            milestone: 0,
            // Deemed acceptance takes effect after the last second of the period.
            due_date: examine_by.saturating_add(1),
            financing_id: None,
            doc_type: Some(doc_type),
        });
        Ok(())
    }

    /// The period of a watched presentation has passed: record its deemed acceptance if it
    /// is still the same presentation, unanswered. Returns whether a transaction was sent.
    pub(super) async fn deem_if_lapsed(&self, watch: &watch::Model) -> Result<bool, WorkerError> {
        let w = &self.inner;
        let parsed = (watch.order_id.parse::<U256>(), watch.doc_type.and_then(|d| u8::try_from(d).ok()));
        let (Ok(order_id), Some(doc_type)) = parsed else {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        };
        let call = TradeOrders::getDocumentCall { orderId: order_id, docType: doc_type };
        let Some(d) = self.read_entitled(w.config.trade_orders, &call).await? else {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        };
        let same_presentation = i64::try_from(d.examineBy).is_ok_and(|e| e.saturating_add(1) == watch.due_date);
        if d.state != DocState::Submitted as u8 || !d.attested || !same_presentation {
            w.outbox.watch_done(&watch.key).await?;
            return Ok(false);
        }
        let _guard = w.chain_lock.lock().await;
        let call = TradeOrders::deemAcceptedCall { orderId: order_id, docType: doc_type };
        match self.write(w.config.trade_orders, &call).await {
            Ok(tx) => {
                tracing::info!(order = %order_id, doc_type, %tx, "examination period lapsed: deemed accepted");
                w.outbox.watch_done(&watch.key).await?;
                Ok(true)
            }
            // The other bank of the order may have recorded it first; the next pass re-reads.
            Err(e) => {
                tracing::warn!(order = %order_id, doc_type, error = %e, reason = ?e.revert_reason(), "deemAccepted failed");
                Ok(false)
            }
        }
    }
}
