//! The steps both kinds of trial share: discover the analyzer, prepare the case, plan and
//! create the observables, poll a job, read the report.

use std::time::Instant;

use super::context::RunContext;
use super::error::RunError;
use super::interrupt::Interrupt;
use super::outcome::ArtifactResult;
use crate::client::{Analyzer, ClientError, Job, JobStatus, NewCase, NewObservable, TheHive};
use crate::ipgen;
use crate::scenario::{AnalyzerPattern, Expectation, Outcome, PollSpec, Scenario};

/// Finds the analyzer: the first, by name, that matches `pattern` and is on Cortex server
/// `cortex`. TheHive ignores a `server=` parameter, so the filter on `cortexIds` is ours.
pub async fn discover(
    user: &TheHive,
    pattern: &AnalyzerPattern,
    cortex: &str,
) -> Result<Analyzer, RunError> {
    let mut analyzers = user
        .list_analyzers()
        .await
        .map_err(|e| RunError::step("list the analyzers", e))?;
    analyzers.sort_by(|a, b| a.name.cmp(&b.name));
    let chosen = analyzers
        .iter()
        .find(|a| pattern.regex.is_match(&a.name) && a.cortex_ids.iter().any(|c| c == cortex));
    match chosen {
        Some(analyzer) => Ok(analyzer.clone()),
        None => {
            let available = if analyzers.is_empty() {
                "none (TheHive lists no analyzer: is a Cortex server connected?)".to_owned()
            } else {
                analyzers
                    .iter()
                    .map(|a| format!("{} ({})", a.name, a.cortex_ids.join(", ")))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Err(RunError::NoAnalyzer {
                pattern: pattern.pattern.clone(),
                cortex: cortex.to_owned(),
                available,
            })
        }
    }
}

/// The case the observables go into: the scenario's, or one created for this run.
pub struct PreparedCase {
    /// The `~id`.
    pub id: String,
    /// How to show it: `~123 (#4)`.
    pub label: String,
    /// Whether the run created it (and so deletes it at the end unless `--keep`).
    pub created: bool,
    /// The values of the observables this trial plans to add, so that in a case the scenario
    /// names only this trial's observables are deleted at the end.
    pub planned: Vec<String>,
}

/// Reads the scenario's case, or creates one named after the run.
pub async fn prepare_case(
    ctx: &RunContext,
    user: &TheHive,
    scenario: &Scenario,
    trial: &str,
) -> Result<PreparedCase, RunError> {
    let (case, created) = match &scenario.case.id {
        Some(reference) => {
            let case = user
                .get_case(&reference.to_string())
                .await
                .map_err(|e| RunError::step(format!("read case `{reference}`"), e))?;
            (case, false)
        }
        None => {
            let title = scenario
                .case
                .title
                .clone()
                .unwrap_or_else(|| format!("hivecheck {trial}"));
            let new = NewCase {
                title: format!("{title} [{}]", ctx.run_id),
                description: format!(
                    "Created by hivecheck run {} for scenario `{}`: {}",
                    ctx.run_id, scenario.name, scenario.description
                ),
                tags: vec!["hivecheck".to_owned(), ctx.run_tag()],
            };
            let case = user
                .create_case(&new)
                .await
                .map_err(|e| RunError::step("create the run's case", e))?;
            (case, true)
        }
    };
    let label = match case.number() {
        Some(number) => format!("{} (#{number})", case.id()),
        None => case.id().to_owned(),
    };
    let planned = plan_observables(scenario, ctx.seed_for(scenario.seed))
        .into_iter()
        .map(|plan| plan.data)
        .collect();
    Ok(PreparedCase {
        id: case.id().to_owned(),
        label,
        created,
        planned,
    })
}

/// Unless `--keep` is set, deletes the run's case, or, in a case the scenario names, the
/// observables this trial added to it: those carrying the run tag whose value it planned
/// (another trial of the run may still be using its own). A failure is logged, not fatal: the
/// results stand, and `hivecheck cleanup` finds what is left by its run tag.
pub async fn finish_case(ctx: &RunContext, user: &TheHive, case: &PreparedCase) {
    if ctx.options.keep {
        return;
    }
    if case.created {
        if let Err(error) = user.delete_case(&case.id).await {
            tracing::warn!(case_id = %case.id, %error, "failed to delete the run's case");
        }
        return;
    }
    let observables = match user
        .observables_tagged(&ctx.run_tag(), Some(&case.id))
        .await
    {
        Ok(observables) => observables,
        Err(error) => {
            tracing::warn!(case_id = %case.id, %error, "failed to list the run's observables");
            return;
        }
    };
    let ours = observables
        .iter()
        .filter(|o| o.data.as_ref().is_some_and(|d| case.planned.contains(d)));
    for observable in ours {
        if let Err(error) = user.delete_observable(observable.id()).await {
            tracing::warn!(
                case_id = %case.id,
                observable_id = %observable.id(),
                %error,
                "failed to delete the run's observable"
            );
        }
    }
}

/// One observable to create and what is expected of it.
#[derive(Debug, Clone)]
pub struct PlannedObservable {
    /// The value.
    pub data: String,
    /// The data type.
    pub data_type: String,
    /// The expectation.
    pub expect: Expectation,
}

/// The scenario's observables: the random public addresses first, then the listed items.
pub fn plan_observables(scenario: &Scenario, seed: u64) -> Vec<PlannedObservable> {
    let random = ipgen::public_ipv4s(seed, scenario.random)
        .into_iter()
        .map(|ip| PlannedObservable {
            data: ip.to_string(),
            data_type: scenario.data_type.clone(),
            expect: scenario.expect.clone(),
        });
    let listed = scenario.items.iter().map(|item| PlannedObservable {
        data: item.data.clone(),
        data_type: item
            .data_type
            .clone()
            .unwrap_or_else(|| scenario.data_type.clone()),
        expect: item
            .expect
            .clone()
            .unwrap_or_else(|| scenario.expect.clone()),
    });
    random.chain(listed).collect()
}

/// Creates one observable; a refusal (duplicate, unknown type) is recorded in `result` and
/// gives `Ok(None)`, a broken session is an error.
pub async fn create_observable(
    ctx: &RunContext,
    user: &TheHive,
    case_id: &str,
    scenario: &Scenario,
    result: &mut ArtifactResult,
) -> Result<Option<String>, RunError> {
    let new = NewObservable {
        data_type: result.data_type.clone(),
        data: result.data.clone(),
        message: format!("hivecheck run {} scenario {}", ctx.run_id, scenario.name),
        tlp: scenario.tlp,
        tags: vec!["hivecheck".to_owned(), ctx.run_tag()],
    };
    match user.create_observables(case_id, &new).await {
        Ok(mut created) if !created.created.is_empty() => {
            let observable = created.created.remove(0);
            result.observable_id = Some(observable.id().to_owned());
            Ok(result.observable_id.clone())
        }
        Ok(created) => {
            let reason = created
                .failed
                .first()
                .map(|f| format!("{}: {}", f.kind, f.message))
                .unwrap_or_else(|| "TheHive created nothing and gave no reason".to_owned());
            refuse(result, "observable refused", reason);
            Ok(None)
        }
        Err(error) => refused_or_broken(result, "observable refused", error),
    }
}

/// Starts an artifact's result and creates its observable. `Ok((result, None))` means TheHive
/// refused it, and the result is already judged.
pub async fn start_artifact(
    ctx: &RunContext,
    user: &TheHive,
    case_id: &str,
    scenario: &Scenario,
    plan: PlannedObservable,
) -> Result<(ArtifactResult, Option<String>), RunError> {
    let mut result = ArtifactResult::new(&plan.data, &plan.data_type, plan.expect);
    let observable_id = create_observable(ctx, user, case_id, scenario, &mut result).await?;
    if observable_id.is_none() {
        result.judge();
    }
    Ok((result, observable_id))
}

/// Records a refusal by TheHive as the `rejected` outcome.
pub fn refuse(result: &mut ArtifactResult, status: &str, reason: String) {
    result.outcome = Outcome::Rejected;
    result.status = status.to_owned();
    result.error = Some(reason);
}

/// A 4xx or 5xx answer is TheHive refusing this one input; no answer, or a 401, means the run
/// itself is broken.
pub fn refused_or_broken<T>(
    result: &mut ArtifactResult,
    status: &str,
    error: ClientError,
) -> Result<Option<T>, RunError> {
    // 401 and 403 say the session may not do this at all, which fails every artifact alike:
    // that is a target to fix, not one input TheHive turned down.
    match error.status() {
        Some(code) if code != 401 && code != 403 => {
            refuse(result, status, error.to_string());
            Ok(None)
        }
        _ => Err(RunError::step(format!("create `{}`", result.data), error)),
    }
}

/// How polling a job ended.
#[derive(Debug)]
pub enum PollEnd {
    /// `Success` with a stored report.
    Succeeded(Job),
    /// `Failure`; polling stops at once.
    Failed(Job),
    /// The deadline passed; the last job seen, if any read succeeded.
    Deadline(Option<Job>),
    /// A signal stopped the run.
    Interrupted(String),
}

/// Polls a job until it is terminal **and** its report is stored (or it failed), one request
/// per `interval`, until `started + deadline`. A job born `Success` from Cortex's cache has no
/// report yet, so `Success` alone does not end polling.
pub async fn poll_job(
    user: &TheHive,
    first: Job,
    poll: PollSpec,
    started: Instant,
    interrupt: &Interrupt,
) -> Result<PollEnd, ClientError> {
    // Scenarios bound their deadlines; a caller of the library that does not still gets a
    // deadline far away instead of an overflow.
    let deadline = started
        .checked_add(poll.deadline)
        .unwrap_or_else(|| started + crate::scenario::MAX_DEADLINE);
    let mut job = first;
    loop {
        match job.status {
            JobStatus::Failure => return Ok(PollEnd::Failed(job)),
            JobStatus::Success if job.report.is_some() => return Ok(PollEnd::Succeeded(job)),
            _ => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(PollEnd::Deadline(Some(job)));
        }
        tokio::select! {
            _ = tokio::time::sleep(poll.interval.min(deadline - now)) => {}
            signal = interrupt.wait() => return Ok(PollEnd::Interrupted(signal)),
        }
        job = user.get_job(job.id()).await?;
    }
}

/// Fills `result` from how polling ended, then reads the observable's report for `analyzer`.
pub async fn record_job_end(
    user: &TheHive,
    analyzer: &Analyzer,
    end: PollEnd,
    started: Instant,
    result: &mut ArtifactResult,
) -> Result<(), RunError> {
    match end {
        PollEnd::Interrupted(signal) => return Err(RunError::Interrupted { signal }),
        PollEnd::Failed(job) => {
            result.outcome = Outcome::Failure;
            result.status = job.status.to_string();
            result.error = Some(job.error_message().unwrap_or("no errorMessage").to_owned());
            result.report_keys = job.report_keys();
            result.time_to_result = Some(started.elapsed());
        }
        PollEnd::Deadline(last) => {
            result.outcome = Outcome::Timeout;
            let seen = last
                .as_ref()
                .map_or_else(|| "never read".to_owned(), |j| j.status.to_string());
            let report = match last.as_ref().map(|j| j.report.is_some()) {
                Some(false) => ", no report",
                _ => "",
            };
            result.status = format!("timeout ({seen}{report})");
            result.error = Some(format!(
                "the job was still `{seen}`{report} at the deadline"
            ));
        }
        PollEnd::Succeeded(job) => {
            result.outcome = Outcome::Success;
            result.status = job.status.to_string();
            result.report_keys = job.report_keys();
            result.time_to_result = Some(started.elapsed());
            let observable_id = result.observable_id.clone().unwrap_or_default();
            let observable = user
                .get_observable(&observable_id)
                .await
                .map_err(|e| RunError::step(format!("read observable `{observable_id}`"), e))?;
            result.observable_report_keys = observable.reports.keys().cloned().collect();
            let name = job.analyzer_name.as_deref().unwrap_or(&analyzer.name);
            if let Some(report) = observable.reports.get(name) {
                result.taxonomies = report.taxonomies.clone();
            }
        }
    }
    Ok(())
}

/// Runs `work` for every planned observable concurrently and returns the results in plan
/// order.
pub async fn for_each_planned<F, Fut>(
    planned: Vec<PlannedObservable>,
    work: F,
) -> Result<Vec<ArtifactResult>, RunError>
where
    F: Fn(PlannedObservable) -> Fut,
    Fut: std::future::Future<Output = Result<ArtifactResult, RunError>> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for (index, plan) in planned.into_iter().enumerate() {
        let future = work(plan);
        tasks.spawn(async move { (index, future.await) });
    }
    let mut results: Vec<(usize, ArtifactResult)> = Vec::new();
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, Ok(result))) => results.push((index, result)),
            Ok((_, Err(error))) => {
                first_error.get_or_insert(error);
            }
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}
