//! Transactions waiting for a block: per sender, ordered by nonce; across senders, by arrival.
//!
//! The pool lives in memory only. A transaction admitted but not yet sealed into a block is lost
//! on kill -9; its client never saw a receipt for it (acknowledgment of inclusion = receipt).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use alloy::primitives::{Address, B256};

use crate::transaction::{PendingTx, TxRejection};

#[derive(Debug)]
struct Entry {
    seq: u64,
    tx: Arc<PendingTx>,
}

/// The transaction pool.
#[derive(Debug, Default)]
pub(crate) struct Mempool {
    by_sender: HashMap<Address, BTreeMap<u64, Entry>>,
    by_hash: HashMap<B256, (Address, u64)>,
    next_seq: u64,
    max_txs: usize,
    max_nonce_gap: u64,
}

impl Mempool {
    /// An empty pool holding at most `max_txs`, each at most `max_nonce_gap` ahead of its
    /// sender's next nonce.
    pub(crate) fn new(max_txs: usize, max_nonce_gap: u64) -> Self {
        Self { max_txs, max_nonce_gap, ..Default::default() }
    }

    /// Number of waiting transactions.
    pub(crate) fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the transaction `hash` is waiting here.
    pub(crate) fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// A pending transaction by hash.
    pub(crate) fn get(&self, hash: &B256) -> Option<Arc<PendingTx>> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.by_sender.get(sender)?.get(nonce).map(|e| e.tx.clone())
    }

    /// Admit `tx`, whose sender's next nonce in the committed state is `state_nonce`.
    pub(crate) fn insert(&mut self, tx: Arc<PendingTx>, state_nonce: u64) -> Result<(), TxRejection> {
        if self.by_hash.contains_key(&tx.hash) {
            return Err(TxRejection::AlreadyKnown);
        }
        let nonce = tx.nonce();
        if nonce < state_nonce {
            return Err(TxRejection::NonceTooLow { sender: tx.sender, expected: state_nonce, got: nonce });
        }
        if nonce - state_nonce > self.max_nonce_gap {
            return Err(TxRejection::NonceTooHigh {
                sender: tx.sender,
                expected: state_nonce,
                got: nonce,
                gap: self.max_nonce_gap,
            });
        }
        if self.by_hash.len() >= self.max_txs {
            return Err(TxRejection::PoolFull(self.max_txs));
        }
        let queue = self.by_sender.entry(tx.sender).or_default();
        if queue.contains_key(&nonce) {
            return Err(TxRejection::ReplacementNotSupported { sender: tx.sender, nonce });
        }
        self.by_hash.insert(tx.hash, (tx.sender, nonce));
        queue.insert(nonce, Entry { seq: self.next_seq, tx });
        self.next_seq += 1;
        Ok(())
    }

    /// The next nonce for `sender` counting its contiguous pending transactions.
    pub(crate) fn pending_nonce(&self, sender: &Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(queue) = self.by_sender.get(sender) {
            for n in queue.range(state_nonce..).map(|(n, _)| *n) {
                if n != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// Up to `max` executable transactions: each sender's run of consecutive nonces starting at
    /// its state nonce, interleaved across senders in arrival order.
    pub(crate) fn select(&self, max: usize, state_nonce: impl Fn(&Address) -> u64) -> Vec<Arc<PendingTx>> {
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let n = state_nonce(sender);
            if let Some(e) = queue.get(&n) {
                heap.push(Reverse((e.seq, *sender, n)));
            }
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(Reverse((_, sender, n))) = heap.pop() else { break };
            let Some(queue) = self.by_sender.get(&sender) else { continue };
            if let Some(e) = queue.get(&n) {
                out.push(e.tx.clone());
            }
            if let Some(next) = queue.get(&(n + 1)) {
                heap.push(Reverse((next.seq, sender, n + 1)));
            }
        }
        out
    }

    /// Remove transactions by hash (sealed, or found invalid).
    pub(crate) fn remove(&mut self, hashes: impl IntoIterator<Item = B256>) {
        for hash in hashes {
            if let Some((sender, nonce)) = self.by_hash.remove(&hash)
                && let Some(queue) = self.by_sender.get_mut(&sender)
            {
                queue.remove(&nonce);
                if queue.is_empty() {
                    self.by_sender.remove(&sender);
                }
            }
        }
    }

    /// Drop transactions whose nonce is below their sender's state nonce (they can never run).
    pub(crate) fn prune(&mut self, state_nonce: impl Fn(&Address) -> u64) {
        let mut stale = Vec::new();
        for (sender, queue) in &self.by_sender {
            let n = state_nonce(sender);
            stale.extend(queue.range(..n).map(|(_, e)| e.tx.hash));
        }
        self.remove(stale);
    }

    /// Forget everything (dev-mode revert).
    pub(crate) fn clear(&mut self) {
        self.by_sender.clear();
        self.by_hash.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::{Limits, admit};
    use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy::eips::eip2718::Encodable2718;
    use alloy::primitives::TxKind;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    const LIMITS: Limits = Limits { chain_id: 1, max_tx_bytes: 4096, block_gas_limit: 1_000_000 };

    fn tx(signer: &PrivateKeySigner, nonce: u64) -> Arc<PendingTx> {
        let t =
            TxEip1559 { chain_id: 1, nonce, gas_limit: 21_000, to: TxKind::Call(Address::ZERO), ..Default::default() };
        let sig = signer.sign_hash_sync(&t.signature_hash()).expect("sign");
        Arc::new(admit(&TxEnvelope::from(t.into_signed(sig)).encoded_2718(), &LIMITS).expect("ok"))
    }

    #[test]
    fn selection_follows_nonces_and_arrival() {
        let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let mut pool = Mempool::new(100, 10);
        pool.insert(tx(&a, 1), 0).expect("gap allowed");
        pool.insert(tx(&b, 0), 0).expect("b0");
        assert_eq!(pool.select(10, |_| 0).len(), 1, "a1 waits for a0");
        pool.insert(tx(&a, 0), 0).expect("a0");
        let picked: Vec<_> = pool.select(10, |_| 0).iter().map(|t| (t.sender, t.nonce())).collect();
        assert_eq!(picked, vec![(b.address(), 0), (a.address(), 0), (a.address(), 1)]);
        assert_eq!(pool.pending_nonce(&a.address(), 0), 2);
    }

    #[test]
    fn replays_stale_and_far_nonces_are_rejected() {
        let a = PrivateKeySigner::random();
        let mut pool = Mempool::new(100, 10);
        let t = tx(&a, 3);
        pool.insert(t.clone(), 3).expect("first");
        assert_eq!(pool.insert(t, 3), Err(TxRejection::AlreadyKnown));
        assert!(matches!(pool.insert(tx(&a, 2), 3), Err(TxRejection::NonceTooLow { .. })));
        assert!(matches!(pool.insert(tx(&a, 50), 3), Err(TxRejection::NonceTooHigh { .. })));
    }
}
