//! Two independent implementations must agree: the exact stack-distance MRC
//! and LRU simulation, at every size, in bytes and in objects.

use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate, SimOptions, Unit, Warmup};
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::oracle::OracleReader;
use cachesim::trace::synthetic::{Popularity, SyntheticSpec, SyntheticTrace};
use mrc::exact::exact_mrc;

fn cloudphysics() -> DenseTrace {
    let path = cachesim::trace::golden_trace_path();
    DenseTrace::load(&mut OracleReader::open(&path).unwrap(), OpFilter::All).unwrap()
}

fn check(trace: &DenseTrace, unit: Unit, sizes: &[u64], warmup: Warmup) {
    let mrc = exact_mrc(trace, unit, sizes, warmup);
    for (p, &size) in mrc.points.iter().zip(sizes) {
        let sim = simulate(trace, &PolicySpec::Lru, size, SimOptions { unit, warmup, ..SimOptions::default() });
        assert_eq!(p.cache_size, size);
        let misses = (p.miss_ratio * sim.requests as f64).round() as u64;
        let byte_misses = (p.byte_miss_ratio * sim.bytes_requested as f64).round() as u64;
        assert_eq!((misses, byte_misses), (sim.misses, sim.byte_misses), "{unit:?} size {size}");
    }
}

#[test]
fn exact_equals_lru_on_cloudphysics_bytes() {
    let t = cloudphysics();
    let sizes: Vec<u64> = (1..=8).map(|k| k * (128 << 20)).collect();
    check(&t, Unit::Bytes, &sizes, Warmup::None);
    // Including libCacheSim's golden counts.
    let mrc = exact_mrc(&t, Unit::Bytes, &sizes, Warmup::None);
    assert_eq!((mrc.points[0].miss_ratio * 113_872.0).round() as u64, 93_374);
    assert_eq!((mrc.points[7].miss_ratio * 113_872.0).round() as u64, 71_704);
}

#[test]
fn exact_equals_lru_on_cloudphysics_objects() {
    let t = cloudphysics();
    check(&t, Unit::Objects, &[1, 2, 3, 4, 5, 20, 100, 1000, 10_000, 40_000], Warmup::None);
    check(&t, Unit::Objects, &[10, 5000], Warmup::Requests(50_000));
}

#[test]
fn exact_equals_lru_on_zipf_with_scans() {
    let spec = SyntheticSpec {
        requests: 200_000,
        objects: 20_000,
        scan_fraction: 0.2,
        scan_length: 500,
        ..Default::default()
    };
    let reqs: Vec<_> = SyntheticTrace::new(spec).unwrap().collect();
    let t = DenseTrace::from_requests(&reqs);
    let sizes: Vec<u64> = (1..=10).map(|k| k * (8 << 20)).collect();
    check(&t, Unit::Bytes, &sizes, Warmup::None);
    let spec =
        SyntheticSpec { requests: 100_000, objects: 5_000, popularity: Popularity::Uniform, ..Default::default() };
    let reqs: Vec<_> = SyntheticTrace::new(spec).unwrap().collect();
    let t = DenseTrace::from_requests(&reqs);
    check(&t, Unit::Objects, &[1, 100, 2500, 4999, 5000], Warmup::None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Random short traces cross the stack structures' line, group and
    /// block boundaries (16, 128 and 1024 positions for bytes; 64 and 512
    /// for objects) in every pattern. Byte capacities hold the largest
    /// object (see `mrc::exact`).
    #[test]
    fn exact_equals_lru_on_random_traces(
        ids in proptest::collection::vec(0usize..400, 1..6000),
        object_sizes in proptest::collection::vec(1u32..5000, 400),
        caps in proptest::collection::vec(5_000u64..600_000, 1..6),
        object_caps in proptest::collection::vec(1u64..400, 1..6),
    ) {
        // An object keeps its size: a hit on a resized object is a hit to
        // the simulator but a new distance to the stack.
        let reqs: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| cachesim::request::Request {
                time: i as u64,
                id: id as u64,
                size: object_sizes[id],
                ..Default::default()
            })
            .collect();
        let t = DenseTrace::from_requests(&reqs);
        let sorted = |mut v: Vec<u64>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        check(&t, Unit::Bytes, &sorted(caps), Warmup::None);
        check(&t, Unit::Objects, &sorted(object_caps), Warmup::None);
    }
}
