//! libCacheSim's own golden values on the shipped CloudPhysics trace.

mod common;

use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate, SimOptions, Unit};
use common::cloudphysics;

const MIB: u64 = 1 << 20;

#[test]
fn lru_matches_libcachesim_golden_counts() {
    let t = cloudphysics();
    assert_eq!(t.len(), 113_872);
    assert_eq!(t.n_objects(), 48_974);
    assert_eq!(t.bytes_requested(), 4_368_040_448);
    let misses = [93374, 89783, 83572, 81722, 72494, 72104, 71972, 71704];
    let byte_misses =
        [4214303232u64, 4061242368, 3778040320, 3660569600, 3100927488, 3078128640, 3075403776, 3061662720];
    let lru = PolicySpec::Lru;
    for k in 0..8 {
        let r = simulate(&t, &lru, (k as u64 + 1) * 128 * MIB, SimOptions::default());
        assert_eq!((r.misses, r.byte_misses), (misses[k], byte_misses[k]), "size {} MiB", (k + 1) * 128);
    }
}

#[test]
fn object_lru_matches_golden_ratios() {
    let t = cloudphysics();
    let want = [(1, 0.976421), (2, 0.970607), (3, 0.965681), (4, 0.959024), (5, 0.956934), (20, 0.927015)];
    for (size, ratio) in want {
        let r = simulate(&t, &PolicySpec::Lru, size, SimOptions { unit: Unit::Objects, ..Default::default() });
        assert!((r.miss_ratio - ratio).abs() < 5e-7, "{size} objects: {} vs {ratio}", r.miss_ratio);
    }
}
