//! Scenarios: the declarative TOML files in `scenarios/`, written by people.
//!
//! [`load_dir`] and [`load_file`] parse a file into a [`Scenario`], reject unknown keys, and
//! validate what serde cannot (regexes, counts, durations that contradict each other). Every
//! problem is a [`ScenarioError`] that points at `file:line:col` with a hint. This module knows
//! nothing of HTTP; the runner turns a scenario into requests.

mod error;
mod load;
mod model;

pub use error::ScenarioError;
pub use load::{MAX_DEADLINE, MAX_RANDOM, load_dir, load_file, load_str, locate};
pub use model::{
    AnalyzerPattern, AutorunSpec, AutorunVerdict, CaseSpec, Expectation, ItemSpec, Location,
    Outcome, PollSpec, RuleMode, Scenario,
};
