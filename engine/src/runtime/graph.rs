//! A job as a graph of stages: sources and operators, each with a
//! parallelism, connected by forward or keyed edges.

use std::sync::Arc;

use super::exchange::Partition;
use super::operator::Operator;
use super::source::Source;

/// Makes the operator instance of subtask `index`.
pub type OperatorFactory = Arc<dyn Fn(u32) -> Box<dyn Operator> + Send + Sync>;
/// Makes the source of subtask `index` of `parallelism`.
pub type SourceFactory = Arc<dyn Fn(u32, u32) -> Box<dyn Source> + Send + Sync>;

/// What a stage runs.
#[derive(Clone)]
pub enum StageKind {
    /// Produces rows.
    Source(SourceFactory),
    /// Transforms rows.
    Operator(OperatorFactory),
}

/// An input of a stage: an upstream stage and how rows reach this one.
#[derive(Clone)]
pub struct Input {
    /// Index of the upstream stage.
    pub from: usize,
    /// Routing.
    pub partition: Partition,
}

/// One logical operator, run as `parallelism` subtasks.
#[derive(Clone)]
pub struct Stage {
    /// Name (unique in the graph): metrics, state directories and traces
    /// are named after it.
    pub name: String,
    /// Number of subtasks.
    pub parallelism: u32,
    /// Source or operator.
    pub kind: StageKind,
    /// Inputs, by port.
    pub inputs: Vec<Input>,
    /// Names of the keyed states (column families) the operator uses;
    /// empty for stateless stages.
    pub states: Vec<&'static str>,
    /// Why the stage keeps its parallelism while the job runs, when it
    /// must (an operator holding files open that only it can finish).
    pub fixed_parallelism: Option<&'static str>,
}

/// A job: stages in topological order (every input names an earlier
/// stage).
#[derive(Clone, Default)]
pub struct JobGraph {
    /// The stages.
    pub stages: Vec<Stage>,
}

impl JobGraph {
    /// An empty graph.
    pub fn new() -> JobGraph {
        JobGraph::default()
    }

    /// Adds a source stage; returns its index.
    pub fn source(
        &mut self,
        name: &str,
        parallelism: u32,
        f: impl Fn(u32, u32) -> Box<dyn Source> + Send + Sync + 'static,
    ) -> usize {
        self.stages.push(Stage {
            name: name.to_string(),
            parallelism,
            kind: StageKind::Source(Arc::new(f)),
            inputs: Vec::new(),
            states: Vec::new(),
            fixed_parallelism: None,
        });
        self.stages.len() - 1
    }

    /// Adds an operator stage reading `inputs` (port 0, 1, ...); returns its
    /// index.
    pub fn operator(
        &mut self,
        name: &str,
        parallelism: u32,
        states: &[&'static str],
        inputs: Vec<(usize, Partition)>,
        f: impl Fn(u32) -> Box<dyn Operator> + Send + Sync + 'static,
    ) -> usize {
        self.stages.push(Stage {
            name: name.to_string(),
            parallelism,
            kind: StageKind::Operator(Arc::new(f)),
            inputs: inputs.into_iter().map(|(from, partition)| Input { from, partition }).collect(),
            states: states.to_vec(),
            fixed_parallelism: None,
        });
        self.stages.len() - 1
    }

    /// Keeps `stage` at its parallelism for the whole run: rescales of it
    /// are refused with `reason`.
    pub fn fix_parallelism(&mut self, stage: usize, reason: &'static str) {
        self.stages[stage].fixed_parallelism = Some(reason);
    }

    /// The stage called `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Checks the graph; the message names the stage at fault.
    pub fn validate(&self, max_parallelism: u32) -> Result<(), String> {
        for (i, s) in self.stages.iter().enumerate() {
            if s.parallelism == 0 || s.parallelism > max_parallelism {
                return Err(format!(
                    "operator `{}`: parallelism {} is outside 1..={max_parallelism} (the maximum parallelism)",
                    s.name, s.parallelism
                ));
            }
            if self.stages[..i].iter().any(|o| o.name == s.name) {
                return Err(format!("two operators are called `{}`", s.name));
            }
            for input in &s.inputs {
                let Some(up) = self.stages[..i].get(input.from) else {
                    return Err(format!("operator `{}` reads a stage that does not come before it", s.name));
                };
                if matches!(input.partition, Partition::Forward) && up.parallelism != s.parallelism {
                    return Err(format!(
                        "operator `{}` (parallelism {}) has a forward input from `{}` (parallelism {})",
                        s.name, s.parallelism, up.name, up.parallelism
                    ));
                }
            }
            if matches!(s.kind, StageKind::Operator(_)) && s.inputs.is_empty() {
                return Err(format!("operator `{}` has no input", s.name));
            }
        }
        Ok(())
    }
}
