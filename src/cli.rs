//! The command line: `hivecheck run` (the default job) and `hivecheck emulate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::TargetArgs;
use crate::emulator::{self, EmulatorArgs};
use crate::exit;
use crate::harness::{Harness, RunSettings};
use crate::runner::SnapshotMode;

/// End-to-end validation of TheHive + Cortex analyzer automation.
#[derive(Debug, Parser)]
#[command(name = "hivecheck", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scenarios, against the built-in emulator unless a target URL is given.
    Run(Box<RunArgs>),
    /// Delete what earlier runs left: cases, and observables in cases they did not create (only
    /// what carries a hivecheck run tag).
    Cleanup(Box<CleanupArgs>),
    /// Check the operator runbook's assumptions against the target (creates nothing).
    Runbook(Box<RunbookArgs>),
    /// Check that the target is ready for the scenarios, without running them.
    Preflight(Box<PreflightArgs>),
    /// Serve the built-in TheHive + Cortex emulator until interrupted.
    Emulate(Box<EmulatorArgs>),
    /// Bring a bootstrapped TheHive + Cortex container stack up, or take it down.
    Stack {
        /// Up or down.
        #[command(subcommand)]
        action: StackAction,
    },
}

/// `hivecheck stack up|down`.
#[derive(Debug, Subcommand)]
pub enum StackAction {
    /// Start and bootstrap the stack, print how to reach it, and leave it running.
    Up(StackArgs),
    /// Remove the stack's containers, network and environment file (only what carries
    /// hivecheck's stack label).
    Down {
        /// The stack to remove (`default` when absent).
        #[arg(long = "stack-name", conflicts_with = "all")]
        name: Option<String>,
        /// Remove every hivecheck stack, including ones other runs or tests are using.
        #[arg(long)]
        all: bool,
    },
}

/// Images and naming of a container stack.
#[derive(Debug, Clone, clap::Args)]
pub struct StackArgs {
    /// The stack's name (containers `hivecheck-NAME-*`, network `hivecheck-NAME`); `default`
    /// for `stack up`, a fresh one for each `run --stack containers`.
    #[arg(long = "stack-name")]
    pub name: Option<String>,
    /// Use this hivecheck emulator image for both TheHive and Cortex (no Cassandra or
    /// Elasticsearch), e.g. `hivecheck-emulator:local` from docker/build-emulator-image.sh.
    #[arg(long, value_name = "IMAGE")]
    pub emulator_image: Option<String>,
    /// TheHive's image.
    #[arg(long, default_value = crate::stack::THEHIVE_IMAGE, value_name = "IMAGE")]
    pub thehive_image: String,
    /// Cortex's image.
    #[arg(long, default_value = crate::stack::CORTEX_IMAGE, value_name = "IMAGE")]
    pub cortex_image: String,
    /// Cassandra's image.
    #[arg(long, default_value = crate::stack::CASSANDRA_IMAGE, value_name = "IMAGE")]
    pub cassandra_image: String,
    /// Elasticsearch's image.
    #[arg(long, default_value = crate::stack::ELASTICSEARCH_IMAGE, value_name = "IMAGE")]
    pub elasticsearch_image: String,
    /// An analyzer to enable in Cortex (its key from ABUSEIPDB_KEY); repeatable. Each one
    /// named must be in Cortex's catalog. Without it, AbuseIPDB_1_0 and AbuseIPDB_2_0 are
    /// enabled where the catalog has them (at least one must exist).
    #[arg(long = "analyzer", value_name = "NAME")]
    pub analyzers: Vec<String>,
    /// How long a container may take to become ready.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub startup_timeout: std::time::Duration,
    /// Attach to the kept stack of this name when it still runs (started and bootstrapped
    /// once, by `stack up` or an earlier `--reuse`); otherwise bring it up and keep it. The
    /// name defaults to `default`.
    #[arg(long)]
    pub reuse: bool,
}

