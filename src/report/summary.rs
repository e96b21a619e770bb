//! The summary of a trial: a header line and one row per artifact.

use comfy_table::{Cell, ContentArrangement, Table, presets};

use crate::runner::{ArtifactResult, TrialReport};
use crate::scenario::Outcome;

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
    let mut titles = vec!["data", "observable", "job", "status"];
    if autorun {
        titles.push("to job");
    }
    titles.extend(["to result", "taxonomies", "check"]);
    table.set_header(titles);
    for artifact in &report.artifacts {
        table.add_row(row(artifact, autorun));
    }

    let mut text = format!("{header}\n");
    for line in table.lines() {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if let Some(autorun) = &report.autorun {
        text.push_str(&format!(
            "  autorun: template `{}`, rule {}, verdict {} (expected {}), configuration {}\n",
            autorun.template,
            autorun.stored,
            autorun.verdict,
            autorun.expected,
            if autorun.restored {
                "restored"
            } else {
                "NOT RESTORED"
            }
        ));
        for line in &autorun.diff {
            text.push_str(&format!("    {line}\n"));
        }
    }
    for problem in &report.problems {
        text.push_str(&format!("  problem: {problem}\n"));
    }
    text
}

fn row(artifact: &ArtifactResult, autorun: bool) -> Vec<Cell> {
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
