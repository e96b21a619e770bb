//! What a trial produced: one [`ArtifactResult`] per observable, gathered in a
//! [`TrialReport`]. These are the only types the `report` module reads.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::client::Taxonomy;
use crate::scenario::{AutorunVerdict, Expectation, Outcome, RuleMode};

/// The result for one observable.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactResult {
    /// The observable's value, e.g. an IP address.
    pub data: String,
    /// Its data type.
    pub data_type: String,
    /// The observable's `~id`, once created.
    pub observable_id: Option<String>,
    /// The job's id, once created.
    pub job_id: Option<String>,
    /// The end reached.
    pub outcome: Outcome,
    /// The last job status seen (`Success`, `Failure`, `Waiting`…), or what stopped it earlier.
    pub status: String,
    /// Whether the job was born `Success` (served from Cortex's cache).
    pub from_cache: bool,
    /// From observable creation to a job being visible (autorun); milliseconds in JSON.
    #[serde(serialize_with = "millis_opt")]
    pub time_to_job: Option<Duration>,
    /// From the start (job creation, or observable creation for autorun) to the report;
    /// milliseconds in JSON.
    #[serde(serialize_with = "millis_opt")]
    pub time_to_result: Option<Duration>,
    /// The analyzer's summary taxonomies as read on the observable.
    pub taxonomies: Vec<Taxonomy>,
    /// Top-level keys of the job's stored report.
    pub report_keys: Vec<String>,
    /// The keys of the observable's `reports` map.
    pub observable_report_keys: Vec<String>,
    /// Cortex's error message, or TheHive's refusal.
    pub error: Option<String>,
    /// What the scenario expected.
    pub expected: Expectation,
    /// Why the result does not meet the expectation, if it does not.
    pub mismatch: Option<String>,
}

impl ArtifactResult {
    /// A result for an observable not yet created.
    pub fn new(data: &str, data_type: &str, expected: Expectation) -> Self {
        ArtifactResult {
            data: data.to_owned(),
            data_type: data_type.to_owned(),
            observable_id: None,
            job_id: None,
            outcome: Outcome::Rejected,
            status: "-".to_owned(),
            from_cache: false,
            time_to_job: None,
            time_to_result: None,
            taxonomies: Vec::new(),
            report_keys: Vec::new(),
            observable_report_keys: Vec::new(),
            error: None,
            expected,
            mismatch: None,
        }
    }

    /// Compares the result with the expectation and records any mismatch.
    pub fn judge(&mut self) {
        let expected = &self.expected;
        let mut problems = Vec::new();
        if self.outcome != expected.outcome {
            let detail = match &self.error {
                Some(error) => format!(" ({})", first_line(error)),
                None => String::new(),
            };
            problems.push(format!(
                "expected {}, got {}{detail}",
                expected.outcome, self.outcome
            ));
        } else {
            if let Some(fragment) = &expected.error {
                let error = self.error.as_deref().unwrap_or_default();
                if !error.contains(fragment.as_str()) {
                    problems.push(format!(
                        "the error should contain `{fragment}`, got `{}`",
                        first_line(error)
                    ));
                }
            }
            let missing: Vec<&str> = expected
                .predicates
                .iter()
                .filter(|p| !self.taxonomies.iter().any(|t| &t.predicate == *p))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "missing taxonomy predicates: {}",
                    missing.join(", ")
                ));
            }
        }
        self.mismatch = (!problems.is_empty()).then(|| problems.join("; "));
    }
}

/// The autorun part of a trial: what happened to the notification rule and to the
/// organisation's configuration.
#[derive(Debug, Clone, Serialize)]
pub struct AutorunReport {
    /// The template used.
    pub template: String,
    /// How our rule joined the organisation's: `append` or `replace`.
    pub mode: RuleMode,
    /// How TheHive stored the rule: `stored as sent`, `normalised`, `dropped` or `rejected`.
    pub stored: String,
    /// TheHive's refusal of the rule, when it refused it.
    pub rejection: Option<String>,
    /// The differences between what was sent and what was read back.
    pub diff: Vec<String>,
    /// Remarks on the rule and the verdict (a replaced value, a shape TheHive never reads, a
    /// known TheHive bug), one sentence each.
    pub notes: Vec<String>,
    /// The verdict reached.
    pub verdict: AutorunVerdict,
    /// The verdict expected.
    pub expected: AutorunVerdict,
    /// How long each observable was given for a job to appear; milliseconds in JSON.
    #[serde(serialize_with = "millis")]
    pub deadline: Duration,
    /// What became of the organisation's configuration.
    pub restore: RestoreState,
    /// Why the configuration was not put back, with what it takes to put it back by hand.
    pub restore_failure: Option<RestoreFailure>,
    /// Where the organisation's configuration, as read before the trial, was saved.
    pub saved_to: Option<String>,
    /// The script that puts the saved value back.
    pub restore_script: Option<String>,
    /// Why the trial stopped before a verdict was reached, if it did; `verdict` is then not
    /// a finding.
    pub stopped: Option<String>,
}

