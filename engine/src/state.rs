//! The world state revm executes against, and the per-block state diff.
//!
//! The whole state (accounts, code, storage) is kept in memory ([`WorldState`]) and written
//! through to the store one block diff at a time; it is loaded from the store at start-up.
//!
//! State commitment: instead of a Merkle-Patricia state root, each block carries
//! `state_root = keccak256(parent.state_root ‖ diff.digest())`, where `StateDiff::digest` is a
//! keccak256 over the block's state changes in a canonical (sorted) encoding. It is
//! deterministic, so `verify` recomputes it on replay, and it chains every block's changes;
//! `verify` also compares the final replayed state with the stored state entry by entry.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use revm::bytecode::Bytecode;
use revm::primitives::{AddressMap, KECCAK_EMPTY};
use revm::state::{Account, AccountInfo};
use revm::{Database, DatabaseCommit, DatabaseRef};

/// How many recent block hashes BLOCKHASH can see.
pub(crate) const BLOCK_HASH_WINDOW: u64 = 256;

/// An account as stored: nonce, balance and code hash (code lives in [`WorldState::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AccountState {
    pub(crate) nonce: u64,
    pub(crate) balance: U256,
    pub(crate) code_hash: B256,
}

impl AccountState {
    fn from_info(info: &AccountInfo) -> Self {
        Self { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash }
    }

    /// Fixed 72-byte encoding: nonce (8, BE) ‖ balance (32, BE) ‖ code hash (32).
    pub(crate) fn encode(&self) -> [u8; 72] {
        let mut out = [0u8; 72];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..].copy_from_slice(self.code_hash.as_slice());
        out
    }

    /// Inverse of [`AccountState::encode`]; `None` if the length is wrong.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 72 {
            return None;
        }
        let nonce = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        let balance = U256::from_be_slice(&bytes[8..40]);
        let code_hash = B256::from_slice(&bytes[40..]);
        Some(Self { nonce, balance, code_hash })
    }
}

/// Shards of one account's storage: a hash map that grows moves everything it holds at
/// once, and the suite's contract keeps tens of slots per order. Held in one map, its slots
/// doubled in one step on the sealing thread (tens of milliseconds at half a million slots,
/// with the fresh pages faulted in), and every write waiting for a block waited for it: the
/// open loop's worst 10 s of a 60 s run. In [`Slots::SHARDS`] maps by the slot's low bits
/// (mapping slots are keccak256 outputs, spread evenly), each grows in steps a sixty-fourth
/// that size.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    shards: Vec<HashMap<U256, U256>>,
}

impl Slots {
    const SHARDS: usize = 64;

    fn shard(slot: &U256) -> usize {
        // The low limb's low bits; `SHARDS` is a power of two.
        (slot.as_limbs()[0] as usize) & (Self::SHARDS - 1)
    }

    /// The value of `slot`, if set.
    pub(crate) fn get(&self, slot: &U256) -> Option<&U256> {
        self.shards.get(Self::shard(slot))?.get(slot)
    }

    /// Set `slot` to `value`.
    pub(crate) fn insert(&mut self, slot: U256, value: U256) {
        if self.shards.is_empty() {
            self.shards.resize_with(Self::SHARDS, HashMap::new);
        }
        let i = Self::shard(&slot);
        self.shards[i].insert(slot, value);
    }

    /// Forget `slot`.
    pub(crate) fn remove(&mut self, slot: &U256) {
        let i = Self::shard(slot);
        if let Some(shard) = self.shards.get_mut(i) {
            shard.remove(slot);
        }
    }

    /// Whether no slot is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty)
    }

    /// Every slot set and its value, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&U256, &U256)> {
        self.shards.iter().flat_map(HashMap::iter)
    }
}

impl<'a> IntoIterator for &'a Slots {
    type Item = (&'a U256, &'a U256);
    type IntoIter = Box<dyn Iterator<Item = (&'a U256, &'a U256)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// The complete world state, in memory.
#[derive(Debug, Default, Clone)]
pub struct WorldState {
    pub(crate) accounts: HashMap<Address, AccountState>,
    pub(crate) code: HashMap<B256, Bytecode>,
    pub(crate) storage: HashMap<Address, Slots>,
    /// Hashes of the last [`BLOCK_HASH_WINDOW`] blocks, for BLOCKHASH (not part of the state).
    pub(crate) block_hashes: HashMap<u64, B256>,
}

impl PartialEq for WorldState {
    /// States are equal when accounts, code bytes and non-zero storage agree.
    fn eq(&self, other: &Self) -> bool {
        let nonzero = |s: &HashMap<Address, Slots>| -> BTreeMap<(Address, U256), U256> {
            s.iter()
                .flat_map(|(a, slots)| slots.iter().map(move |(k, v)| ((*a, *k), *v)))
                .filter(|(_, v)| !v.is_zero())
                .collect()
        };
        let code = |c: &HashMap<B256, Bytecode>| -> BTreeMap<B256, Bytes> {
            c.iter().map(|(h, b)| (*h, b.original_bytes())).collect()
        };
        self.accounts == other.accounts
            && code(&self.code) == code(&other.code)
            && nonzero(&self.storage) == nonzero(&other.storage)
    }
}

impl WorldState {
    /// Next nonce of `address` (0 for unknown accounts).
    pub(crate) fn nonce(&self, address: &Address) -> u64 {
        self.accounts.get(address).map_or(0, |a| a.nonce)
    }

