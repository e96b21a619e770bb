//! What a scenario says, once parsed and validated.
//!
//! The raw serde shapes (`Raw*`) mirror the TOML keys and keep spans where validation needs to
//! point back into the file; [`Scenario`] is the checked form the runner reads.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from.
    pub path: PathBuf,
    /// The file stem, used as the trial name.
    pub name: String,
    /// One sentence on what it checks.
    pub description: String,
    /// When set, the scenario is ignored unless `--ignored` or `--include-ignored` is given.
    pub ignore: Option<String>,
    /// Pins the random addresses (and so the snapshots).
    pub seed: Option<u64>,
    /// The Cortex server name the analyzers must be on, e.g. `cortex0`.
    pub cortex: String,
    /// One trial per pattern.
    pub analyzers: Vec<AnalyzerPattern>,
    /// Which case receives the observables.
    pub case: CaseSpec,
    /// How many random public IPv4 addresses to add.
    pub random: usize,
    /// The data type of the random addresses and of items that do not name one.
    pub data_type: String,
    /// TLP of every observable.
    pub tlp: u8,
    /// Explicit observables, each with its own expectation if it differs.
    pub items: Vec<ItemSpec>,
    /// Polling interval and deadline.
    pub poll: PollSpec,
    /// What is expected of every observable without its own expectation.
    pub expect: Expectation,
    /// Whether report shapes are compared with the stored snapshot.
    pub snapshot: bool,
    /// Autorun validation instead of starting jobs directly.
    pub autorun: Option<AutorunSpec>,
}

/// A position in a scenario file: what an error found after loading points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The line with a caret under the position.
    pub snippet: String,
}

/// An analyzer selector: a case-insensitive regex on the analyzer name.
#[derive(Debug, Clone)]
pub struct AnalyzerPattern {
    /// The pattern as written.
    pub pattern: String,
    /// A name fit for a trial (`AbuseIPDB_1_0`, or `#2` for patterns that are not plain words).
    pub label: String,
    /// The compiled, case-insensitive regex.
    pub regex: regex::Regex,
}

/// Which case receives the observables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// An existing case, by `~id` or by number.
    #[serde(default)]
    pub id: Option<CaseRef>,
    /// The title of the case created for the run (when `id` is not set).
    #[serde(default)]
    pub title: Option<String>,
}

/// A case reference: `"~123"` or `42`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum CaseRef {
    /// A number, as the UI shows it.
    Number(u64),
    /// An `~id`, or a number in a string.
    Text(String),
}

impl std::fmt::Display for CaseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseRef::Number(n) => write!(f, "{n}"),
            CaseRef::Text(t) => f.write_str(t),
        }
    }
}

/// One explicit observable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// The value, e.g. `8.8.8.8`; may be deliberately reserved or invalid.
    pub data: String,
    /// Its data type; defaults to the scenario's.
    #[serde(default)]
    pub data_type: Option<String>,
    /// Its own expectation; defaults to the scenario's.
    #[serde(default)]
    pub expect: Option<Expectation>,
}

/// Polling of one job.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollSpec {
    /// Time between two reads of the job.
    #[serde(with = "humantime_serde", default = "PollSpec::default_interval")]
    pub interval: Duration,
    /// Time after which a job still not finished counts as timed out.
    #[serde(with = "humantime_serde", default = "PollSpec::default_deadline")]
    pub deadline: Duration,
}

impl PollSpec {
    fn default_interval() -> Duration {
        Duration::from_millis(500)
    }

    fn default_deadline() -> Duration {
        Duration::from_secs(120)
    }
}

impl Default for PollSpec {
    fn default() -> Self {
        PollSpec {
            interval: Self::default_interval(),
            deadline: Self::default_deadline(),
        }
    }
}

/// The end an observable's analysis is expected to reach.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The job ends `Success` and the report is read.
    #[default]
    Success,
    /// The job ends `Failure` (Cortex's `errorMessage` is shown).
    Failure,
    /// TheHive refuses to create the job (or the observable).
    Rejected,
    /// The job is still not finished at the deadline.
    Timeout,
    /// TheHive answered with something hivecheck cannot read (an error object or another
    /// shape where a list of jobs belongs). A result only: scenarios cannot expect it.
    #[serde(skip_deserializing)]
    Unreadable,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Rejected => "rejected",
            Outcome::Timeout => "timeout",
            Outcome::Unreadable => "unreadable",
        })
    }
}

/// What is expected of an observable.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The end reached.
    #[serde(default)]
    pub outcome: Outcome,
    /// A fragment the error message must contain (failure, rejected).
    #[serde(default)]
    pub error: Option<String>,
    /// Taxonomy predicates that must appear in the report (success).
    #[serde(default)]
    pub predicates: Vec<String>,
}

