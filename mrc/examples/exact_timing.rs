//! Times the exact MRC's parts on a trace file (a tuning aid; `memscale
//! bench` is the reported benchmark).
use std::time::Instant;

use cachesim::sim::{Unit, Warmup};
use cachesim::trace::dense::{DenseTrace, OpFilter};
use cachesim::trace::open;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: exact_timing TRACE");
        std::process::exit(2);
    };
    let mut r = match open(path.as_ref(), &Default::default()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let t = match DenseTrace::load(r.as_mut(), OpFilter::All) {
        Ok(t) if !t.is_empty() => t,
        Ok(_) => {
            eprintln!("{path}: the trace holds no requests");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    t.prev_access();
    println!("prev-access pass: {:.2} s", start.elapsed().as_secs_f64());
    let sizes: Vec<u64> = (1..=20).map(|k| k * (200 << 20)).collect();
    for unit in [Unit::Objects, Unit::Bytes] {
        let start = Instant::now();
        let m = mrc::exact::exact_mrc(&t, unit, &sizes, Warmup::None);
        let s = start.elapsed().as_secs_f64();
        println!(
            "{unit:?}: {:.2} M req/s ({:.2} s), first point {:.4}",
            t.len() as f64 / s / 1e6,
            s,
            m.points[0].miss_ratio
        );
    }
}