    /// Balance of `address`, in wei.
    pub fn balance(&self, address: &Address) -> U256 {
        self.accounts.get(address).map_or(U256::ZERO, |a| a.balance)
    }

    /// Deployed code of `address` (empty for accounts without code).
    pub fn code_of(&self, address: &Address) -> Bytes {
        self.accounts
            .get(address)
            .and_then(|a| self.code.get(&a.code_hash))
            .map(Bytecode::original_bytes)
            .unwrap_or_default()
    }

    /// Storage slot value.
    pub(crate) fn storage_at(&self, address: &Address, slot: &U256) -> U256 {
        self.storage.get(address).and_then(|s| s.get(slot)).copied().unwrap_or_default()
    }

    /// Apply a block's diff.
    pub fn apply(&mut self, diff: &StateDiff) {
        for (hash, code) in &diff.code {
            self.code.entry(*hash).or_insert_with(|| Bytecode::new_raw(code.clone()));
        }
        for (address, change) in &diff.accounts {
            match change {
                Some(account) => {
                    self.accounts.insert(*address, *account);
                }
                None => {
                    self.accounts.remove(address);
                }
            }
        }
        for (address, change) in &diff.storage {
            if change.cleared {
                self.storage.remove(address);
            }
            let slots = self.storage.entry(*address).or_default();
            for (slot, value) in &change.slots {
                if value.is_zero() {
                    slots.remove(slot);
                } else {
                    slots.insert(*slot, *value);
                }
            }
            if slots.is_empty() {
                self.storage.remove(address);
            }
        }
    }

    /// Remember a sealed block's hash for BLOCKHASH, forgetting ones older than the window.
    pub(crate) fn record_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.insert(number, hash);
        if number >= BLOCK_HASH_WINDOW {
            self.block_hashes.remove(&(number - BLOCK_HASH_WINDOW));
        }
    }

    fn account_info(&self, address: &Address) -> Option<AccountInfo> {
        self.accounts.get(address).map(|a| info_with_code(a, self.code.get(&a.code_hash)))
    }
}

fn info_with_code(a: &AccountState, code: Option<&Bytecode>) -> AccountInfo {
    AccountInfo {
        nonce: a.nonce,
        balance: a.balance,
        code_hash: a.code_hash,
        code: if a.code_hash == KECCAK_EMPTY { Some(Bytecode::default()) } else { code.cloned() },
        ..Default::default()
    }
}

/// Storage changes of one account in one block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StorageChange {
    /// All previous storage of the account was removed (creation or self-destruct).
    pub(crate) cleared: bool,
    /// New slot values (zero = removed).
    pub(crate) slots: BTreeMap<U256, U256>,
}

/// Every state change of one block (or of a genesis run), in canonical order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// New account values; `None` = the account was deleted.
    pub(crate) accounts: BTreeMap<Address, Option<AccountState>>,
    /// Storage changes by account.
    pub(crate) storage: BTreeMap<Address, StorageChange>,
    /// New code by hash.
    pub(crate) code: BTreeMap<B256, Bytes>,
}

impl StateDiff {
    /// keccak256 over the canonical encoding of the diff (see module docs).
    pub(crate) fn digest(&self) -> B256 {
        let mut buf = Vec::with_capacity(128 * (self.accounts.len() + self.storage.len()) + 64);
        buf.extend_from_slice(b"accounts");
        for (address, account) in &self.accounts {
            buf.extend_from_slice(address.as_slice());
            match account {
                Some(a) => {
                    buf.push(1);
                    buf.extend_from_slice(&a.encode());
                }
                None => buf.push(0),
            }
        }
        buf.extend_from_slice(b"storage");
        for (address, change) in &self.storage {
            buf.extend_from_slice(address.as_slice());
            buf.push(u8::from(change.cleared));
            buf.extend_from_slice(&(change.slots.len() as u64).to_be_bytes());
            for (slot, value) in &change.slots {
                buf.extend_from_slice(&slot.to_be_bytes::<32>());
                buf.extend_from_slice(&value.to_be_bytes::<32>());
            }
        }
        buf.extend_from_slice(b"code");
        for hash in self.code.keys() {
            buf.extend_from_slice(hash.as_slice());
        }
        keccak256(&buf)
    }

    /// The state root of a block whose parent has `parent_root` and whose changes are `self`.
    pub(crate) fn chained_root(&self, parent_root: B256) -> B256 {
        let mut buf = [0u8; 64];
        buf[..32].copy_from_slice(parent_root.as_slice());
        buf[32..].copy_from_slice(self.digest().as_slice());
        keccak256(buf)
    }
}