impl StackArgs {
    /// The stack configuration these flags describe; `fallback` names it when no name is given
    /// (`default` with `--reuse`). `log_dir` receives the logs of a failure; a kept stack's
    /// environment file goes to `hivecheck-out/stacks/`, whatever `--out` says.
    pub fn config(
        &self,
        fallback: &str,
        keep: bool,
        log_dir: PathBuf,
    ) -> crate::stack::StackConfig {
        let images = match &self.emulator_image {
            Some(image) => crate::stack::Images::emulator(image),
            None => crate::stack::Images {
                thehive: self.thehive_image.clone(),
                cortex: self.cortex_image.clone(),
                cassandra: self.cassandra_image.clone(),
                elasticsearch: self.elasticsearch_image.clone(),
                emulator: false,
            },
        };
        let fallback = if self.reuse { "default" } else { fallback };
        let name = self.name.clone().unwrap_or_else(|| fallback.to_owned());
        let mut config = crate::stack::StackConfig::new(&name, images);
        config.keep = keep || self.reuse;
        config.reuse = self.reuse;
        if !self.analyzers.is_empty() {
            config.analyzers = self.analyzers.clone();
            config.analyzers_required = true;
        }
        config.startup_timeout = self.startup_timeout;
        config.log_dir = Some(log_dir);
        config
    }
}

/// Where `hivecheck run` sends its scenarios besides a URL or the in-process emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StackKind {
    /// A TheHive + Cortex stack in containers, brought up for the run.
    Containers,
}

/// Flags of `hivecheck run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The scenario directory, or one scenario file.
    #[arg(long, default_value = "scenarios", value_name = "PATH")]
    pub scenarios: PathBuf,
    /// The seed of the random addresses; overrides the scenarios' own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// When report snapshots are compared.
    #[arg(long, value_enum, default_value_t)]
    pub snapshots: SnapshotMode,
    /// Where the run writes its files.
    #[arg(long, default_value = "hivecheck-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Keep the cases the run created.
    #[arg(long)]
    pub keep: bool,
    /// Where notification templates are looked up by name.
    #[arg(long, default_value = "fixtures", value_name = "DIR")]
    pub fixtures: PathBuf,
    /// Autorun trials replace the organisation's notification rules with theirs until the
    /// restore, instead of appending (whatever the scenarios' `mode` says).
    #[arg(long)]
    pub replace: bool,
    /// The built-in emulator's profile, when no target is given.
    #[arg(long, value_enum, default_value = "thehive4")]
    pub emulator_profile: crate::emulator::Profile,
    /// Run against a container stack brought up for the run (removed after unless --keep).
    #[arg(long, value_enum)]
    pub stack: Option<StackKind>,
    /// The container stack's images and name.
    #[command(flatten)]
    pub stack_args: StackArgs,
    /// libtest's flags: filter, --exact, --skip, --list, --ignored, --test-threads, …
    #[command(flatten)]
    pub test: libtest_mimic::Arguments,
}

