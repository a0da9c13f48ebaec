//! A run phase by phase, and the job throughput it predicts when some
//! operators' work changes (at another cache size: more or fewer misses,
//! each a block read).
//!
//! A job that keeps up early and falls behind late as its state grows is
//! slower than its mean cost says: in each phase the job goes as fast as
//! its slowest operator can (DS2's true processing rate) or at the source's
//! rate when it keeps up, so the prediction replays the run phase by phase.

use serde::{Deserialize, Serialize};

/// The run's progress at one moment, for cutting it into [`Phase`]s.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mark {
    /// Wall-clock time, microseconds since the Unix epoch (the clock
    /// RocksDB stamps its block-trace records with).
    pub unix_us: u64,
    /// Source events emitted so far.
    pub events: u64,
    /// Busy seconds so far per subtask of each operator (its busy time over
    /// its parallelism).
    pub useful_s: Vec<f64>,
    /// Microseconds of timed block reads so far, per operator.
    pub read_us: Vec<f64>,
}

/// The part of a run between two marks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Source events emitted.
    pub events: u64,
    /// Useful seconds per subtask of each operator (the run's operator
    /// order): its busy time over its parallelism.
    pub useful_s: Vec<f64>,
    /// Microseconds each operator's subtasks spent in block reads, as
    /// RocksDB timed them.
    #[serde(default)]
    pub read_us: Vec<f64>,
}

/// At most this many phases: enough to follow a state growing, few enough
/// for the model's curves to stay small.
pub const MAX_PHASES: usize = 48;

/// The phases between consecutive marks, adjacent ones merged down to
/// [`MAX_PHASES`]; with them, the marks that bound each (first and last
/// included).
pub fn phases(marks: &[Mark]) -> (Vec<Phase>, Vec<&Mark>) {
    if marks.len() < 2 {
        return (Vec::new(), Vec::new());
    }
    let step = (marks.len() - 1).div_ceil(MAX_PHASES);
    let mut bounds: Vec<&Mark> = marks.iter().step_by(step).collect();
    if bounds.last().map(|m| m.unix_us) != marks.last().map(|m| m.unix_us) {
        bounds.push(&marks[marks.len() - 1]);
    }
    let since = |now: &[f64], then: &[f64]| -> Vec<f64> {
        now.iter().enumerate().map(|(i, u)| (u - then.get(i).copied().unwrap_or(0.0)).max(0.0)).collect()
    };
    let phases = bounds
        .windows(2)
        .map(|w| Phase {
            seconds: w[1].unix_us.saturating_sub(w[0].unix_us) as f64 / 1e6,
            events: w[1].events.saturating_sub(w[0].events),
            useful_s: since(&w[1].useful_s, &w[0].useful_s),
            read_us: since(&w[1].read_us, &w[0].read_us),
        })
        .collect();
    (phases, bounds)
}

/// What a whole run did: the totals its phases add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// Source events over the run.
    pub events: u64,
    /// Seconds the sources ran (0 when unknown: then `elapsed_s`).
    pub source_s: f64,
    /// Wall-clock seconds of the whole run.
    pub elapsed_s: f64,
    /// The throughput the run sustained, events per second.
    pub sustained_throughput: f64,
    /// Name and parallelism of each operator, in the phases' order.
    pub operators: Vec<(String, u32)>,
    /// Useful seconds per subtask of each operator over the whole run (the
    /// run as one phase, for a run recorded without phases).
    pub useful_s: Vec<f64>,
}

