//! An operator's throughput against its parallelism and block-cache size,
//! T(p, c): the hit-ratio curve says how many of its block lookups miss at
//! a size, a calibration says what a record costs besides those misses and
//! what a miss costs, and the cores the operator can have say where more
//! subtasks stop helping.
//!
//! Per subtask, a record costs `cpu_us + lookups · miss(c) · miss_us`
//! microseconds of useful time, so one subtask processes
//! `1e6 / (cpu_us + lookups · miss(c) · miss_us)` records per useful
//! second (DS2's true processing rate), and p subtasks p times that (DS2's
//! assumption: each subtask has a core of its own, as in a cluster). On
//! one machine with `cpu_slots` cores free for the operator, the CPU part
//! caps it: at most `cpu_slots · 1e6 / cpu_us` records/s, however many
//! subtasks wait on the disk at once (reads with direct I/O wait without
//! a core, so subtasks beyond the cores still overlap them).

use serde::{Deserialize, Serialize};

use super::curve::HitCurve;
use crate::job::OperatorObservation;

/// The model of one operator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OperatorModel {
    /// Operator name.
    pub name: String,
    /// Hit ratio against cache size (`None`: the operator has no block
    /// cache, or its cache does not matter).
    pub curve: Option<HitCurve>,
    /// Useful microseconds per record besides block reads from the disk.
    pub cpu_us: f64,
    /// Block lookups per record.
    pub lookups_per_record: f64,
    /// Microseconds per miss (a block read through RocksDB from the disk).
    pub miss_us: f64,
    /// Measured miss ratio over the curve's at the calibration point: the
    /// curve is a model of one run; the live job's misses can run higher
    /// or lower by a factor that stays as the size changes.
    pub miss_correction: f64,
    /// Cores the operator's subtasks can run on at once (`None`: one each).
    pub cpu_slots: Option<f64>,
    /// CPU microseconds a record takes on a core, as measured (the thread's
    /// CPU time, not its wall time: no wait for the disk or for a core in
    /// it), if the job measures it: what the cores' cap divides.
    #[serde(default)]
    pub on_cpu_us: Option<f64>,
}

/// Why a model cannot be calibrated.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// The operator processed nothing in the interval.
    #[error("operator `{0}` processed no record in the interval: nothing to calibrate on")]
    NoRecords(String),
}

impl OperatorModel {
    /// A model calibrated on one interval of the live operator: its true
    /// processing rate, hit ratio and lookups per record at its current
    /// (parallelism, cache), with `curve` for the shape of the hit ratio
    /// `default_miss_us` where the interval had no miss to time, and
    /// `cpu_slots` the cores it can have.
    ///
    /// Above its cores, a subtask's time per record includes waiting for
    /// one: the CPU part is then the smaller of what the subtasks' time
    /// leaves besides reads and what the cores can have given.
    pub fn calibrate(
        obs: &OperatorObservation,
        curve: Option<HitCurve>,
        default_miss_us: f64,
        cpu_slots: Option<f64>,
    ) -> Result<OperatorModel, ModelError> {
        if obs.true_processing_rate <= 0.0 || obs.parallelism == 0 {
            return Err(ModelError::NoRecords(obs.name.clone()));
        }
        let p = obs.parallelism as f64;
        let record_us = p * 1e6 / obs.true_processing_rate;
        let miss_us = obs.miss_cost_us.filter(|&m| m > 0.0).unwrap_or(default_miss_us);
        let measured_miss = obs.hit_ratio.map_or(0.0, |h| 1.0 - h);
        // Without a curve, the reads' cost at this size is part of every
        // record's and stays so at any size.
        let lookups = if obs.has_cache && curve.is_some() { obs.lookups_per_record } else { 0.0 };
        // Reads cannot take more than the whole record's time: a noisy
        // interval leaves at least a tenth of it to the rest.
        let read_us = (lookups * measured_miss * miss_us).min(record_us * 0.9);
        let miss_correction = match (&curve, obs.cache_bytes) {
            (Some(c), Some(size)) if obs.hit_ratio.is_some() => {
                let modelled = 1.0 - c.hit_ratio(size);
                if modelled > 0.005 {
                    (measured_miss / modelled).clamp(0.25, 4.0)
                } else {
                    1.0
                }
            }
            _ => 1.0,
        };
        Ok(OperatorModel {
            name: obs.name.clone(),
            curve: if obs.has_cache { curve } else { None },
            cpu_us: match cpu_slots {
                Some(slots) if p > slots => (record_us - read_us).min(slots.max(0.01) * 1e6 / obs.true_processing_rate),
                _ => record_us - read_us,
            },
            lookups_per_record: lookups,
            miss_us,
            miss_correction,
            cpu_slots,
            on_cpu_us: obs
                .cpu_cores
                .filter(|&c| c > 0.0 && obs.records_in_per_s > 0.0)
                .map(|c| c * 1e6 / obs.records_in_per_s),
        })
    }

