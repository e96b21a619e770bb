//! The report snapshot of a trial: the shape of what TheHive returned, compared with insta.
//!
//! The snapshot keeps, per artifact, the outcome, the keys of the job report and of the
//! observable's `reports`, and each taxonomy's namespace, predicate and level. Ids, dates and
//! durations are left out or replaced by placeholders, so the snapshot changes only when the
//! API's answer changes. Snapshots are named `<scenario>@<analyzer>.snap` and stored in
//! `scenarios/snapshots/`, beside the scenarios.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::runner::TrialReport;

/// What comparing a trial with its snapshot gave.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotCheck {
    /// The stored snapshot matches.
    Matched,
    /// It does not, or there is none yet; the text says how to review.
    Mismatch(String),
    /// Not compared, and why.
    Skipped(String),
}

/// The value stored in the snapshot.
pub fn snapshot_value(report: &TrialReport) -> Value {
    let artifacts: Vec<Value> = report
        .artifacts
        .iter()
        .map(|a| {
            let mut entry = json!({
                "data": a.data,
                "dataType": a.data_type,
                "outcome": a.outcome.to_string(),
                "jobReportKeys": a.report_keys,
                "observableReportKeys": a.observable_report_keys,
                // `level namespace:predicate`; values are left out, they follow the live data.
                "taxonomies": a.taxonomies.iter()
                    .map(|t| format!("{} {}:{}", t.level, t.namespace, t.predicate))
                    .collect::<Vec<_>>(),
            });
            if let Some(error) = &a.error {
                entry["error"] = json!(volatile(error.lines().next().unwrap_or_default()));
            }
            entry
        })
        .collect();
    let mut value = json!({
        "scenario": report.scenario,
        "analyzer": report.analyzer,
        "artifacts": artifacts,
    });
    if let Some(autorun) = &report.autorun {
        value["autorun"] =
            json!({ "stored": autorun.stored, "verdict": autorun.verdict.to_string() });
    }
    value
}

/// Compares `report` with `<dir>/<scenario>@<analyzer>.snap`. A missing or different snapshot
/// is a mismatch; insta writes the new one as `.snap.new` for `cargo insta review` (never
/// under CI).
pub fn check_snapshot(report: &TrialReport, dir: &Path) -> SnapshotCheck {
    let Some(analyzer) = report.analyzer.clone() else {
        return SnapshotCheck::Skipped("no analyzer was chosen".to_owned());
    };
    let value = snapshot_value(report);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_suffix(analyzer.clone());
    settings.set_omit_expression(true);
    settings.set_description(format!(
        "report shape of scenario `{}` with {analyzer}",
        report.scenario
    ));
    let name = report.scenario.clone();
    QUIET_PANIC.set(true);
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_json_snapshot!(name, value));
    }));
    QUIET_PANIC.set(false);
    let file = dir.join(format!("{}@{analyzer}.snap", report.scenario));
    match outcome {
        Ok(()) => SnapshotCheck::Matched,
        Err(_) if !file.is_file() => SnapshotCheck::Mismatch(format!(
            "no snapshot `{}` yet: review the new one with `cargo insta review` and commit it \
             (insta writes none when CI is set), or run with --snapshots never",
            file.display()
        )),
        Err(_) => SnapshotCheck::Mismatch(format!(
            "the report does not match snapshot `{}/{}@{analyzer}.snap` (review with `cargo insta review`, or run with --snapshots never)",
            dir.display(),
            report.scenario
        )),
    }
}

thread_local! {
    /// Set while insta compares, so the panic it raises on a mismatch (after printing its own
    /// diff) is not printed a second time with a backtrace.
    static QUIET_PANIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs a panic hook that stays silent for snapshot mismatches and defers to the previous
/// hook for every other panic. Call once, before trials start.
pub fn install_quiet_snapshot_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANIC.get() {
                previous(info);
            }
        }));
    });
}

/// Replaces ids (`~123`) and epoch-millisecond dates in text.
fn volatile(text: &str) -> String {
    static PATTERNS: OnceLock<(regex::Regex, regex::Regex)> = OnceLock::new();
    let (ids, dates) = PATTERNS.get_or_init(|| {
        (
            regex::Regex::new(r"~\d+").expect("valid id pattern"),
            regex::Regex::new(r"\b1\d{12}\b").expect("valid date pattern"),
        )
    });
    dates
        .replace_all(&ids.replace_all(text, "<id>"), "<timestamp>")
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_dates_are_replaced() {
        assert_eq!(
            volatile("POST /api/case/~4120/artifact at 1700000000123"),
            "POST /api/case/<id>/artifact at <timestamp>"
        );
    }
}
