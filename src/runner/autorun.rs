//! Autorun validation: save the organisation's notification configuration, add our
//! RunAnalyzer rule, read it back, create fresh observables and watch for the jobs TheHive
//! starts by itself, then put the configuration back and check that it is back.
//!
//! Nothing is written when the configuration read has no `value` to put back, when our rule
//! cannot be appended without losing the organisation's (see [`notification::merge`]), when an
//! earlier trial of the run failed to restore, or when a signal came first. Each trial saves
//! TheHive's whole answer and a ready restore script in the run's folder under names of its
//! own, never overwritten.
//!
//! The restore runs whatever happened in between: success, failure, deadline, a panic in the
//! observation (caught as a task's `JoinError`), or SIGINT/SIGTERM ([`super::Interrupt`]); the
//! guard is `observe_then_restore`, tested below. It reads the current value first: still the
//! saved one means nothing to restore; ours (as sent or as read back) is put back and read
//! back; anything else is someone else's change and is left alone. A restore that still fails
//! after a few attempts fails the trial loudly, with the saved value and the command, keeps
//! the restore pending for a second signal, and stops the run's later autorun trials.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::context::{RunContext, Target};
use super::error::{RunError, render};
use super::interrupt::{Interrupt, PendingRestore};
use super::notification::{self, Merged, Stored, TemplateValues};
use super::outcome::{ArtifactResult, AutorunReport, RestoreFailure, RestoreState, TrialReport};
use super::steps::{self, PlannedObservable, PollEnd};
use crate::client::{Analyzer, Auth, ClientError, Job, TheHive};
use crate::scenario::{
    AnalyzerPattern, AutorunSpec, AutorunVerdict, Expectation, Outcome, RuleMode, Scenario,
};

const ITEM: &str = "notification";

/// How many times the restore is tried before it is declared failed.
const RESTORE_ATTEMPTS: u32 = 4;

/// The wait after the first failed attempt; it doubles after each.
const RESTORE_BACKOFF: Duration = Duration::from_millis(250);

/// What the trial wrote, shared by the observation task and the restore.
#[derive(Debug, Clone, Default, PartialEq)]
struct Writes {
    /// A PUT was sent; its answer may have been lost, so the value may have changed.
    attempted: bool,
    /// TheHive refused the PUT outright (a 4xx): nothing was written.
    refused: bool,
    /// The value sent.
    sent: Option<Value>,
    /// The value read back after the PUT.
    stored: Option<Value>,
}

/// Where a trial saved the configuration it found.
#[derive(Debug, Clone)]
struct SavedFiles {
    /// TheHive's whole answer, `{path, defaultValue, value}`.
    answer: PathBuf,
    /// The script that puts the value back.
    script: PathBuf,
    /// The command that runs it.
    command: String,
}

/// How the restore ended.
#[derive(Debug, Clone, PartialEq)]
enum Restored {
    /// Put back, and read back equal to the saved value.
    Verified,
    /// Nothing to put back.
    NothingToRestore,
    /// Not put back, and why.
    Failed(String),
}

