//! Autorun validation: save the organisation's notification configuration, add our
//! RunAnalyzer rule, read it back, create fresh observables and watch for the jobs TheHive
//! starts by itself, then put the configuration back and check that it is back.
//!
//! The restore runs whatever happened in between: success, failure, deadline, a panic in the
//! observation (caught as a task's `JoinError`), or SIGINT/SIGTERM ([`super::Interrupt`]); the
//! guard is `observe_then_restore`, tested below. If the restore fails, the trial fails loudly
//! with the saved value's path and a command to restore by hand.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::context::RunContext;
use super::error::RunError;
use super::notification::{self, Stored, TemplateValues};
use super::outcome::{ArtifactResult, AutorunReport, TrialReport};
use super::steps::{self, PlannedObservable, PollEnd};
use crate::client::{Analyzer, Job, TheHive};
use crate::scenario::{
    AnalyzerPattern, AutorunSpec, AutorunVerdict, Expectation, Outcome, Scenario,
};

const ITEM: &str = "notification";

/// Runs one autorun trial.
pub async fn run(
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    pattern: AnalyzerPattern,
    trial: String,
) -> Result<TrialReport, RunError> {
    let started = Instant::now();
    let spec = scenario
        .autorun
        .clone()
        .expect("autorun trials have an autorun section");
    let user = ctx.user().await?;
    let admin = ctx.admin().await?.ok_or_else(|| RunError::NoAdmin {
        scenario: scenario.name.clone(),
    })?;
    let cortex = ctx
        .target
        .cortex
        .clone()
        .unwrap_or_else(|| scenario.cortex.clone());
    let analyzer = steps::discover(&user, &pattern, &cortex).await?;
    let values = TemplateValues {
        analyzer_name: analyzer.name.clone(),
        analyzer_id: analyzer.id.clone(),
        cortex_id: cortex.clone(),
        data_type: scenario.data_type.clone(),
    };
    let template = notification::load_template(&ctx.options.fixtures_dir, &spec.template, &values)?;
    let case = steps::prepare_case(&ctx, &user, &scenario, &trial).await?;
    let seed = ctx.seed_for(scenario.seed);

    // Alone from here to the restore: see `RunContext::org_lock`.
    let _exclusive = ctx.org_lock.write().await;
    let saved = admin
        .get_org_config(ITEM)
        .await
        .map_err(|e| RunError::step("read the organisation's notification configuration", e))?;
    let saved_value = saved.get("value").cloned().unwrap_or(Value::Null);
    let saved_to = save_to_disk(&ctx, &saved_value)?;

    let changed = Arc::new(AtomicBool::new(false));
    let observation = apply_and_observe(
        changed.clone(),
        ctx.clone(),
        scenario.clone(),
        spec.clone(),
        admin.clone(),
        user.clone(),
        analyzer.clone(),
        case.id.clone(),
        saved_value.clone(),
        template,
        seed,
    );
    let (observed, restored) = observe_then_restore(
        &ctx.interrupt,
        &changed,
        observation,
        restore(&admin, &saved_value, &saved_to),
    )
    .await;
    steps::finish_case(&ctx, &user, &case).await;

    let observed = match observed {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(join) => Err(RunError::Restore {
            reason: format!("the observation task ended: {join}"),
        }),
    };
    restored?;
    let (mut autorun, artifacts) = observed?;
    autorun.restored = changed.load(Ordering::SeqCst);
    autorun.saved_to = Some(saved_to.display().to_string());

    let mut problems = Vec::new();
    if autorun.verdict != autorun.expected {
        problems.push(format!(
            "autorun verdict is {}, expected {}",
            autorun.verdict, autorun.expected
        ));
    }
    Ok(TrialReport {
        trial,
        scenario: scenario.name.clone(),
        analyzer: Some(analyzer.name.clone()),
        cortex,
        case: Some(case.label),
        seed,
        artifacts,
        autorun: Some(autorun),
        problems,
        elapsed: started.elapsed(),
    })
}

