//! Shared set-up for the integration tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hivecheck::client::{Auth, Endpoint, Secret, TheHive};
use hivecheck::emulator::{Emulator, EmulatorConfig, Latency};
use hivecheck::runner::{
    self, RunContext, RunError, RunOptions, SnapshotMode, Target, TrialReport,
};
use hivecheck::scenario::{self, Scenario};

/// An emulator whose jobs and notifications take a few tens of milliseconds.
pub fn fast_config() -> EmulatorConfig {
    EmulatorConfig {
        job_latency: Latency {
            min: Duration::from_millis(40),
            max: Duration::from_millis(120),
        },
        refresh_delay: Duration::from_millis(30),
        notification_delay: Duration::from_millis(50),
        analyst_password: "analyst-sentinel-pw".to_owned(),
        ..EmulatorConfig::default()
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config)
        .await
        .expect("the emulator starts on 127.0.0.1:0")
}

pub fn analyst(emulator: &Emulator) -> Auth {
    Auth::Session {
        login: emulator.config().analyst_login.clone(),
        password: Secret::new(emulator.config().analyst_password.clone()),
    }
}

pub fn admin(emulator: &Emulator) -> Auth {
    Auth::Session {
        login: emulator.config().admin_login.clone(),
        password: Secret::new(emulator.config().admin_password.clone()),
    }
}

pub fn endpoint(emulator: &Emulator) -> Endpoint {
    Endpoint::parse(&emulator.base_url()).unwrap()
}

pub fn target(emulator: &Emulator) -> Target {
    Target {
        endpoint: endpoint(emulator),
        org: Some(emulator.config().org.clone()),
        user: analyst(emulator),
        admin: Some(admin(emulator)),
        cortex: None,
        label: "test emulator".to_owned(),
        builtin: true,
    }
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn context(target: Target, out: &Path) -> Arc<RunContext> {
    RunContext::new(
        target,
        RunOptions {
            seed_override: None,
            run_seed: 99,
            snapshots: SnapshotMode::Never,
            out_dir: out.to_owned(),
            fixtures_dir: root().join("fixtures"),
            keep: true,
            replace: false,
        },
    )
}

pub fn scenario(text: &str) -> Arc<Scenario> {
    Arc::new(scenario::load_str(Path::new("scenarios/test.toml"), text).expect("a valid scenario"))
}

pub async fn run(ctx: &Arc<RunContext>, scenario: &Arc<Scenario>) -> Result<TrialReport, RunError> {
    let pattern = scenario.analyzers[0].clone();
    runner::run_trial(
        ctx.clone(),
        scenario.clone(),
        pattern,
        scenario.name.clone(),
    )
    .await
}

pub async fn session(emulator: &Emulator, auth: &Auth) -> TheHive {
    TheHive::connect(
        &endpoint(emulator),
        auth,
        Some(&emulator.config().org),
        "test",
    )
    .await
    .unwrap()
}

/// A session reaching `emulator` through another base URL (a proxy in front of it).
pub async fn session_at(base: &str, emulator: &Emulator, auth: &Auth) -> TheHive {
    TheHive::connect(
        &Endpoint::parse(base).unwrap(),
        auth,
        Some(&emulator.config().org),
        "test",
    )
    .await
    .unwrap()
}
