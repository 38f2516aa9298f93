//! The durable store: one redb database file (`<data_dir>/chain.redb`) holding blocks,
//! transactions, receipts (with their logs) and the world state.
//!
//! Each sealed block is committed in ONE redb write transaction with `Durability::Immediate`
//! (fsync before `commit` returns): block, its transactions and receipts, the state diff and the
//! new head land together or not at all. After kill -9 the node reopens at the last committed
//! block. Values are serde_json (blocks, genesis), raw EIP-2718 bytes (transactions), a compact
//! binary receipt encoding, or fixed binary layouts (state); see [`tables`].

use std::path::Path;

use alloy::primitives::{Address, B256, Bytes, U256};
use redb::{Database, ReadableDatabase, ReadableTable};
use revm::bytecode::Bytecode;

use crate::block::SealedBlock;
use crate::genesis::GenesisSpec;
use crate::receipt::StoredReceipt;
use crate::state::{AccountState, StateDiff, WorldState};

/// Table definitions (public so tests and tools can inspect the raw records).
pub mod tables {
    use redb::TableDefinition;
    /// `head` → block number (8 bytes BE); `genesis` → JSON [`crate::genesis::GenesisSpec`].
    pub const META: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("meta");
    /// Block number → JSON [`crate::block::SealedBlock`].
    pub const BLOCKS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("blocks");
    /// Block hash → block number.
    pub const BLOCK_NUMBERS: TableDefinition<'static, &[u8], u64> = TableDefinition::new("block_numbers");
    /// Transaction hash → position (`block << 24 | index`).
    pub const TX_POSITIONS: TableDefinition<'static, &[u8], u64> = TableDefinition::new("tx_positions");
    /// Position → raw EIP-2718 transaction. Keyed by position so a block's records are appended
    /// in order (few dirty pages per commit) and a block's receipts are one range scan.
    pub const TRANSACTIONS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("transactions");
    /// Position → [`crate::receipt::StoredReceipt::encode`] (compact binary).
    pub const RECEIPTS: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("receipts");
    /// Address → 72-byte account record: nonce (8, BE) ‖ balance (32, BE) ‖ code hash (32).
    pub const ACCOUNTS: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("accounts");
    /// Code hash → code.
    pub const CODE: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("code");
    /// Address (20) ‖ slot (32, BE) → value (32, BE); zero values are not stored.
    pub const STORAGE: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("storage");
}
use tables::*;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// redb failed: I/O, a locked file (another process has the data directory open), or a
    /// damaged database.
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// A record is readable but does not decode; the data directory was damaged or tampered with.
    #[error("corrupt record in {table} ({key}): {reason}")]
    Corrupt {
        /// The table holding the record (see [`tables`]).
        table: &'static str,
        /// Which record, readably.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A block or the genesis spec could not be (de)serialized as JSON.
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

fn dbe<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(e.into())
}

/// One block's records, ready to be committed.
pub struct BlockWrite<'a> {
    /// The sealed block; it becomes the new head.
    pub block: &'a SealedBlock,
    /// Hash and raw EIP-2718 bytes of each transaction, in block order.
    pub transactions: Vec<(B256, &'a Bytes)>,
    /// One receipt per transaction, in block order.
    pub receipts: &'a [StoredReceipt],
    /// The block's state changes.
    pub diff: &'a StateDiff,
    /// Only for block 0.
    pub genesis: Option<&'a GenesisSpec>,
}

