//! The settlement worker: one per bank. It follows the chain through JSON-RPC, releases its
//! milestones when they fall due, records each `PaymentDue` addressed to its bank in the
//! outbox, pays it through the bank's rails exactly once, and confirms it on chain.
//!
//! Exactly once, step by step:
//! 1. A `PaymentDue` becomes an outbox row (state `new`) in the same database transaction
//!    that moves the block cursor past it: it is never lost and never recorded twice.
//! 2. Before a request leaves for the bank, the row becomes `sent` (durably). Whatever
//!    happens next (crash, timeout, bank down), a `sent` row is never sent blindly again:
//!    the worker first asks the bank for the status of that EndToEndId and only sends when
//!    the bank has never seen it. The bank also deduplicates by EndToEndId.
//! 3. Only once the bank has booked it (ACSC, ACCC, or a booked debit in its camt.054:
//!    `accepted` here) does the worker send `confirmPayment`, which cannot be undone, signed
//!    with the bank's key, and mark it `settled` only when the receipt shows success, or
//!    when the chain already shows the milestone paid (a crash after confirming). An
//!    instruction the bank has accepted but not booked (ACCP, ACWC, ACSP, PDNG) stays `sent`
//!    and is asked about again later: the bank may still reject it. A rejection becomes
//!    `failPayment` with the ISO reason (see [`crate::payment::RailStatus`] for every
//!    status code and what it leads to).
//! 4. An answer that is malformed, hostile or inconsistent parks the row in `needs_review`
//!    with an error log line; the worker never touches it again.
//!
//! Run exactly one worker per bank key at a time (a second one would race it for the same
//! nonce sequence and the same rows; the bank's EndToEndId deduplication still prevents a
//! double payment, but nothing else arbitrates between two workers).

mod batch;
mod confirmation;
mod cover;
mod examination;
mod notice;
mod repayment;
mod watch;

pub use repayment::repayment_end_to_end_id;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, keccak256};
use alloy::sol_types::SolCall;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::outbox::{Change, Instruction, Outbox, OutboxError, State};
use crate::party::{Party, PartyDirectory};
use crate::payment::RailStatus;
use crate::rails::{RailError, Rails};
use tradechain_chain::signer::{SendError, Signer};
use tradechain_chain::transaction::Sender;
use tradechain_chain::{Chain, ChainError, call_sol, call_sol_many};

/// Contract reads in flight at once where the worker reads many (a block range's orders, the
/// milestones of a batch): the node answers them in parallel.
const READS_AT_ONCE: usize = 32;

/// Reads of one function in one JSON-RPC batch (a release's or a confirmation's milestones).
const READS_PER_BATCH: usize = 100;

/// Such batches in flight at once: the node answers each on one core.
const READ_BATCHES_AT_ONCE: usize = 4;

/// Batched chain transactions (`releasePayments`, `confirmPayments`) of one pass in flight at
/// once. Each touches milestones no other one does, so they need no ordering among
/// themselves; sent together they share blocks (and fsyncs) instead of each waiting for its
/// own, and the next one's reads overlap the last one's mining. The [`Sender`] keeps their
/// nonces in sequence. Single-instruction steps still go one at a time under `chain_lock`.
const CHAIN_TXS_AT_ONCE: usize = 4;

/// Messages to the bank (pain.001 batches) of one pass on their way at once.
const BANK_BATCHES_AT_ONCE: usize = 2;