/// What became of the organisation's notification configuration after an autorun trial.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RestoreState {
    /// Put back, and read back equal to the saved value.
    Verified,
    /// Nothing to put back: nothing was written (TheHive refused the rule, or the trial
    /// stopped first), or the value read back was still the saved one.
    NothingToRestore,
    /// Not put back; [`AutorunReport::restore_failure`] says why and how to do it by hand.
    NotRestored,
}

impl std::fmt::Display for RestoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestoreState::Verified => "restored and verified",
            RestoreState::NothingToRestore => "untouched (nothing to restore)",
            RestoreState::NotRestored => "NOT RESTORED",
        })
    }
}

/// A restore that did not happen, with everything needed to do it by hand.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreFailure {
    /// Why, as a fragment after "failed to restore …: ".
    pub reason: String,
    /// The value the organisation had before the trial.
    pub saved_value: Value,
    /// A shell command that puts it back.
    pub command: String,
}

/// Everything one trial produced.
#[derive(Debug, Clone, Serialize)]
pub struct TrialReport {
    /// The trial's name as libtest prints it.
    pub trial: String,
    /// The scenario's name.
    pub scenario: String,
    /// The analyzer chosen.
    pub analyzer: Option<String>,
    /// The Cortex server name.
    pub cortex: String,
    /// The case used, as `~id` (number).
    pub case: Option<String>,
    /// The seed of the random addresses.
    pub seed: u64,
    /// One entry per observable.
    pub artifacts: Vec<ArtifactResult>,
    /// The autorun part, for autorun scenarios.
    pub autorun: Option<AutorunReport>,
    /// Problems that are not about one artifact (a snapshot mismatch, a wrong verdict).
    pub problems: Vec<String>,
    /// Wall time of the trial; milliseconds in JSON.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

impl TrialReport {
    /// Whether every expectation was met.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.artifacts.iter().all(|a| a.mismatch.is_none())
    }

    /// Whether the trial left the organisation's configuration changed.
    pub fn restore_failed(&self) -> bool {
        self.autorun
            .as_ref()
            .is_some_and(|a| a.restore == RestoreState::NotRestored)
    }

    /// Every unmet expectation, one per line, for the failure message.
    pub fn failures(&self) -> Vec<String> {
        let mut lines = self.problems.clone();
        for artifact in &self.artifacts {
            if let Some(mismatch) = &artifact.mismatch {
                lines.push(format!("{}: {mismatch}", artifact.data));
            }
        }
        lines
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

fn millis_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis(d, s),
        None => s.serialize_none(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_failure_with_matching_message_passes() {
        let expected = Expectation {
            outcome: Outcome::Failure,
            error: Some("Unable to query".into()),
            predicates: vec![],
        };
        let mut result = ArtifactResult::new("8.8.8.x", "ip", expected);
        result.outcome = Outcome::Failure;
        result.error = Some("Unable to query AbuseIPDB API\n{}".into());
        result.judge();
        assert_eq!(result.mismatch, None);
    }

    #[test]
    fn success_where_failure_was_expected_is_a_mismatch() {
        let expected = Expectation {
            outcome: Outcome::Failure,
            ..Expectation::default()
        };
        let mut result = ArtifactResult::new("1.2.3.4", "ip", expected);
        result.outcome = Outcome::Success;
        result.judge();
        assert_eq!(
            result.mismatch.as_deref(),
            Some("expected failure, got success")
        );
    }

    #[test]
    fn missing_predicate_is_named() {
        let expected = Expectation {
            predicates: vec!["Score".into(), "Usage".into()],
            ..Default::default()
        };
        let mut result = ArtifactResult::new("1.2.3.4", "ip", expected);
        result.outcome = Outcome::Success;
        result.taxonomies = vec![Taxonomy {
            level: "safe".into(),
            namespace: "AbuseIPDB".into(),
            predicate: "Score".into(),
            value: 0.into(),
        }];
        result.judge();
        assert_eq!(
            result.mismatch.as_deref(),
            Some("missing taxonomy predicates: Usage")
        );
    }
}
