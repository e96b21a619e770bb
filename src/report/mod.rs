//! What people and tools read after a trial: the per-artifact summary table and the report
//! snapshot. This module sees only the runner's result types.

mod snapshot;
mod summary;

pub use snapshot::{SnapshotCheck, check_snapshot, install_quiet_snapshot_panics, snapshot_value};
pub use summary::render_trial;