/// Where the worker deliberately dies, to prove recovery (tests only; `None` in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// Right after the bank answered a payment, before the answer is recorded (the row is
    /// `sent`, the bank has booked it).
    AfterBankAnswer,
    /// Right after recording the bank's acceptance, before confirming on chain.
    BeforeChainConfirm,
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The TradeOrders contract.
    pub trade_orders: Address,
    /// The Receivables contract; `None` ignores payables-finance repayments.
    pub receivables: Option<Address>,
    /// Blocks to wait before trusting a block (0 on the embedded node, which has finality).
    pub confirmations: u64,
    /// First block to read when there is no cursor yet.
    pub start_block: u64,
    /// Most blocks per `eth_getLogs` request.
    pub max_block_range: u64,
    /// Pause between passes when there is nothing to do.
    pub poll_interval: Duration,
    /// Backoff after a transient bank failure: doubles per retry from `initial` up to `max`.
    pub backoff_initial: Duration,
    /// Longest backoff (see `backoff_initial`).
    pub backoff_max: Duration,
    /// Instructions handled concurrently (chain transactions are still sent one at a time).
    pub concurrency: usize,
    /// Most new instructions in one message to the bank (one pain.001).
    pub batch_size: usize,
    /// Most releases or confirmations in one chain transaction (`releasePayments`,
    /// `confirmPayments`): their gas stays within one sender's share of a block.
    pub chain_batch: usize,
    /// Fault injection for recovery tests; `None` in production.
    pub crash_at: Option<CrashPoint>,
    /// The bank's escrow account, where it earmarks its customers' funds for the
    /// undertakings it covers so; `None`: every undertaking is paid at the bank's own risk
    /// (from the bank's own account, the directory's entry for its address).
    pub escrow_account: Option<Party>,
}

impl WorkerConfig {
    /// Defaults for the TradeOrders contract at `trade_orders`: repayments ignored, blocks
    /// trusted at once, from block 0, 1 000 blocks per log query, 500 ms polls, backoff from
    /// 200 ms up to 30 s, 8 instructions at once, 500 transfers per message to the bank and
    /// 100 releases or confirmations per chain transaction.
    pub fn new(trade_orders: Address) -> Self {
        WorkerConfig {
            trade_orders,
            receivables: None,
            confirmations: 0,
            start_block: 0,
            max_block_range: 1_000,
            poll_interval: Duration::from_millis(500),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
            concurrency: 8,
            batch_size: 500,
            chain_batch: 100,
            crash_at: None,
            escrow_account: None,
        }
    }
}

/// Why a pass stopped early; the next pass retries (nothing is lost or sent twice).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The chain's JSON-RPC failed or a contract read reverted.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The outbox database failed, or a row is corrupt.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// An instruction's task panicked or was cancelled.
    #[error("worker task failed: {0}")]
    Task(String),
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    /// New payment instructions recorded in the outbox.
    pub recorded: usize,
    /// Milestones and repayments released on chain.
    pub released: usize,
    /// Open instructions acted on.
    pub handled: usize,
}

impl StepReport {
    /// Nothing was recorded, released or acted on: the worker has nothing left to do now.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.recorded == 0 && self.released == 0 && self.handled == 0
    }
}

struct Inner<R> {
    config: WorkerConfig,
    chain: Arc<dyn Chain>,
    outbox: Outbox,
    rails: R,
    directory: Arc<dyn PartyDirectory>,
    signer: Signer,
    sender: Sender,
    bank: Address,
    bank_id: String,
    chain_id: u64,
    /// Single-instruction chain steps (read the milestone, then write) go one at a time.
    chain_lock: Mutex<()>,
    /// The terms of orders this bank may see, as read once (they never change; see
    /// [`notice::OrderTerms`]): an order is read when its commitment is followed and not
    /// again for its presentations, payments and claims.
    terms: std::sync::Mutex<std::collections::HashMap<alloy::primitives::U256, notice::OrderTerms>>,
}

/// Orders whose terms a worker keeps (about 100 bytes each); past it, it starts afresh.
const TERMS_KEPT: usize = 100_000;

/// A bank's settlement worker (cheap to clone).
pub struct SettlementWorker<R> {
    inner: Arc<Inner<R>>,
}

impl<R> Clone for SettlementWorker<R> {
    fn clone(&self) -> Self {
        SettlementWorker { inner: self.inner.clone() }
    }
}