/// Runs one autorun trial.
pub async fn run(
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    pattern: AnalyzerPattern,
    trial: String,
) -> Result<TrialReport, RunError> {
    let started = Instant::now();
    refuse_after_a_failed_restore(&ctx)?;
    let spec = scenario
        .autorun
        .clone()
        .expect("autorun trials have an autorun section");
    let mode = if ctx.options.replace {
        RuleMode::Replace
    } else {
        spec.mode
    };
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
        user_login: user_login(&user).await?,
    };
    let template = notification::load_template(&ctx.options.fixtures_dir, &spec.template, &values)?;
    let seed = ctx.seed_for(scenario.seed);

    // Alone from here to the restore: see `RunContext::org_lock`. A trial that waited here
    // while another failed to restore must not save the value that one left behind.
    let _exclusive = ctx.org_lock.write().await;
    refuse_after_a_failed_restore(&ctx)?;
    if let Some(signal) = ctx.interrupt.raised() {
        return Err(RunError::Interrupted { signal });
    }
    let found = admin
        .get_org_config(ITEM)
        .await
        .map_err(|e| RunError::step("read the organisation's notification configuration", e))?;
    let saved = saved_value(&found)?;
    let default = found.get("defaultValue").cloned().unwrap_or(Value::Null);
    let merged = notification::merge(&saved, &default, &template, mode)
        .map_err(|reason| RunError::CannotAppend { reason })?;
    let files = save_to_disk(&ctx, &trial, &found, &saved)?;
    // The case comes after the saving, so a failure there leaves no case behind.
    let case = steps::prepare_case(&ctx, &user, &scenario, &trial).await?;
    tracing::info!(trial = %trial, analyzer = %analyzer.name, case = %case.label, seed, "autorun trial started");

    let writes = Arc::new(Mutex::new(Writes::default()));
    let observation = apply_and_observe(
        Apply {
            ctx: ctx.clone(),
            scenario: scenario.clone(),
            spec: spec.clone(),
            mode,
            admin: admin.clone(),
            user: user.clone(),
            analyzer: analyzer.clone(),
            case_id: case.id.clone(),
            merged,
            seed,
            pending: PendingRestore {
                trial: trial.clone(),
                saved: files.answer.clone(),
                command: files.command.clone(),
            },
        },
        writes.clone(),
    );
    let (observed, restored) = observe_then_restore(&ctx.interrupt, &writes, observation, |w| {
        restore(&admin, &saved, w)
    })
    .await;
    steps::finish_case(&ctx, &user, &case).await;

    let failure = match &restored {
        Restored::Failed(reason) => {
            ctx.record_failed_restore(&trial, &files.command);
            tracing::error!(trial = %trial, saved = %files.answer.display(), %reason, "the notification configuration was not put back");
            Some(RestoreFailure {
                reason: reason.clone(),
                saved_value: saved.clone(),
                command: files.command.clone(),
            })
        }
        Restored::Verified | Restored::NothingToRestore => {
            ctx.interrupt.release(&files.answer);
            None
        }
    };
    let observed = match observed {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(RunError::Interrupted {
            signal: ctx
                .interrupt
                .raised()
                .unwrap_or_else(|| "cancellation".to_owned()),
        }),
    };
    let (mut autorun, artifacts, mut problems) = match observed {
        Ok((autorun, artifacts)) => (autorun, artifacts, Vec::new()),
        // The trial broke, but the configuration is left changed: that must be reported with
        // the trial, not dropped with it.
        Err(error) if failure.is_some() => {
            let mut report = blank_report(&spec, mode);
            report.stored = what_was_written(&writes);
            report.stopped = Some(error.to_string());
            (report, Vec::new(), vec![render(&error, error.hint())])
        }
        Err(error) => {
            let configuration = match restored {
                Restored::Verified => "restored and verified",
                Restored::NothingToRestore | Restored::Failed(_) => "never changed",
            };
            return Err(RunError::Stopped {
                configuration: configuration.to_owned(),
                source: Arc::new(error),
            });
        }
    };
    autorun.restore = match restored {
        Restored::Verified => RestoreState::Verified,
        Restored::NothingToRestore => RestoreState::NothingToRestore,
        Restored::Failed(_) => RestoreState::NotRestored,
    };
    autorun.saved_to = Some(files.answer.display().to_string());
    autorun.restore_script = Some(files.script.display().to_string());
    if autorun.stopped.is_none() && autorun.verdict != autorun.expected {
        problems.push(format!(
            "autorun verdict is {}, expected {}",
            autorun.verdict, autorun.expected
        ));
    }
    if let Some(failure) = &failure {
        problems.push(loud_failure(failure, &files));
    }
    autorun.restore_failure = failure;

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

/// Fails when an earlier trial of the run left the configuration changed.
fn refuse_after_a_failed_restore(ctx: &RunContext) -> Result<(), RunError> {
    match ctx.failed_restore() {
        Some(failed) => Err(RunError::EarlierRestoreFailed {
            trial: failed.trial,
            command: failed.command,
        }),
        None => Ok(()),
    }
}

