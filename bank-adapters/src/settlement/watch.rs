//! Following the chain: new blocks' `MilestoneTriggered` and `PaymentDue` events become
//! outbox rows (one database transaction per block range, with the cursor), and milestones
//! of this bank are released once the chain's clock reaches their due date. Presentations
//! on orders of this bank (as the buyer's or the seller's bank) are watched through their
//! examination period, see [`super::examination`]; its commitments are covered as they
//! state, see [`super::cover`].
//!
//! A payment is requested for execution on the paying bank's banking day on or after its
//! due date (`TradeOrders.bankingDayOf`, by the bank's holiday calendar on chain): today's,
//! when it is released after its due date, never a date in the past.

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolEvent;
use futures_util::{StreamExt, TryStreamExt, stream};
use tracing::Instrument;
use tradechain_contracts::{MilestoneState, Receivables, TradeOrders};

use super::notice::{Account, Batch, DueNotice, OrderTerms};
use super::{CHAIN_TXS_AT_ONCE, READS_AT_ONCE, SettlementWorker, WorkerError, as_i64, end_to_end_id};
use crate::outbox::{Instruction, KIND_MILESTONE, State, Watch};
use crate::payment::ChargeBearer;
use crate::rails::Rails;
use tradechain_chain::{BlockLog, LogFilter};
use tradechain_money::money::Currency;

impl<R: Rails> SettlementWorker<R> {
    pub(super) async fn follow(&self, safe_head: u64) -> Result<usize, WorkerError> {
        let w = &self.inner;
        let mut from = match w.outbox.cursor(&w.bank_id).await? {
            Some(c) => c + 1,
            None => w.config.start_block,
        };
        let mut recorded = 0;
        while from <= safe_head {
            let to = safe_head.min(from + w.config.max_block_range.max(1) - 1);
            let span = tracing::info_span!("blocks", from, to);
            recorded += self.follow_range(from, to).instrument(span).await?;
            from = to + 1;
        }
        Ok(recorded)
    }

    async fn follow_range(&self, from: u64, to: u64) -> Result<usize, WorkerError> {
        let w = &self.inner;
        let topics = [
            TradeOrders::PaymentDue::SIGNATURE_HASH,
            TradeOrders::MilestoneTriggered::SIGNATURE_HASH,
            TradeOrders::DocumentSubmitted::SIGNATURE_HASH,
            TradeOrders::DocumentAttested::SIGNATURE_HASH,
            TradeOrders::PayerChanged::SIGNATURE_HASH,
            TradeOrders::OrderCommitted::SIGNATURE_HASH,
            TradeOrders::OrderCompleted::SIGNATURE_HASH,
            TradeOrders::OrderExpired::SIGNATURE_HASH,
        ];
        let t0 = std::time::Instant::now();
        let filter = LogFilter { from, to, addresses: vec![w.config.trade_orders], topic0: topics.to_vec() };
        let logs = w.chain.logs(filter).await?;
        let n_logs = logs.len();
        let now = w
            .chain
            .block_header(to)
            .await?
            .map_or_else(|| chrono::Utc::now().timestamp().max(0).cast_unsigned(), |h| h.timestamp);
        let mut batch = Batch { now, ..Batch::default() };
        let t_logs = t0.elapsed();
        self.prefetch_orders(&logs, &mut batch).await?;
        let t_orders = t0.elapsed();
        for log in logs {
            self.read_log(&log, &mut batch).await?;
        }
        if let Some(receivables) = w.config.receivables {
            let topics = [Receivables::RepaymentScheduled::SIGNATURE_HASH, Receivables::RepaymentDue::SIGNATURE_HASH];
            let filter = LogFilter { from, to, addresses: vec![receivables], topic0: topics.to_vec() };
            for log in w.chain.logs(filter).await? {
                self.read_repayment_log(&log, &mut batch).await?;
            }
        }
        let t_read = t0.elapsed();
        let Batch { instructions, watches, covers, .. } = batch;
        let inserted = w.outbox.record_range(&w.bank_id, w.chain_id, to, instructions, watches, covers).await?;
        let (orders, read, record) = (t_orders - t_logs, t_read - t_orders, t0.elapsed() - t_read);
        tracing::debug!(logs = n_logs, inserted, fetch = ?t_logs, ?orders, ?read, ?record, "range followed");
        if inserted > 0 {
            tracing::info!(inserted, "payment instructions recorded");
        }
        Ok(inserted)
    }

