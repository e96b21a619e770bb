//! The JSON TheHive sends and receives, as hivecheck reads it.
//!
//! Fields are read leniently where TheHive versions differ: v0 objects carry `_id` and `id`, v1
//! objects only `_id`, and TheHive 4's job objects only `id`. Optional fields are absent (not
//! null) in TheHive's output, so they are `Option` or defaulted here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /api/status`: versions and the Cortex connector's view of its servers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Status {
    /// Component versions, e.g. `TheHive` → `4.1.24-1` (TheHive 4 and the legacy path).
    #[serde(default)]
    pub versions: BTreeMap<String, String>,
    /// TheHive 5's single version string.
    #[serde(default)]
    pub version: Option<String>,
    /// Connectors; `cortex` is `{}` until TheHive's first background check.
    #[serde(default)]
    pub connectors: BTreeMap<String, Value>,
}

impl Status {
    /// TheHive's version as the server reports it.
    pub fn thehive_version(&self) -> Option<&str> {
        self.versions
            .get("TheHive")
            .map(String::as_str)
            .or(self.version.as_deref())
    }
}

/// One analyzer as TheHive lists it (`OutputWorker`), merged by name across Cortex servers.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Analyzer {
    /// The Cortex worker id (md5 of organisation, name and kind).
    pub id: String,
    /// The per-organisation analyzer name, e.g. `AbuseIPDB_1_0`.
    pub name: String,
    /// The analyzer version, e.g. `1.0`.
    #[serde(default)]
    pub version: Option<String>,
    /// What it does.
    #[serde(default)]
    pub description: Option<String>,
    /// The observable data types it accepts.
    #[serde(default)]
    pub data_type_list: Vec<String>,
    /// The Cortex servers that have it (by name, e.g. `cortex0`).
    #[serde(default)]
    pub cortex_ids: Vec<String>,
}

/// A case, v0 or v1.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    #[serde(rename = "_id")]
    underscore_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// The case number (v0 `caseId`).
    #[serde(rename = "caseId", default)]
    case_id: Option<u64>,
    /// The case number (v1 `number`).
    #[serde(default)]
    number: Option<u64>,
    /// The title.
    #[serde(default)]
    pub title: String,
    /// The tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Case {
    /// The `~id`.
    pub fn id(&self) -> &str {
        self.underscore_id
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or_default()
    }

    /// The case number people see in the UI.
    pub fn number(&self) -> Option<u64> {
        self.case_id.or(self.number)
    }
}

/// The body of a case creation.
#[derive(Debug, Clone, Serialize)]
pub struct NewCase {
    /// The title.
    pub title: String,
    /// The description (required by TheHive 4).
    pub description: String,
    /// Tags; hivecheck puts its run tag here.
    pub tags: Vec<String>,
}

/// One report entry on an observable: the taxonomies of an analyzer's last successful job.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ObservableReport {
    /// The summary taxonomies.
    #[serde(default)]
    pub taxonomies: Vec<Taxonomy>,
}

/// One taxonomy of an analyzer summary.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Taxonomy {
    /// `info`, `safe`, `suspicious` or `malicious`.
    pub level: String,
    /// The namespace, e.g. `AbuseIPDB`.
    pub namespace: String,
    /// The predicate, e.g. `Abuse Confidence Score`.
    pub predicate: String,
    /// Any JSON value; AbuseIPDB emits numbers and strings.
    #[serde(default)]
    pub value: Value,
}

impl Taxonomy {
    /// `namespace:predicate=value`, as TheHive's UI shows a tag.
    pub fn short(&self) -> String {
        let value = match &self.value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        format!("{}:{}={}", self.namespace, self.predicate, value)
    }
}

/// An observable (v0 `case_artifact`, v1 `Observable`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observable {
    #[serde(rename = "_id")]
    underscore_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// The data type, e.g. `ip`.
    pub data_type: String,
    /// The value; absent for file observables.
    #[serde(default)]
    pub data: Option<String>,
    /// Reports keyed by analyzer name.
    #[serde(default)]
    pub reports: BTreeMap<String, ObservableReport>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Observable {
    /// The `~id`.
    pub fn id(&self) -> &str {
        self.underscore_id
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or_default()
    }
}

/// The body of an observable creation (TheHive 4 v0 `InputObservable`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewObservable {
    /// The data type, e.g. `ip`.
    pub data_type: String,
    /// The value.
    pub data: String,
    /// A message shown with the observable.
    pub message: String,
    /// Traffic Light Protocol level, 0 to 3.
    pub tlp: u8,
    /// Tags; hivecheck puts its run tag here.
    pub tags: Vec<String>,
}