/// A database view for revm: the block's changes so far on top of the committed state.
/// Commits from revm land in [`Overlay::diff`]; the base is never modified.
#[derive(Debug)]
pub(crate) struct Overlay<'a> {
    base: &'a WorldState,
    pub(crate) diff: StateDiff,
}

impl<'a> Overlay<'a> {
    pub(crate) fn new(base: &'a WorldState) -> Self {
        Self { base, diff: StateDiff::default() }
    }

    fn commit_account(&mut self, address: Address, account: Account) {
        if !account.is_touched() {
            return;
        }
        if account.is_selfdestructed() {
            self.diff.accounts.insert(address, None);
            self.diff.storage.insert(address, StorageChange { cleared: true, ..Default::default() });
            return;
        }
        if let Some(code) = &account.info.code
            && account.info.code_hash != KECCAK_EMPTY
            && !self.base.code.contains_key(&account.info.code_hash)
        {
            self.diff.code.entry(account.info.code_hash).or_insert_with(|| code.original_bytes());
        }
        self.diff.accounts.insert(address, Some(AccountState::from_info(&account.info)));
        let created = account.is_created();
        let changed: Vec<(U256, U256)> =
            account.storage.iter().filter(|(_, v)| v.is_changed()).map(|(k, v)| (*k, v.present_value())).collect();
        if created || !changed.is_empty() {
            let entry = self.diff.storage.entry(address).or_default();
            if created {
                entry.cleared = true;
                entry.slots.clear();
            }
            entry.slots.extend(changed);
        }
    }
}

impl Database for Overlay<'_> {
    type Error = Infallible;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        match self.diff.accounts.get(&address) {
            Some(Some(a)) => {
                let code = self.diff.code.get(&a.code_hash).map(|b| Bytecode::new_raw(b.clone()));
                Ok(Some(info_with_code(a, code.as_ref().or(self.base.code.get(&a.code_hash)))))
            }
            Some(None) => Ok(None),
            None => Ok(self.base.account_info(&address)),
        }
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Infallible> {
        if let Some(code) = self.diff.code.get(&code_hash) {
            return Ok(Bytecode::new_raw(code.clone()));
        }
        Ok(self.base.code.get(&code_hash).cloned().unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Infallible> {
        if let Some(change) = self.diff.storage.get(&address) {
            if let Some(v) = change.slots.get(&index) {
                return Ok(*v);
            }
            if change.cleared {
                return Ok(U256::ZERO);
            }
        }
        Ok(self.base.storage_at(&address, &index))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Infallible> {
        Ok(self.base.block_hashes.get(&number).copied().unwrap_or_default())
    }
}

impl DatabaseCommit for Overlay<'_> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            self.commit_account(address, account);
        }
    }
}

/// Read-only view of the committed state (for `DatabaseRef` users).
impl DatabaseRef for WorldState {
    type Error = Infallible;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        Ok(self.account_info(&address))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self.code.get(&code_hash).cloned().unwrap_or_default())
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Infallible> {
        Ok(self.storage_at(&address, &index))
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Infallible> {
        Ok(self.block_hashes.get(&number).copied().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots in every shard (and two in one) are found, replaced and forgotten, and an
    /// account's storage is empty only once its last slot is.
    #[test]
    fn slots_are_kept_across_shards_and_emptied_by_their_last_removal() {
        let mut slots = Slots::default();
        assert!(slots.is_empty() && slots.get(&U256::ZERO).is_none());
        let keys: Vec<U256> = (0..200u64).map(|i| U256::from(i) << 70 | U256::from(i)).collect();
        for (i, k) in keys.iter().enumerate() {
            slots.insert(*k, U256::from(i + 1));
        }
        slots.insert(keys[3], U256::from(99u64));
        assert_eq!(slots.iter().count(), 200);
        assert_eq!(slots.get(&keys[3]), Some(&U256::from(99u64)));
        assert_eq!(slots.get(&keys[64]), Some(&U256::from(65u64)), "the same shard as keys[0]");
        assert_eq!(slots.get(&(U256::from(1u64) << 200)), None);
        for k in &keys[1..] {
            slots.remove(k);
        }
        assert!(!slots.is_empty(), "one slot is left");
        assert_eq!(slots.get(&keys[0]), Some(&U256::from(1u64)));
        slots.remove(&keys[0]);
        assert!(slots.is_empty());
    }

    #[test]
    fn account_encoding_round_trips() {
        let a = AccountState { nonce: 7, balance: U256::from(12345u64), code_hash: KECCAK_EMPTY };
        assert_eq!(AccountState::decode(&a.encode()), Some(a));
        assert_eq!(AccountState::decode(&[0u8; 5]), None);
    }

    #[test]
    fn digest_depends_on_every_change() {
        let mut d = StateDiff::default();
        let base = d.digest();
        d.storage.entry(Address::ZERO).or_default().slots.insert(U256::from(1), U256::from(2));
        let with_slot = d.digest();
        assert_ne!(base, with_slot);
        d.storage.entry(Address::ZERO).or_default().slots.insert(U256::from(1), U256::from(3));
        assert_ne!(with_slot, d.digest());
    }
}
