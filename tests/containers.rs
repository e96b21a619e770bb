//! The container path, exercised for real: the emulator image plays TheHive 5 and Cortex in
//! two containers on a private network (the TheHive one calling the Cortex one, registered over
//! TheHive's API as `cortex0`), brought up by the same code as `hivecheck stack up` and
//! `hivecheck run --stack containers`: network creation, port mapping, readiness waits, the
//! whole bootstrap, scenario runs, log capture and teardown, and the failures: a bootstrap step
//! refused, a container that exits, one that never gets ready, and SIGTERM during the bring-up.
//!
//! Without a Docker daemon (a laptop) the trials report "ignored: no Docker daemon". With
//! `HIVECHECK_REQUIRE_DOCKER=1` (this project's CI) a missing daemon fails instead.
//! The image is `hivecheck-emulator:local`, built on first need by
//! docker/build-emulator-image.sh (a few minutes, once), or `HIVECHECK_EMULATOR_IMAGE`, which
//! must already exist. The failure trials derive throw-away images from it (`FROM` the image,
//! another entrypoint; no registry needed) and remove them afterwards.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{
    InspectContainerOptions, InspectNetworkOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder,
};
use hivecheck::config::TargetArgs;
use hivecheck::harness::stack_target;
use hivecheck::runner::{self, RunContext, RunOptions, SnapshotMode};
use hivecheck::stack::{Images, Stack, StackConfig, StackError, docker_available};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use serde_json::Value;

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
            "failed_stack_up_saves_the_logs_and_removes_the_containers",
            failed_stack_up,
        ),
        trial(
            "a_container_that_exits_fails_at_once_with_its_log",
            container_exits,
        ),
        trial(
            "a_container_never_ready_fails_after_the_startup_timeout_with_its_log",
            container_never_ready,
        ),
        trial(
            "sigterm_during_stack_up_removes_the_stack_and_exits_130",
            interrupted_stack_up,
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

/// An image `FROM` the emulator image with another entrypoint, removed on drop.
struct DerivedImage(String);

impl DerivedImage {
    fn build(purpose: &str, entrypoint: &str) -> Result<Self, Failed> {
        let tag = format!("hivecheck-emulator:{}", unique(purpose));
        let dockerfile = format!("FROM {}\nENTRYPOINT {entrypoint}\n", image());
        let mut child = Command::new("docker")
            .args(["build", "--quiet", "--tag", &tag, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("docker build: {e}"))?;
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), dockerfile.as_bytes())
            .map_err(|e| e.to_string())?;
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!(
                "docker build of {tag} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(DerivedImage(tag))
    }
}

impl Drop for DerivedImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force", &self.0])
            .output();
    }
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

/// The names of the containers attached to network `hivecheck-<name>`.
async fn attached(name: &str) -> Vec<String> {
    let docker = Docker::connect_with_defaults().unwrap();
    let network = docker
        .inspect_network(&format!("hivecheck-{name}"), None::<InspectNetworkOptions>)
        .await
        .unwrap();
    let mut names: Vec<String> = network
        .containers
        .unwrap_or_default()
        .into_values()
        .filter_map(|endpoint| endpoint.name)
        .collect();
    names.sort();
    names
}

async fn get_json(url: &str, key: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null)
}