/// The login of the user session, for `{{userLogin}}`.
async fn user_login(user: &TheHive) -> Result<Option<String>, RunError> {
    let current = user
        .current_user()
        .await
        .map_err(|e| RunError::step("read the user session's current user", e))?;
    Ok(current
        .get("login")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// The value to put back: TheHive answers `{path, defaultValue, value}`, and an answer
/// without `value` would be "restored" as `null`, wiping the organisation's rules.
fn saved_value(found: &Value) -> Result<Value, RunError> {
    found
        .as_object()
        .and_then(|answer| answer.get("value"))
        .cloned()
        .ok_or_else(|| RunError::UnsavableConfig {
            answer: notification::short(found),
        })
}

/// The autorun report of a trial that broke before it had one.
fn blank_report(spec: &AutorunSpec, mode: RuleMode) -> AutorunReport {
    AutorunReport {
        template: spec.template.clone(),
        mode,
        stored: "-".to_owned(),
        rejection: None,
        diff: Vec::new(),
        notes: Vec::new(),
        verdict: AutorunVerdict::Inconclusive,
        expected: spec.expect,
        deadline: spec.deadline,
        restore: RestoreState::NothingToRestore,
        restore_failure: None,
        saved_to: None,
        restore_script: None,
        stopped: None,
    }
}

/// How far the write got, for a trial that stopped before its verdict.
fn what_was_written(writes: &Mutex<Writes>) -> String {
    let writes = writes.lock().unwrap_or_else(|p| p.into_inner());
    match (&writes.sent, &writes.stored) {
        _ if writes.refused => "rejected".to_owned(),
        (Some(sent), Some(stored)) => notification::compare(sent, stored).label().to_owned(),
        _ if writes.attempted => "written, not read back".to_owned(),
        _ => "not written".to_owned(),
    }
}

/// The failure message of a restore that did not happen: why, the value to put back, and the
/// command that does it.
fn loud_failure(failure: &RestoreFailure, files: &SavedFiles) -> String {
    let headline = RunError::Restore {
        reason: failure.reason.clone(),
    };
    format!(
        "{headline}\n\
         \x20 the value it had before this trial: {}\n\
         \x20 TheHive's whole answer is saved in {}\n\
         \x20 put it back with: {}\n\
         (the command reads THEHIVE_ADMIN_API_KEY, or THEHIVE_ADMIN_USER and \
         THEHIVE_ADMIN_PASSWORD, from its environment; the run's later autorun trials will not \
         start)",
        failure.saved_value,
        files.answer.display(),
        failure.command
    )
}

/// Runs `observation` as a task of its own and then, whatever became of it (a result, a panic,
/// or an interrupt that aborts it), hands what it wrote to `restore`. An aborted task is
/// awaited first, so a write still in flight cannot land after the restore. A panic comes
/// back as the `JoinError`, for the caller to resume once its own clean-up is done.
async fn observe_then_restore<T, R, F, Fut>(
    interrupt: &Interrupt,
    writes: &Mutex<Writes>,
    observation: impl Future<Output = Result<T, RunError>> + Send + 'static,
    restore: F,
) -> (Result<Result<T, RunError>, tokio::task::JoinError>, R)
where
    T: Send + 'static,
    F: FnOnce(Writes) -> Fut,
    Fut: Future<Output = R>,
{
    let mut observation = tokio::spawn(observation);
    let observed = tokio::select! {
        joined = &mut observation => joined,
        signal = interrupt.wait() => {
            observation.abort();
            // The task is cancelled at its next await point; its result no longer matters.
            let _ = observation.await;
            Ok(Err(RunError::Interrupted { signal }))
        }
    };
    let written = writes.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let restored = restore(written).await;
    (observed, restored)
}

/// Everything the observation task owns.
struct Apply {
    ctx: Arc<RunContext>,
    scenario: Arc<Scenario>,
    spec: AutorunSpec,
    mode: RuleMode,
    admin: TheHive,
    user: TheHive,
    analyzer: Analyzer,
    case_id: String,
    merged: Merged,
    seed: u64,
    pending: PendingRestore,
}

/// Whether TheHive refused a write outright, so that nothing was written: a 4xx answer. A
/// time-out (408), a 5xx or no answer at all may come after the value was stored.
fn refused_outright(error: &ClientError) -> bool {
    matches!(error.status(), Some(code) if (400..500).contains(&code) && code != 408)
}

async fn apply_and_observe(
    job: Apply,
    writes: Arc<Mutex<Writes>>,
) -> Result<(AutorunReport, Vec<ArtifactResult>), RunError> {
    let Apply {
        ctx,
        scenario,
        spec,
        mode,
        admin,
        user,
        analyzer,
        case_id,
        merged,
        seed,
        pending,
    } = job;
    let mut report = blank_report(&spec, mode);
    let record = |update: &dyn Fn(&mut Writes)| {
        update(&mut writes.lock().unwrap_or_else(|p| p.into_inner()));
    };

    // Apply, then read back. A signal that came while the trial got ready stops it unwritten.
    if let Some(signal) = ctx.interrupt.raised() {
        return Err(RunError::Interrupted { signal });
    }
    let sent = merged.body.get("value").cloned().unwrap_or(Value::Null);
    record(&|w| {
        w.attempted = true;
        w.sent = Some(sent.clone());
    });
    ctx.interrupt.hold(pending);
    if let Err(error) = admin.put_org_config(ITEM, &merged.body).await {
        if refused_outright(&error) {
            record(&|w| w.refused = true);
        }
        if refused_outright(&error) && error.status() != Some(401) {
            report.stored = "rejected".to_owned();
            report.rejection = Some(error.to_string());
            report.verdict = AutorunVerdict::Rejected;
            return Ok((report, Vec::new()));
        }
        return Err(RunError::step("write the notification rule", error));
    }
    let read_back = admin
        .get_org_config(ITEM)
        .await
        .map_err(|e| RunError::step("read the notification rule back", e))?;
    let stored_value = read_back.get("value").cloned().unwrap_or(Value::Null);
    record(&|w| w.stored = Some(stored_value.clone()));
    let stored = notification::compare(&sent, &stored_value);
    report.stored = stored.label().to_owned();
    report.diff.extend(stored.diff());
    report.notes.extend(merged.note);
    if stored == Stored::AsSent && !notification::is_thehive4_rule_list(&sent) {
        // TheHive 5's own format is not published, so only TheHive 4's can be judged.
        let note = match admin.api() {
            crate::client::ApiVersion::V0 => {
                "the stored value is not a list of {trigger, notifier} rules, the only shape TheHive 4 reads"
            }
            crate::client::ApiVersion::V1 => {
                "the stored value is not a list of {trigger, notifier} rules as TheHive 4 reads them; \
                 TheHive 5's format is not published, so the verdict rests on behaviour alone"
            }
        };
        report.notes.push(note.to_owned());
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
    if report.verdict == AutorunVerdict::NeverFired
        && notification::is_thehive4_rule_list(&sent)
        && notification::runs_analyzer(&sent, &analyzer.name)
    {
        let version = user.status().await.ok();
        let version = version.as_ref().and_then(|s| s.thehive_version());
        if let Some(hint) = lookup_bug_hint(version, &analyzer.name) {
            report.notes.push(hint);
        }
    }
    Ok((report, artifacts))
}

/// TheHive 4.1's RunAnalyzer finds its analyzer by name through `AnalyzerSrv.getAnalyzerByName`
/// → `searchAnalyzers`, which asks each Cortex for *responders* (`client.searchResponders`;
/// TheHive-Project/TheHive@4.1.24 `cortex/connector/src/main/scala/org/thp/thehive/connector/
/// cortex/services/AnalyzerSrv.scala`, reference §7.1). So a right rule may never fire there.
fn lookup_bug_hint(version: Option<&str>, analyzer: &str) -> Option<String> {
    let version = version?;
    version.starts_with("4.1").then(|| {
        format!(
            "hint: TheHive {version}'s RunAnalyzer looks `{analyzer}` up among Cortex \
             responders, not analyzers (AnalyzerSrv.getAnalyzerByName → searchAnalyzers → \
             client.searchResponders in TheHive 4.1.24), so this rule can be right and still \
             never fire; TheHive's log then says the analyzer was not found"
        )
    })
}

/// What each observable should show under the expected verdict. Partly fired means the
/// random observables fire and listed items say otherwise; inconclusive means none could be
/// created.
fn expectation_for(verdict: AutorunVerdict) -> Expectation {
    let outcome = match verdict {
        AutorunVerdict::Fired | AutorunVerdict::PartlyFired => Outcome::Success,
        AutorunVerdict::AnalyzerFailed => Outcome::Failure,
        AutorunVerdict::NeverFired => Outcome::Timeout,
        AutorunVerdict::Rejected | AutorunVerdict::Inconclusive => Outcome::Rejected,
    };
    Expectation {
        outcome,
        ..Expectation::default()
    }
}

/// The verdict over the observables that were created and whose jobs could be read.
fn verdict(artifacts: &[ArtifactResult]) -> AutorunVerdict {
    let checked: Vec<&ArtifactResult> = artifacts
        .iter()
        .filter(|a| a.observable_id.is_some() && a.outcome != Outcome::Unreadable)
        .collect();
    let fired = checked.iter().filter(|a| a.job_id.is_some()).count();
    if checked.is_empty() {
        AutorunVerdict::Inconclusive
    } else if fired == 0 {
        AutorunVerdict::NeverFired
    } else if fired < checked.len() {
        AutorunVerdict::PartlyFired
    } else if checked.iter().all(|a| a.outcome == Outcome::Success) {
        AutorunVerdict::Fired
    } else {
        // Every observable got a job; a failure, or no report by the deadline, is the
        // analyzer's, not the rule's.
        AutorunVerdict::AnalyzerFailed
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
        let jobs = match user.jobs_of_observable(&observable_id).await {
            Ok(jobs) => jobs,
            // An answer of the wrong shape says nothing about the rule; it is this
            // observable's result, and the other observables go on.
            Err(error @ ClientError::UnexpectedBody { .. }) => {
                result.outcome = Outcome::Unreadable;
                result.status = "unreadable job list".to_owned();
                result.error = Some(error.to_string());
                result.judge();
                return Ok(result);
            }
            Err(error) => {
                return Err(RunError::step(
                    format!("list the jobs of observable `{observable_id}`"),
                    error,
                ));
            }
        };
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
    result.from_cache = job.status == crate::client::JobStatus::Success && job.report.is_none();

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

/// A name part safe in a file name: letters, digits, `.`, `_` and `-`; anything else is `_`.
fn sanitise(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    clean.trim_start_matches('.').to_owned()
}

/// Writes TheHive's answer (0600) and a restore script (0700) into the run's folder (0700),
/// under names of this trial's own; an existing file is never overwritten.
fn save_to_disk(
    ctx: &RunContext,
    trial: &str,
    found: &Value,
    saved: &Value,
) -> Result<SavedFiles, RunError> {
    let fail = |path: &Path, e: std::io::Error| RunError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let run_dir = ctx.run_dir().map_err(|e| fail(&ctx.options.out_dir, e))?;
    let dir = std::path::absolute(&run_dir).map_err(|e| fail(&run_dir, e))?;
    let org = sanitise(ctx.target.org.as_deref().unwrap_or("default"));
    let name = sanitise(trial);
    let answer_text = serde_json::to_string_pretty(found).expect("JSON serialises");

    for n in 1..1000 {
        let stem = if n == 1 {
            format!("{org}-{name}")
        } else {
            format!("{org}-{name}-{n}")
        };
        let answer = dir.join(format!("notification-{stem}-saved.json"));
        let script = dir.join(format!("restore-notification-{stem}.sh"));
        if script.exists() {
            continue;
        }
        match write_new(&answer, &answer_text, 0o600) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(fail(&answer, e)),
        }
        let file_name = answer
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = restore_script(&ctx.target, &ctx.run_id, trial, saved, &file_name);
        write_new(&script, &text, 0o700).map_err(|e| fail(&script, e))?;
        let command = format!("sh {}", shell_quote(&script.display().to_string()));
        return Ok(SavedFiles {
            answer,
            script,
            command,
        });
    }
    Err(fail(
        &dir,
        std::io::Error::other("a thousand trials of this name already saved here"),
    ))
}

/// Creates `path` with `mode` (unix), failing if it exists.
fn write_new(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)?.write_all(text.as_bytes())
}

/// `text` in single quotes for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A script that PUTs `{"value": <saved>}` back, with the admin's credentials taken from the
/// environment when it runs (never written to disk) and handed to curl on its standard input
/// (never on a command line).
fn restore_script(
    target: &Target,
    run_id: &str,
    trial: &str,
    saved: &Value,
    answer_file: &str,
) -> String {
    let url = format!(
        "{}/api/config/organisation/notification",
        target.endpoint.base()
    );
    let body = json!({ "value": saved }).to_string();
    let default_user = match &target.admin {
        Some(Auth::Session { login, .. } | Auth::Basic { login, .. }) => login.clone(),
        _ => String::new(),
    };
    let org_label = target.org.as_deref().unwrap_or("(the admin's default)");
    let mut curl_options = vec!["-H 'Content-Type: application/json'".to_owned()];
    if let Some(org) = &target.org {
        curl_options.push(format!(
            "-H {}",
            shell_quote(&format!("X-Organisation: {org}"))
        ));
    }
    if let Some(ca) = target.endpoint.ca_cert() {
        let ca = std::path::absolute(ca).unwrap_or_else(|_| ca.to_owned());
        curl_options.push(format!(
            "--cacert {}",
            shell_quote(&ca.display().to_string())
        ));
    }
    if target.endpoint.insecure() {
        // The run itself accepted any certificate (--insecure), so the restore must too.
        curl_options.push("--insecure".to_owned());
    }
    let options: String = curl_options.iter().map(|o| format!("  {o} \\\n")).collect();
    format!(
        r#"#!/bin/sh
# Puts back the notification configuration of organisation {org_label} as hivecheck run
# {run_id} found it before trial {trial}. TheHive's whole answer is in
# {answer_file}, next to this script.
#
# Credentials come from the environment and are never written here: THEHIVE_ADMIN_API_KEY,
# or THEHIVE_ADMIN_USER (default below) and THEHIVE_ADMIN_PASSWORD.
set -eu

url={url}
body={body}

if [ -n "${{THEHIVE_ADMIN_API_KEY:-}}" ]; then
  authorization="Bearer $THEHIVE_ADMIN_API_KEY"
else
  user="${{THEHIVE_ADMIN_USER:-{default_user}}}"
  : "${{THEHIVE_ADMIN_PASSWORD:?set THEHIVE_ADMIN_API_KEY, or THEHIVE_ADMIN_USER and THEHIVE_ADMIN_PASSWORD}}"
  authorization="Basic $(printf '%s:%s' "$user" "$THEHIVE_ADMIN_PASSWORD" | base64 | tr -d '\n')"
fi

# curl reads the Authorization header from its standard input, so the credentials never
# show in the process list; --fail-with-body makes an HTTP error a failure of this script.
printf 'Authorization: %s\n' "$authorization" | curl -sS --fail-with-body -X PUT "$url" \
  -H @- \
{options}  --data-binary "$body"
echo
"#,
        url = shell_quote(&url),
        body = shell_quote(&body),
        trial = shell_quote(trial),
        org_label = shell_quote(org_label),
        default_user = default_user.replace(['"', '$', '`', '\\', '}'], ""),
    )
}

/// Puts `saved` back when the trial may have written, trying a few times with growing waits.
async fn restore(admin: &TheHive, saved: &Value, writes: Writes) -> Restored {
    if !writes.attempted || writes.refused {
        return Restored::NothingToRestore;
    }
    let mut put_sent = false;
    let mut wait = RESTORE_BACKOFF;
    let mut last = String::new();
    for attempt in 1..=RESTORE_ATTEMPTS {
        match restore_once(admin, saved, &writes, &mut put_sent).await {
            Ok(restored) => return restored,
            Err(Attempt::Stop(reason)) => return Restored::Failed(reason),
            Err(Attempt::Retry(reason)) => last = reason,
        }
        if attempt < RESTORE_ATTEMPTS {
            tracing::warn!(attempt, reason = %last, "restoring the notification configuration failed; trying again");
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    Restored::Failed(format!("{last} (after {RESTORE_ATTEMPTS} attempts)"))
}

/// Why one attempt did not restore.
#[derive(Debug)]
enum Attempt {
    /// Worth another attempt.
    Retry(String),
    /// Another attempt would do harm.
    Stop(String),
}

/// What the current value says should be done.
#[derive(Debug, PartialEq)]
enum Found {
    /// It is the saved value.
    Saved,
    /// It is ours, as sent or as read back: put the saved value back.
    Ours,
    /// Someone else changed it since.
    Other,
}

fn classify(current: &Value, saved: &Value, writes: &Writes) -> Found {
    if current == saved {
        Found::Saved
    } else if writes.sent.as_ref() == Some(current) || writes.stored.as_ref() == Some(current) {
        Found::Ours
    } else {
        Found::Other
    }
}

async fn restore_once(
    admin: &TheHive,
    saved: &Value,
    writes: &Writes,
    put_sent: &mut bool,
) -> Result<Restored, Attempt> {
    let read = |answer: Result<Value, ClientError>| {
        answer
            .map(|a| a.get("value").cloned().unwrap_or(Value::Null))
            .map_err(|e| Attempt::Retry(format!("reading the configuration failed: {e}")))
    };
    let current = read(admin.get_org_config(ITEM).await)?;
    match classify(&current, saved, writes) {
        // A restore PUT of an earlier attempt may have landed although its answer was lost.
        Found::Saved if *put_sent => return Ok(Restored::Verified),
        Found::Saved => return Ok(Restored::NothingToRestore),
        Found::Ours => {}
        Found::Other => {
            return Err(Attempt::Stop(format!(
                "the value changed during the trial to {}, which is neither the saved value nor \
                 the one hivecheck wrote; it is left as it is rather than undo someone else's \
                 change",
                notification::short(&current)
            )));
        }
    }

    *put_sent = true;
    admin
        .put_org_config(ITEM, &json!({ "value": saved }))
        .await
        .map_err(|e| Attempt::Retry(format!("putting it back failed: {e}")))?;
    let back = read(admin.get_org_config(ITEM).await)?;
    if back == *saved {
        Ok(Restored::Verified)
    } else {
        Err(Attempt::Retry(format!(
            "read back {} instead of the saved value",
            notification::short(&back)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Endpoint, Secret};

    fn artifact(outcome: Outcome, created: bool, job: bool) -> ArtifactResult {
        let mut a = ArtifactResult::new("1.2.3.4", "ip", Expectation::default());
        a.outcome = outcome;
        a.observable_id = created.then(|| "~2".to_owned());
        a.job_id = job.then(|| "~1".to_owned());
        a
    }

    #[test]
    fn verdicts_follow_the_artifacts() {
        let fired = || artifact(Outcome::Success, true, true);
        let no_job = || artifact(Outcome::Timeout, true, false);
        assert_eq!(verdict(&[fired(), fired()]), AutorunVerdict::Fired);
        assert_eq!(verdict(&[no_job(), no_job()]), AutorunVerdict::NeverFired);
        assert_eq!(
            verdict(&[fired(), artifact(Outcome::Failure, true, true)]),
            AutorunVerdict::AnalyzerFailed
        );
        assert_eq!(
            verdict(&[artifact(Outcome::Timeout, true, true)]),
            AutorunVerdict::AnalyzerFailed,
            "a job without a report by the deadline is the analyzer's failure"
        );
    }

    #[test]
    fn one_fired_and_one_without_a_job_is_partly_fired() {
        let mixed = [
            artifact(Outcome::Success, true, true),
            artifact(Outcome::Timeout, true, false),
        ];

        assert_eq!(verdict(&mixed), AutorunVerdict::PartlyFired);
    }

    #[test]
    fn no_observable_created_or_none_at_all_is_inconclusive() {
        let refused = [artifact(Outcome::Rejected, false, false)];

        assert_eq!(verdict(&refused), AutorunVerdict::Inconclusive);
        assert_eq!(verdict(&[]), AutorunVerdict::Inconclusive);
        assert_eq!(
            verdict(&[artifact(Outcome::Unreadable, true, false)]),
            AutorunVerdict::Inconclusive
        );
    }

    #[test]
    fn the_lookup_bug_hint_is_only_for_thehive_4_1() {
        let hint = lookup_bug_hint(Some("4.1.24-1"), "AbuseIPDB_1_0").unwrap();

        assert!(hint.contains("searchResponders"), "{hint}");
        assert!(hint.contains("`AbuseIPDB_1_0`"), "{hint}");
        assert_eq!(lookup_bug_hint(Some("5.7.5-1"), "A"), None);
        assert_eq!(lookup_bug_hint(None, "A"), None);
    }

    #[test]
    fn an_answer_without_value_is_not_saved() {
        let refused = saved_value(&json!({"path": "notification", "defaultValue": []}));

        assert!(
            matches!(refused, Err(RunError::UnsavableConfig { ref answer }) if answer.contains("defaultValue")),
            "{refused:?}"
        );
        assert!(saved_value(&json!([1])).is_err());
        assert_eq!(
            saved_value(&json!({"path": "notification", "value": null})).unwrap(),
            Value::Null,
            "a stored null is a value like any other"
        );
    }

    #[test]
    fn only_a_4xx_other_than_a_time_out_means_nothing_was_written() {
        let status = |code: u16| ClientError::Api {
            method: "PUT".into(),
            path: "/p".into(),
            status: code,
            kind: "-".into(),
            message: "m".into(),
        };

        assert!(refused_outright(&status(400)));
        assert!(refused_outright(&status(404)));
        assert!(!refused_outright(&status(408)));
        assert!(!refused_outright(&status(500)));
        assert!(!refused_outright(&status(503)));
    }

    #[test]
    fn the_current_value_decides_what_the_restore_does() {
        let saved = json!([{"notifier": {"name": "webhook"}}]);
        let writes = Writes {
            attempted: true,
            refused: false,
            sent: Some(json!([1])),
            stored: Some(json!([2])),
        };

        assert_eq!(classify(&saved, &saved, &writes), Found::Saved);
        assert_eq!(classify(&json!([1]), &saved, &writes), Found::Ours);
        assert_eq!(classify(&json!([2]), &saved, &writes), Found::Ours);
        assert_eq!(classify(&json!([3]), &saved, &writes), Found::Other);
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(sanitise("autorun::AbuseIPDB_1_0"), "autorun__AbuseIPDB_1_0");
        assert_eq!(sanitise("../etc/x y"), "_etc_x_y");
    }

    fn script_target(org: Option<&str>, admin: Option<Auth>, ca: Option<&Path>) -> Target {
        let mut endpoint = Endpoint::parse("https://thehive.example.org/it's").unwrap();
        if let Some(ca) = ca {
            endpoint = endpoint.with_ca_file(ca).unwrap();
        }
        Target {
            endpoint,
            org: org.map(str::to_owned),
            user: Auth::ApiKey {
                key: Secret::new("user-key-sentinel"),
            },
            admin,
            cortex: None,
            label: "t".into(),
            builtin: false,
        }
    }

    #[test]
    fn the_restore_script_quotes_everything_and_writes_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ca.example.org".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&ca, cert.pem()).unwrap();
        let target = script_target(
            Some("S'OC"),
            Some(Auth::Basic {
                login: "admin@example.org".into(),
                password: Secret::new("admin-password-sentinel"),
            }),
            Some(&ca),
        );
        let saved = json!([{"notifier": {"name": "webhook", "endpoint": "it's"}}]);

        let script = restore_script(&target, "run-1", "autorun::A", &saved, "saved.json");

        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(
            script.contains(
                r#"url='https://thehive.example.org/it'\''s/api/config/organisation/notification'"#
            ),
            "{script}"
        );
        assert!(
            script.contains(
                r#"body='{"value":[{"notifier":{"endpoint":"it'\''s","name":"webhook"}}]}'"#
            ),
            "{script}"
        );
        assert!(
            script.contains(r#"-H 'X-Organisation: S'\''OC'"#),
            "{script}"
        );
        assert!(
            script.contains(&format!("--cacert '{}'", ca.display())),
            "{script}"
        );
        assert!(script.contains("--fail-with-body"), "{script}");
        assert!(script.contains(r#"authorization="Bearer $THEHIVE_ADMIN_API_KEY""#));
        assert!(script.contains(r#"user="${THEHIVE_ADMIN_USER:-admin@example.org}""#));
        assert!(
            script.contains("-H @-"),
            "credentials come on stdin: {script}"
        );
        assert!(
            !script.contains("sentinel"),
            "no secret in the script: {script}"
        );
        assert!(!script.contains("--insecure"));
    }

    #[test]
    fn the_restore_script_sends_no_org_header_without_an_org() {
        let script = restore_script(
            &script_target(None, None, None),
            "run-1",
            "t",
            &json!(null),
            "saved.json",
        );

        assert!(!script.contains("X-Organisation"), "{script}");
        assert!(!script.contains("--cacert"), "{script}");
        assert!(script.contains(r#"body='{"value":null}'"#), "{script}");
    }

    /// A restore that records what it was handed, for the guard's tests.
    fn recording_restore(
        seen: &Arc<Mutex<Option<Writes>>>,
    ) -> impl FnOnce(Writes) -> std::future::Ready<()> {
        let seen = seen.clone();
        move |writes| {
            *seen.lock().unwrap() = Some(writes);
            std::future::ready(())
        }
    }

    fn written(writes: &Mutex<Writes>) {
        writes.lock().unwrap().attempted = true;
    }

    #[tokio::test]
    async fn a_panic_after_the_write_still_restores_and_comes_back_as_a_panic() {
        let writes = Arc::new(Mutex::new(Writes::default()));
        let seen = Arc::new(Mutex::new(None));
        let shared = writes.clone();
        let observation = async move {
            written(&shared);
            if shared.lock().unwrap().attempted {
                panic!("a bug in the observation");
            }
            Ok(())
        };

        let (observed, ()) = observe_then_restore(
            &Interrupt::default(),
            &writes,
            observation,
            recording_restore(&seen),
        )
        .await;

        assert!(
            seen.lock().unwrap().as_ref().unwrap().attempted,
            "the restore saw the write"
        );
        assert!(observed.is_err_and(|join| join.is_panic()));
    }

    #[tokio::test]
    async fn an_interrupt_aborts_the_observation_waits_for_it_and_restores() {
        let writes = Arc::new(Mutex::new(Writes::default()));
        let seen = Arc::new(Mutex::new(None));
        let interrupt = Interrupt::default();
        let shared = writes.clone();
        let raiser = interrupt.clone();
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let observation = async move {
            let _guard = guard;
            written(&shared);
            raiser.raise("SIGTERM");
            std::future::pending::<Result<(), RunError>>().await
        };

        let (observed, ()) =
            observe_then_restore(&interrupt, &writes, observation, recording_restore(&seen)).await;

        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "the observation was gone before the restore"
        );
        assert!(seen.lock().unwrap().as_ref().unwrap().attempted);
        assert!(matches!(
            observed,
            Ok(Err(RunError::Interrupted { ref signal })) if signal == "SIGTERM"
        ));
    }

    struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_restore_is_told_when_nothing_was_written() {
        let writes = Arc::new(Mutex::new(Writes::default()));
        let seen = Arc::new(Mutex::new(None));
        let observation = async {
            Err::<(), _>(RunError::NoAdmin {
                scenario: "s".into(),
            })
        };

        let (observed, ()) = observe_then_restore(
            &Interrupt::default(),
            &writes,
            observation,
            recording_restore(&seen),
        )
        .await;

        assert_eq!(*seen.lock().unwrap(), Some(Writes::default()));
        assert!(matches!(observed, Ok(Err(RunError::NoAdmin { .. }))));
    }
}