/// Runs `observation` as a task of its own and then, whatever became of it (a result, a panic,
/// or an interrupt that aborts it), runs `restore` if `changed` says the configuration was
/// written. A panic comes back as the `JoinError`, for the caller to resume once its own
/// clean-up is done.
async fn observe_then_restore<T: Send + 'static>(
    interrupt: &super::Interrupt,
    changed: &AtomicBool,
    observation: impl Future<Output = Result<T, RunError>> + Send + 'static,
    restore: impl Future<Output = Result<(), RunError>>,
) -> (
    Result<Result<T, RunError>, tokio::task::JoinError>,
    Result<(), RunError>,
) {
    let observation = tokio::spawn(observation);
    let abort = observation.abort_handle();
    let observed = tokio::select! {
        joined = observation => joined,
        signal = interrupt.wait() => {
            abort.abort();
            Ok(Err(RunError::Interrupted { signal }))
        }
    };
    // Nothing to put back when TheHive refused our write outright.
    let restored = if changed.load(Ordering::SeqCst) {
        restore.await
    } else {
        Ok(())
    };
    (observed, restored)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one task owns every input of the observation"
)]
async fn apply_and_observe(
    changed: Arc<AtomicBool>,
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    spec: AutorunSpec,
    admin: TheHive,
    user: TheHive,
    analyzer: Analyzer,
    case_id: String,
    existing: Value,
    template: Value,
    seed: u64,
) -> Result<(AutorunReport, Vec<ArtifactResult>), RunError> {
    let mut report = AutorunReport {
        template: spec.template.clone(),
        stored: String::new(),
        diff: Vec::new(),
        verdict: AutorunVerdict::Rejected,
        expected: spec.expect,
        restored: false,
        saved_to: None,
    };

    // Apply, then read back.
    let (body, note) = notification::merge(
        &existing,
        &template,
        spec.mode == crate::scenario::RuleMode::Append,
    );
    report.diff.extend(note);
    // From here the configuration may have changed, even if the answer is lost.
    changed.store(true, Ordering::SeqCst);
    if let Err(error) = admin.put_org_config(ITEM, &body).await {
        if error.status() == Some(401) || error.status().is_none() {
            return Err(RunError::step("write the notification rule", error));
        }
        changed.store(false, Ordering::SeqCst);
        report.stored = "rejected".to_owned();
        report
            .diff
            .push(format!("TheHive refused the rule: {error}"));
        return Ok((report, Vec::new()));
    }
    let read_back = admin
        .get_org_config(ITEM)
        .await
        .map_err(|e| RunError::step("read the notification rule back", e))?;
    let sent_value = body.get("value").cloned().unwrap_or(Value::Null);
    let stored = notification::compare(&sent_value, read_back.get("value").unwrap_or(&Value::Null));
    report.stored = stored.label().to_owned();
    report.diff.extend(stored.diff());
    if stored == Stored::AsSent && !notification::is_thehive4_rule_list(&sent_value) {
        report.diff.push(
            "the stored value is not a list of {trigger, notifier} rules, the only shape TheHive 4 reads"
                .to_owned(),
        );
    }

    // Observe: fresh observables, no job started by us.
    let expected = expectation_for(spec.expect);
    let mut planned = steps::plan_observables(&scenario, seed);
    for plan in &mut planned {
        if scenario
            .items
            .iter()
            .all(|i| i.data != plan.data || i.expect.is_none())
        {
            plan.expect = expected.clone();
        }
    }
    let artifacts = steps::for_each_planned(planned, |plan| {
        watch(
            ctx.clone(),
            scenario.clone(),
            user.clone(),
            analyzer.clone(),
            case_id.clone(),
            spec.deadline,
            plan,
        )
    })
    .await?;

    report.verdict = verdict(&artifacts);
    Ok((report, artifacts))
}

/// What each observable should show under the expected verdict.
fn expectation_for(verdict: AutorunVerdict) -> Expectation {
    let outcome = match verdict {
        AutorunVerdict::Fired => Outcome::Success,
        AutorunVerdict::AnalyzerFailed => Outcome::Failure,
        AutorunVerdict::NeverFired => Outcome::Timeout,
        AutorunVerdict::Rejected => Outcome::Rejected,
    };
    Expectation {
        outcome,
        ..Expectation::default()
    }
}

