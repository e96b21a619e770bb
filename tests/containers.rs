//! The container path, exercised for real: the emulator image plays TheHive 5 and Cortex in
//! two containers on a private network (the TheHive one calling the Cortex one), brought up by
//! the same code as `hivecheck stack up` and `hivecheck run --stack containers`: network
//! creation, port mapping, readiness waits, the whole bootstrap, scenario runs, log capture
//! and teardown.
//!
//! Without a Docker daemon (a laptop) the trials report "ignored: no Docker daemon". With
//! `HIVECHECK_REQUIRE_DOCKER=1` (this project's CI) a missing daemon fails instead.
//! The image is `hivecheck-emulator:local`, built on first need by
//! docker/build-emulator-image.sh (a few minutes, once), or `HIVECHECK_EMULATOR_IMAGE`, which
//! must already exist.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
use hivecheck::config::TargetArgs;
use hivecheck::harness::stack_target;
use hivecheck::runner::{self, RunContext, RunOptions, SnapshotMode};
use hivecheck::stack::{Images, Stack, StackConfig, StackError, docker_available};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

fn image() -> String {
    std::env::var("HIVECHECK_EMULATOR_IMAGE")
        .unwrap_or_else(|_| "hivecheck-emulator:local".to_owned())
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = vec![
        trial(
            "emulator_stack_runs_the_compact_and_autorun_scenarios",
            stack_runs_scenarios,
        ),
        trial(
            "stack_up_and_down_by_command_leave_nothing_behind",
            stack_commands,
        ),
        trial(
            "failed_bootstrap_keeps_the_logs_and_removes_the_containers",
            failed_bootstrap,
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

/// A trial that runs only where a Docker daemon answers, unless one is required. With a
/// daemon, a missing or unbuildable image is a failure, not a reason to skip.
fn trial(name: &str, body: fn(&tokio::runtime::Runtime) -> Result<(), Failed>) -> Trial {
    Trial::ignorable_test(name, move || {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        let required = std::env::var("HIVECHECK_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
        if runtime.block_on(docker_available()).is_err() {
            let reason = "no Docker daemon";
            return if required {
                Err(format!("{reason} (HIVECHECK_REQUIRE_DOCKER=1)").into())
            } else {
                Ok(Completion::ignored_with(reason))
            };
        }
        runtime.block_on(ensure_image())?;
        body(&runtime).map(|()| Completion::Completed)
    })
}

/// The emulator image exists, or is built now when it is the default one.
async fn ensure_image() -> Result<(), String> {
    let docker = Docker::connect_with_defaults().map_err(|e| e.to_string())?;
    if docker.inspect_image(&image()).await.is_ok() {
        return Ok(());
    }
    if std::env::var_os("HIVECHECK_EMULATOR_IMAGE").is_some() {
        return Err(format!(
            "image {} (HIVECHECK_EMULATOR_IMAGE) does not exist",
            image()
        ));
    }
    build_image_once()
}

/// Builds the default image with the project's script, once for all trials; the trials that
/// wait meanwhile share the outcome.
fn build_image_once() -> Result<(), String> {
    static BUILT: std::sync::Mutex<Option<Result<(), String>>> = std::sync::Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    built
        .get_or_insert_with(|| {
            eprintln!("building {} (docker/build-emulator-image.sh)…", image());
            let output = Command::new("bash")
                .arg(root().join("docker/build-emulator-image.sh"))
                .arg(image())
                .output()
                .map_err(|e| format!("could not run docker/build-emulator-image.sh: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "docker/build-emulator-image.sh failed ({}):\n{}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                ))
            }
        })
        .clone()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:04x}", rand::random::<u16>())
}

/// Containers (name and id) and networks still present for a stack name.
async fn leftovers(name: &str) -> Vec<String> {
    let docker = Docker::connect_with_defaults().unwrap();
    let label = format!("org.hivecheck.stack={name}");
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", vec![label.as_str()])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    let network = format!("hivecheck-{name}");
    let by_name: HashMap<&str, Vec<&str>> = HashMap::from([("name", vec![network.as_str()])]);
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&by_name)
                .build(),
        ))
        .await
        .unwrap();
    // Names with ids: a container replaced under the same name shows as a change.
    let mut left: Vec<String> = containers
        .into_iter()
        .map(|c| {
            let id: String = c.id.unwrap_or_default().chars().take(12).collect();
            format!("{} ({id})", c.names.unwrap_or_default().join(","))
        })
        .collect();
    left.sort();
    left.extend(
        networks
            .into_iter()
            .filter_map(|n| n.name)
            .filter(|n| *n == network),
    );
    left
}

fn stack_runs_scenarios(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let name = unique("test");
    let mut config = StackConfig::new(&name, Images::emulator(&image()));
    config.startup_timeout = std::time::Duration::from_secs(60);
    let stack = runtime
        .block_on(Stack::up(config))
        .map_err(|e| runner::render(&e, e.hint()))?;
    let outcome = runtime.block_on(run_scenarios(&stack));
    let logs = runtime.block_on(stack.logs(1000));
    runtime.block_on(stack.down()).map_err(|e| e.to_string())?;

    outcome?;
    for service in ["---- cortex", "---- thehive"] {
        if !logs.contains(service) {
            return Err(format!("no logs captured for {service}: {logs}").into());
        }
    }
    let left = runtime.block_on(leftovers(&name));
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}