    async fn read_log(&self, log: &BlockLog, batch: &mut Batch) -> Result<(), WorkerError> {
        let w = &self.inner;
        if log.log.address != w.config.trade_orders {
            return Ok(());
        }
        match log.log.topics().first() {
            Some(t) if *t == TradeOrders::MilestoneTriggered::SIGNATURE_HASH => {
                match TradeOrders::MilestoneTriggered::decode_raw_log(
                    log.log.topics().iter().copied(),
                    &log.log.data.data,
                ) {
                    Ok(ev) => batch.watches.push(Watch {
                        order_id: ev.orderId.to_string(),
                        milestone: u64::try_from(ev.index).unwrap_or(u64::MAX),
                        due_date: ev.dueDate,
                        financing_id: None,
                        doc_type: None,
                    }),
                    Err(e) => tracing::error!(error = %e, "undecodable MilestoneTriggered log skipped"),
                }
            }
            Some(t) if *t == TradeOrders::PaymentDue::SIGNATURE_HASH => {
                match TradeOrders::PaymentDue::decode_raw_log(log.log.topics().iter().copied(), &log.log.data.data) {
                    Ok(ev) if ev.payer == w.bank => {
                        let order = self.order_in(batch, ev.orderId).await?;
                        let due_date = self.execution_date_in(batch, ev.dueDate).await?;
                        // The buyer's bank pays under its undertaking, as its cover says (the
                        // escrow, or its own account, claiming the buyer back); any other payer
                        // (a financier under payables finance) pays from its own account.
                        let debtor = if ev.payer == order.buyer_bank {
                            self.undertaking_debtor(&ev, batch).await?
                        } else {
                            Account::Member(ev.payer)
                        };
                        batch.instructions.push(self.instruction_for(DueNotice {
                            end_to_end_id: end_to_end_id(w.chain_id, ev.orderId, ev.milestone, ev.attempt),
                            kind: KIND_MILESTONE,
                            financing_id: None,
                            order_id: ev.orderId,
                            milestone: as_i64(ev.milestone),
                            attempt: ev.attempt,
                            payer: ev.payer,
                            payee: ev.payee,
                            debtor,
                            creditor: Account::Member(ev.payee),
                            amount: ev.amount,
                            currency: ev.currency.0,
                            due_date,
                            block: as_i64(log.block),
                            charges: ChargeBearer::from_chain(order.charges).unwrap_or_default(),
                        }));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "undecodable PaymentDue log skipped"),
                }
            }
            Some(t) if *t == TradeOrders::PayerChanged::SIGNATURE_HASH => {
                match TradeOrders::PayerChanged::decode_raw_log(log.log.topics().iter().copied(), &log.log.data.data) {
                    // The milestone is this bank's to pay again (a financing was cancelled, or
                    // its financier payer defaulted): watch it for release, at once if due.
                    Ok(ev) if ev.payer == w.bank => {
                        let call = TradeOrders::getMilestoneCall { orderId: ev.orderId, index: ev.milestone };
                        let m = self.read(w.config.trade_orders, &call).await?;
                        if m.state == MilestoneState::Triggered as u8 {
                            batch.watches.push(Watch {
                                order_id: ev.orderId.to_string(),
                                milestone: u64::try_from(ev.milestone).unwrap_or(u64::MAX),
                                due_date: m.dueDate,
                                financing_id: None,
                                doc_type: None,
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "undecodable PayerChanged log skipped"),
                }
            }
            Some(t)
                if *t == TradeOrders::DocumentSubmitted::SIGNATURE_HASH
                    || *t == TradeOrders::DocumentAttested::SIGNATURE_HASH =>
            {
                self.read_presentation_log(log, batch).await?;
            }
            Some(t) if *t == TradeOrders::OrderCommitted::SIGNATURE_HASH => {
                match TradeOrders::OrderCommitted::decode_raw_log(log.log.topics().iter().copied(), &log.log.data.data)
                {
                    Ok(ev) if ev.buyerBank == w.bank => self.read_commitment(ev.orderId, ev.cover, log, batch).await?,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "undecodable OrderCommitted log skipped"),
                }
            }
            Some(t) if *t == TradeOrders::OrderCompleted::SIGNATURE_HASH => {
                match TradeOrders::OrderCompleted::decode_raw_log(log.log.topics().iter().copied(), &log.log.data.data)
                {
                    Ok(ev) => self.read_order_end(ev.orderId, log, batch).await?,
                    Err(e) => tracing::error!(error = %e, "undecodable OrderCompleted log skipped"),
                }
            }
            Some(t) if *t == TradeOrders::OrderExpired::SIGNATURE_HASH => {
                match TradeOrders::OrderExpired::decode_raw_log(log.log.topics().iter().copied(), &log.log.data.data) {
                    Ok(ev) => self.read_order_end(ev.orderId, log, batch).await?,
                    Err(e) => tracing::error!(error = %e, "undecodable OrderExpired log skipped"),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Read, a few at a time, every order the range's events name (all of them carry the
    /// order id as their first topic), so the handlers below find them in `batch.orders`.
    async fn prefetch_orders(&self, logs: &[BlockLog], batch: &mut Batch) -> Result<(), WorkerError> {
        let w = &self.inner;
        let named = [
            TradeOrders::PaymentDue::SIGNATURE_HASH,
            TradeOrders::OrderCommitted::SIGNATURE_HASH,
            TradeOrders::DocumentSubmitted::SIGNATURE_HASH,
            TradeOrders::DocumentAttested::SIGNATURE_HASH,
        ];
        let mut ids: Vec<U256> = logs
            .iter()
            .filter(|l| l.log.address == w.config.trade_orders)
            .filter(|l| l.log.topics().first().is_some_and(|t| named.contains(t)))
            .filter_map(|l| l.log.topics().get(1).map(|t| U256::from_be_bytes(t.0)))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // The covers of the orders this bank pays in the range, in one query.
        let mut paying: Vec<String> = logs
            .iter()
            .filter(|l| l.log.address == w.config.trade_orders)
            .filter(|l| l.log.topics().first() == Some(&TradeOrders::PaymentDue::SIGNATURE_HASH))
            .filter(|l| l.log.topics().get(2).is_some_and(|t| Address::from_word(*t) == w.bank))
            .filter_map(|l| l.log.topics().get(1).map(|t| U256::from_be_bytes(t.0).to_string()))
            .collect();
        paying.sort_unstable();
        paying.dedup();
        if !paying.is_empty() {
            let mut stored = w.outbox.covers(&w.bank_id, &paying).await?;
            batch.stored_covers.extend(paying.into_iter().map(|o| {
                let c = stored.remove(&o);
                (o, c)
            }));
        }
        let read = |id: U256| async move { Ok::<_, WorkerError>((id, self.order_terms(id).await?)) };
        let orders: Vec<_> = stream::iter(ids).map(read).buffer_unordered(READS_AT_ONCE).try_collect().await?;
        batch.orders.extend(orders);
        Ok(())
    }

    /// The terms of order `id` for the range being read: prefetched, kept, or read now. One
    /// this bank may not see is refused as the chain refuses it.
    pub(super) async fn order_in(&self, batch: &mut Batch, id: U256) -> Result<OrderTerms, WorkerError> {
        if let Some(Some(order)) = batch.orders.get(&id) {
            return Ok(*order);
        }
        let order = self.terms_of(id).await?;
        batch.orders.insert(id, Some(order));
        Ok(order)
    }

    /// [`Self::execution_date`] for a payment due at `due` in the range being read, once per day.
    pub(super) async fn execution_date_in(&self, batch: &mut Batch, due: u64) -> Result<u64, WorkerError> {
        let day = due.max(batch.now) / 86_400;
        if let Some(d) = batch.execution_dates.get(&day) {
            return Ok(*d);
        }
        let d = self.execution_date(due, batch.now).await?;
        batch.execution_dates.insert(day, d);
        Ok(d)
    }

    /// The requested execution date of a payment due at `due`: this bank's banking day on or
    /// after it, or after `now` when it is released late (a bank refuses a date in the past).
    pub(super) async fn execution_date(&self, due: u64, now: u64) -> Result<u64, WorkerError> {
        let w = &self.inner;
        let call = TradeOrders::bankingDayOfCall { bank: w.bank, ts: due.max(now) };
        Ok(self.read(w.config.trade_orders, &call).await?)
    }

    /// The outbox row for a payment this bank owes. Missing account details or an unknown
    /// currency make it `needs_review` at once: nothing is sent on a guess.
    pub(super) fn instruction_for(&self, n: DueNotice) -> Instruction {
        let w = &self.inner;
        let e2e = n.end_to_end_id;
        let debtor = self.account(n.debtor);
        let creditor = self.account(n.creditor);
        let currency = Currency::from_bytes3(n.currency);
        let problem = match (&debtor, &creditor, &currency) {
            (None, _, _) => Some(format!("no account details for the debtor ({})", n.debtor)),
            (_, None, _) => Some(format!("no account details for the creditor ({})", n.creditor)),
            (_, _, Err(e)) => Some(e.to_string()),
            _ => None,
        };
        let now = chrono::Utc::now().timestamp_millis();
        let (state, needs_review_at) = match &problem {
            Some(p) => {
                tracing::error!(end_to_end_id = %e2e, problem = %p, "payment instruction needs review before it can be sent");
                (State::NeedsReview, Some(now))
            }
            None => (State::New, None),
        };
        let (dn, di, db) = debtor.map_or_else(Default::default, |p| (p.name, p.iban.to_string(), p.bic.to_string()));
        let (cn, ci, cb) = creditor.map_or_else(Default::default, |p| (p.name, p.iban.to_string(), p.bic.to_string()));
        Instruction {
            end_to_end_id: e2e.to_string(),
            bank_id: w.bank_id.clone(),
            kind: n.kind.to_string(),
            financing_id: n.financing_id.map(|f| f.to_string()),
            chain_id: as_i64(w.chain_id),
            order_id: n.order_id.to_string(),
            milestone: n.milestone,
            attempt: i64::from(n.attempt),
            payer: format!("{:#x}", n.payer),
            payee: format!("{:#x}", n.payee),
            debtor_name: dn,
            debtor_iban: di,
            debtor_bic: db,
            creditor_name: cn,
            creditor_iban: ci,
            creditor_bic: cb,
            amount_minor: n.amount.to_string(),
            currency: currency.map_or_else(|_| format!("0x{}", hex::encode(n.currency)), |c| c.code().to_string()),
            due_date: as_i64(n.due_date),
            block_number: n.block,
            state: state.as_str().to_string(),
            bank_reference: None,
            reason: problem,
            chain_tx: None,
            send_count: 0,
            retries: 0,
            next_attempt_at: 0,
            created_at: now,
            sent_at: None,
            accepted_at: None,
            settled_at: None,
            rejected_at: None,
            needs_review_at,
            chain_recorded_at: None,
            updated_at: now,
            charges: match n.charges {
                ChargeBearer::Shared => "shared",
                ChargeBearer::Debtor => "debtor",
                ChargeBearer::Creditor => "creditor",
            }
            .into(),
            payment_information_id: None,
        }
    }

    /// Release this bank's triggered milestones whose due date the chain's clock reached.
    pub(super) async fn release_due(&self, head: u64) -> Result<usize, WorkerError> {
        let w = &self.inner;
        let now = match w.chain.block_header(head).await? {
            Some(h) => h.timestamp,
            None => return Ok(0),
        };
        let mut released = 0;
        let (mut candidates, mut due) = (Vec::new(), Vec::new());
        for watch in w.outbox.due_watches(&w.bank_id, now).await? {
            if watch.doc_type.is_some() {
                released += usize::from(self.deem_if_lapsed(&watch).await?);
                continue;
            }
            if watch.financing_id.is_some() {
                released += usize::from(self.release_repayment(&watch).await?);
                continue;
            }
            let (Ok(order_id), Ok(index)) = (watch.order_id.parse::<U256>(), u64::try_from(watch.milestone)) else {
                w.outbox.watch_done(&watch.key).await?;
                continue;
            };
            candidates.push((order_id, U256::from(index), watch.key));
        }
        // Their milestones, read a few at a time: only those still triggered and this bank's
        // to pay are released.
        let t0 = std::time::Instant::now();
        let calls =
            candidates.iter().map(|(o, i, _)| TradeOrders::getMilestoneCall { orderId: *o, index: *i }).collect();
        let states = self.read_many(w.config.trade_orders, calls).await?;
        let t_read = t0.elapsed();
        for ((order_id, index, key), m) in candidates.into_iter().zip(states) {
            let m = super::entitled(m)?;
            match m {
                Some(m) if m.state == MilestoneState::Triggered as u8 && m.payer == w.bank => {
                    due.push((order_id, index, key));
                }
                _ => w.outbox.watch_done(&key).await?,
            }
        }
        // A few transactions in flight at once: they share blocks instead of each waiting
        // for its own (the milestones are distinct, so their order does not matter).
        let size = w.config.chain_batch.max(1);
        let mut batches = Vec::new();
        while !due.is_empty() {
            let rest = due.split_off(due.len().min(size));
            batches.push(std::mem::replace(&mut due, rest));
        }
        // Every batch runs to its end, whatever another's outcome (see `confirm_batch`).
        let counts: Vec<Result<usize, WorkerError>> =
            stream::iter(batches).map(|b| self.release_batch(b)).buffer_unordered(CHAIN_TXS_AT_ONCE).collect().await;
        let counts = counts.into_iter().collect::<Result<Vec<usize>, _>>()?;
        tracing::debug!(read = ?t_read, txs = ?(t0.elapsed() - t_read), "milestones released");
        Ok(released + counts.into_iter().sum::<usize>())
    }

    /// Release milestones in one `releasePayments` transaction; one the chain refuses (someone
    /// released it first, say) fails the whole batch, which is then released one by one.
    async fn release_batch(&self, due: Vec<(U256, U256, String)>) -> Result<usize, WorkerError> {
        let w = &self.inner;
        let call = TradeOrders::releasePaymentsCall {
            orderIds: due.iter().map(|(o, _, _)| *o).collect(),
            indexes: due.iter().map(|(_, i, _)| *i).collect(),
        };
        if due.len() > 1 {
            match self.write(w.config.trade_orders, &call).await {
                Ok(tx) => {
                    tracing::info!(released = due.len(), %tx, "milestones released in one transaction");
                    let keys: Vec<String> = due.into_iter().map(|(_, _, k)| k).collect();
                    w.outbox.watches_done(&keys).await?;
                    return Ok(keys.len());
                }
                Err(e) => {
                    tracing::warn!(error = %e, reason = ?e.revert_reason(), "releasePayments failed; releasing one by one");
                }
            }
        }
        let mut released = 0;
        for (order_id, index, key) in due {
            let call = TradeOrders::releasePaymentCall { orderId: order_id, index };
            match self.write(w.config.trade_orders, &call).await {
                Ok(tx) => {
                    tracing::info!(order = %order_id, milestone = %index, %tx, "milestone released");
                    w.outbox.watch_done(&key).await?;
                    released += 1;
                }
                // Someone else may have released it first; the next pass re-reads its state.
                Err(e) => {
                    tracing::warn!(order = %order_id, milestone = %index, error = %e, reason = ?e.revert_reason(), "release failed");
                }
            }
        }
        Ok(released)
    }
}