/// Job throughput (source events per second, as sustained) were the named
/// operators' useful time changed by the given seconds, phase by phase
/// (`changes`: operator name and its added seconds per phase, over all its
/// subtasks; negative for saved time). In each phase the job goes as fast
/// as its slowest operator can, or at the source `rate` when one was set
/// and the job keeps up; the change in each phase's time from the run's
/// adds to the run's measured time. Never above `rate`: a run that fell
/// behind its rate early (start-up) does not get those seconds back.
pub fn predict_throughput(run: &Run, phases: &[Phase], rate: Option<u64>, changes: &[(&str, &[f64])]) -> f64 {
    let whole_run;
    let phases = if phases.is_empty() {
        whole_run =
            [Phase { seconds: run.source_s, events: run.events, useful_s: run.useful_s.clone(), read_us: vec![] }];
        &whole_run[..]
    } else {
        phases
    };
    let floor = |p: &Phase| rate.map_or(0.0, |r| p.events as f64 / r.max(1) as f64);
    let phase_time = |j: usize, p: &Phase, changed: bool| -> f64 {
        run.operators
            .iter()
            .enumerate()
            .map(|(i, (name, parallelism))| {
                let extra: f64 = if changed {
                    changes.iter().filter(|(n, _)| n == name).filter_map(|(_, e)| e.get(j)).sum()
                } else {
                    0.0
                };
                (p.useful_s.get(i).copied().unwrap_or(0.0) + extra / (*parallelism).max(1) as f64).max(0.0)
            })
            .fold(floor(p), f64::max)
    };
    let delta: f64 = phases
        .iter()
        .enumerate()
        .filter(|(_, p)| p.events > 0)
        .map(|(j, p)| phase_time(j, p, true) - phase_time(j, p, false))
        .sum();
    let measured_s = if run.source_s > 0.0 { run.source_s } else { run.elapsed_s };
    if measured_s <= 0.0 || run.events == 0 {
        return run.sustained_throughput;
    }
    let predicted = run.events as f64 / (measured_s + delta).max(1e-9);
    rate.map_or(predicted, |r| predicted.min(r as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 s at 1,000 events/s asked: `join` (parallelism 2) keeps up in the
    /// first 10 s with 5 s of slack per subtask, and is the bottleneck in
    /// the last 10 s (busy all of it).
    fn run() -> (Run, Vec<Phase>) {
        let run = Run {
            events: 20_000,
            source_s: 20.0,
            elapsed_s: 20.5,
            sustained_throughput: 1_000.0,
            operators: vec![("source".into(), 1), ("join".into(), 2)],
            useful_s: vec![1.0, 15.0],
        };
        let phases = vec![
            Phase { seconds: 10.0, events: 10_000, useful_s: vec![0.5, 5.0], read_us: vec![] },
            Phase { seconds: 10.0, events: 10_000, useful_s: vec![0.5, 10.0], read_us: vec![] },
        ];
        (run, phases)
    }

    #[test]
    fn added_work_slows_only_the_phases_it_saturates() {
        let (run, phases) = run();
        let none = predict_throughput(&run, &phases, Some(1_000), &[]);
        assert_eq!(none, 1_000.0);
        // 8 s more over both subtasks in the first phase: 4 s each, still
        // within its 5 s of slack.
        assert_eq!(predict_throughput(&run, &phases, Some(1_000), &[("join", &[8.0, 0.0])]), 1_000.0);
        // 4 s more in the saturated last phase: 2 s a subtask, 22 s in all.
        let slower = predict_throughput(&run, &phases, Some(1_000), &[("join", &[0.0, 4.0])]);
        assert!((slower - 20_000.0 / 22.0).abs() < 1e-9, "{slower}");
        // Other operators' names change nothing.
        assert_eq!(predict_throughput(&run, &phases, Some(1_000), &[("map", &[0.0, 40.0])]), 1_000.0);
    }

    #[test]
    fn saved_work_never_beats_the_sources_rate_nor_goes_below_zero() {
        let (run, phases) = run();
        assert_eq!(predict_throughput(&run, &phases, Some(1_000), &[("join", &[-100.0, -100.0])]), 1_000.0);
        // Unpaced, the same saving leaves each phase as long as the source
        // needs (0.5 s), 1 s in all.
        let unpaced = predict_throughput(&run, &phases, None, &[("join", &[-100.0, -100.0])]);
        assert!((unpaced - 20_000.0 / 6.0).abs() < 1e-6, "{unpaced}");
    }

    #[test]
    fn a_run_without_phases_is_one_phase() {
        let (run, _) = run();
        let slower = predict_throughput(&run, &[], Some(1_000), &[("join", &[14.0])]);
        assert!((slower - 20_000.0 / 22.0).abs() < 1e-9, "{slower}");
    }

    #[test]
    fn marks_cut_the_run_and_merge_down_to_the_maximum() {
        let marks: Vec<Mark> = (0..=100u64)
            .map(|k| Mark { unix_us: k * 1_000_000, events: k * 100, useful_s: vec![k as f64 * 0.5], read_us: vec![] })
            .collect();
        let (phases, bounds) = phases(&marks);
        assert!(phases.len() <= MAX_PHASES && phases.len() >= MAX_PHASES / 2, "{}", phases.len());
        assert_eq!(bounds.len(), phases.len() + 1);
        assert_eq!(phases.iter().map(|p| p.events).sum::<u64>(), 10_000);
        assert!((phases.iter().map(|p| p.seconds).sum::<f64>() - 100.0).abs() < 1e-9);
        assert!((phases.iter().map(|p| p.useful_s[0]).sum::<f64>() - 50.0).abs() < 1e-9);
        assert!(super::phases(&marks[..1]).0.is_empty(), "one mark is no phase");
    }
}