fn stack_runs_scenarios(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let name = unique("test");
    let mut config = StackConfig::new(&name, Images::emulator(&image()));
    config.startup_timeout = Duration::from_secs(60);
    let stack = runtime
        .block_on(Stack::up(config))
        .map_err(|e| runner::render(&e, e.hint()))?;
    let network = runtime.block_on(attached(&name));
    let admin_key = stack.credentials.admin_api_key.clone().unwrap();
    let status = runtime.block_on(get_json(
        &format!("{}/api/v1/status", stack.thehive_url),
        admin_key.expose(),
    ));
    let outcome = runtime.block_on(run_scenarios(&stack));
    let logs = stack.logs(1000);
    let analyzers = stack.analyzers.clone();
    runtime.block_on(stack.down()).map_err(|e| e.to_string())?;
    let left = runtime.block_on(leftovers(&name));

    outcome?;
    let expected = [
        format!("hivecheck-{name}-cortex"),
        format!("hivecheck-{name}-thehive"),
    ];
    if network != expected {
        return Err(format!("network hivecheck-{name} holds {network:?}").into());
    }
    // TheHive reached Cortex by its container name on that network, under the registered name.
    let servers = &status["connectors"]["cortex"]["servers"];
    if servers[0]["name"] != "cortex0" || servers[0]["status"] != "OK" {
        return Err(format!("TheHive's Cortex connector: {status}").into());
    }
    if analyzers != ["AbuseIPDB_1_0", "AbuseIPDB_2_0"] {
        return Err(format!("analyzers enabled: {analyzers:?}").into());
    }
    for (what, text) in [
        (
            "the cortex banner",
            "Cortex 3.1.8 API listening on http://0.0.0.0:9001",
        ),
        (
            "the thehive banner",
            "Cortex over HTTP) listening on http://0.0.0.0:9000",
        ),
        (
            "the registration",
            "cortex.servers config was updated servers=[\"cortex0\"]",
        ),
    ] {
        if !logs.contains(text) {
            return Err(format!("no {what} (`{text}`) in the logs:\n{logs}").into());
        }
    }
    if let Some(line) = logs
        .lines()
        .find(|l| l.contains("/ password") && !l.contains("password [redacted]"))
    {
        return Err(format!("a banner password was not redacted: {line}").into());
    }
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
        .env_remove("ABUSEIPDB_KEY")
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The label holding the environment file's path, on stack `name`'s TheHive container.
async fn env_file_label(name: &str) -> Option<String> {
    let docker = Docker::connect_with_defaults().unwrap();
    let container = docker
        .inspect_container(
            &format!("hivecheck-{name}-thehive"),
            None::<InspectContainerOptions>,
        )
        .await
        .ok()?;
    container
        .config?
        .labels?
        .get("org.hivecheck.env-file")
        .cloned()
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
    let up_text = text(&up);
    let env_file = dir
        .path()
        .join("hivecheck-out")
        .join("stacks")
        .join(format!("{name}.env"));
    let env_text = std::fs::read_to_string(&env_file).unwrap_or_default();
    #[cfg(unix)]
    let env_mode = std::fs::metadata(&env_file).ok().map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    let label = runtime.block_on(env_file_label(&name));
    let started = runtime.block_on(leftovers(&name));
    // The local loop: a second `stack up`, and a `run --reuse` from another directory with
    // its own `--out`, attach to the running stack through the label.
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
    let elsewhere = tempfile::tempdir().map_err(|e| e.to_string())?;
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
            "--out",
            "other-out",
        ],
        elsewhere.path(),
    );
    let reused = runtime.block_on(leftovers(&name));
    let down = hivecheck(&["stack", "down", "--stack-name", &name], elsewhere.path());
    let left = runtime.block_on(leftovers(&name));

    if !up.status.success() {
        return Err(format!("stack up failed: {up_text}").into());
    }
    for expected in [
        "analyzers enabled: AbuseIPDB_1_0, AbuseIPDB_2_0",
        "ABUSEIPDB_KEY is not set",
    ] {
        if !up_text.contains(expected) {
            return Err(format!("stack up did not say `{expected}`: {up_text}").into());
        }
    }
    let again_text = String::from_utf8_lossy(&again.stdout);
    if !again.status.success() || !again_text.contains("was already up; reusing it") {
        return Err(format!("a second stack up did not reuse the stack: {again_text}").into());
    }
    let reuse_text = text(&reuse);
    if reuse.status.code() != Some(0) || !reuse_text.contains("test result: ok.") {
        return Err(format!("run --reuse failed: {reuse_text}").into());
    }
    if reused != started {
        return Err(format!("reuse changed the containers: {started:?} then {reused:?}").into());
    }
    if elsewhere.path().join("other-out").join("stacks").exists() {
        return Err("--out moved the environment file".into());
    }
    // The tempdir's path is absolute, as the label must be.
    if label.as_deref() != env_file.to_str() {
        return Err(format!(
            "the env-file label is {label:?}, not {}",
            env_file.display()
        )
        .into());
    }
    if !env_text.contains("THEHIVE_API_KEY=") || env_text.contains("THEHIVE_API_KEY=\n") {
        return Err(format!("no API key in {}: {env_text}", env_file.display()).into());
    }
    for key_name in ["THEHIVE_API_KEY=", "THEHIVE_ADMIN_API_KEY="] {
        let key = env_text
            .lines()
            .find_map(|l| l.strip_prefix(key_name))
            .unwrap_or_default();
        if key.len() < 16 || up_text.contains(key) || reuse_text.contains(key) {
            return Err(format!("{key_name} is missing or was printed").into());
        }
    }
    #[cfg(unix)]
    if env_mode != Some(0o600) {
        return Err(format!(
            "the env file's mode is {:?}, not 600",
            env_mode.map(|m| format!("{m:o}"))
        )
        .into());
    }
    let down_text = String::from_utf8_lossy(&down.stdout);
    if !down.status.success() || !down_text.contains("removed") || !down_text.contains("deleted") {
        return Err(format!("stack down: {}", text(&down)).into());
    }
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    if env_file.exists() {
        return Err(format!("stack down left the credentials in {}", env_file.display()).into());
    }
    Ok(())
}