/// How our notification rule joins the organisation's existing ones.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RuleMode {
    /// Keep the existing rules and add ours (the default on shared instances). When they
    /// cannot be joined (either value is not a list of rules) and the organisation has rules,
    /// the trial writes nothing and fails.
    #[default]
    Append,
    /// Set every rule aside for ours until the restore; only on explicit request.
    Replace,
}

/// The verdict of an autorun trial, and the one its scenario expects.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AutorunVerdict {
    /// TheHive refused the rule.
    Rejected,
    /// TheHive stored the rule but no job started on any observable within the deadline.
    NeverFired,
    /// A job started on every observable, and the analyzer failed (or did not finish) on at
    /// least one.
    AnalyzerFailed,
    /// A job started on some observables and not on others.
    PartlyFired,
    /// No observable could be created (or none could be checked), so nothing could fire.
    Inconclusive,
    /// A job started on every observable and every report is on its observable.
    #[default]
    Fired,
}

impl std::fmt::Display for AutorunVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AutorunVerdict::Rejected => "rejected",
            AutorunVerdict::NeverFired => "never-fired",
            AutorunVerdict::AnalyzerFailed => "analyzer-failed",
            AutorunVerdict::PartlyFired => "partly-fired",
            AutorunVerdict::Inconclusive => "inconclusive",
            AutorunVerdict::Fired => "fired",
        })
    }
}

/// Autorun validation: configure a notification rule, then watch for the jobs it starts.
#[derive(Debug, Clone)]
pub struct AutorunSpec {
    /// A template in `fixtures/notifications/` (by name) or a path to one.
    pub template: String,
    /// Where `template` is written in the scenario file, for errors found after loading.
    pub template_at: Location,
    /// Append to or replace the existing rules (`hivecheck run --replace` overrides it).
    pub mode: RuleMode,
    /// How long to wait for a job to appear on each observable.
    pub deadline: Duration,
    /// The verdict expected.
    pub expect: AutorunVerdict,
}

// ---- raw serde shapes -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub description: String,
    #[serde(default)]
    pub ignore: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    pub analyzer: Spanned<RawAnalyzer>,
    #[serde(default)]
    pub case: Option<Spanned<CaseSpec>>,
    pub observables: Spanned<RawObservables>,
    #[serde(default)]
    pub poll: Option<Spanned<PollSpec>>,
    #[serde(default)]
    pub expect: Option<Spanned<Expectation>>,
    #[serde(default = "yes")]
    pub snapshot: bool,
    #[serde(default)]
    pub autorun: Option<Spanned<RawAutorun>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAnalyzer {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub names: Option<Vec<Spanned<String>>>,
    #[serde(default = "default_cortex")]
    pub cortex: String,
}

fn default_cortex() -> String {
    "cortex0".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawObservables {
    #[serde(default)]
    pub random: Option<Spanned<usize>>,
    #[serde(default = "default_data_type")]
    pub data_type: String,
    #[serde(default)]
    pub tlp: Option<Spanned<u8>>,
    #[serde(default)]
    pub items: Vec<Spanned<ItemSpec>>,
}

fn default_data_type() -> String {
    "ip".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAutorun {
    pub template: Spanned<String>,
    #[serde(default)]
    pub mode: RuleMode,
    #[serde(default = "default_autorun_deadline")]
    pub deadline: Spanned<HumanDuration>,
    #[serde(default)]
    pub expect: AutorunVerdict,
}

/// A duration written with its unit (`"30s"`), kept with its span for validation.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(transparent)]
pub(super) struct HumanDuration(#[serde(with = "humantime_serde")] pub Duration);

fn default_autorun_deadline() -> Spanned<HumanDuration> {
    Spanned::new(0..0, HumanDuration(Duration::from_secs(60)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_is_a_result_a_scenario_cannot_expect() {
        let refused = toml::from_str::<Expectation>("outcome = \"unreadable\"");

        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(
            serde_json::to_value(Outcome::Unreadable).unwrap(),
            "unreadable"
        );
    }

    #[test]
    fn the_new_verdicts_are_accepted_in_kebab_case() {
        #[derive(Deserialize)]
        struct Wrapper {
            expect: AutorunVerdict,
        }
        for (text, verdict) in [
            ("partly-fired", AutorunVerdict::PartlyFired),
            ("inconclusive", AutorunVerdict::Inconclusive),
        ] {
            let parsed: Wrapper = toml::from_str(&format!("expect = \"{text}\"")).unwrap();
            assert_eq!(parsed.expect, verdict);
            assert_eq!(verdict.to_string(), text);
        }
    }
}
