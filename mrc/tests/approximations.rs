//! The approximate MRCs against exact curves and full simulation on a
//! synthetic Zipf trace (the 20 M-request figures are in docs/BENCHMARKS.md).

use cachesim::policy::PolicySpec;
use cachesim::sim::{simulate_many, SimOptions, Unit, Warmup};
use cachesim::trace::dense::DenseTrace;
use cachesim::trace::synthetic::{SyntheticSpec, SyntheticTrace};
use cachesim::trace::VecReader;
use mrc::aet::aet_mrc;
use mrc::exact::exact_mrc;
use mrc::minisim::{minisim_mrc, sample_trace};
use mrc::shards::{shards_mrc, ShardsConfig};
use mrc::Mrc;

fn workload() -> Vec<cachesim::request::Request> {
    let spec = SyntheticSpec { requests: 2_000_000, objects: 200_000, seed: 3, ..Default::default() };
    SyntheticTrace::new(spec).unwrap().collect()
}

fn sizes() -> Vec<u64> {
    (1..=12).map(|k| k * (64 << 20)).collect()
}

#[test]
fn shards_and_aet_track_the_exact_curve() {
    let reqs = workload();
    let trace = DenseTrace::from_requests(&reqs);
    let exact = exact_mrc(&trace, Unit::Bytes, &sizes(), Warmup::None);
    let cfg = ShardsConfig { rate: 0.1, ..Default::default() };
    let shards =
        shards_mrc(&mut VecReader::new(reqs.clone()), cfg, Unit::Bytes, &sizes(), Warmup::None, |_| {}).unwrap();
    let mae = shards.mean_absolute_error(&exact);
    assert!(mae <= 0.005, "SHARDS R=0.1 MAE {mae}");
    let cfg = ShardsConfig { rate: 0.5, max_samples: Some(4000), adjust: true };
    let fixed =
        shards_mrc(&mut VecReader::new(reqs.clone()), cfg, Unit::Bytes, &sizes(), Warmup::None, |_| {}).unwrap();
    let mae = fixed.mean_absolute_error(&exact);
    assert!(mae <= 0.02, "SHARDS fixed-size (4000 objects) MAE {mae}");
    let aet = aet_mrc(&trace, Unit::Bytes, &sizes(), Warmup::None);
    let mae = aet.mean_absolute_error(&exact);
    assert!(mae <= 0.02, "AET MAE {mae}");
    // Sampling everything is exact.
    let cfg = ShardsConfig { rate: 1.0, ..Default::default() };
    let all = shards_mrc(&mut VecReader::new(reqs), cfg, Unit::Bytes, &sizes(), Warmup::None, |_| {}).unwrap();
    assert!(all.mean_absolute_error(&exact) < 1e-12);
}

#[test]
fn minisim_tracks_full_simulation() {
    let reqs = workload();
    let trace = DenseTrace::from_requests(&reqs);
    let sample = sample_trace(&mut VecReader::new(reqs), 0.1, |_| {}).unwrap();
    for name in ["arc", "s3fifo", "lru"] {
        let p = PolicySpec::parse(name).unwrap();
        let full = simulate_many(&trace, std::slice::from_ref(&p), &sizes(), SimOptions::default(), &|_| {});
        let full = Mrc::from_sim(&p.to_string(), Unit::Bytes, &full);
        let mini = minisim_mrc(&sample, &p, Unit::Bytes, &sizes(), Warmup::None);
        let mae = mini.mean_absolute_error(&full);
        assert!(mae <= 0.01, "MiniSim {name} R=0.1 MAE {mae}");
    }
}