async fn run_scenarios(stack: &Stack) -> Result<(), Failed> {
    let out = tempfile::tempdir().map_err(|e| e.to_string())?;
    let target = stack_target(stack, &TargetArgs::default());
    let options = RunOptions {
        seed_override: None,
        run_seed: 1,
        snapshots: SnapshotMode::Never,
        out_dir: out.path().to_owned(),
        fixtures_dir: root().join("fixtures"),
        keep: false,
        replace: false,
    };
    let ctx = RunContext::new(target, options);
    let report = hivecheck::preflight::run(&ctx, &[]).await;
    if report.failure().is_some() {
        return Err(report.render(&ctx.target.label).into());
    }
    for file in ["compact.toml", "autorun.toml"] {
        let scenario = Arc::new(
            hivecheck::scenario::load_file(&root().join("scenarios").join(file))
                .map_err(|e| e.to_string())?,
        );
        let pattern = scenario.analyzers[0].clone();
        let report = runner::run_trial(
            ctx.clone(),
            scenario.clone(),
            pattern,
            scenario.name.clone(),
        )
        .await
        .map_err(|e| runner::render(&e, e.hint()))?;
        if !report.passed() {
            return Err(format!("{file}: {}", report.failures().join("; ")).into());
        }
        if report.artifacts.iter().any(|a| a.taxonomies.is_empty()) {
            return Err(format!("{file}: an artifact has no taxonomies").into());
        }
    }
    Ok(())
}

fn hivecheck(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hivecheck"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stack_commands(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let name = unique("cmd");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let up = hivecheck(
        &[
            "stack",
            "up",
            "--stack-name",
            &name,
            "--emulator-image",
            &image(),
            "--startup-timeout",
            "60s",
        ],
        dir.path(),
    );
    let up_text = format!(
        "{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    let env_file = dir
        .path()
        .join("hivecheck-out")
        .join(format!("stack-{name}.env"));
    let env_text = std::fs::read_to_string(&env_file).unwrap_or_default();
    #[cfg(unix)]
    let env_mode = std::fs::metadata(&env_file).ok().map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    let started = runtime.block_on(leftovers(&name));
    // The local loop: a second `stack up` and a `run --reuse` attach to the running stack.
    let again = hivecheck(
        &[
            "stack",
            "up",
            "--stack-name",
            &name,
            "--emulator-image",
            &image(),
        ],
        dir.path(),
    );
    let scenarios = root().join("scenarios").join("compact.toml");
    let fixtures = root().join("fixtures");
    let reuse = hivecheck(
        &[
            "run",
            "--stack",
            "containers",
            "--reuse",
            "--stack-name",
            &name,
            "--emulator-image",
            &image(),
            "--scenarios",
            scenarios.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--snapshots",
            "never",
        ],
        dir.path(),
    );
    let reused = runtime.block_on(leftovers(&name));
    let down = hivecheck(&["stack", "down", "--stack-name", &name], dir.path());
    let left = runtime.block_on(leftovers(&name));

    if !up.status.success() {
        return Err(format!("stack up failed: {up_text}").into());
    }
    let again_text = String::from_utf8_lossy(&again.stdout);
    if !again.status.success() || !again_text.contains("was already up; reusing it") {
        return Err(format!("a second stack up did not reuse the stack: {again_text}").into());
    }
    let reuse_text = format!(
        "{}{}",
        String::from_utf8_lossy(&reuse.stdout),
        String::from_utf8_lossy(&reuse.stderr)
    );
    if reuse.status.code() != Some(0) || !reuse_text.contains("test result: ok.") {
        return Err(format!("run --reuse failed: {reuse_text}").into());
    }
    if reused != started {
        return Err(format!("reuse changed the containers: {started:?} then {reused:?}").into());
    }
    if !env_text.contains("THEHIVE_API_KEY=") || env_text.contains("THEHIVE_API_KEY=\n") {
        return Err(format!("no API key in {}: {env_text}", env_file.display()).into());
    }
    let key = env_text
        .lines()
        .find_map(|l| l.strip_prefix("THEHIVE_API_KEY="))
        .unwrap_or_default();
    if up_text.contains(key) {
        return Err("stack up printed the API key".into());
    }
    #[cfg(unix)]
    if env_mode != Some(0o600) {
        return Err(format!(
            "the env file's mode is {:?}, not 600",
            env_mode.map(|m| format!("{m:o}"))
        )
        .into());
    }
    if !down.status.success() || !String::from_utf8_lossy(&down.stdout).contains("removed") {
        return Err(format!(
            "stack down: {}{}",
            String::from_utf8_lossy(&down.stdout),
            String::from_utf8_lossy(&down.stderr)
        )
        .into());
    }
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    if env_file.exists() {
        return Err(format!("stack down left the credentials in {}", env_file.display()).into());
    }
    Ok(())
}

fn failed_bootstrap(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let name = unique("fail");
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut config = StackConfig::new(&name, Images::emulator(&image()));
    config.analyzers = vec!["NoSuchAnalyzer_9_9".to_owned()];
    config.log_dir = Some(logs.path().to_owned());
    config.startup_timeout = std::time::Duration::from_secs(60);

    let error = match runtime.block_on(Stack::up(config)) {
        Ok(stack) => {
            let _ = runtime.block_on(stack.down());
            return Err("an unknown analyzer must fail the Cortex bootstrap".into());
        }
        Err(error) => error,
    };
    if !matches!(error, StackError::Bootstrap { ref service, .. } if service == "cortex") {
        return Err(format!("unexpected error: {error}").into());
    }
    let saved = std::fs::read_to_string(logs.path().join(format!("stack-{name}.log")))
        .map_err(|e| e.to_string())?;
    if !saved.contains("---- cortex") {
        return Err(format!("the cortex container's log was not kept: {saved}").into());
    }
    let left = runtime.block_on(leftovers(&name));
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}