/// Flags of `hivecheck cleanup`.
#[derive(Debug, clap::Args)]
pub struct CleanupArgs {
    /// The target (a URL is required: the built-in emulator has nothing to clean).
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only runs that started longer ago than this (e.g. `2d`, `12h`).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2d")]
    pub older_than: std::time::Duration,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Flags of `hivecheck runbook`.
#[derive(Debug, clap::Args)]
pub struct RunbookArgs {
    /// The target (the built-in emulator when no URL is given).
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Flags of `hivecheck preflight`.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The scenarios whose analyzers and needs are checked.
    #[arg(long, default_value = "scenarios", value_name = "PATH")]
    pub scenarios: PathBuf,
    /// Check only the scenarios whose trial names contain this, as `hivecheck run FILTER`.
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// Leave out the scenarios whose trial names contain this (repeatable), as with `run`.
    #[arg(long, value_name = "FILTER")]
    pub skip: Vec<String>,
    /// Match FILTER and --skip against whole trial names.
    #[arg(long)]
    pub exact: bool,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Preflight(args) => {
            // The same selection as `run` with these flags, so preflight checks what that run
            // would need.
            let selection = libtest_mimic::Arguments {
                filter: args.filter.clone(),
                skip: args.skip.clone(),
                exact: args.exact,
                ..libtest_mimic::Arguments::default()
            };
            match crate::harness::preflight_only(
                &args.target,
                &args.scenarios,
                &selection,
                &crate::emulator::EmulatorConfig::default(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(stop) => fail(stop.code, &stop.message),
            }
        }
        Command::Emulate(args) => emulate(*args),
        Command::Cleanup(args) => cleanup(*args),
        Command::Runbook(args) => runbook(*args),
        Command::Stack { action } => stack(action),
    }
}

fn runbook(args: RunbookArgs) -> ExitCode {
    let runtime = match crate::harness::new_runtime() {
        Ok(runtime) => runtime,
        Err(stop) => return fail(stop.code, &stop.message),
    };
    let emulator = crate::emulator::EmulatorConfig::default();
    let (target, backend) =
        match crate::harness::start_target(&runtime, &args.target, &emulator, None) {
            Ok(started) => started,
            Err(stop) => return fail(stop.code, &stop.message),
        };
    println!("runbook assumptions, checked against {}:", target.label);
    let claims = runtime.block_on(crate::runbook::check(&target));
    print!("{}", crate::runbook::render(&claims));
    backend.finish(&runtime);
    // A report of wrong assumptions is the command's normal answer; only a target on which
    // nothing could be checked is a failure.
    if claims
        .iter()
        .all(|claim| claim.verdict == crate::runbook::Verdict::Unchecked)
    {
        return fail(
            exit::TARGET,
            "no runbook assumption could be checked on this target (see `observed` above); \
             hint: `hivecheck preflight` says what is wrong with the connection or credentials",
        );
    }
    ExitCode::SUCCESS
}

fn cleanup(args: CleanupArgs) -> ExitCode {
    let target = match args.target.resolve() {
        Ok(crate::config::TargetPlan::Remote(target)) => target,
        Ok(crate::config::TargetPlan::Builtin) => {
            return fail(
                exit::USAGE,
                "cleanup needs a target: give --url or THEHIVE_URL\n(the built-in emulator starts empty each run)",
            );
        }
        Err(error) => {
            return fail(
                exit::USAGE,
                &crate::runner::render(&error, Some(error.hint())),
            );
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                exit::TARGET,
                &format!("failed to start the async runtime: {error}"),
            );
        }
    };
    let work = async {
        let session = crate::client::TheHive::connect(
            &target.endpoint,
            &target.user,
            target.org.as_deref(),
            "user",
        )
        .await?;
        crate::cleanup::cleanup(&session, args.older_than, args.dry_run).await
    };
    match runtime.block_on(work) {
        Ok(considered) => {
            let mut failed = false;
            for case in &considered {
                let what = match &case.fate {
                    crate::cleanup::Fate::Deleted if args.dry_run => "would delete".to_owned(),
                    crate::cleanup::Fate::Deleted => "deleted".to_owned(),
                    crate::cleanup::Fate::Recent => "kept (recent)".to_owned(),
                    crate::cleanup::Fate::NotOurs => "kept (no hivecheck run tag)".to_owned(),
                    crate::cleanup::Fate::Failed(why) => {
                        failed = true;
                        format!("FAILED: {why}")
                    }
                };
                println!(
                    "{:<14} {:<10} {} {}",
                    what,
                    case.kind.word(),
                    case.id,
                    case.title
                );
            }
            let count = |kind: crate::cleanup::Kind| {
                let of_kind = considered.iter().filter(|c| c.kind == kind);
                let deleted = of_kind
                    .clone()
                    .filter(|c| c.fate == crate::cleanup::Fate::Deleted)
                    .count();
                (deleted, of_kind.count())
            };
            let (cases, all_cases) = count(crate::cleanup::Kind::Case);
            let (observables, all_observables) = count(crate::cleanup::Kind::Observable);
            println!(
                "cleanup: {cases} of {all_cases} hivecheck cases and {observables} of \
                 {all_observables} hivecheck observables in other cases {}",
                if args.dry_run {
                    "would be deleted"
                } else {
                    "deleted"
                }
            );
            if failed {
                ExitCode::from(exit::TARGET)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => fail(exit::TARGET, &crate::runner::render(&error, error.hint())),
    }
}

fn stack(action: StackAction) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                exit::STACK,
                &format!("failed to start the async runtime: {error}"),
            );
        }
    };
    match action {
        StackAction::Up(args) => stack_up(&runtime, &args),
        StackAction::Down { name, all } => stack_down(&runtime, name, all),
    }
}

