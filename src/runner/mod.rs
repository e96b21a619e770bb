//! Executing scenarios: the steps of the runbook against a [`RunContext`]'s target.
//!
//! A trial is one scenario with one analyzer. [`run_trial`] picks the sequence (the compact
//! sequence in `direct`, or autorun validation in `autorun`) and returns a [`TrialReport`]
//! whose per-artifact results say whether each expectation was met. A [`RunError`] means the
//! trial could not be carried out at all. Printing and snapshots are left to `report`.

mod autorun;
mod context;
mod direct;
mod error;
mod interrupt;
mod notification;
mod outcome;
mod steps;

use std::sync::Arc;

pub use context::{FailedRestore, RunContext, RunOptions, Sessions, SnapshotMode, Target};
pub use error::{RunError, render};
pub use interrupt::{Interrupt, PendingRestore};
pub use notification::{built_in as built_in_template, template_path};
pub use outcome::{ArtifactResult, AutorunReport, RestoreFailure, RestoreState, TrialReport};

use crate::scenario::{AnalyzerPattern, Scenario};

/// Runs one trial: `scenario` with the analyzer `pattern` selects.
pub async fn run_trial(
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    pattern: AnalyzerPattern,
    trial: String,
) -> Result<TrialReport, RunError> {
    if scenario.autorun.is_some() {
        autorun::run(ctx, scenario, pattern, trial).await
    } else {
        direct::run(ctx, scenario, pattern, trial).await
    }
}
