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
    /// Check that the target is ready for the scenarios, without running them.
    Preflight(Box<PreflightArgs>),
    /// Serve the built-in TheHive + Cortex emulator until interrupted.
    Emulate(Box<EmulatorArgs>),
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
    /// libtest's flags: filter, --exact, --skip, --list, --ignored, --test-threads, …
    #[command(flatten)]
    pub test: libtest_mimic::Arguments,
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
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Preflight(args) => {
            match crate::harness::preflight_only(
                &args.target,
                &args.scenarios,
                &crate::emulator::EmulatorConfig::default(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(stop) => fail(stop.code, &stop.message),
            }
        }
        Command::Emulate(args) => emulate(*args),
    }
}

/// `hivecheck run`.
pub fn run(args: RunArgs) -> ExitCode {
    let emulator = crate::emulator::EmulatorConfig::default();
    let settings = RunSettings {
        scenarios: args.scenarios,
        seed: args.seed,
        snapshots: args.snapshots,
        out_dir: args.out,
        keep: args.keep,
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

/// Sends logs to stderr, filtered by `HIVECHECK_LOG` (e.g. `debug`, `hivecheck::http=debug`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HIVECHECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
