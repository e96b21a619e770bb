//! The scenarios of `scenarios/` as a test target: `cargo test --test scenarios` and
//! `cargo nextest run` list and run one trial per scenario and analyzer, against the built-in
//! emulator (started in-process on 127.0.0.1 port 0 by each test process). Only libtest's flags
//! are read; a staging target is never used from here, whatever the environment says.

use std::path::PathBuf;
use std::process::ExitCode;

use hivecheck::config::TargetArgs;
use hivecheck::emulator::EmulatorConfig;
use hivecheck::harness::{Harness, RunSettings};
use hivecheck::runner::SnapshotMode;

fn main() -> ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let settings = RunSettings {
        scenarios: root.join("scenarios"),
        seed: None,
        snapshots: SnapshotMode::Auto,
        out_dir: root.join("target").join("hivecheck-out"),
        keep: false,
        replace: false,
        fixtures: root.join("fixtures"),
        emulator: EmulatorConfig::default(),
        stack: None,
    };
    match Harness::prepare(&args, &TargetArgs::default(), settings) {
        Ok(harness) => harness.run(&args),
        Err(stop) => {
            eprintln!("error: {}", stop.message);
            ExitCode::from(stop.code)
        }
    }
}
