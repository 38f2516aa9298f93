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

/// What the pool lets in and what one block may take from one sender.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    /// Most transactions waiting in all.
    pub(crate) max_txs: usize,
    /// How far ahead of its sender's next nonce a transaction may wait.
    pub(crate) max_nonce_gap: u64,
    /// Most transactions one sender may have waiting.
    pub(crate) per_sender: usize,
    /// Most raw bytes one sender may have waiting.
    pub(crate) bytes_per_sender: usize,
    /// Most gas (by gas limit) one sender's transactions may take in one block.
    pub(crate) sender_block_gas: u64,
}

/// The transaction pool.
#[derive(Debug)]
pub(crate) struct Mempool {
    by_sender: HashMap<Address, BTreeMap<u64, Entry>>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// Raw bytes waiting, per sender.
    bytes: HashMap<Address, usize>,
    next_seq: u64,
    limits: PoolLimits,
}

impl Mempool {
    /// An empty pool with these limits.
    pub(crate) fn new(limits: PoolLimits) -> Self {
        Self { by_sender: HashMap::new(), by_hash: HashMap::new(), bytes: HashMap::new(), next_seq: 0, limits }
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
        let limits = self.limits;
        if nonce - state_nonce > limits.max_nonce_gap {
            return Err(TxRejection::NonceTooHigh {
                sender: tx.sender,
                expected: state_nonce,
                got: nonce,
                gap: limits.max_nonce_gap,
            });
        }
        if self.by_hash.len() >= limits.max_txs {
            return Err(TxRejection::PoolFull(limits.max_txs));
        }
        let waiting = self.by_sender.get(&tx.sender).map_or(0, BTreeMap::len);
        if waiting >= limits.per_sender {
            return Err(TxRejection::SenderLimit {
                sender: tx.sender,
                pending: format!("{waiting} transactions"),
                max: format!("{} transactions", limits.per_sender),
            });
        }
        let bytes = self.bytes.get(&tx.sender).copied().unwrap_or(0);
        if bytes + tx.raw.len() > limits.bytes_per_sender {
            return Err(TxRejection::SenderLimit {
                sender: tx.sender,
                pending: format!("{} bytes", bytes + tx.raw.len()),
                max: format!("{} bytes", limits.bytes_per_sender),
            });
        }
        let queue = self.by_sender.entry(tx.sender).or_default();
        if queue.contains_key(&nonce) {
            return Err(TxRejection::ReplacementNotSupported { sender: tx.sender, nonce });
        }
        self.by_hash.insert(tx.hash, (tx.sender, nonce));
        *self.bytes.entry(tx.sender).or_default() += tx.raw.len();
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
    /// its state nonce, interleaved across senders in arrival order, no sender taking more
    /// than its share of the block's gas (the rest of its run waits for the next block); and
    /// whether executable transactions were left for want of room (the count reached, a
    /// sender's share spent): a backlog, which waiting cannot make a bigger block of.
    pub(crate) fn select(&self, max: usize, state_nonce: impl Fn(&Address) -> u64) -> (Vec<Arc<PendingTx>>, bool) {
        let mut gas: HashMap<Address, u64> = HashMap::new();
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &self.by_sender {
            let n = state_nonce(sender);
            if let Some(e) = queue.get(&n) {
                heap.push(Reverse((e.seq, *sender, n)));
            }
        }
        let (mut out, mut left) = (Vec::new(), false);
        while out.len() < max {
            let Some(Reverse((_, sender, n))) = heap.pop() else { break };
            let Some(queue) = self.by_sender.get(&sender) else { continue };
            if let Some(e) = queue.get(&n) {
                let used = gas.entry(sender).or_default();
                if *used + e.tx.gas_limit() > self.limits.sender_block_gas {
                    left = true;
                    continue;
                }
                *used += e.tx.gas_limit();
                out.push(e.tx.clone());
            }
            if let Some(next) = queue.get(&(n + 1)) {
                heap.push(Reverse((next.seq, sender, n + 1)));
            }
        }
        (out, left || !heap.is_empty())
    }

    /// Remove transactions by hash (sealed, or found invalid).
    pub(crate) fn remove(&mut self, hashes: impl IntoIterator<Item = B256>) {
        for hash in hashes {
            if let Some((sender, nonce)) = self.by_hash.remove(&hash)
                && let Some(queue) = self.by_sender.get_mut(&sender)
            {
                if let Some(e) = queue.remove(&nonce)
                    && let Some(b) = self.bytes.get_mut(&sender)
                {
                    *b = b.saturating_sub(e.tx.raw.len());
                }
                if queue.is_empty() {
                    self.by_sender.remove(&sender);
                    self.bytes.remove(&sender);
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
        self.bytes.clear();
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
    const POOL: PoolLimits = PoolLimits {
        max_txs: 100,
        max_nonce_gap: 10,
        per_sender: 100,
        bytes_per_sender: 1 << 20,
        sender_block_gas: 1_000_000,
    };

    fn tx(signer: &PrivateKeySigner, nonce: u64) -> Arc<PendingTx> {
        let t =
            TxEip1559 { chain_id: 1, nonce, gas_limit: 21_000, to: TxKind::Call(Address::ZERO), ..Default::default() };
        let sig = signer.sign_hash_sync(&t.signature_hash()).expect("sign");
        Arc::new(admit(&TxEnvelope::from(t.into_signed(sig)).encoded_2718(), &LIMITS).expect("ok"))
    }

    #[test]
    fn selection_follows_nonces_and_arrival() {
        let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let mut pool = Mempool::new(POOL);
        pool.insert(tx(&a, 1), 0).expect("gap allowed");
        pool.insert(tx(&b, 0), 0).expect("b0");
        let (picked, left) = pool.select(10, |_| 0);
        assert_eq!((picked.len(), left), (1, false), "a1 waits for a0: not a backlog either");
        pool.insert(tx(&a, 0), 0).expect("a0");
        let picked: Vec<_> = pool.select(10, |_| 0).0.iter().map(|t| (t.sender, t.nonce())).collect();
        assert_eq!(picked, vec![(b.address(), 0), (a.address(), 0), (a.address(), 1)]);
        assert!(!pool.select(3, |_| 0).1, "all three fit: nothing left");
        assert!(pool.select(2, |_| 0).1, "one left for want of room");
        assert_eq!(pool.pending_nonce(&a.address(), 0), 2);
    }

    #[test]
    fn replays_stale_and_far_nonces_are_rejected() {
        let a = PrivateKeySigner::random();
        let mut pool = Mempool::new(POOL);
        let t = tx(&a, 3);
        pool.insert(t.clone(), 3).expect("first");
        assert_eq!(pool.insert(t, 3), Err(TxRejection::AlreadyKnown));
        assert!(matches!(pool.insert(tx(&a, 2), 3), Err(TxRejection::NonceTooLow { .. })));
        assert!(matches!(pool.insert(tx(&a, 50), 3), Err(TxRejection::NonceTooHigh { .. })));
    }

    /// The attack: one account queues transactions (or bytes) until the pool, the blocks
    /// and the disk are its own. Its own queue fills; others still get in.
    #[test]
    fn one_sender_cannot_fill_the_pool_or_a_block() {
        let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
        let mut pool = Mempool::new(PoolLimits { per_sender: 3, sender_block_gas: 50_000, ..POOL });
        for n in 0..3 {
            pool.insert(tx(&a, n), 0).expect("within its share");
        }
        assert!(matches!(pool.insert(tx(&a, 3), 0), Err(TxRejection::SenderLimit { .. })), "a fourth waits its turn");
        pool.insert(tx(&b, 0), 0).expect("another sender still gets in");
        // 21000 gas each: two of a's fit its 50000 share of a block, the third waits.
        let (picked, left) = pool.select(10, |_| 0);
        let picked: Vec<_> = picked.iter().map(|t| (t.sender, t.nonce())).collect();
        assert_eq!(picked, vec![(a.address(), 0), (a.address(), 1), (b.address(), 0)]);
        assert!(left, "a's third is left for want of room");

        // Signatures differ in length by a byte or so: the cap fits any two in a row exactly.
        let len = |n: u64| tx(&a, n).raw.len();
        let cap = (len(0) + len(1)).max(len(1) + len(2));
        let mut pool = Mempool::new(PoolLimits { bytes_per_sender: cap, ..POOL });
        pool.insert(tx(&a, 0), 0).expect("first");
        pool.insert(tx(&a, 1), 0).expect("second");
        assert!(matches!(pool.insert(tx(&a, 2), 0), Err(TxRejection::SenderLimit { .. })), "bytes cap");
        pool.remove([tx(&a, 0).hash]);
        pool.insert(tx(&a, 2), 0).expect("room again once one is sealed");
    }
}