/// A read's answer, with the contract's `NotEntitled` (an order, financing or consent of other
/// parties) as `None`.
fn entitled<T>(read: Result<T, ChainError>) -> Result<Option<T>, ChainError> {
    match read {
        Ok(r) => Ok(Some(r)),
        Err(ChainError::Rejected(tradechain_chain::Rejection::Reverted { data }))
            if tradechain_contracts::revert::decode(&data).is_some_and(|r| r.name == "NotEntitled") =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The `bytes32` reference confirmed on chain: keccak256 of the bank's reference, or of
/// the EndToEndId when the bank gave none.
pub(crate) fn payment_reference(end_to_end_id: &str, bank_reference: Option<&str>) -> B256 {
    keccak256(bank_reference.unwrap_or(end_to_end_id).as_bytes())
}

use tradechain_money::identifier::end_to_end_id;

fn as_i64<T: TryInto<i64>>(v: T) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

impl<R: Rails> SettlementWorker<R> {
    /// A worker for the bank `signer` signs for (its key, or the node holding it); reads the
    /// chain id from the node.
    pub async fn new(
        config: WorkerConfig,
        chain: Arc<dyn Chain>,
        outbox: Outbox,
        rails: R,
        directory: Arc<dyn PartyDirectory>,
        signer: impl Into<Signer>,
    ) -> Result<Self, WorkerError> {
        let signer = signer.into();
        let chain_id = chain.chain_id();
        let bank = signer.address();
        let inner = Inner {
            config,
            chain,
            outbox,
            rails,
            directory,
            bank_id: format!("{bank:#x}"),
            bank,
            signer,
            sender: Sender::new(),
            chain_id,
            chain_lock: Mutex::new(()),
            terms: std::sync::Mutex::default(),
        };
        Ok(SettlementWorker { inner: Arc::new(inner) })
    }

    pub(crate) fn bank_id(&self) -> &str {
        &self.inner.bank_id
    }

    /// The worker's outbox, to inspect what it recorded.
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// Run passes until `shutdown` resolves; transient errors are logged and retried.
    pub(crate) async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.step().await {
                Ok(r) if !r.is_idle() => Duration::ZERO,
                Ok(_) => self.inner.config.poll_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "settlement pass failed; retrying");
                    self.inner.config.poll_interval
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One pass: follow new blocks, release what fell due, act on open instructions.
    pub async fn step(&self) -> Result<StepReport, WorkerError> {
        let t0 = std::time::Instant::now();
        let head = self.inner.chain.head().await?;
        let recorded = self.follow(head.saturating_sub(self.inner.config.confirmations)).await?;
        let t1 = t0.elapsed();
        let released = self.release_due(head).await?;
        let t2 = t0.elapsed();
        let handled = self.settle().await?;
        let (release, settle) = (t2 - t1, t0.elapsed() - t2);
        tracing::debug!(recorded, released, handled, follow = ?t1, ?release, ?settle, "pass done");
        Ok(StepReport { recorded, released, handled })
    }

    /// A contract read as this bank (the view functions answer their parties).
    async fn read<C: SolCall>(&self, to: Address, call: &C) -> Result<C::Return, ChainError> {
        call_sol(self.inner.chain.as_ref(), self.inner.bank, to, call).await
    }

    /// A contract read this bank may not be entitled to: `None` when the contract says so
    /// (`NotEntitled`, an order, financing or consent of other parties). On a shared chain
    /// the worker sees events of orders that are not its bank's; those are not its to act on.
    async fn read_entitled<C: SolCall>(&self, to: Address, call: &C) -> Result<Option<C::Return>, ChainError> {
        entitled(self.read(to, call).await)
    }

    /// Many reads of one function as this bank, each answered as [`Self::read`] answers it:
    /// sent in batches of [`READS_PER_BATCH`] (one JSON-RPC round trip each), a few batches
    /// at once.
    async fn read_many<C: SolCall + Send + Sync>(
        &self,
        to: Address,
        calls: Vec<C>,
    ) -> Result<Vec<Result<C::Return, ChainError>>, ChainError> {
        let w = &self.inner;
        let mut chunks = Vec::new();
        let mut calls = calls.into_iter().map(|c| (to, c)).peekable();
        while calls.peek().is_some() {
            chunks.push(calls.by_ref().take(READS_PER_BATCH).collect::<Vec<_>>());
        }
        let read = |chunk: Vec<(Address, C)>| async move { call_sol_many(w.chain.as_ref(), w.bank, &chunk).await };
        let read: Vec<Vec<_>> =
            futures_util::stream::iter(chunks).map(read).buffered(READ_BATCHES_AT_ONCE).try_collect().await?;
        Ok(read.into_iter().flatten().collect())
    }

    /// The terms of order `id`: kept, or read now (`None`: not this bank's to see, which is
    /// not kept: an order of other parties is read again if it comes up again).
    async fn order_terms(&self, id: alloy::primitives::U256) -> Result<Option<notice::OrderTerms>, ChainError> {
        entitled(self.terms_of(id).await)
    }

    /// [`Self::order_terms`] of an order this bank must be entitled to see: one it may not
    /// see is refused as the chain refuses it (`NotEntitled`).
    async fn terms_of(&self, id: alloy::primitives::U256) -> Result<notice::OrderTerms, ChainError> {
        let w = &self.inner;
        if let Some(t) = w.terms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&id) {
            return Ok(*t);
        }
        let call = tradechain_contracts::TradeOrders::getOrderCall { orderId: id };
        let terms = notice::OrderTerms::from(&self.read(w.config.trade_orders, &call).await?);
        let mut kept = w.terms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() >= TERMS_KEPT {
            kept.clear();
        }
        kept.insert(id, terms);
        Ok(terms)
    }

    /// A contract call signed for this bank, awaited until mined.
    async fn write<C: SolCall>(&self, to: Address, call: &C) -> Result<B256, SendError> {
        let w = &self.inner;
        w.signer.send(&w.sender, w.chain.as_ref(), to, call.abi_encode().into()).await
    }

    /// Act on every open instruction: new ones in batches to the bank, their bookings in
    /// batches to the chain, the next batch's bank round trip overlapping the previous one's
    /// confirmation (see [`batch`]); every other instruction alone, a few at a time.
    async fn settle(&self) -> Result<usize, WorkerError> {
        let w = &self.inner;
        let open = w.outbox.actionable(&w.bank_id, 5_000).await?;
        let n = open.len();
        let (mut fresh, mut booked, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for ins in open {
            match ins.state() {
                Some(State::New) => fresh.push(ins),
                Some(State::Accepted) if ins.is_on_chain() && !ins.is_repayment() => booked.push(ins),
                _ => rest.push(ins),
            }
        }
        let mut tasks = JoinSet::new();
        if !booked.is_empty() {
            let worker = self.clone();
            tasks.spawn(
                async move { worker.confirm_batch(booked).await }.instrument(tracing::info_span!("confirmations")),
            );
        }
        let permits = Arc::new(Semaphore::new(w.config.concurrency.max(1)));
        for ins in rest {
            let worker = self.clone();
            let permits = permits.clone();
            let span = tracing::info_span!("instruction", end_to_end_id = %ins.end_to_end_id, order = %ins.order_id, milestone = ins.milestone, attempt = ins.attempt);
            tasks.spawn(
                async move {
                    let _permit = permits.acquire_owned().await;
                    worker.handle(ins).await
                }
                .instrument(span),
            );
        }
        let mut first_error = None;
        let size = w.config.batch_size.max(1);
        let mut batches = Vec::new();
        while !fresh.is_empty() {
            let later = fresh.split_off(fresh.len().min(size));
            batches.push(std::mem::replace(&mut fresh, later));
        }
        // Two batches on their way at once: one's bookkeeping (marked sent, answers recorded)
        // overlaps the other's round trip to the bank. Each is exactly-once on its own.
        let mut sends = futures_util::stream::iter(batches)
            .map(|b| {
                let span = tracing::info_span!("batch", transfers = b.len());
                self.send_batch(b).instrument(span)
            })
            .buffer_unordered(BANK_BATCHES_AT_ONCE);
        while let Some(sent) = sends.next().await {
            match sent {
                Ok(to_confirm) if !to_confirm.is_empty() => {
                    let worker = self.clone();
                    let span = tracing::info_span!("confirmations", payments = to_confirm.len());
                    tasks.spawn(async move { worker.confirm_batch(to_confirm).await }.instrument(span));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "batch failed; its rows are picked up where they are next pass");
                    first_error.get_or_insert(e);
                }
            }
        }
        drop(sends);
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "instruction step failed; will retry");
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(WorkerError::Task(e.to_string()));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }

    async fn handle(&self, ins: Instruction) -> Result<(), WorkerError> {
        match ins.state() {
            Some(State::New) => self.send(&ins).await,
            Some(State::Sent) => self.enquire(&ins).await,
            Some(State::Accepted) if !ins.is_on_chain() => self.own_transfer_settled(&ins).await,
            Some(State::Accepted) => self.confirm_on_chain(&ins).await,
            Some(State::Rejected) if !ins.is_on_chain() => {
                let why = Self::own_transfer_refused(&ins);
                tracing::error!(problem = %why, "needs review");
                self.review(&ins, &why).await
            }
            Some(State::Rejected) => self.record_failure_on_chain(&ins).await,
            Some(State::Settled | State::NeedsReview) => Ok(()),
            None => {
                tracing::error!(state = %ins.state, "unknown outbox state; needs review");
                self.review(&ins, &format!("unknown state {}", ins.state)).await
            }
        }
    }

    async fn review(&self, ins: &Instruction, why: &str) -> Result<(), WorkerError> {
        let change = Change { reason: Some(why.chars().take(300).collect()), ..Change::default() };
        self.inner.outbox.transition(&ins.end_to_end_id, State::NeedsReview, change).await?;
        Ok(())
    }

    /// Mark `sent` durably, then pay.
    async fn send(&self, ins: &Instruction) -> Result<(), WorkerError> {
        let w = &self.inner;
        let transfer = match ins.credit_transfer() {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "instruction cannot be turned into a credit transfer; needs review");
                return self.review(ins, &e.to_string()).await;
            }
        };
        let ins = w
            .outbox
            .transition(&ins.end_to_end_id, State::Sent, Change { count_send: true, ..Change::default() })
            .await?;
        tracing::info!(send = ins.send_count, amount = %transfer.amount, creditor = %transfer.creditor.iban, "sending to the bank");
        let answer = w.rails.pay(&transfer).await;
        if w.config.crash_at == Some(CrashPoint::AfterBankAnswer) {
            tracing::error!("fault injection: crashing after the bank answered");
            std::process::abort();
        }
        match answer {
            Ok(status) => self.apply(&ins, status).await,
            Err(e) => self.rail_failed(&ins, e).await,
        }
    }

    /// A `sent` instruction's outcome is unknown: ask the bank before anything else.
    async fn enquire(&self, ins: &Instruction) -> Result<(), WorkerError> {
        let transfer = match ins.credit_transfer() {
            Ok(t) => t,
            Err(e) => return self.review(ins, &e.to_string()).await,
        };
        match self.inner.rails.status(&transfer).await {
            Ok(Some(status)) => {
                tracing::info!(?status, "status enquiry: the bank knows this instruction; not sending again");
                self.apply(ins, status).await
            }
            Ok(None) => {
                tracing::info!("status enquiry: the bank never received it; sending");
                self.send(ins).await
            }
            Err(e) => self.rail_failed(ins, e).await,
        }
    }

    async fn apply(&self, ins: &Instruction, status: RailStatus) -> Result<(), WorkerError> {
        let w = &self.inner;
        match status {
            // Accepted is not booked: nothing irreversible until the bank books it; ask again.
            RailStatus::InFlight { code } => {
                let delay = self.backoff(ins.retries);
                tracing::info!(%code, "the bank has not booked it yet; asking again later");
                let note = format!("{code} at the bank: not booked yet");
                w.outbox.defer(&ins.end_to_end_id, ins.retries + 1, delay, &note).await?;
                Ok(())
            }
            RailStatus::Settled { bank_reference } => {
                let change = Change { bank_reference, ..Change::default() };
                let ins = w.outbox.transition(&ins.end_to_end_id, State::Accepted, change).await?;
                tracing::info!(bank_reference = ?ins.bank_reference, "bank booked the payment");
                if !ins.is_on_chain() {
                    return self.own_transfer_settled(&ins).await;
                }
                if w.config.crash_at == Some(CrashPoint::BeforeChainConfirm) {
                    tracing::error!("fault injection: crashing before confirming on chain");
                    std::process::abort();
                }
                self.confirm_on_chain(&ins).await
            }
            RailStatus::Rejected { reason, detail } => {
                let text = match detail {
                    Some(d) => format!("{reason}: {d}"),
                    None => reason,
                };
                tracing::warn!(reason = %text, "bank rejected the payment");
                let ins = w
                    .outbox
                    .transition(&ins.end_to_end_id, State::Rejected, Change { reason: Some(text), ..Change::default() })
                    .await?;
                if !ins.is_on_chain() {
                    let why = Self::own_transfer_refused(&ins);
                    tracing::error!(problem = %why, "needs review");
                    return self.review(&ins, &why).await;
                }
                // Paid from the escrow: what it reserved there is free again (once: the row
                // becomes `rejected` only here).
                if w.config.escrow_account.as_ref().is_some_and(|e| e.iban.as_str() == ins.debtor_iban)
                    && let Ok(amount) = ins.amount_minor.parse::<u128>()
                {
                    crate::outbox::undraw(&w.outbox, &w.bank_id, &ins.order_id, amount).await?;
                }
                self.record_failure_on_chain(&ins).await
            }
        }
    }

    /// One of the bank's own transfers is booked: nothing to confirm on chain.
    async fn own_transfer_settled(&self, ins: &Instruction) -> Result<(), WorkerError> {
        self.own_transfer_booked(ins).await?;
        self.inner.outbox.transition(&ins.end_to_end_id, State::Settled, Change::default()).await?;
        Ok(())
    }

    fn backoff(&self, retries: i64) -> i64 {
        let c = &self.inner.config;
        let shift = u32::try_from(retries.clamp(0, 20)).unwrap_or(20);
        let ms = c.backoff_initial.as_millis().saturating_mul(1u128 << shift).min(c.backoff_max.as_millis());
        as_i64(ms)
    }

    async fn rail_failed(&self, ins: &Instruction, e: RailError) -> Result<(), WorkerError> {
        if e.is_transient() {
            let delay = self.backoff(ins.retries);
            tracing::warn!(error = %e, retries = ins.retries + 1, delay_ms = delay, "bank unavailable or silent; will ask for the status before any resend");
            self.inner.outbox.defer(&ins.end_to_end_id, ins.retries + 1, delay, &e.to_string()).await?;
            return Ok(());
        }
        tracing::error!(error = %e, "bank answer refused; instruction parked for review, it will not be sent again");
        self.review(ins, &e.to_string()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U256;

    #[test]
    fn end_to_end_id_is_stable_and_short_for_any_order_id() {
        let small = end_to_end_id(7431, U256::from(12), U256::from(1), 2);
        assert_eq!(small.as_str(), "TC7431-12-1-2");
        let huge = end_to_end_id(7431, U256::MAX, U256::from(1), 2);
        assert!(huge.as_str().len() <= 35 && huge.as_str().starts_with("TCH"));
        assert_eq!(huge, end_to_end_id(7431, U256::MAX, U256::from(1), 2));
        assert_ne!(huge, end_to_end_id(7431, U256::MAX, U256::from(1), 3));
    }

    #[test]
    fn payment_reference_prefers_the_bank_reference() {
        assert_eq!(payment_reference("E", Some("B")), keccak256(b"B"));
        assert_eq!(payment_reference("E", None), keccak256(b"E"));
    }
}