    /// The smallest cache at which the curve reaches its top (more gives
    /// nothing the curve knows of).
    pub fn saturating_cache(&self) -> Option<u64> {
        let c = self.curve.as_ref()?;
        let top = c.points().last()?.1;
        c.points().iter().find(|p| p.1 >= top - 1e-9).map(|p| p.0)
    }

    /// Miss ratio of the operator's lookups at `cache` bytes.
    pub fn miss_ratio(&self, cache: Option<u64>) -> f64 {
        match (&self.curve, cache) {
            (Some(c), Some(size)) => ((1.0 - c.hit_ratio(size)) * self.miss_correction).clamp(0.0, 1.0),
            _ => 0.0,
        }
    }

    /// Microseconds of useful time per record at `cache` bytes.
    pub fn record_us(&self, cache: Option<u64>) -> f64 {
        self.cpu_us + self.lookups_per_record * self.miss_ratio(cache) * self.miss_us
    }

    /// The most the cores allow, records/s: the cores over what a record
    /// takes on one (measured, or else the part of its useful time that is
    /// not block reads).
    pub fn cpu_cap(&self) -> f64 {
        self.cpu_slots.map_or(f64::INFINITY, |s| s * 1e6 / self.on_cpu_us.unwrap_or(self.cpu_us).max(1e-9))
    }

    /// T(p, c): records per second `p` subtasks sharing a cache of `cache`
    /// bytes process when busy all the time.
    pub fn rate(&self, p: u32, cache: Option<u64>) -> f64 {
        (p as f64 * 1e6 / self.record_us(cache).max(1e-9)).min(self.cpu_cap())
    }

