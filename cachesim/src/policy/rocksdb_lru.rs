//! A model of RocksDB's `LRUCache` (cache/lru_cache.cc), entry by entry.
//!
//! What it reproduces:
//! - Sharding: `2^shard_bits` shards, each with capacity
//!   `ceil(capacity / shards)`; an entry's shard is the low bits of the low
//!   32 bits of its key hash. Default shard bits as RocksDB picks them:
//!   `floor(log2(capacity / 512 KiB))`, at most 6. The hash is pinned
//!   ([`DEFAULT_SEED`]), where RocksDB's differs per host unless pinned, so
//!   the model matches RocksDB statistically, not entry for entry.
//! - Priority pools: the LRU list's newest part is the high-priority pool of
//!   `high_pri × shard capacity` bytes. Index and filter blocks enter at the
//!   head of the high pool; data blocks at the head of the low pool (the
//!   newest low entry). An entry that has been hit re-enters at the head of
//!   the high pool (midpoint insertion). When the high pool overflows its
//!   oldest entries become low-pool entries.
//! - Admission: eviction takes the oldest entries until the new one fits.
//!   An entry that still does not fit (larger than its shard) is not
//!   cached, after the shard was emptied trying, as RocksDB's
//!   insert-then-release does; with `strict` the insert fails the same way.
//! - Charge: entry size plus a fixed per-entry metadata charge.
//!
//! A simulated access is a lookup that is released at once, as a table
//! reader's block fetch is; nothing stays pinned. RocksDB's third
//! (bottom-priority) pool, used only when `low_pri_pool_ratio > 0`, is not
//! modelled: that ratio is 0 by default.

use super::list::{Link, Linked, List, NIL};
use super::{Access, Cache, Needs};
use crate::hash::mix64;

/// The pinned hash seed.
pub const DEFAULT_SEED: u32 = 0;
const MIN_SHARD_BYTES: u64 = 512 * 1024;
const MAX_DEFAULT_SHARD_BITS: u8 = 6;

/// Parameters of the model (RocksDB's `LRUCacheOptions`).
#[derive(Clone, Debug, PartialEq)]
pub struct RocksDbLruConfig {
    /// `num_shard_bits`; `None` picks RocksDB's default for the capacity.
    pub shard_bits: Option<u8>,
    /// `high_pri_pool_ratio` (0.5 by default).
    pub high_pri_ratio: f64,
    /// `low_pri_pool_ratio`; only 0 is modelled.
    pub low_pri_ratio: f64,
    /// `strict_capacity_limit`.
    pub strict_capacity_limit: bool,
    /// Bytes charged per entry beyond its size (RocksDB's handle and key).
    pub metadata_charge: u32,
    /// Hash seed.
    pub seed: u32,
}

impl Default for RocksDbLruConfig {
    fn default() -> RocksDbLruConfig {
        RocksDbLruConfig {
            shard_bits: None,
            high_pri_ratio: 0.5,
            low_pri_ratio: 0.0,
            strict_capacity_limit: false,
            metadata_charge: 0,
            seed: DEFAULT_SEED,
        }
    }
}

impl RocksDbLruConfig {
    /// The shard bits a cache of `capacity` bytes has under this config.
    pub fn shard_bits_for(&self, capacity: u64) -> u8 {
        self.shard_bits.unwrap_or_else(|| RocksDbLruConfig::default_shard_bits(capacity)).min(19)
    }

    /// Bytes one shard of a cache of `capacity` bytes holds. An entry that
    /// charges more is never kept: inserting it empties its shard, and it
    /// leaves the cache at its release.
    pub fn shard_capacity(&self, capacity: u64) -> u64 {
        capacity.div_ceil(1u64 << self.shard_bits_for(capacity))
    }

    /// What an entry of `size` bytes charges its shard.
    pub fn charge(&self, size: u32) -> u64 {
        size as u64 + self.metadata_charge as u64
    }

    /// RocksDB's default shard bits for a capacity.
    pub fn default_shard_bits(capacity: u64) -> u8 {
        let mut shards = capacity / MIN_SHARD_BYTES;
        let mut bits = 0u8;
        while shards > 1 {
            shards >>= 1;
            bits += 1;
            if bits >= MAX_DEFAULT_SHARD_BITS {
                break;
            }
        }
        bits
    }

