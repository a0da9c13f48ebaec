//! Flink's key groups (KeyGroupRangeAssignment): how keys map to key groups
//! and key groups to parallel subtasks.
//!
//! A key's group is `murmur(hashCode(key)) mod max_parallelism`; subtask `i`
//! of `p` owns the contiguous range
//! `[ceil(i·maxP / p), floor(((i+1)·maxP − 1) / p)]`, and key group `kg`
//! belongs to subtask `kg·p / maxP`. State keys carry their key group as a
//! big-endian prefix (1 byte when maxP ≤ 128, else 2, as Flink's RocksDB
//! backend writes it), so a key-group range is a contiguous key range:
//! rescaling moves ranges, not scattered keys.

use std::ops::RangeInclusive;

/// Flink's default maximum parallelism.
pub const DEFAULT_MAX_PARALLELISM: u16 = 128;
/// Flink's upper bound on maximum parallelism.
pub const MAX_MAX_PARALLELISM: u32 = 32_768;

/// Flink's `MathUtils.murmurHash(int)`: one Murmur3 round, finalized, made
/// non-negative.
pub fn flink_murmur(code: i32) -> i32 {
    let mut h = code.wrapping_mul(0xcc9e_2d51_u32 as i32);
    h = h.rotate_left(15);
    h = h.wrapping_mul(0x1b87_3593);
    h = h.rotate_left(13);
    h = h.wrapping_mul(5).wrapping_add(0xe654_6b64_u32 as i32);
    h ^= 4;
    // Murmur3's finalizer (Flink's bitMix), on unsigned shifts.
    let mut u = h as u32;
    u ^= u >> 16;
    u = u.wrapping_mul(0x85eb_ca6b);
    u ^= u >> 13;
    u = u.wrapping_mul(0xc2b2_ae35);
    u ^= u >> 16;
    let h = u as i32;
    if h >= 0 {
        h
    } else if h != i32::MIN {
        -h
    } else {
        0
    }
}

/// Java's `Long.hashCode`: the key hash Flink uses for `long` keys.
pub fn java_long_hash(v: i64) -> i32 {
    (v ^ ((v as u64) >> 32) as i64) as i32
}

/// Java's `String.hashCode`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// The key-group layout of a keyed operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyGroups {
    max_parallelism: u16,
}

impl KeyGroups {
    /// A layout with `max_parallelism` key groups (1..=32768).
    pub fn new(max_parallelism: u32) -> Option<KeyGroups> {
        (1..=MAX_MAX_PARALLELISM)
            .contains(&max_parallelism)
            .then(|| KeyGroups { max_parallelism: (max_parallelism - 1) as u16 })
    }

    /// Number of key groups.
    pub fn max_parallelism(self) -> u32 {
        self.max_parallelism as u32 + 1
    }

    /// The key group of a key with Java hash code `hash`.
    pub fn of_hash(self, hash: i32) -> u16 {
        (flink_murmur(hash) as u32 % self.max_parallelism()) as u16
    }

    /// The key group of a `long` key.
    pub fn of_long(self, key: i64) -> u16 {
        self.of_hash(java_long_hash(key))
    }

    /// The subtask of `parallelism` that owns key group `kg`.
    pub fn owner(self, kg: u16, parallelism: u32) -> u32 {
        kg as u32 * parallelism / self.max_parallelism()
    }

    /// The key groups subtask `index` of `parallelism` owns.
    pub fn range(self, index: u32, parallelism: u32) -> RangeInclusive<u16> {
        let m = self.max_parallelism();
        let start = (index * m).div_ceil(parallelism);
        let end = ((index + 1) * m - 1) / parallelism;
        start as u16..=end as u16
    }

    /// Bytes of the key-group prefix of a state key: 1 when there are at
    /// most 128 key groups, else 2 (big-endian).
    pub fn prefix_len(self) -> usize {
        if self.max_parallelism() <= 128 {
            1
        } else {
            2
        }
    }

    /// Writes `kg`'s prefix into `out`.
    pub fn write_prefix(self, kg: u16, out: &mut Vec<u8>) {
        if self.prefix_len() == 1 {
            out.push(kg as u8);
        } else {
            out.extend_from_slice(&kg.to_be_bytes());
        }
    }

    /// The key group a prefixed key starts with.
    pub fn read_prefix(self, key: &[u8]) -> Option<u16> {
        match self.prefix_len() {
            1 => key.first().map(|&b| b as u16),
            _ => key.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])),
        }
    }
}

impl Default for KeyGroups {
    fn default() -> KeyGroups {
        KeyGroups { max_parallelism: DEFAULT_MAX_PARALLELISM - 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_flink() {
        // Flink's MathUtils.murmurHash run on a JVM (Java 17), with the key
        // group it gives at max parallelism 128.
        let vectors = [
            (0, 593_689_054, 94),
            (1, 68_075_478, 86),
            (2, 1_085_422_463, 127),
            (-1, 1_982_413_648, 80),
            (42, 1_134_849_565, 29),
            (123_456_789, 1_088_346_449, 81),
            (i32::MIN, 1_718_298_732, 108),
        ];
        let kg = KeyGroups::default();
        for (code, hash, group) in vectors {
            assert_eq!(flink_murmur(code), hash, "murmurHash({code})");
            assert_eq!(kg.of_hash(code), group, "key group of {code}");
        }
    }

    #[test]
    fn java_hashes() {
        assert_eq!(java_long_hash(0), 0);
        assert_eq!(java_long_hash(1), 1);
        assert_eq!(java_long_hash(-1), 0);
        assert_eq!(java_long_hash(1 << 32), 1);
        assert_eq!(java_long_hash(1 << 40), 256);
        assert_eq!(java_long_hash(-5), 4);
        assert_eq!(java_string_hash("hello"), 99_162_322);
    }

    #[test]
    fn ranges_partition_the_key_groups() {
        let kg = KeyGroups::default();
        for p in 1..=128u32 {
            let mut next = 0u32;
            for i in 0..p {
                let r = kg.range(i, p);
                assert_eq!(*r.start() as u32, next, "p {p} i {i}");
                for g in r.clone() {
                    assert_eq!(kg.owner(g, p), i, "p {p} kg {g}");
                }
                next = *r.end() as u32 + 1;
            }
            assert_eq!(next, 128);
        }
    }

    #[test]
    fn prefixes_round_trip() {
        for m in [1u32, 128, 129, 256, 32_768] {
            let kg = KeyGroups::new(m).unwrap();
            let mut buf = Vec::new();
            kg.write_prefix((m - 1) as u16, &mut buf);
            assert_eq!(buf.len(), kg.prefix_len());
            assert_eq!(kg.read_prefix(&buf), Some((m - 1) as u16));
        }
        assert!(KeyGroups::new(0).is_none() && KeyGroups::new(32_769).is_none());
    }
}
