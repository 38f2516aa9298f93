//! The block producer: seals a block every `block_interval_ms`, or at once when the pool holds
//! `max_block_txs` transactions. (In automine mode submission seals directly; the producer only
//! handles empty blocks if `empty_blocks` is set.)

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
                _ = self.wait_for_work() => {}
            }
            loop {
                let node = self.clone();
                let force = node.config().empty_blocks;
                let sealed = tokio::task::spawn_blocking(move || node.seal_next(force, None)).await;
                match sealed {
                    Ok(Ok(Some(_))) if self.pool_len() >= self.config().max_block_txs => continue,
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