    /// Non-default parameters as `:k=v,...` for names in reports.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.shard_bits {
            parts.push(format!("shard_bits={b}"));
        }
        if self.high_pri_ratio != 0.5 {
            parts.push(format!("high_pri={}", self.high_pri_ratio));
        }
        if self.low_pri_ratio != 0.0 {
            parts.push(format!("low_pri={}", self.low_pri_ratio));
        }
        if self.strict_capacity_limit {
            parts.push("strict=true".into());
        }
        if self.metadata_charge != 0 {
            parts.push(format!("metadata={}", self.metadata_charge));
        }
        if self.seed != DEFAULT_SEED {
            parts.push(format!("seed={}", self.seed));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(":{}", parts.join(","))
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Node {
    link: Link,
    charge: u32,
    cached: bool,
    high_priority: bool,
    has_hit: bool,
    in_high_pool: bool,
}

impl Linked for Node {
    #[inline]
    fn link(&mut self) -> &mut Link {
        &mut self.link
    }
}

#[derive(Clone, Copy, Default)]
struct Shard {
    list: List,
    /// Newest entry of the low pool (RocksDB's `lru_low_pri_`), or NIL.
    low_newest: u32,
    usage: u64,
    high_usage: u64,
}

/// The RocksDB LRUCache model.
pub struct RocksDbLru {
    nodes: Vec<Node>,
    shards: Vec<Shard>,
    shard_mask: u32,
    shard_capacity: u64,
    high_capacity: u64,
    capacity: u64,
    use_high_pool: bool,
    metadata: u32,
    seed: u64,
}

impl RocksDbLru {
    /// An empty cache of `capacity` bytes.
    pub fn new(capacity: u64, n_objects: usize, cfg: &RocksDbLruConfig) -> RocksDbLru {
        let n_shards = 1u64 << cfg.shard_bits_for(capacity);
        let shard_capacity = cfg.shard_capacity(capacity);
        RocksDbLru {
            nodes: vec![Node::default(); n_objects],
            shards: vec![Shard { low_newest: NIL, ..Shard::default() }; n_shards as usize],
            shard_mask: (n_shards - 1) as u32,
            shard_capacity,
            high_capacity: (shard_capacity as f64 * cfg.high_pri_ratio) as u64,
            capacity,
            use_high_pool: cfg.high_pri_ratio > 0.0,
            metadata: cfg.metadata_charge,
            seed: cfg.seed as u64,
        }
    }

    #[inline]
    fn shard_of(&self, key: u64) -> usize {
        let h = mix64(key ^ self.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        ((h as u32) & self.shard_mask) as usize
    }

    fn lru_remove(&mut self, s: usize, i: u32) {
        let shard = &mut self.shards[s];
        let n = self.nodes[i as usize];
        if shard.low_newest == i {
            shard.low_newest = n.link.next;
        }
        shard.list.remove(&mut self.nodes, i);
        if n.in_high_pool {
            shard.high_usage -= n.charge as u64;
            self.nodes[i as usize].in_high_pool = false;
        }
    }

    fn lru_insert(&mut self, s: usize, i: u32) {
        let n = self.nodes[i as usize];
        let shard = &mut self.shards[s];
        if self.use_high_pool && (n.high_priority || n.has_hit) {
            shard.list.push_front(&mut self.nodes, i);
            self.nodes[i as usize].in_high_pool = true;
            shard.high_usage += n.charge as u64;
            // Overflow the oldest high entries into the low pool.
            while shard.high_usage > self.high_capacity {
                let next_low = if shard.low_newest == NIL {
                    shard.list.tail
                } else {
                    self.nodes[shard.low_newest as usize].link.prev
                };
                if next_low == NIL {
                    break;
                }
                shard.low_newest = next_low;
                let e = &mut self.nodes[next_low as usize];
                e.in_high_pool = false;
                shard.high_usage -= e.charge as u64;
            }
        } else {
            // Head of the low pool: just newer than its newest entry, or the
            // oldest position of the list when the low pool is empty.
            if shard.low_newest == NIL {
                let tail = shard.list.tail;
                shard.list.insert_after(&mut self.nodes, tail, i);
            } else {
                let newer = self.nodes[shard.low_newest as usize].link.prev;
                shard.list.insert_after(&mut self.nodes, newer, i);
            }
            self.nodes[i as usize].in_high_pool = false;
            shard.low_newest = i;
        }
    }

    fn evict_oldest(&mut self, s: usize) {
        let victim = self.shards[s].list.tail;
        self.lru_remove(s, victim);
        let v = &mut self.nodes[victim as usize];
        v.cached = false;
        self.shards[s].usage -= v.charge as u64;
    }
}

impl Cache for RocksDbLru {
    per_object_nodes!();

    fn access(&mut self, a: &Access) -> bool {
        let i = a.obj;
        let s = self.shard_of(a.key);
        if self.nodes[i as usize].cached {
            self.lru_remove(s, i);
            self.nodes[i as usize].has_hit = true;
            self.lru_insert(s, i);
            return true;
        }
        if a.no_insert {
            return false;
        }
        let charge = a.size.saturating_add(self.metadata);
        while self.shards[s].usage + charge as u64 > self.shard_capacity && !self.shards[s].list.is_empty() {
            self.evict_oldest(s);
        }
        if self.shards[s].usage + charge as u64 > self.shard_capacity {
            return false;
        }
        self.nodes[i as usize] = Node {
            link: Link::default(),
            charge,
            cached: true,
            high_priority: a.high_priority,
            has_hit: false,
            in_high_pool: false,
        };
        self.shards[s].usage += charge as u64;
        self.lru_insert(s, i);
        false
    }

    fn used(&self) -> u64 {
        self.shards.iter().map(|s| s.usage).sum()
    }

    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn needs(&self) -> Needs {
        Needs { next_access: false, key: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(obj: u32, size: u32, high: bool) -> Access {
        Access { obj, size, next: 0, key: obj as u64, high_priority: high, no_insert: false }
    }

    #[test]
    fn default_shard_bits_follow_rocksdb() {
        assert_eq!(RocksDbLruConfig::default_shard_bits(256 * 1024), 0);
        assert_eq!(RocksDbLruConfig::default_shard_bits(8 << 20), 4);
        assert_eq!(RocksDbLruConfig::default_shard_bits(32 << 20), 6);
        assert_eq!(RocksDbLruConfig::default_shard_bits(1 << 30), 6);
    }

    #[test]
    fn without_pools_one_shard_is_lru() {
        let cfg = RocksDbLruConfig { shard_bits: Some(0), high_pri_ratio: 0.0, ..Default::default() };
        let mut c = RocksDbLru::new(3, 10, &cfg);
        let mut lru = crate::policy::lru::Lru::new(3, 10);
        let seq = [0u32, 1, 2, 0, 3, 1, 4, 0, 2, 3, 3, 1, 5, 0];
        for &o in &seq {
            assert_eq!(c.access(&acc(o, 1, false)), lru.access(&acc(o, 1, false)), "object {o}");
        }
    }

    #[test]
    fn hit_entries_survive_a_scan() {
        // Midpoint insertion: an entry that was hit sits in the high pool
        // and outlives a scan of new data blocks that fill the low pool.
        let cfg = RocksDbLruConfig { shard_bits: Some(0), high_pri_ratio: 0.5, ..Default::default() };
        let mut c = RocksDbLru::new(4, 100, &cfg);
        assert!(!c.access(&acc(0, 1, false)));
        assert!(c.access(&acc(0, 1, false)));
        for o in 1..20 {
            assert!(!c.access(&acc(o, 1, false)));
        }
        assert!(c.access(&acc(0, 1, false)));
        let mut lru = crate::policy::lru::Lru::new(4, 100);
        lru.access(&acc(0, 1, false));
        for o in 1..20 {
            lru.access(&acc(o, 1, false));
        }
        assert!(!lru.access(&acc(0, 1, false)));
    }

    #[test]
    fn oversized_entry_empties_its_shard() {
        let cfg = RocksDbLruConfig { shard_bits: Some(0), ..Default::default() };
        let mut c = RocksDbLru::new(10, 5, &cfg);
        c.access(&acc(0, 4, false));
        c.access(&acc(1, 4, false));
        assert!(!c.access(&acc(2, 11, false)));
        assert_eq!(c.used(), 0);
    }

    #[test]
    fn an_entry_is_kept_exactly_when_its_charge_fits_the_shard_capacity() {
        // 8 MiB: 16 shards of 512 KiB under RocksDB's default shard bits.
        let cfg = RocksDbLruConfig { metadata_charge: 100, ..Default::default() };
        let capacity = 8 << 20;
        let shard = cfg.shard_capacity(capacity);
        assert_eq!(shard, 512 * 1024);
        for (size, kept) in [(shard as u32 - 100, true), (shard as u32 - 99, false)] {
            assert_eq!(cfg.charge(size) <= shard, kept);
            let mut c = RocksDbLru::new(capacity, 1, &cfg);
            c.access(&acc(0, size, true));
            assert_eq!(c.access(&acc(0, size, true)), kept, "a block of {size} bytes");
        }
    }
}