/// The redb-backed store.
pub struct Store {
    db: Database,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// redb's page cache. redb keeps every page a commit writes in its read cache until the cache
/// is full, 1 GiB by default, so a busy node's memory climbed with its file (peak RSS 426 and
/// 526 MB after 60 s of 800 creations a second, against 312 and 319 MB with this bound; CPU
/// the same within the noise). The world state is read from memory, not from here: what is
/// read here is recent blocks and receipts, which the bound keeps, and older ones, which the
/// operating system's page cache serves.
const CACHE_BYTES: usize = 64 << 20;

/// Where a transaction sits: `block << 24 | index` (at most 2^24 transactions per block).
pub(crate) fn position(block: u64, index: u32) -> u64 {
    (block << 24) | u64::from(index & 0x00ff_ffff)
}

fn storage_key(address: &Address, slot: &U256) -> [u8; 52] {
    let mut k = [0u8; 52];
    k[..20].copy_from_slice(address.as_slice());
    k[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    k
}

impl Store {
    /// Open (or create) `<data_dir>/chain.redb`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        crate::config::create_private_dir(data_dir).map_err(|e| dbe(redb::StorageError::Io(e)))?;
        let db = Database::builder().set_cache_size(CACHE_BYTES).create(data_dir.join("chain.redb")).map_err(dbe)?;
        crate::config::restrict_file(&data_dir.join("chain.redb")).map_err(|e| dbe(redb::StorageError::Io(e)))?;
        let tx = db.begin_write().map_err(dbe)?;
        {
            tx.open_table(META).map_err(dbe)?;
            tx.open_table(BLOCKS).map_err(dbe)?;
            tx.open_table(BLOCK_NUMBERS).map_err(dbe)?;
            tx.open_table(TRANSACTIONS).map_err(dbe)?;
            tx.open_table(TX_POSITIONS).map_err(dbe)?;
            tx.open_table(RECEIPTS).map_err(dbe)?;
            tx.open_table(ACCOUNTS).map_err(dbe)?;
            tx.open_table(CODE).map_err(dbe)?;
            tx.open_table(STORAGE).map_err(dbe)?;
        }
        tx.commit().map_err(dbe)?;
        Ok(Self { db })
    }

    /// The underlying database (tests and tools).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Number of the last committed block, if any.
    pub(crate) fn head(&self) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(META).map_err(dbe)?;
        let Some(v) = t.get("head").map_err(dbe)? else { return Ok(None) };
        let bytes: [u8; 8] = v.value().try_into().map_err(|_| StoreError::Corrupt {
            table: "meta",
            key: "head".into(),
            reason: "not 8 bytes".into(),
        })?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// The genesis specification recorded at block 0.
    pub(crate) fn genesis(&self) -> Result<Option<GenesisSpec>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(META).map_err(dbe)?;
        let Some(v) = t.get("genesis").map_err(dbe)? else { return Ok(None) };
        Ok(Some(serde_json::from_slice(v.value())?))
    }

    /// Commit one sealed block durably.
    pub fn commit_block(&self, w: BlockWrite<'_>) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(dbe)?;
        {
            let mut meta = tx.open_table(META).map_err(dbe)?;
            let mut blocks = tx.open_table(BLOCKS).map_err(dbe)?;
            let mut numbers = tx.open_table(BLOCK_NUMBERS).map_err(dbe)?;
            let mut positions = tx.open_table(TX_POSITIONS).map_err(dbe)?;
            let mut txs = tx.open_table(TRANSACTIONS).map_err(dbe)?;
            let mut receipts = tx.open_table(RECEIPTS).map_err(dbe)?;
            let number = w.block.header.number;
            blocks.insert(number, serde_json::to_vec(w.block)?.as_slice()).map_err(dbe)?;
            numbers.insert(w.block.hash.as_slice(), number).map_err(dbe)?;
            for (i, (hash, raw)) in w.transactions.iter().enumerate() {
                let pos = position(number, i as u32);
                positions.insert(hash.as_slice(), pos).map_err(dbe)?;
                txs.insert(pos, raw.as_ref()).map_err(dbe)?;
            }
            for r in w.receipts {
                receipts.insert(position(number, r.index), r.encode().as_slice()).map_err(dbe)?;
            }
            if let Some(g) = w.genesis {
                meta.insert("genesis", serde_json::to_vec(g)?.as_slice()).map_err(dbe)?;
            }
            meta.insert("head", number.to_be_bytes().as_slice()).map_err(dbe)?;
            drop((meta, blocks, numbers, positions, txs, receipts));
            write_diff(&tx, w.diff)?;
        }
        tx.commit().map_err(dbe)?;
        Ok(())
    }

