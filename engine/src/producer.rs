//! The block producer. Group commit: a transaction reaching an idle producer is sealed
//! `batch_window_ms` later with everything that arrived meanwhile, and while a block is being
//! sealed and made durable the next ones gather, to be sealed together one window after it
//! (a backlog, for which the last block had no room, at once); so a write waits for one
//! fsync shared with its neighbours, never for a timer. With `batch_window_max_ms` above the
//! window (off by default), while transactions keep arriving (the pool grew in the last
//! window) the producer waits one window more, up to that long: under a stream of writes,
//! blocks are fewer and bigger (each costs the engine and the indexer about a millisecond
//! of CPU whatever it holds), at the price of each write's latency, which a closed loop of
//! writers pays in its pace; a lone write waits one window only. A pool holding
//! `max_block_txs` seals at once; `block_interval_ms` is the longest any transaction waits
//! (and the pace of empty blocks, with `empty_blocks`). In automine mode submission seals
//! directly.

use std::time::Duration;

use crate::node::Node;

impl Node {
    /// Start the sealing loop on the current tokio runtime.
    pub fn spawn_producer(&self) -> tokio::task::JoinHandle<()> {
        let node = self.clone();
        tokio::spawn(async move { node.produce().await })
    }

    async fn produce(self) {
        let interval = Duration::from_millis(self.config().block_interval_ms.max(1));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.wait_for_work() => self.gather().await,
            }
            loop {
                let node = self.clone();
                let force = node.config().empty_blocks;
                let sealed = tokio::task::spawn_blocking(move || node.seal_next(force, None)).await;
                match sealed {
                    // What is left (a block full by count or gas, or what arrived while it
                    // was made durable) is sealed next, without waiting to be woken: nothing
                    // new may come to wake the producer, and the rest would wait for the
                    // interval. Not after an empty
                    // block: what is left cannot be sealed yet (a nonce gap), and with
                    // `empty_blocks` this would seal empty blocks without end.
                    Ok(Ok(Some(o))) if !o.block.transactions.is_empty() && self.pool_len() > 0 => {
                        // A backlog (no room in this block) goes on at once: waiting cannot
                        // make the next block bigger. What only arrived meanwhile gathers.
                        if !o.backlog {
                            self.gather().await;
                        }
                        continue;
                    }
                    Ok(Ok(_)) => break,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "sealing failed");
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "sealing task failed");
                        break;
                    }
                }
            }
        }
    }

    /// Group commit's wait before a block: one batch window, and one more while the pool
    /// grew in the last (writes arriving faster than blocks are sealed), up to
    /// `batch_window_max_ms` in all, unless the pool fills a block first. What was left
    /// after a block (it arrived while the block was made durable) waits one window, and
    /// more only if others keep arriving.
    async fn gather(&self) {
        let config = self.config();
        let window = Duration::from_millis(config.batch_window_ms);
        if window.is_zero() {
            return;
        }
        // Never longer than the interval, the longest a transaction is to wait.
        let most = config.batch_window_max_ms.max(config.batch_window_ms).min(config.block_interval_ms.max(1));
        let most = Duration::from_millis(most);
        let started = tokio::time::Instant::now();
        let mut seen = self.pool_len();
        while seen < config.max_block_txs {
            tokio::time::sleep(window).await;
            let now = self.pool_len();
            if now <= seen || started.elapsed() + window > most {
                break;
            }
            seen = now;
        }
    }
}
