//! The summary of a trial: a header line, one row per artifact (data, observable, analyzer,
//! job, final status, times, taxonomies, check) and, for autorun trials, what became of the
//! rule and of the organisation's configuration, with the verdict in a sentence.

use comfy_table::{Cell, ContentArrangement, Table, presets};

use crate::runner::{ArtifactResult, AutorunReport, RestoreState, TrialReport};
use crate::scenario::{AutorunVerdict, Outcome};

/// Renders a trial's header and its per-artifact rows as text for stdout.
pub fn render_trial(report: &TrialReport) -> String {
    let mut header = format!("{}:", report.trial);
    if let Some(analyzer) = &report.analyzer {
        header.push_str(&format!(" {analyzer} on {}", report.cortex));
    }
    if let Some(case) = &report.case {
        header.push_str(&format!(", case {case}"));
    }
    header.push_str(&format!(
        ", seed {}, {}",
        report.seed,
        humantime::format_duration(rounded(report.elapsed))
    ));

    let autorun = report.autorun.is_some();
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    let analyzer = report.analyzer.as_deref().unwrap_or("-");
    let mut titles = vec!["data", "observable", "analyzer", "job", "status"];
    if autorun {
        titles.push("to job");
    }
    titles.extend(["to result", "taxonomies", "check"]);
    table.set_header(titles);
    for artifact in &report.artifacts {
        table.add_row(row(artifact, analyzer, autorun));
    }

    let mut text = format!("{header}\n");
    for line in table.lines() {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if let Some(autorun) = &report.autorun {
        text.push_str(&render_autorun(autorun, report));
    }
    for problem in &report.problems {
        text.push_str(&format!("  problem: {problem}\n"));
    }
    text
}

/// The autorun lines: the rule and the configuration, the verdict's sentence, then the diff
/// and the notes.
fn render_autorun(autorun: &AutorunReport, report: &TrialReport) -> String {
    let configuration = match autorun.restore {
        RestoreState::NothingToRestore if autorun.verdict == AutorunVerdict::Rejected => {
            "configuration untouched (nothing was written)".to_owned()
        }
        state => format!("configuration {state}"),
    };
    let verdict = match autorun.stopped {
        Some(_) => "not reached".to_owned(),
        None => autorun.verdict.to_string(),
    };
    let mut text = format!(
        "  autorun: template `{}` ({}), rule {}, verdict {verdict} (expected {}), {configuration}\n",
        autorun.template,
        match autorun.mode {
            crate::scenario::RuleMode::Append => "append",
            crate::scenario::RuleMode::Replace => "replace",
        },
        autorun.stored,
        autorun.expected,
    );
    let sentence = match &autorun.stopped {
        Some(why) => format!("verdict not reached: the trial stopped ({why})"),
        None => verdict_sentence(autorun, report),
    };
    text.push_str(&format!("    {sentence}\n"));
    for line in autorun.diff.iter().chain(&autorun.notes) {
        text.push_str(&format!("    {line}\n"));
    }
    text
}

/// The verdict in one sentence, with the counts it rests on.
fn verdict_sentence(autorun: &AutorunReport, report: &TrialReport) -> String {
    let analyzer = report.analyzer.as_deref().unwrap_or("the analyzer");
    let artifacts = &report.artifacts;
    let created = artifacts
        .iter()
        .filter(|a| a.observable_id.is_some())
        .count();
    let unreadable = artifacts
        .iter()
        .filter(|a| a.outcome == Outcome::Unreadable)
        .count();
    let checked = created - unreadable;
    let fired = artifacts.iter().filter(|a| a.job_id.is_some()).count();
    let reported = artifacts
        .iter()
        .filter(|a| a.outcome == Outcome::Success)
        .count();
    let within = humantime::format_duration(rounded(autorun.deadline));
    let first_error = |wanted: &dyn Fn(&ArtifactResult) -> bool| {
        artifacts
            .iter()
            .filter(|a| wanted(a))
            .find_map(|a| a.error.as_deref())
            .map(|e| format!(": {}", e.lines().next().unwrap_or_default()))
            .unwrap_or_default()
    };
    match autorun.verdict {
        AutorunVerdict::Rejected => format!(
            "rule rejected by TheHive: {}",
            autorun.rejection.as_deref().unwrap_or("no reason given")
        ),
        AutorunVerdict::NeverFired => format!(
            "rule stored but never fired: no job of {analyzer} on any of {} within {within}",
            observables(checked)
        ),
        AutorunVerdict::AnalyzerFailed => format!(
            "rule fired but the analyzer failed on {} of {}{}",
            checked - reported,
            observables(checked),
            first_error(&|a| a.job_id.is_some() && a.outcome != Outcome::Success)
        ),
        AutorunVerdict::PartlyFired => format!(
            "rule fired on {fired} of {} only: no job of {analyzer} on the other {} within {within}",
            observables(checked),
            checked - fired
        ),
        AutorunVerdict::Inconclusive if created == 0 && !artifacts.is_empty() => format!(
            "inconclusive: no observable could be created, so nothing could fire{}",
            first_error(&|a| a.observable_id.is_none())
        ),
        AutorunVerdict::Inconclusive if artifacts.is_empty() => {
            "inconclusive: no observable was watched, so nothing could fire".to_owned()
        }
        AutorunVerdict::Inconclusive => format!(
            "inconclusive: the jobs of none of the {} could be read{}",
            observables(created),
            first_error(&|a| a.outcome == Outcome::Unreadable)
        ),
        AutorunVerdict::Fired => format!(
            "rule fired and reports are present on {reported} of {}",
            observables(checked)
        ),
    }
}

fn observables(count: usize) -> String {
    if count == 1 {
        "1 observable".to_owned()
    } else {
        format!("{count} observables")
    }
}

fn row(artifact: &ArtifactResult, analyzer: &str, autorun: bool) -> Vec<Cell> {
    let time = |d: Option<std::time::Duration>| {
        d.map_or_else(
            || "-".to_owned(),
            |d| humantime::format_duration(rounded(d)).to_string(),
        )
    };
    let mut status = artifact.status.clone();
    if artifact.from_cache {
        status.push_str(" (cache)");
    }
    let detail = match artifact.outcome {
        Outcome::Success if artifact.taxonomies.is_empty() => "(no taxonomies)".to_owned(),
        Outcome::Success => taxonomies(&artifact.taxonomies),
        _ => artifact
            .error
            .as_deref()
            .map(|e| e.lines().next().unwrap_or_default().to_owned())
            .unwrap_or_default(),
    };
    let check = match &artifact.mismatch {
        None if artifact.expected.outcome == Outcome::Success => "ok".to_owned(),
        None => format!("ok (expected {})", artifact.expected.outcome),
        Some(mismatch) => format!("FAILED: {mismatch}"),
    };
    let mut cells = vec![
        Cell::new(&artifact.data),
        Cell::new(artifact.observable_id.as_deref().unwrap_or("-")),
        Cell::new(analyzer),
        Cell::new(artifact.job_id.as_deref().unwrap_or("-")),
        Cell::new(status),
    ];
    if autorun {
        cells.push(Cell::new(time(artifact.time_to_job)));
    }
    cells.extend([
        Cell::new(time(artifact.time_to_result)),
        Cell::new(detail),
        Cell::new(check),
    ]);
    cells
}

/// Drops sub-millisecond noise from a duration before display.
fn rounded(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(d.as_millis() as u64)
}

/// `AbuseIPDB: Score=0 [safe], Usage=Hosting [info]`: the namespace once per run of equal
/// namespaces, then each predicate with its value and level.
fn taxonomies(list: &[crate::client::Taxonomy]) -> String {
    let mut text = String::new();
    let mut namespace: Option<&str> = None;
    for taxonomy in list {
        if namespace != Some(taxonomy.namespace.as_str()) {
            if namespace.is_some() {
                text.push_str("; ");
            }
            text.push_str(&format!("{}: ", taxonomy.namespace));
            namespace = Some(&taxonomy.namespace);
        } else {
            text.push_str(", ");
        }
        let value = match &taxonomy.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!(
            "{}={} [{}]",
            taxonomy.predicate, value, taxonomy.level
        ));
    }
    text
}