fn stack_up(runtime: &tokio::runtime::Runtime, args: &StackArgs) -> ExitCode {
    // A stack of that name already up and bootstrapped is reused, not started twice.
    let mut config = args.config("default", true, PathBuf::from("hivecheck-out"));
    config.reuse = true;
    let stack = match runtime.block_on(crate::stack::Stack::up(config)) {
        Ok(stack) => stack,
        Err(error) => {
            return fail(
                error.exit_code(),
                &crate::runner::render(&error, error.hint()),
            );
        }
    };
    let c = &stack.credentials;
    let state = if stack.reused {
        "was already up; reusing it"
    } else {
        "is up and bootstrapped"
    };
    println!("stack `{}` {state}", stack.name);
    println!(
        "  TheHive {}, Cortex {} (server `{}`)",
        stack.thehive_url, stack.cortex_url, c.cortex
    );
    println!(
        "  organisation `{}`, user `{}`, admin `{}`",
        c.org, c.user, c.admin
    );
    if !stack.reused {
        println!("  analyzers enabled: {}", stack.analyzers.join(", "));
    }
    if !stack.missing_analyzers.is_empty() {
        println!(
            "  not in Cortex's catalog, skipped: {}",
            stack.missing_analyzers.join(", ")
        );
    }
    if let Some(path) = &stack.env_file {
        println!("run the scenarios against it (credentials in a file readable only by you):");
        println!("  set -a; . {}; set +a; hivecheck run", path.display());
        println!(
            "  or: hivecheck run --stack containers --reuse --stack-name {}",
            stack.name
        );
    }
    println!(
        "take it down: hivecheck stack down --stack-name {}",
        stack.name
    );
    // The stack outlives this process: its container and network handles must not run their
    // removal on drop (`stack down` removes them).
    std::mem::forget(stack);
    ExitCode::SUCCESS
}

fn stack_down(runtime: &tokio::runtime::Runtime, name: Option<String>, all: bool) -> ExitCode {
    let name = if all {
        None
    } else {
        Some(name.unwrap_or_else(|| "default".to_owned()))
    };
    if let Some(name) = &name
        && let Err(error) = crate::stack::validate_name(name)
    {
        return fail(
            error.exit_code(),
            &crate::runner::render(&error, error.hint()),
        );
    }
    let removed = runtime.block_on(crate::stack::remove_by_label(
        name.as_deref(),
        &crate::stack::default_env_dir(),
    ));
    let removed = match removed {
        Ok(removed) => removed,
        Err(error) => {
            return fail(
                error.exit_code(),
                &crate::runner::render(&error, error.hint()),
            );
        }
    };
    if removed.containers.is_empty() {
        println!("no hivecheck stack container found");
    } else {
        println!("removed {}", removed.containers.join(", "));
    }
    for file in removed
        .env_files
        .iter()
        .chain(&forget_legacy_env_files(name.as_deref()))
    {
        println!("deleted {}", file.display());
    }
    ExitCode::SUCCESS
}

