//! The block producer. Group commit: a transaction reaching an idle producer is sealed
//! `batch_window_ms` later with everything that arrived meanwhile, and while a block is being
//! sealed and made durable the next ones gather, to be sealed together at once after it (and
//! so is a backlog bigger than a block, block after block); so a write waits for one fsync
//! shared with its neighbours, never for a timer. A pool holding
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
        let window = Duration::from_millis(self.config().batch_window_ms);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = self.wait_for_work() => {
                    // Group commit: gather what arrives within the window into this block,
                    // unless the pool fills a block already.
                    if !window.is_zero() && self.pool_len() < self.config().max_block_txs {
                        tokio::time::sleep(window).await;
                    }
                }
            }
            loop {
                let node = self.clone();
                let force = node.config().empty_blocks;
                let sealed = tokio::task::spawn_blocking(move || node.seal_next(force, None)).await;
                match sealed {
                    // What is left (a block full by count or gas, or what arrived while it
                    // was made durable) is sealed at once: nothing new may come to wake the
                    // producer, and the rest would wait for the interval. Not after an empty
                    // block: what is left cannot be sealed yet (a nonce gap), and with
                    // `empty_blocks` this would seal empty blocks without end.
                    Ok(Ok(Some(o))) if !o.block.transactions.is_empty() && self.pool_len() > 0 => continue,
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
}
