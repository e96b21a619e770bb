//! The test-runner face of hivecheck: scenarios become libtest-mimic trials, so a run prints
//! `cargo test`'s lines, takes its filters, and ends with its closing line and exit code.
//!
//! [`Harness::prepare`] loads the scenarios and, unless only listing, starts the built-in
//! emulator when no target is configured and checks that the user session opens, so a wrong
//! password is said once instead of once per trial. [`Harness::run`] runs the trials, prints
//! each trial's summary and compares report snapshots.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;

use crate::client::{Auth, Endpoint, Secret};
use crate::config::{TargetArgs, TargetPlan};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::exit;
use crate::preflight;
use crate::report::{self, SnapshotCheck};
use crate::runner::{self, RunContext, RunOptions, SnapshotMode, Target, TrialReport, render};
use crate::scenario::{self, Scenario};
use crate::stack::{Stack, StackConfig};

/// Everything `hivecheck run` needs besides the target.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The scenario directory (or a single file).
    pub scenarios: PathBuf,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--snapshots`.
    pub snapshots: SnapshotMode,
    /// `--out`.
    pub out_dir: PathBuf,
    /// `--keep`.
    pub keep: bool,
    /// `--replace`: every autorun trial replaces the organisation's notification rules.
    pub replace: bool,
    /// `--fixtures`: where notification templates are looked up by name.
    pub fixtures: PathBuf,
    /// The emulator's settings when no target is given.
    pub emulator: EmulatorConfig,
    /// A container stack to bring up and run against (`--stack containers`).
    pub stack: Option<StackConfig>,
}

/// A prepared run.
pub struct Harness {
    scenarios: Vec<Arc<Scenario>>,
    live: Option<Live>,
}

/// What only a real run (not `--list`) needs.
struct Live {
    runtime: Arc<Runtime>,
    ctx: Arc<RunContext>,
    reports: Arc<Mutex<Vec<Recorded>>>,
    // Kept alive for the whole run; taken down after the trials.
    backend: Backend,
    human: Human,
}

/// Where the text meant for people goes: stdout, or stderr when stdout carries libtest's JSON
/// events (`--format json`), so a tool reading them sees nothing else.
#[derive(Debug, Clone, Copy)]
struct Human {
    to_stderr: bool,
}

impl Human {
    fn for_args(args: &Arguments) -> Self {
        Human {
            to_stderr: matches!(args.format, Some(libtest_mimic::FormatSetting::Json)),
        }
    }

    /// Writes `text` in one call, so parallel trials never interleave inside a summary.
    fn say(self, text: &str) {
        let _ = if self.to_stderr {
            std::io::stderr().lock().write_all(text.as_bytes())
        } else {
            std::io::stdout().lock().write_all(text.as_bytes())
        };
    }
}

/// What serves the target, when hivecheck started it.
pub enum Backend {
    /// A real TheHive someone else runs.
    External,
    /// The in-process emulator.
    Emulator(Box<Emulator>),
    /// A container stack, removed at the end unless kept.
    Stack(Box<Stack>, bool),
}

impl Backend {
    /// Takes the backend down: the container stack is removed unless kept. Its handles are
    /// dropped inside the runtime, where testcontainers can run their clean-up.
    pub fn finish(self, runtime: &Runtime) {
        if let Backend::Stack(stack, keep) = self {
            let name = stack.name.clone();
            if keep {
                eprintln!(
                    "stack `{name}` kept running; `--stack containers --reuse --stack-name {name}` \
                     runs against it again, `hivecheck stack down --stack-name {name}` removes it"
                );
                // Kept containers and their network outlive the process.
                std::mem::forget(stack);
            } else if let Err(error) = runtime.block_on(stack.down()) {
                eprintln!("error: {}", render(&error, error.hint()));
            }
        }
    }
}

/// A trial's end, as the exit code and `report.json` need it.
enum Recorded {
    Report(Box<TrialReport>),
    /// The trial could not be carried out: its name, scenario and the rendered error.
    Broken(StoppedTrial),
}

/// A trial that stopped with an error, as `report.json` lists it under `stopped`.
#[derive(Debug, serde::Serialize)]
struct StoppedTrial {
    trial: String,
    scenario: String,
    error: String,
    interrupted: bool,
}

impl Recorded {
    fn restore_failed(&self) -> bool {
        matches!(self, Recorded::Report(report) if report.restore_failed())
    }
}

/// Why a run could not start; each maps to its own exit code.
#[derive(Debug)]
pub struct Stop {
    /// The process exit code.
    pub code: u8,
    /// The rendered message, with causes and hint.
    pub message: String,
}

impl Harness {
    /// Loads the scenarios and, unless `args.list`, gets the target ready.
    pub fn prepare(
        args: &Arguments,
        target: &TargetArgs,
        settings: RunSettings,
    ) -> Result<Self, Stop> {
        let scenarios = load(&settings.scenarios)?;
        check_templates(&scenarios, &settings.fixtures)?;
        if args.list {
            return Ok(Harness {
                scenarios,
                live: None,
            });
        }

        let runtime = new_runtime()?;
        let (target, backend) =
            start_target(&runtime, target, &settings.emulator, settings.stack.clone())?;

        let run_seed = settings.seed.unwrap_or_else(crate::ipgen::random_seed);
        let options = RunOptions {
            seed_override: settings.seed,
            run_seed,
            snapshots: settings.snapshots,
            out_dir: settings.out_dir,
            fixtures_dir: settings.fixtures,
            keep: settings.keep,
            replace: settings.replace,
        };
        let ctx = RunContext::new(target, options);
        let human = Human::for_args(args);
        // Only scenarios without a seed of their own use the run's; saying "repeat with --seed"
        // when every scenario pins one would invite an override that changes every address.
        let selected = selected(args, &scenarios);
        let seed_note = match settings.seed {
            Some(seed) => format!("seed {seed} for every scenario (--seed)"),
            None if selected.iter().any(|s| s.seed.is_none()) => format!(
                "seed {run_seed} for scenarios without their own (repeat with --seed {run_seed})"
            ),
            None => "every scenario pins its own seed".to_owned(),
        };
        human.say(&format!(
            "hivecheck {}: {}, run {}, {seed_note}\n",
            env!("CARGO_PKG_VERSION"),
            ctx.target.label,
            ctx.run_id
        ));

        {
            let _entered = runtime.enter();
            ctx.interrupt.listen();
        }

        // One report before fanning out: a refused login or a missing analyzer would fail
        // every trial the same way.
        let report = runtime.block_on(preflight::run(&ctx, &selected));
        if let Some(failure) = report.failure() {
            // A container stack goes down (inside the runtime) before the error is reported.
            backend.finish(&runtime);
            return Err(Stop {
                code: failure.exit_code(),
                message: report.render(&ctx.target.label),
            });
        }
        human.say(&format!(
            "preflight: ok ({} checks; `hivecheck preflight` lists them)\n",
            report.checks.len()
        ));

        Ok(Harness {
            scenarios,
            live: Some(Live {
                runtime,
                ctx,
                reports: Arc::default(),
                backend,
                human,
            }),
        })
    }

    /// The trial names of a scenario: its name, or `name::label` per analyzer pattern.
    fn trial_names(scenario: &Scenario) -> Vec<(String, crate::scenario::AnalyzerPattern)> {
        scenario
            .analyzers
            .iter()
            .map(|pattern| {
                let name = if pattern.label.is_empty() || scenario.analyzers.len() == 1 {
                    scenario.name.clone()
                } else {
                    format!("{}::{}", scenario.name, pattern.label)
                };
                (name, pattern.clone())
            })
            .collect()
    }

    /// The trials, one per scenario and analyzer pattern.
    pub fn trials(&self) -> Vec<Trial> {
        let mut trials = Vec::new();
        for scenario in &self.scenarios {
            for (name, pattern) in Self::trial_names(scenario) {
                let trial = match &self.live {
                    None => Trial::test(name, || Ok(())),
                    Some(live) => {
                        let job = TrialJob {
                            human: live.human,
                            runtime: live.runtime.clone(),
                            ctx: live.ctx.clone(),
                            reports: live.reports.clone(),
                            scenario: scenario.clone(),
                            pattern,
                            name: name.clone(),
                        };
                        Trial::test(name, move || job.run())
                    }
                };
                trials.push(trial.with_ignored_flag(scenario.ignore.is_some()));
            }
        }
        trials
    }

    /// Runs the trials as libtest would and returns the exit code.
    pub fn run(self, args: &Arguments) -> ExitCode {
        report::install_quiet_snapshot_panics();
        let conclusion = libtest_mimic::run(args, self.trials());
        let Some(live) = self.live else {
            return ExitCode::SUCCESS;
        };
        live.backend.finish(&live.runtime);
        let reports = live.reports.lock().unwrap_or_else(|p| p.into_inner());
        write_json_report(&live.ctx, &reports);
        // A configuration left changed outweighs everything else, an interrupt included:
        // 130 promises that what the run changed was put back.
        if live.ctx.failed_restore().is_some() || reports.iter().any(Recorded::restore_failed) {
            return ExitCode::from(exit::TARGET);
        }
        if live.ctx.interrupt.raised().is_some() {
            return ExitCode::from(exit::INTERRUPTED);
        }
        if !conclusion.has_failed() {
            return ExitCode::from(exit::OK);
        }
        if reports.iter().any(|r| matches!(r, Recorded::Broken(_))) {
            ExitCode::from(exit::TARGET)
        } else {
            ExitCode::from(exit::EXPECTATIONS)
        }
    }
}

/// The scenarios with at least one trial that `args` runs (filters, `--skip`, `--ignored`),
/// so preflight checks what the run needs and nothing more.
fn selected(args: &Arguments, scenarios: &[Arc<Scenario>]) -> Vec<Arc<Scenario>> {
    scenarios
        .iter()
        .filter(|scenario| {
            Harness::trial_names(scenario).into_iter().any(|(name, _)| {
                let probe =
                    Trial::test(name, || Ok(())).with_ignored_flag(scenario.ignore.is_some());
                !args.is_filtered_out(&probe) && !args.is_ignored(&probe)
            })
        })
        .cloned()
        .collect()
}

/// A multi-threaded runtime for the run.
pub fn new_runtime() -> Result<Arc<Runtime>, Stop> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| Stop {
            code: exit::TARGET,
            message: format!("failed to start the async runtime: {e}"),
        })
}

/// Resolves the target: a container stack when asked, else the flags; without a URL, starts
/// the built-in emulator. The returned backend keeps it alive.
pub fn start_target(
    runtime: &Runtime,
    args: &TargetArgs,
    emulator: &EmulatorConfig,
    stack: Option<StackConfig>,
) -> Result<(Target, Backend), Stop> {
    if let Some(config) = stack {
        let keep = config.keep;
        let stack = runtime.block_on(Stack::up(config)).map_err(|e| Stop {
            code: e.exit_code(),
            message: render(&e, e.hint()),
        })?;
        return Ok((
            stack_target(&stack, args),
            Backend::Stack(Box::new(stack), keep),
        ));
    }
    let plan = args.resolve().map_err(|e| Stop {
        code: exit::USAGE,
        message: render(&e, Some(e.hint())),
    })?;
    match plan {
        TargetPlan::Remote(target) => Ok((*target, Backend::External)),
        TargetPlan::Builtin => {
            let emulator = runtime
                .block_on(Emulator::start(emulator.clone()))
                .map_err(|e| Stop {
                    code: exit::EMULATOR,
                    message: render(&e, None),
                })?;
            Ok((
                builtin_target(&emulator, args),
                Backend::Emulator(Box::new(emulator)),
            ))
        }
    }
}

/// The target of a bootstrapped container stack: its analyst by session, its admin by API key.
pub fn stack_target(stack: &Stack, args: &TargetArgs) -> Target {
    let credentials = &stack.credentials;
    let password = credentials
        .password
        .clone()
        .unwrap_or_else(|| Secret::new(""));
    Target {
        label: format!("container stack `{}` at {}", stack.name, stack.thehive_url),
        endpoint: Endpoint::parse(&stack.thehive_url).expect("the stack's URL is valid"),
        org: Some(credentials.org.clone()),
        user: Auth::Session {
            login: credentials.user.clone(),
            password,
        },
        admin: credentials
            .admin_api_key
            .clone()
            .map(|key| Auth::ApiKey { key }),
        cortex: args
            .cortex_id
            .clone()
            .or_else(|| Some(credentials.cortex.clone())),
        builtin: false,
    }
}

/// `hivecheck preflight`: every check, printed, and the exit code of the first failure.
pub fn preflight_only(
    args: &TargetArgs,
    scenarios: &Path,
    selection: &Arguments,
    emulator: &EmulatorConfig,
) -> Result<(), Stop> {
    let scenarios = load(scenarios)?;
    check_templates(&scenarios, Path::new("fixtures"))?;
    let scenarios = selected(selection, &scenarios);
    let runtime = new_runtime()?;
    let (target, backend) = start_target(&runtime, args, emulator, None)?;
    let options = RunOptions {
        seed_override: None,
        run_seed: 0,
        snapshots: SnapshotMode::Never,
        out_dir: PathBuf::from("hivecheck-out"),
        fixtures_dir: PathBuf::from("fixtures"),
        keep: true,
        replace: false,
    };
    let ctx = RunContext::new(target, options);
    let report = runtime.block_on(preflight::run(&ctx, &scenarios));
    backend.finish(&runtime);
    let text = report.render(&ctx.target.label);
    match report.failure() {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(failure) => Err(Stop {
            code: failure.exit_code(),
            message: text,
        }),
    }
}

/// Writes every trial's report to `<out>/<run id>/report.json`; a failure is a warning, since
/// the results were already printed.
fn write_json_report(ctx: &RunContext, reports: &[Recorded]) {
    let mut trials: Vec<&TrialReport> = Vec::new();
    let mut stopped: Vec<&StoppedTrial> = Vec::new();
    for recorded in reports {
        match recorded {
            Recorded::Report(report) => trials.push(report),
            Recorded::Broken(trial) => stopped.push(trial),
        }
    }
    let dir = ctx
        .run_dir()
        .unwrap_or_else(|_| ctx.options.out_dir.join(&ctx.run_id));
    let body = serde_json::json!({
        "runId": ctx.run_id,
        "target": ctx.target.label,
        "seed": ctx.options.run_seed,
        "interrupted": ctx.interrupt.raised(),
        "trials": trials,
        // Trials that could not be carried out; each is also a failed test line.
        "stopped": stopped,
    });
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join("report.json"),
            serde_json::to_vec_pretty(&body).unwrap_or_default(),
        )
    });
    if let Err(error) = written {
        tracing::warn!(dir = %dir.display(), %error, "failed to write the run's JSON report");
    }
}

/// The target of a run against the built-in emulator: its analyst for observables and jobs,
/// its admin for configuration, both by session login as in the runbook.
fn builtin_target(emulator: &Emulator, args: &TargetArgs) -> Target {
    let config = emulator.config();
    let endpoint = Endpoint::parse(&emulator.base_url()).expect("the emulator's own URL is valid");
    Target {
        label: format!("built-in emulator at {}", emulator.base_url()),
        endpoint,
        org: Some(config.org.clone()),
        user: Auth::Session {
            login: config.analyst_login.clone(),
            password: Secret::new(config.analyst_password.clone()),
        },
        admin: Some(Auth::Session {
            login: config.admin_login.clone(),
            password: Secret::new(config.admin_password.clone()),
        }),
        cortex: args.cortex_id.clone(),
        builtin: true,
    }
}

/// Every autorun template the scenarios name must exist, so a typo is a scenario error with
/// its `file:line:col` (also under `--list`), not a broken trial halfway through a run.
fn check_templates(scenarios: &[Arc<Scenario>], fixtures: &Path) -> Result<(), Stop> {
    for scenario in scenarios {
        let Some(autorun) = &scenario.autorun else {
            continue;
        };
        let path = runner::template_path(fixtures, &autorun.template);
        if !path.is_file() && runner::built_in_template(&autorun.template).is_none() {
            let error = scenario::ScenarioError::at(
                &scenario.path,
                &autorun.template_at,
                format!(
                    "notification template `{}` not found (looked for `{}`)",
                    autorun.template,
                    path.display()
                ),
                "name a file of fixtures/notifications/ without `.json` (e.g. \"thehive4\"), \
                 give a path to a JSON file, or point --fixtures at the right directory",
            );
            return Err(Stop {
                code: exit::SCENARIO,
                message: render(&error, error.hint()),
            });
        }
    }
    Ok(())
}

fn load(path: &Path) -> Result<Vec<Arc<Scenario>>, Stop> {
    let loaded = if path.is_file() {
        scenario::load_file(path).map(|s| vec![s])
    } else {
        scenario::load_dir(path)
    };
    loaded
        .map(|all| all.into_iter().map(Arc::new).collect())
        .map_err(|e| Stop {
            code: exit::SCENARIO,
            message: render(&e, e.hint()),
        })
}

/// One trial's work, moved into libtest-mimic's thread pool.
struct TrialJob {
    human: Human,
    runtime: Arc<Runtime>,
    ctx: Arc<RunContext>,
    reports: Arc<Mutex<Vec<Recorded>>>,
    scenario: Arc<Scenario>,
    pattern: crate::scenario::AnalyzerPattern,
    name: String,
}

impl TrialJob {
    fn run(self) -> Result<(), Failed> {
        let result = self.runtime.block_on(runner::run_trial(
            self.ctx.clone(),
            self.scenario.clone(),
            self.pattern.clone(),
            self.name.clone(),
        ));
        let mut report = match result {
            Ok(report) => report,
            Err(error) => {
                let message = render(&error, error.hint());
                self.record(Recorded::Broken(StoppedTrial {
                    trial: self.name.clone(),
                    scenario: self.scenario.name.clone(),
                    error: message.clone(),
                    interrupted: error.is_interruption(),
                }));
                return Err(message.into());
            }
        };

        let mut notes = String::new();
        match self.snapshot_decision() {
            Ok(dir) => match report::check_snapshot(&report, &dir) {
                SnapshotCheck::Mismatch(problem) => report.problems.push(problem),
                SnapshotCheck::Skipped(reason) => {
                    notes.push_str(&format!("  snapshot: not compared ({reason})\n"))
                }
                SnapshotCheck::Matched => {}
            },
            Err(reason) => notes.push_str(&format!("  snapshot: not compared ({reason})\n")),
        }

        self.human
            .say(&format!("{}{notes}", report::render_trial(&report)));

        let passed = report.passed();
        let failures = report.failures().join("\n");
        self.record(Recorded::Report(Box::new(report)));
        if passed { Ok(()) } else { Err(failures.into()) }
    }

    /// Where to compare the snapshot, or why not: only when the observables are pinned (an
    /// explicit list or a seed in the scenario) and the target is deterministic.
    fn snapshot_decision(&self) -> Result<PathBuf, String> {
        let options = &self.ctx.options;
        match options.snapshots {
            SnapshotMode::Never => return Err("--snapshots never".to_owned()),
            SnapshotMode::Auto if !self.ctx.target.builtin => {
                return Err(
                    "real targets answer with live data; use --snapshots always to compare"
                        .to_owned(),
                );
            }
            _ => {}
        }
        if !self.scenario.snapshot {
            return Err("the scenario sets snapshot = false".to_owned());
        }
        let pinned = self.scenario.random == 0
            || (self.scenario.seed.is_some()
                && options
                    .seed_override
                    .is_none_or(|s| Some(s) == self.scenario.seed));
        if !pinned {
            return Err("the random addresses are not pinned by a seed in the scenario".to_owned());
        }
        let dir = self
            .scenario
            .path
            .parent()
            .unwrap_or(Path::new("."))
            .join("snapshots");
        std::path::absolute(&dir).map_err(|e| format!("cannot resolve {}: {e}", dir.display()))
    }

    fn record(&self, recorded: Recorded) {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(recorded);
    }
}
