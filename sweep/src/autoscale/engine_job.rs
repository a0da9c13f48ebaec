//! The engine as an autoscaler's [`ScalableJob`]: observations from its
//! metrics ([`Window`]), plans carried out through its control handle
//! (live key-group migration and in-place cache resizes). Glue between two
//! libraries, so it lives in the binary.

use std::time::Instant;

use autoscaler::job::{Applied, Observation, Plan, ScalableJob};
use engine::runtime::control::{Change, Control, ControlError, Memory, Report};
use engine::runtime::RescaleOptions;

use super::window::Window;

/// A running engine job under an autoscaler.
pub struct EngineJob {
    control: Control,
    window: Window,
    options: RescaleOptions,
    finished: Box<dyn Fn() -> bool + Send>,
    /// Reports of every change made, in order.
    pub reports: Vec<Report>,
}

impl EngineJob {
    /// The job behind `control`, observed through `window`; rescales move
    /// key groups as `options` say; `finished` tells when the job is done.
    pub fn new(
        control: Control,
        window: Window,
        options: RescaleOptions,
        finished: Box<dyn Fn() -> bool + Send>,
    ) -> EngineJob {
        EngineJob { control, window, options, finished, reports: Vec::new() }
    }

    /// The changes that move the job from its configuration now (as its
    /// control handle reports it) to `plan`'s.
    fn changes(&self, plan: &Plan) -> Vec<Change> {
        let current: Vec<_> = self.control.operators();
        let mut out = Vec::new();
        for o in &plan.operators {
            let Some(now) = current.iter().find(|c| c.name == o.operator) else { continue };
            if now.parallelism != o.parallelism && !now.source {
                out.push(Change::Rescale {
                    operator: o.operator.clone(),
                    parallelism: o.parallelism,
                    options: self.options,
                });
            }
            if let (Some(want), Some(have)) = (o.cache_bytes, now.cache_capacity) {
                if want != have {
                    out.push(Change::Resize {
                        operator: o.operator.clone(),
                        memory: Memory { cache: Some(want as usize), write_buffer: None },
                    });
                }
            }
        }
        out
    }
}

impl ScalableJob for EngineJob {
    type Error = ControlError;

    fn observe(&mut self) -> Result<Observation, ControlError> {
        Ok(self.window.observe())
    }

    fn apply(&mut self, plan: &Plan) -> Result<Applied, ControlError> {
        let changes = self.changes(plan);
        let started = Instant::now();
        let reports = self.control.apply(&changes)?;
        let mut applied = Applied { duration_s: started.elapsed().as_secs_f64(), ..Applied::default() };
        for r in &reports {
            match r {
                Report::Rescale(x) => applied.rescaled.push(x.operator.clone()),
                Report::Resize(x) => applied.resized.push(x.operator.clone()),
            }
        }
        self.reports.extend(reports);
        Ok(applied)
    }

    fn is_finished(&self) -> bool {
        (self.finished)()
    }
}