fn verdict(artifacts: &[ArtifactResult]) -> AutorunVerdict {
    if artifacts.iter().all(|a| a.outcome == Outcome::Success) {
        AutorunVerdict::Fired
    } else if artifacts.iter().any(|a| a.outcome == Outcome::Failure) {
        AutorunVerdict::AnalyzerFailed
    } else if artifacts.iter().any(|a| a.job_id.is_some()) {
        // A job appeared but no report within the deadline: it fired, the analyzer did not finish.
        AutorunVerdict::AnalyzerFailed
    } else {
        AutorunVerdict::NeverFired
    }
}

/// Creates one observable and waits for a job of `analyzer` to appear on it, then for its end.
async fn watch(
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    user: TheHive,
    analyzer: Analyzer,
    case_id: String,
    deadline: Duration,
    plan: PlannedObservable,
) -> Result<ArtifactResult, RunError> {
    let data = plan.data.clone();
    let (mut result, observable_id) =
        steps::start_artifact(&ctx, &user, &case_id, &scenario, plan).await?;
    let Some(observable_id) = observable_id else {
        return Ok(result);
    };
    let created = Instant::now();

    let job = loop {
        let jobs = user.jobs_of_observable(&observable_id).await.map_err(|e| {
            RunError::step(format!("list the jobs of observable `{observable_id}`"), e)
        })?;
        if let Some(job) = jobs.into_iter().find(|j| is_of(j, &analyzer)) {
            result.time_to_job = Some(created.elapsed());
            break job;
        }
        if created.elapsed() >= deadline {
            result.outcome = Outcome::Timeout;
            result.status = "no job".to_owned();
            result.error = Some(format!(
                "no job of {} appeared within {}",
                analyzer.name,
                humantime::format_duration(deadline)
            ));
            result.judge();
            return Ok(result);
        }
        tokio::select! {
            _ = tokio::time::sleep(scenario.poll.interval) => {}
            signal = ctx.interrupt.wait() => return Err(RunError::Interrupted { signal }),
        }
    };
    result.job_id = Some(job.id().to_owned());
    result.from_cache = job.status.is_terminal() && job.report.is_none();

    let end = steps::poll_job(&user, job, scenario.poll, created, &ctx.interrupt)
        .await
        .map_err(|e| RunError::step(format!("poll the job on `{data}`"), e))?;
    if let PollEnd::Deadline(_) = end {
        result.time_to_result = None;
    }
    steps::record_job_end(&user, &analyzer, end, created, &mut result).await?;
    result.judge();
    Ok(result)
}

fn is_of(job: &Job, analyzer: &Analyzer) -> bool {
    job.analyzer_name.as_deref() == Some(analyzer.name.as_str())
        || job.analyzer_id.as_deref() == Some(analyzer.id.as_str())
}

/// Writes the saved configuration and a restore script into the run's output folder.
fn save_to_disk(ctx: &RunContext, saved: &Value) -> Result<PathBuf, RunError> {
    let dir = ctx.options.out_dir.join(&ctx.run_id);
    let org = ctx
        .target
        .org
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let path = dir.join(format!("notification-{org}-saved.json"));
    let fail = |e: std::io::Error| RunError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let body = serde_json::to_string_pretty(&json!({ "value": saved })).expect("JSON serialises");
    std::fs::write(&path, body).map_err(fail)?;
    let script = dir.join("restore-notification.sh");
    std::fs::write(&script, restore_command(ctx, &path)).map_err(fail)?;
    Ok(path)
}

/// A command that puts the saved value back, with credentials left to the operator's
/// environment (never written to disk).
fn restore_command(ctx: &RunContext, saved: &std::path::Path) -> String {
    let org = ctx.target.org.clone().unwrap_or_default();
    format!(
        "#!/bin/sh\n# Puts back the notification configuration hivecheck run {} saved.\n\
         curl -sS -X PUT '{}/api/config/organisation/notification' \\\n  \
         -H 'Content-Type: application/json' -H 'X-Organisation: {org}' \\\n  \
         -u \"$THEHIVE_ADMIN_USER:$THEHIVE_ADMIN_PASSWORD\" \\\n  --data-binary @'{}'\n",
        ctx.run_id,
        ctx.target.endpoint.base(),
        saved.display()
    )
}

