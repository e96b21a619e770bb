//! The runbook's compact sequence: discover, case, observable, job with `cortexId`, poll to a
//! terminal state with a report, read the observable's `reports`.

use std::sync::Arc;
use std::time::Instant;

use super::context::RunContext;
use super::error::RunError;
use super::outcome::{ArtifactResult, TrialReport};
use super::steps::{self, PlannedObservable};
use crate::client::{Analyzer, NewJob, TheHive};
use crate::scenario::{AnalyzerPattern, Scenario};

/// Runs one trial of a scenario that starts its jobs itself.
pub async fn run(
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    pattern: AnalyzerPattern,
    trial: String,
) -> Result<TrialReport, RunError> {
    let started = Instant::now();
    let _shared = ctx.org_lock.read().await;
    let user = ctx.user().await?;
    let cortex = ctx
        .target
        .cortex
        .clone()
        .unwrap_or_else(|| scenario.cortex.clone());
    let analyzer = steps::discover(&user, &pattern, &cortex).await?;
    let case = steps::prepare_case(&ctx, &user, &scenario, &trial).await?;
    let seed = ctx.seed_for(scenario.seed);
    tracing::info!(trial = %trial, analyzer = %analyzer.name, case = %case.label, seed, "trial started");

    let planned = steps::plan_observables(&scenario, seed);
    let artifacts = steps::for_each_planned(planned, |plan| {
        artifact(
            ctx.clone(),
            user.clone(),
            scenario.clone(),
            analyzer.clone(),
            cortex.clone(),
            case.id.clone(),
            plan,
        )
    })
    .await;
    steps::finish_case(&ctx, &user, &case).await;

    Ok(TrialReport {
        trial,
        scenario: scenario.name.clone(),
        analyzer: Some(analyzer.name.clone()),
        cortex,
        case: Some(case.label),
        seed,
        artifacts: artifacts?,
        autorun: None,
        problems: Vec::new(),
        elapsed: started.elapsed(),
    })
}

async fn artifact(
    ctx: Arc<RunContext>,
    user: TheHive,
    scenario: Arc<Scenario>,
    analyzer: Analyzer,
    cortex: String,
    case_id: String,
    plan: PlannedObservable,
) -> Result<ArtifactResult, RunError> {
    let data = plan.data.clone();
    let (mut result, observable_id) =
        steps::start_artifact(&ctx, &user, &case_id, &scenario, plan).await?;
    let Some(observable_id) = observable_id else {
        return Ok(result);
    };

    let started = Instant::now();
    let new_job = NewJob {
        analyzer_id: analyzer.id.clone(),
        artifact_id: observable_id,
        cortex_id: cortex,
    };
    let job = match user.create_job(&new_job).await {
        Ok(job) => job,
        Err(error) => {
            steps::refused_or_broken::<()>(&mut result, "job refused", error)?;
            result.judge();
            return Ok(result);
        }
    };
    result.job_id = Some(job.id().to_owned());
    // Cortex serves only successful jobs from its cache, born `Success` before TheHive has
    // stored a report.
    result.from_cache = job.status == crate::client::JobStatus::Success && job.report.is_none();

    let end = steps::poll_job(&user, job, scenario.poll, started, &ctx.interrupt)
        .await
        .map_err(|e| RunError::step(format!("poll the job on `{data}`"), e))?;
    steps::record_job_end(&user, &analyzer, end, started, &mut result).await?;
    result.judge();
    Ok(result)
}