/// A failed element of a 207 observable creation.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CreateFailure {
    /// e.g. `CreateError`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// e.g. `Observable already exists`.
    #[serde(default)]
    pub message: String,
    /// The input that failed.
    #[serde(default)]
    pub object: Value,
}

/// What an observable creation produced: 201 gives only `created`; 207 gives both.
#[derive(Debug, Clone)]
pub struct CreatedObservables {
    /// The observables created.
    pub created: Vec<Observable>,
    /// The elements refused (207 Multi-Status), e.g. duplicates.
    pub failed: Vec<CreateFailure>,
}

/// The body of a job creation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewJob {
    /// The Cortex worker id or the analyzer name.
    pub analyzer_id: String,
    /// The observable's `~id`.
    pub artifact_id: String,
    /// The Cortex server name, e.g. `cortex0` (mandatory).
    pub cortex_id: String,
}

/// A job's status. `InProgress` and `Deleted` exist in the model; TheHive 4 never stores the
/// former and keeps `Waiting` forever for the latter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum JobStatus {
    /// Queued on Cortex, or not yet seen finished by TheHive's poller.
    Waiting,
    /// Running on Cortex.
    InProgress,
    /// Finished; the report may still be absent for one poller tick.
    Success,
    /// Finished with an error message.
    Failure,
    /// Deleted on Cortex.
    Deleted,
    /// A status this version of hivecheck does not know.
    #[serde(untagged)]
    Other(String),
}

impl JobStatus {
    /// Whether the job will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, JobStatus::Success | JobStatus::Failure)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobStatus::Waiting => f.write_str("Waiting"),
            JobStatus::InProgress => f.write_str("InProgress"),
            JobStatus::Success => f.write_str("Success"),
            JobStatus::Failure => f.write_str("Failure"),
            JobStatus::Deleted => f.write_str("Deleted"),
            JobStatus::Other(s) => f.write_str(s),
        }
    }
}

/// A Cortex job as TheHive shows it (`case_artifact_job`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    #[serde(rename = "_id")]
    underscore_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    /// The status.
    pub status: JobStatus,
    /// The Cortex worker id.
    #[serde(default)]
    pub analyzer_id: Option<String>,
    /// The analyzer name; it keys the observable's `reports`.
    #[serde(default)]
    pub analyzer_name: Option<String>,
    /// The Cortex server name.
    #[serde(default)]
    pub cortex_id: Option<String>,
    /// The job id on Cortex.
    #[serde(default)]
    pub cortex_job_id: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub start_date: Option<i64>,
    /// Epoch milliseconds.
    #[serde(default)]
    pub end_date: Option<i64>,
    /// Absent until TheHive's poller stored the result.
    #[serde(default)]
    pub report: Option<Value>,
}

impl Job {
    /// The job id (`id` in TheHive 4, `_id` and `id` in TheHive 5).
    pub fn id(&self) -> &str {
        self.id
            .as_deref()
            .or(self.underscore_id.as_deref())
            .unwrap_or_default()
    }

    /// Cortex's error message of a failed job.
    pub fn error_message(&self) -> Option<&str> {
        self.report.as_ref()?.get("errorMessage")?.as_str()
    }

    /// The top-level keys of the stored report, sorted.
    pub fn report_keys(&self) -> Vec<String> {
        match &self.report {
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_reads_thehive4_shape_without_underscore_id() {
        let job: Job = serde_json::from_str(
            r#"{"_type":"case_artifact_job","id":"~9","status":"Success","operations":"[]",
                "report":{"success":true,"full":{},"artifacts":[]}}"#,
        )
        .unwrap();
        assert_eq!(job.id(), "~9");
        assert_eq!(job.report_keys(), vec!["artifacts", "full", "success"]);
    }

    #[test]
    fn unknown_status_is_kept() {
        let job: Job = serde_json::from_str(r#"{"id":"~1","status":"Cancelled"}"#).unwrap();
        assert_eq!(job.status, JobStatus::Other("Cancelled".into()));
        assert!(!job.status.is_terminal());
    }

    #[test]
    fn observable_reads_both_id_forms() {
        let v0: Observable =
            serde_json::from_str(r#"{"_id":"~4","id":"~4","dataType":"ip","data":"1.2.3.4"}"#)
                .unwrap();
        let v1: Observable = serde_json::from_str(r#"{"_id":"~5","dataType":"ip"}"#).unwrap();
        assert_eq!((v0.id(), v1.id()), ("~4", "~5"));
    }
}