/// Deletes the environment files earlier versions wrote to `hivecheck-out/stack-<name>.env`
/// (they hold the stack's secrets); returns those deleted.
fn forget_legacy_env_files(name: Option<&str>) -> Vec<PathBuf> {
    let dir = PathBuf::from("hivecheck-out");
    let files: Vec<PathBuf> = match name {
        Some(name) => vec![dir.join(format!("stack-{name}.env"))],
        None => std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .filter(|path| {
                        path.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("stack-") && n.ends_with(".env"))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    files
        .into_iter()
        .filter(|file| std::fs::remove_file(file).is_ok())
        .collect()
}

/// `hivecheck run`.
pub fn run(args: RunArgs) -> ExitCode {
    let emulator = crate::emulator::EmulatorConfig {
        profile: args.emulator_profile,
        ..crate::emulator::EmulatorConfig::default()
    };
    let stack_flags = &args.stack_args;
    if args.stack.is_none()
        && (stack_flags.reuse || stack_flags.emulator_image.is_some() || stack_flags.name.is_some())
    {
        return fail(
            exit::USAGE,
            "--reuse, --emulator-image and --stack-name choose a container stack, but no stack was \
             asked for\n  hint: add `--stack containers`",
        );
    }
    let fresh = format!("run-{:04x}", rand::random::<u16>());
    let stack = args
        .stack
        .map(|_| args.stack_args.config(&fresh, args.keep, args.out.clone()));
    let settings = RunSettings {
        scenarios: args.scenarios,
        seed: args.seed,
        snapshots: args.snapshots,
        out_dir: args.out,
        keep: args.keep,
        replace: args.replace,
        stack,
        fixtures: args.fixtures,
        emulator,
    };
    match Harness::prepare(&args.test, &args.target, settings) {
        Ok(harness) => harness.run(&args.test),
        Err(stop) => fail(stop.code, &stop.message),
    }
}

fn emulate(args: EmulatorArgs) -> ExitCode {
    let config = match args.into_config() {
        Ok(config) => config,
        Err(error) => return fail(exit::USAGE, &crate::runner::render(&error, None)),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                exit::EMULATOR,
                &format!("failed to start the async runtime: {error}"),
            );
        }
    };
    match runtime.block_on(emulator::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(exit::EMULATOR, &crate::runner::render(&error, None)),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

/// Sends logs to stderr, filtered by `HIVECHECK_LOG` (e.g. `debug`, `hivecheck::http=debug`),
/// through the one redaction function. Without the variable only hivecheck's (and the
/// emulator's) warnings show, so other libraries' error lines do not mix with the report.
pub fn init_logging() {
    let spec = std::env::var("HIVECHECK_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(log_filter(spec.as_deref()))
        .with_writer(|| RedactingWriter(std::io::stderr()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The filter when `HIVECHECK_LOG` is not set (or empty, or invalid).
const DEFAULT_LOG: &str = "hivecheck=warn,emulator=warn";

/// Dependencies that print headers or cookies at debug or trace level: `cookie_store` logs
/// every `Set-Cookie` in full (the session cookie's value), `hyper`, `h2` and `reqwest` the
/// headers of each request. They stay at `warn` unless `HIVECHECK_LOG` names them itself.
const HEADER_LOGGERS: [&str; 7] = [
    "cookie_store",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    "tower",
];

/// The filter for a `HIVECHECK_LOG` value: the value itself, with `HEADER_LOGGERS` it does
/// not name held at `warn`.
pub fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    let spec = spec.map(str::trim).filter(|s| !s.is_empty());
    let spec = match spec {
        Some(spec) if tracing_subscriber::EnvFilter::try_new(spec).is_ok() => spec,
        Some(spec) => {
            eprintln!(
                "warning: HIVECHECK_LOG=`{spec}` is not a valid filter; using `{DEFAULT_LOG}`"
            );
            DEFAULT_LOG
        }
        None => DEFAULT_LOG,
    };
    let named: Vec<&str> = spec
        .split(',')
        .map(|directive| {
            directive
                .split(['=', '['])
                .next()
                .unwrap_or_default()
                .trim()
        })
        .collect();
    let mut directives = spec.to_owned();
    for target in HEADER_LOGGERS {
        let is_named = named
            .iter()
            .any(|n| *n == target || n.starts_with(&format!("{target}::")));
        if !is_named {
            directives.push_str(&format!(",{target}=warn"));
        }
    }
    tracing_subscriber::EnvFilter::new(directives)
}

/// Stderr, with every registered secret and credential-bearing header or field replaced
/// before it is written. The fmt layer writes each event in one call, so a secret is never
/// split between two writes.
struct RedactingWriter(std::io::Stderr);

impl std::io::Write for RedactingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = crate::client::redact_text(&String::from_utf8_lossy(bytes));
        self.0.write_all(text.as_bytes())?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_loggers_stay_at_warn_unless_named() {
        let debug = log_filter(Some("debug")).to_string();
        let named = log_filter(Some("debug,cookie_store=trace")).to_string();

        assert!(debug.contains("cookie_store=warn"), "{debug}");
        assert!(debug.contains("hyper=warn"), "{debug}");
        assert!(named.contains("cookie_store=trace"), "{named}");
        assert!(!named.contains("cookie_store=warn"), "{named}");
    }

    #[test]
    fn default_filter_shows_only_our_warnings() {
        let default = log_filter(None).to_string();
        let invalid = log_filter(Some("=[")).to_string();

        assert!(default.contains("hivecheck=warn"), "{default}");
        assert!(!default.split(',').any(|d| d == "warn"), "{default}");
        assert_eq!(default, invalid);
    }
}
