//! Times the exact MRC on a trace file (used while tuning; `memscale bench`
//! is the reported benchmark).
use std::time::Instant;

use cachesim::sim::{Unit, Warmup};
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::open;

fn main() {
    let path = std::env::args().nth(1).expect("usage: exact_timing TRACE");
    let mut r = open(path.as_ref(), &Default::default()).expect("open");
    let t = DenseTrace::load(r.as_mut(), OpFilter::All).expect("load");
    let sizes: Vec<u64> = (1..=20).map(|k| k * (200 << 20)).collect();
    for unit in [Unit::Objects, Unit::Bytes] {
        let start = Instant::now();
        let m = mrc::exact::exact_mrc(&t, unit, &sizes, Warmup::None);
        let s = start.elapsed().as_secs_f64();
        println!("{unit:?}: {:.2} M req/s ({:.2} s) mr[0]={:.4}", t.len() as f64 / s / 1e6, s, m.points[0].miss_ratio);
    }
    let start = Instant::now();
    let mut sd = mrc::stack::StackDistance::new(t.n_objects());
    let mut acc = 0u64;
    for (&o, &s) in t.ids.iter().zip(&t.sizes) {
        if let Some(d) = sd.access(o, s) {
            acc = acc.wrapping_add(d.bytes);
        }
    }
    let s = start.elapsed().as_secs_f64();
    println!("stack only: {:.2} M req/s ({acc})", t.len() as f64 / s / 1e6);
}