    /// The smallest cache with which `p` subtasks process `rate` records
    /// per second: `Some(None)` when the operator has no cache and `p`
    /// suffices, `Some(Some(bytes))` (at least `min_cache`) when a size on
    /// the curve does, `None` when no modelled size does.
    pub fn cache_for(&self, p: u32, rate: f64, min_cache: u64) -> Option<Option<u64>> {
        if rate > self.cpu_cap() {
            return None;
        }
        let budget_us = p as f64 * 1e6 / rate.max(1e-9);
        let Some(curve) = &self.curve else {
            return (self.cpu_us <= budget_us).then_some(None);
        };
        let spare = budget_us - self.cpu_us;
        if spare < 0.0 {
            return None;
        }
        let per_miss = self.lookups_per_record * self.miss_us * self.miss_correction;
        if per_miss <= 0.0 {
            return Some(Some(min_cache));
        }
        // miss(c) · correction · lookups · miss_us ≤ spare.
        let hit = 1.0 - (spare / per_miss).min(1.0);
        let size = if hit <= 0.0 { Some(curve.range().0) } else { curve.size_for(hit) };
        size.map(|s| Some(s.max(min_cache)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed() -> OperatorObservation {
        OperatorObservation {
            name: "join".into(),
            has_cache: true,
            rescalable: true,
            parallelism: 2,
            cache_bytes: Some(16 << 20),
            true_processing_rate: 20_000.0,
            hit_ratio: Some(0.5),
            lookups_per_record: 2.0,
            miss_cost_us: Some(40.0),
            ..OperatorObservation::default()
        }
    }

    fn curve() -> HitCurve {
        HitCurve::new([(8 << 20, 0.2), (16 << 20, 0.5), (64 << 20, 0.9), (256 << 20, 0.95)]).unwrap()
    }

    #[test]
    fn calibration_reproduces_the_observed_rate_and_splits_its_cost() {
        let m = OperatorModel::calibrate(&observed(), Some(curve()), 100.0, None).unwrap();
        // 10,000 records/s per subtask: 100 us a record, of which 2 lookups
        // x 0.5 misses x 40 us are reads.
        assert!((m.cpu_us - 60.0).abs() < 1e-9, "{}", m.cpu_us);
        assert!((m.rate(2, Some(16 << 20)) - 20_000.0).abs() < 1e-6);
        // At 64 MiB, 0.1 misses: 60 + 8 us a record.
        assert!((m.rate(1, Some(64 << 20)) - 1e6 / 68.0).abs() < 1e-6);
        assert!((m.rate(4, Some(16 << 20)) - 40_000.0).abs() < 1e-6);
    }

    #[test]
    fn a_live_miss_ratio_off_the_curve_scales_the_curve() {
        let mut o = observed();
        o.hit_ratio = Some(0.0);
        let m = OperatorModel::calibrate(&o, Some(curve()), 100.0, None).unwrap();
        assert!((m.miss_correction - 2.0).abs() < 1e-12);
        assert!((m.miss_ratio(Some(64 << 20)) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn cache_for_is_the_smallest_size_reaching_the_rate() {
        let m = OperatorModel::calibrate(&observed(), Some(curve()), 100.0, None).unwrap();
        for (p, rate) in [(1, 12_000.0), (1, 14_000.0), (2, 21_000.0), (3, 30_000.0)] {
            let c = m.cache_for(p, rate, 1 << 20).unwrap().unwrap();
            assert!(m.rate(p, Some(c)) >= rate * (1.0 - 1e-9), "p={p} rate={rate} c={c}");
            assert!(c == 1 << 20 || c <= 8 << 20 || m.rate(p, Some(c * 99 / 100)) < rate, "p={p} rate={rate} c={c}");
        }
        // One subtask cannot go beyond 1e6/60 records/s at any size.
        assert_eq!(m.cache_for(1, 17_000.0, 1 << 20), None);
    }

    #[test]
    fn the_cores_cap_the_cpu_part_and_reads_overlap_beyond_them() {
        // One core for the operator: 60 us of CPU a record caps it at
        // 16,667/s, whatever the subtasks and the cache.
        let mut o = observed();
        o.parallelism = 1;
        o.true_processing_rate = 10_000.0;
        let m = OperatorModel::calibrate(&o, Some(curve()), 100.0, Some(1.0)).unwrap();
        assert!((m.cpu_us - 60.0).abs() < 1e-9);
        assert!((m.rate(1, Some(16 << 20)) - 10_000.0).abs() < 1e-6);
        // Two subtasks overlap their reads: 20,000/s wanted, 16,667 allowed.
        assert!((m.rate(2, Some(16 << 20)) - 1e6 / 60.0).abs() < 1e-6);
        assert_eq!(m.cache_for(4, 17_000.0, 1 << 20), None);
        // A larger cache takes the reads off one subtask instead.
        assert!(m.cache_for(1, 14_000.0, 1 << 20).unwrap().unwrap() > 16 << 20);
        // Calibrated at 4 subtasks on 2 cores at 20,000/s: each subtask's
        // 200 us a record is mostly waiting for a core; the cores say 100.
        let mut o = observed();
        o.parallelism = 4;
        let m = OperatorModel::calibrate(&o, Some(curve()), 100.0, Some(2.0)).unwrap();
        assert!((m.cpu_us - 100.0).abs() < 1e-9, "{}", m.cpu_us);
        assert_eq!(
            OperatorModel::calibrate(&OperatorObservation::default(), None, 1.0, None).unwrap_err(),
            ModelError::NoRecords(String::new())
        );
    }
}