/// `stack up` keeps its stack, yet a failed one is removed, with its logs saved.
fn failed_stack_up(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let name = unique("fail");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;

    let up = hivecheck(
        &[
            "stack",
            "up",
            "--stack-name",
            &name,
            "--emulator-image",
            &image(),
            "--analyzer",
            "NoSuchAnalyzer_9_9",
            "--startup-timeout",
            "60s",
        ],
        dir.path(),
    );
    let left = runtime.block_on(leftovers(&name));

    let up_text = text(&up);
    if up.status.code() != Some(6) {
        return Err(format!("expected exit 6: {up_text}").into());
    }
    if !up_text.contains("failed to bootstrap cortex: enable the analyzers")
        || !up_text.contains("NoSuchAnalyzer_9_9")
    {
        return Err(format!("unexpected error: {up_text}").into());
    }
    let saved = std::fs::read_to_string(
        dir.path()
            .join("hivecheck-out")
            .join(format!("stack-{name}.log")),
    )
    .map_err(|e| e.to_string())?;
    if !saved.contains("Cortex 3.1.8 API listening") || !saved.contains("listening on") {
        return Err(format!("the saved log lacks the containers' output: {saved}").into());
    }
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    if dir
        .path()
        .join("hivecheck-out/stacks")
        .join(format!("{name}.env"))
        .exists()
    {
        return Err("a failed stack left an environment file".into());
    }
    Ok(())
}

/// Brings a stack of `image` up in-process and expects a failure; returns it with the saved
/// log, the time it took and what was left.
fn failing_up(
    runtime: &tokio::runtime::Runtime,
    image: &str,
    timeout: Duration,
) -> Result<(StackError, String, Duration, Vec<String>), Failed> {
    let name = unique("bad");
    let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut config = StackConfig::new(&name, Images::emulator(image));
    config.log_dir = Some(logs.path().to_owned());
    config.startup_timeout = timeout;

    let started = Instant::now();
    let error = match runtime.block_on(Stack::up(config)) {
        Ok(stack) => {
            let _ = runtime.block_on(stack.down());
            return Err("the stack came up".into());
        }
        Err(error) => error,
    };
    let took = started.elapsed();
    let saved = std::fs::read_to_string(logs.path().join(format!("stack-{name}.log")))
        .map_err(|e| e.to_string())?;
    Ok((error, saved, took, runtime.block_on(leftovers(&name))))
}

fn container_exits(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let broken = DerivedImage::build("exits", r#"["/hivecheck", "emulate", "--no-such-flag"]"#)?;

    let (error, saved, took, left) = failing_up(runtime, &broken.0, Duration::from_secs(120))?;

    if !matches!(error, StackError::Exited { code: 2, .. }) {
        return Err(format!("unexpected error: {error}").into());
    }
    if took > Duration::from_secs(30) {
        return Err(format!("an exited container took {took:?} to fail").into());
    }
    if !saved.contains("unexpected argument '--no-such-flag'") {
        return Err(format!("the saved log lacks the container's error: {saved}").into());
    }
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}

fn container_never_ready(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    // Served under another context path, `/api/status` is a 404 forever.
    let deaf = DerivedImage::build(
        "deaf",
        r#"["/hivecheck", "emulate", "--context-path", "/elsewhere"]"#,
    )?;

    let (error, saved, took, left) = failing_up(runtime, &deaf.0, Duration::from_secs(4))?;

    if !matches!(error, StackError::NotReady { .. }) {
        return Err(format!("unexpected error: {error}").into());
    }
    if took < Duration::from_secs(4) {
        return Err(format!("gave up after {took:?}, before the startup timeout").into());
    }
    if !saved.contains("listening on http://0.0.0.0:9001/elsewhere") {
        return Err(format!("the saved log lacks the container's output: {saved}").into());
    }
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}

fn interrupted_stack_up(runtime: &tokio::runtime::Runtime) -> Result<(), Failed> {
    let deaf = DerivedImage::build(
        "sigterm",
        r#"["/hivecheck", "emulate", "--context-path", "/elsewhere"]"#,
    )?;
    let name = unique("sig");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let child = Command::new(env!("CARGO_BIN_EXE_hivecheck"))
        .args([
            "stack",
            "up",
            "--stack-name",
            &name,
            "--emulator-image",
            &deaf.0,
            "--startup-timeout",
            "120s",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;

    // Once both containers exist the bring-up is waiting for them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime.block_on(leftovers(&name)).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let during = runtime.block_on(leftovers(&name));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let took = started.elapsed();
    let left = runtime.block_on(leftovers(&name));

    if during.len() != 3 || !killed.success() {
        return Err(format!("the stack never started coming up: {during:?}").into());
    }
    let output_text = text(&output);
    if output.status.code() != Some(130) || !output_text.contains("interrupted by SIGTERM") {
        return Err(format!("expected exit 130 ({:?}): {output_text}", output.status).into());
    }
    if took > Duration::from_secs(30) {
        return Err(format!("the interrupted bring-up took {took:?} to stop").into());
    }
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}").into());
    }
    Ok(())
}