    /// A block by number.
    pub fn block(&self, number: u64) -> Result<Option<SealedBlock>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(BLOCKS).map_err(dbe)?;
        let Some(v) = t.get(number).map_err(dbe)? else { return Ok(None) };
        serde_json::from_slice(v.value()).map(Some).map_err(|e| StoreError::Corrupt {
            table: "blocks",
            key: number.to_string(),
            reason: e.to_string(),
        })
    }

    /// A block number by block hash.
    pub(crate) fn block_number(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(BLOCK_NUMBERS).map_err(dbe)?;
        Ok(t.get(hash.as_slice()).map_err(dbe)?.map(|v| v.value()))
    }

    /// The position of a sealed transaction.
    pub fn position(&self, hash: &B256) -> Result<Option<u64>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(TX_POSITIONS).map_err(dbe)?;
        Ok(t.get(hash.as_slice()).map_err(dbe)?.map(|v| v.value()))
    }

    /// A raw transaction by hash.
    pub fn transaction(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let Some(pos) = tx.open_table(TX_POSITIONS).map_err(dbe)?.get(hash.as_slice()).map_err(dbe)?.map(|v| v.value())
        else {
            return Ok(None);
        };
        let t = tx.open_table(TRANSACTIONS).map_err(dbe)?;
        Ok(t.get(pos).map_err(dbe)?.map(|v| Bytes::copy_from_slice(v.value())))
    }

    /// A receipt by transaction hash.
    pub fn receipt(&self, hash: &B256) -> Result<Option<StoredReceipt>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let Some(pos) = tx.open_table(TX_POSITIONS).map_err(dbe)?.get(hash.as_slice()).map_err(dbe)?.map(|v| v.value())
        else {
            return Ok(None);
        };
        let t = tx.open_table(RECEIPTS).map_err(dbe)?;
        let Some(v) = t.get(pos).map_err(dbe)? else { return Ok(None) };
        decode_receipt(pos, v.value()).map(Some)
    }

    /// All receipts of block `number`, in order (one range scan).
    pub fn block_receipts(&self, number: u64) -> Result<Vec<StoredReceipt>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(RECEIPTS).map_err(dbe)?;
        let mut out = Vec::new();
        for entry in t.range(position(number, 0)..position(number + 1, 0)).map_err(dbe)? {
            let (k, v) = entry.map_err(dbe)?;
            out.push(decode_receipt(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Raw transactions of block `number`, in order (one range scan).
    pub(crate) fn block_transactions(&self, number: u64) -> Result<Vec<Bytes>, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let t = tx.open_table(TRANSACTIONS).map_err(dbe)?;
        let mut out = Vec::new();
        for entry in t.range(position(number, 0)..position(number + 1, 0)).map_err(dbe)? {
            out.push(Bytes::copy_from_slice(entry.map_err(dbe)?.1.value()));
        }
        Ok(out)
    }

    /// Load the whole world state into memory.
    pub(crate) fn load_state(&self) -> Result<WorldState, StoreError> {
        let tx = self.db.begin_read().map_err(dbe)?;
        let mut state = WorldState::default();
        let corrupt = |table, key: &[u8], reason: &str| StoreError::Corrupt {
            table,
            key: hex::encode(key),
            reason: reason.into(),
        };
        let accounts = tx.open_table(ACCOUNTS).map_err(dbe)?;
        for entry in accounts.iter().map_err(dbe)? {
            let (k, v) = entry.map_err(dbe)?;
            let (k, v) = (k.value(), v.value());
            if k.len() != 20 {
                return Err(corrupt("accounts", k, "key not 20 bytes"));
            }
            let a = AccountState::decode(v).ok_or_else(|| corrupt("accounts", k, "value not 72 bytes"))?;
            state.accounts.insert(Address::from_slice(k), a);
        }
        let code = tx.open_table(CODE).map_err(dbe)?;
        for entry in code.iter().map_err(dbe)? {
            let (k, v) = entry.map_err(dbe)?;
            if k.value().len() != 32 {
                return Err(corrupt("code", k.value(), "key not 32 bytes"));
            }
            state.code.insert(B256::from_slice(k.value()), Bytecode::new_raw(Bytes::copy_from_slice(v.value())));
        }
        let storage = tx.open_table(STORAGE).map_err(dbe)?;
        for entry in storage.iter().map_err(dbe)? {
            let (k, v) = entry.map_err(dbe)?;
            let (k, v) = (k.value(), v.value());
            if k.len() != 52 || v.len() != 32 {
                return Err(corrupt("storage", k, "bad key or value length"));
            }
            state
                .storage
                .entry(Address::from_slice(&k[..20]))
                .or_default()
                .insert(U256::from_be_slice(&k[20..]), U256::from_be_slice(v));
        }
        if let Some(head) = self.head()? {
            for n in head.saturating_sub(crate::state::BLOCK_HASH_WINDOW - 1)..=head {
                if let Some(b) = self.block(n)? {
                    state.record_block_hash(n, b.hash);
                }
            }
        }
        Ok(state)
    }

    /// Dev-mode revert: delete blocks after `keep`, their transactions and receipts, and replace
    /// the stored state with `state`. One write transaction.
    pub(crate) fn truncate(&self, keep: u64, state: &WorldState) -> Result<(), StoreError> {
        let head = self.head()?.unwrap_or(0);
        let mut doomed = Vec::new();
        for n in keep + 1..=head {
            if let Some(b) = self.block(n)? {
                doomed.push(b);
            }
        }
        let tx = self.db.begin_write().map_err(dbe)?;
        {
            let mut blocks = tx.open_table(BLOCKS).map_err(dbe)?;
            let mut numbers = tx.open_table(BLOCK_NUMBERS).map_err(dbe)?;
            let mut positions = tx.open_table(TX_POSITIONS).map_err(dbe)?;
            let mut txs = tx.open_table(TRANSACTIONS).map_err(dbe)?;
            let mut receipts = tx.open_table(RECEIPTS).map_err(dbe)?;
            for b in &doomed {
                blocks.remove(b.header.number).map_err(dbe)?;
                numbers.remove(b.hash.as_slice()).map_err(dbe)?;
                for (i, h) in b.transactions.iter().enumerate() {
                    let pos = position(b.header.number, i as u32);
                    positions.remove(h.as_slice()).map_err(dbe)?;
                    txs.remove(pos).map_err(dbe)?;
                    receipts.remove(pos).map_err(dbe)?;
                }
            }
            let mut meta = tx.open_table(META).map_err(dbe)?;
            meta.insert("head", keep.to_be_bytes().as_slice()).map_err(dbe)?;
        }
        for def in [ACCOUNTS, CODE, STORAGE] {
            tx.delete_table(def).map_err(dbe)?;
        }
        {
            let mut accounts = tx.open_table(ACCOUNTS).map_err(dbe)?;
            for (a, s) in &state.accounts {
                accounts.insert(a.as_slice(), s.encode().as_slice()).map_err(dbe)?;
            }
            let mut code = tx.open_table(CODE).map_err(dbe)?;
            for (h, c) in &state.code {
                code.insert(h.as_slice(), c.original_byte_slice()).map_err(dbe)?;
            }
            let mut storage = tx.open_table(STORAGE).map_err(dbe)?;
            for (a, slots) in &state.storage {
                for (k, v) in slots {
                    storage.insert(storage_key(a, k).as_slice(), v.to_be_bytes::<32>().as_slice()).map_err(dbe)?;
                }
            }
        }
        tx.commit().map_err(dbe)?;
        Ok(())
    }
}

fn decode_receipt(pos: u64, bytes: &[u8]) -> Result<StoredReceipt, StoreError> {
    StoredReceipt::decode(bytes).ok_or_else(|| StoreError::Corrupt {
        table: "receipts",
        key: format!("block {} index {}", pos >> 24, pos & 0x00ff_ffff),
        reason: "malformed receipt encoding".into(),
    })
}

fn write_diff(tx: &redb::WriteTransaction, diff: &StateDiff) -> Result<(), StoreError> {
    let mut accounts = tx.open_table(ACCOUNTS).map_err(dbe)?;
    let mut code = tx.open_table(CODE).map_err(dbe)?;
    let mut storage = tx.open_table(STORAGE).map_err(dbe)?;
    for (hash, bytes) in &diff.code {
        code.insert(hash.as_slice(), bytes.as_ref()).map_err(dbe)?;
    }
    for (address, account) in &diff.accounts {
        match account {
            Some(a) => accounts.insert(address.as_slice(), a.encode().as_slice()).map_err(dbe)?,
            None => accounts.remove(address.as_slice()).map_err(dbe)?,
        };
    }
    for (address, change) in &diff.storage {
        if change.cleared {
            let lo = storage_key(address, &U256::ZERO);
            let hi = storage_key(address, &U256::MAX);
            storage.retain_in(lo.as_slice()..=hi.as_slice(), |_, _| false).map_err(dbe)?;
        }
        for (slot, value) in &change.slots {
            let key = storage_key(address, slot);
            if value.is_zero() {
                storage.remove(key.as_slice()).map_err(dbe)?;
            } else {
                storage.insert(key.as_slice(), value.to_be_bytes::<32>().as_slice()).map_err(dbe)?;
            }
        }
    }
    Ok(())
}