/// Puts the saved value back and reads it back.
async fn restore(
    admin: &TheHive,
    saved: &Value,
    saved_to: &std::path::Path,
) -> Result<(), RunError> {
    let manual = || {
        format!(
            "the saved value is in {} and {} restores it",
            saved_to.display(),
            saved_to.with_file_name("restore-notification.sh").display()
        )
    };
    let put = admin.put_org_config(ITEM, &json!({ "value": saved })).await;
    let read = match put {
        Ok(_) => admin.get_org_config(ITEM).await,
        Err(e) => Err(e),
    };
    let outcome = match read {
        Ok(back) if back.get("value").unwrap_or(&Value::Null) == saved => Ok(()),
        Ok(back) => Err(format!(
            "read back {} instead of {}; {}",
            back.get("value").unwrap_or(&Value::Null),
            saved,
            manual()
        )),
        Err(e) => Err(format!("{e}; {}", manual())),
    };
    outcome.map_err(|reason| {
        eprintln!("error: failed to restore the notification configuration: {reason}");
        RunError::Restore { reason }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(outcome: Outcome, job: bool) -> ArtifactResult {
        let mut a = ArtifactResult::new("1.2.3.4", "ip", Expectation::default());
        a.outcome = outcome;
        a.job_id = job.then(|| "~1".to_owned());
        a
    }

    #[test]
    fn verdicts_follow_the_artifacts() {
        assert_eq!(
            verdict(&[artifact(Outcome::Success, true)]),
            AutorunVerdict::Fired
        );
        assert_eq!(
            verdict(&[artifact(Outcome::Timeout, false)]),
            AutorunVerdict::NeverFired
        );
        assert_eq!(
            verdict(&[
                artifact(Outcome::Success, true),
                artifact(Outcome::Failure, true)
            ]),
            AutorunVerdict::AnalyzerFailed
        );
        assert_eq!(
            verdict(&[artifact(Outcome::Timeout, true)]),
            AutorunVerdict::AnalyzerFailed
        );
    }

    /// A restore that records that it ran, for the guard's tests.
    fn recording_restore(ran: &Arc<AtomicBool>) -> impl Future<Output = Result<(), RunError>> {
        let ran = ran.clone();
        async move {
            ran.store(true, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_panic_after_the_write_still_restores_and_comes_back_as_a_panic() {
        let changed = Arc::new(AtomicBool::new(false));
        let restored = Arc::new(AtomicBool::new(false));
        let written = changed.clone();
        let observation = async move {
            written.store(true, Ordering::SeqCst);
            if written.load(Ordering::SeqCst) {
                panic!("a bug in the observation");
            }
            Ok(())
        };
        let (observed, restore) = observe_then_restore(
            &crate::runner::Interrupt::default(),
            &changed,
            observation,
            recording_restore(&restored),
        )
        .await;
        assert!(restored.load(Ordering::SeqCst), "the restore ran");
        assert!(restore.is_ok());
        assert!(observed.is_err_and(|join| join.is_panic()));
    }

    #[tokio::test]
    async fn an_interrupt_aborts_the_observation_and_restores() {
        let changed = Arc::new(AtomicBool::new(false));
        let restored = Arc::new(AtomicBool::new(false));
        let interrupt = crate::runner::Interrupt::default();
        let written = changed.clone();
        let raiser = interrupt.clone();
        let observation = async move {
            written.store(true, Ordering::SeqCst);
            raiser.raise("SIGTERM");
            std::future::pending::<Result<(), RunError>>().await
        };
        let (observed, _) = observe_then_restore(
            &interrupt,
            &changed,
            observation,
            recording_restore(&restored),
        )
        .await;
        assert!(restored.load(Ordering::SeqCst), "the restore ran");
        assert!(matches!(
            observed,
            Ok(Err(RunError::Interrupted { ref signal })) if signal == "SIGTERM"
        ));
    }

    #[tokio::test]
    async fn nothing_is_restored_when_nothing_was_written() {
        let changed = Arc::new(AtomicBool::new(false));
        let restored = Arc::new(AtomicBool::new(false));
        let observation = async {
            Err::<(), _>(RunError::NoAdmin {
                scenario: "s".into(),
            })
        };
        let (observed, _) = observe_then_restore(
            &crate::runner::Interrupt::default(),
            &changed,
            observation,
            recording_restore(&restored),
        )
        .await;
        assert!(!restored.load(Ordering::SeqCst));
        assert!(matches!(observed, Ok(Err(RunError::NoAdmin { .. }))));
    }
}
