//! The `hivecheck` binary as a process: what an operator sees, and its exit codes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, fast_config, start};

fn hivecheck() -> Command {
    support::hivecheck_command()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn list_prints_trial_names_without_contacting_anything() {
    let output = hivecheck()
        .args(["run", "--list", "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().any(|l| l == "compact: test"), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.ends_with(": test")),
        "only trial lines: {stdout}"
    );
}

#[test]
fn invalid_scenario_exits_3_with_file_line_and_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "description = \"x\"\n[analyzer]\nname = \"a\"\n[observables]\nrandom = 1\nrandon = 2\n",
    )
    .unwrap();

    let output = hivecheck()
        .args(["run", "--scenarios"])
        .arg(&path)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.toml:6:1: unknown field `randon`"),
        "{stderr}"
    );
    assert!(stderr.contains("(check the spelling"), "{stderr}");
}

#[test]
fn a_missing_notification_template_is_a_scenario_error_even_when_listing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "description = \"x\"\n[analyzer]\nname = \"a\"\n[observables]\nrandom = 1\n[autorun]\ntemplate = \"thehive44\"\n",
    )
    .unwrap();

    let output = hivecheck()
        .args(["run", "--list", "--scenarios"])
        .arg(dir.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("typo.toml:7:12: notification template `thehive44` not found"),
        "{stderr}"
    );
    assert!(stderr.contains("fixtures/notifications"), "{stderr}");
}

/// An installed binary run from anywhere finds the shipped templates by name, and writes its
/// output where it runs.
#[test]
fn shipped_templates_are_found_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();

    let output = hivecheck()
        .current_dir(elsewhere.path())
        .args(["run", "--list", "--scenarios"])
        .arg(support::root().join("scenarios"))
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("runbook-notification: test"),
        "{}",
        text(&output)
    );
}

/// With `--format json`, stdout carries libtest's JSON events and nothing else; the banner and
/// the summaries go to stderr.
#[tokio::test(flavor = "multi_thread")]
async fn json_format_keeps_stdout_to_json_events() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();

    let output = hivecheck()
        .args([
            "run",
            "compact",
            "--format",
            "json",
            "--url",
            &emulator.base_url(),
            "--org",
            "demo",
            "--user",
            "analyst@thehive.local",
            "--out",
        ])
        .arg(out.path())
        .env("THEHIVE_PASSWORD", &fast_config().analyst_password)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let events: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "test" && e["event"] == "ok" && e["name"] == "compact"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("preflight: ok"), "{stderr}");
    assert!(
        stderr.contains("Abuse Confidence Score"),
        "summary: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_fails_preflight_once_with_a_clear_message() {
    let emulator = start(fast_config()).await;

    let output = hivecheck()
        .args([
            "run",
            "--url",
            &emulator.base_url(),
            "--org",
            "demo",
            "--user",
            "analyst@thehive.local",
        ])
        .env("THEHIVE_PASSWORD", "not-the-password")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(12), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "user session `analyst@thehive.local` failed to authenticate: Authentication failure"
        ),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("failed to authenticate").count(),
        1,
        "said once, not per trial"
    );
    assert!(!text(&output).contains("not-the-password"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_expectation_exits_101_and_a_passing_filter_exits_0() {
    let emulator = start(fast_config()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("expects-failure.toml"),
        "description = \"x\"\n[analyzer]\nname = \"abuseipdb_1_0\"\n[observables]\nrandom = 1\n[expect]\noutcome = \"failure\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        hivecheck()
            .args([
                "run",
                "--url",
                &emulator.base_url(),
                "--org",
                "demo",
                "--user",
                "analyst@thehive.local",
                "--scenarios",
            ])
            .arg(dir.path())
            .args(extra)
            .env("THEHIVE_PASSWORD", &emulator.config().analyst_password)
            .output()
            .unwrap()
    };

    let failed = run(&[]);
    assert_eq!(failed.status.code(), Some(101), "{}", text(&failed));
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(stdout.contains("expected failure, got success"), "{stdout}");
    assert!(
        stdout.contains("test result: FAILED. 0 passed; 1 failed"),
        "{stdout}"
    );

    let filtered = run(&["--skip", "expects-failure"]);
    assert_eq!(filtered.status.code(), Some(0), "{}", text(&filtered));
    assert!(String::from_utf8_lossy(&filtered.stdout).contains("1 filtered out"));
}

/// A `hivecheck emulate` process, killed when dropped (also when an assertion fails first).
struct EmulatorProcess(Child);

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hivecheck emulate` on a free port and returns the process and its URL.
fn spawn_emulator(password: &str) -> (EmulatorProcess, String) {
    spawn_emulator_with(password, "thehive4")
}

fn spawn_emulator_with(password: &str, profile: &str) -> (EmulatorProcess, String) {
    let mut child = hivecheck()
        .args([
            "emulate",
            "--profile",
            profile,
            "--bind",
            "127.0.0.1:0",
            "--analyst-password",
            password,
            "--notification-delay",
            "50ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a banner line").unwrap();
    let url = first
        .split("listening on ")
        .nth(1)
        .expect("the banner names the URL")
        .trim()
        .to_owned();
    // Keep draining the banner so the emulator never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (EmulatorProcess(child), url)
}

/// The working organisation's notification configuration as TheHive answers it, byte for
/// byte, read with the admin's basic auth.
fn notification_bytes(url: &str) -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/api/config/organisation/notification"))
            .basic_auth("admin@thehive.local", Some("secret"))
            .header("X-Organisation", "demo")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    })
}

/// The working organisation's notification rules.
fn notification(url: &str) -> Value {
    serde_json::from_slice::<Value>(&notification_bytes(url)).unwrap()["value"].clone()
}

/// Sets the working organisation's notification rules with an admin PUT.
fn set_notification(url: &str, value: &Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .put(format!("{url}/api/config/organisation/notification"))
            .basic_auth("admin@thehive.local", Some("secret"))
            .header("X-Organisation", "demo")
            .json(&json!({ "value": value }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

const WAITS: &str = "description = \"waits for a rule that never fires\"\nseed = 3\n[analyzer]\nname = \"abuseipdb_1_0\"\n\
     [observables]\nrandom = 1\n[autorun]\ntemplate = \"runbook\"\ndeadline = \"60s\"\nexpect = \"never-fired\"\n";

/// Runs a never-firing autorun scenario against a separate emulator process, sends `signal`
/// once the rule is in place, and checks the exit code and that the configuration the run
/// found is back byte for byte. `preset` is a rule list set beforehand; the runbook body can
/// only take its place with `--replace`.
fn interrupt_while_waiting_restores_the_configuration(signal: &str, preset: Option<Value>) {
    let (_emulator, url) = spawn_emulator("signal-test-pw");
    if let Some(rules) = &preset {
        set_notification(&url, rules);
    }
    let original = notification_bytes(&url);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("waits.toml"), WAITS).unwrap();

    let run = hivecheck()
        .args([
            "run",
            "--url",
            &url,
            "--org",
            "demo",
            "--user",
            "analyst@thehive.local",
            "--admin-user",
            "admin@thehive.local",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .args(["--scenarios"])
        .arg(dir.path())
        .args(preset.as_ref().map(|_| "--replace"))
        .env("THEHIVE_PASSWORD", "signal-test-pw")
        .env("THEHIVE_ADMIN_PASSWORD", "secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Wait until the run has applied its rule, then interrupt it while it waits for jobs.
    let started = Instant::now();
    while notification_bytes(&url) == original {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never applied its rule"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args([
            &format!("-{}", signal.trim_start_matches("SIG")),
            &run.id().to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let output = run.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(130), "{}", text(&output));
    assert_eq!(
        notification_bytes(&url),
        original,
        "the configuration is back byte for byte"
    );
    assert!(
        text(&output).contains(&format!("interrupted by {signal}")),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains("the notification configuration was restored and verified"),
        "the operator is told the restore happened: {}",
        text(&output)
    );
    assert_eq!(notification(&url), preset.unwrap_or(json!([])));
    let report = run_report(&dir.path().join("out"));
    assert_eq!(report["interrupted"], signal, "{report}");
    assert_eq!(report["stopped"][0]["trial"], "waits", "{report}");
    assert_eq!(report["stopped"][0]["interrupted"], true, "{report}");
}

/// The `report.json` of the one run written under `out`.
fn run_report(out: &std::path::Path) -> Value {
    std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .find_map(|run| std::fs::read(run.path().join("report.json")).ok())
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
        .expect("a report.json")
}

#[test]
fn sigint_while_waiting_restores_the_configuration() {
    interrupt_while_waiting_restores_the_configuration("SIGINT", None);
}

#[test]
fn sigterm_while_waiting_restores_the_configuration() {
    interrupt_while_waiting_restores_the_configuration("SIGTERM", None);
}

#[test]
fn sigterm_with_a_pre_existing_rule_leaves_it_byte_identical() {
    let webhook = json!([{"delegate": false, "trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "soc"}}]);
    interrupt_while_waiting_restores_the_configuration("SIGTERM", Some(webhook));
}

/// Without `--replace`, the runbook body is not put in place of rules that exist: the trial
/// writes nothing and says how to go on.
#[test]
fn append_mode_refuses_to_replace_existing_rules() {
    let (_emulator, url) = spawn_emulator("append-pw");
    set_notification(
        &url,
        &json!([{"trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "soc"}}]),
    );
    let original = notification_bytes(&url);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("waits.toml"), WAITS).unwrap();

    let output = hivecheck()
        .args(["run", "--url", &url, "--org", "demo"])
        .args([
            "--user",
            "analyst@thehive.local",
            "--admin-user",
            "admin@thehive.local",
        ])
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg("--scenarios")
        .arg(dir.path())
        .env("THEHIVE_PASSWORD", "append-pw")
        .env("THEHIVE_ADMIN_PASSWORD", "secret")
        .output()
        .unwrap();

    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(
        all.contains("so it cannot be added to the organisation's rule"),
        "{all}"
    );
    assert!(all.contains("`hivecheck run --replace`"), "{all}");
    assert!(all.contains("nothing was written"), "{all}");
    assert_eq!(notification_bytes(&url), original);
    let report = run_report(&dir.path().join("out"));
    let stopped = &report["stopped"][0];
    assert_eq!(
        stopped["trial"], "waits",
        "a stopped trial is in the report: {report}"
    );
    assert_eq!(stopped["interrupted"], false);
    assert!(
        stopped["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot be added")),
        "{report}"
    );
}

/// A restore that TheHive keeps refusing: the run says so loudly, with the saved value and the
/// command, exits 4, and its later autorun trials do not start.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_restore_exits_4_loudly_and_stops_later_autorun_trials() {
    use crate::proxy::{Action, Proxy};
    let emulator = start(fast_config()).await;
    let admin = support::session(&emulator, &support::admin(&emulator)).await;
    let webhook = json!([{"delegate": false, "trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "soc"}}]);
    admin
        .put_org_config("notification", &json!({ "value": webhook }))
        .await
        .unwrap();
    let proxy = Proxy::start(&emulator.base_url(), |seen| {
        let restoring = seen.method == reqwest::Method::PUT
            && seen.path == "/api/config/organisation/notification"
            && seen.nth > 0;
        if restoring {
            Action::Answer(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                json!({"type": "InternalError", "message": "restore refused by the test"}),
            )
        } else {
            Action::Forward
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    for name in ["a-first", "b-second"] {
        std::fs::copy(
            support::root().join("scenarios/autorun.toml"),
            dir.path().join(format!("{name}.toml")),
        )
        .unwrap();
    }
    let mut command = hivecheck();
    command
        .args(["run", "--url", &proxy.url, "--org", "demo"])
        .args([
            "--user",
            "analyst@thehive.local",
            "--admin-user",
            "admin@thehive.local",
        ])
        .args(["--test-threads", "1", "--out"])
        .arg(dir.path().join("out"))
        .arg("--scenarios")
        .arg(dir.path())
        .env("THEHIVE_PASSWORD", &emulator.config().analyst_password)
        .env("THEHIVE_ADMIN_PASSWORD", "secret");

    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();

    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(
        all.contains("failed to restore the organisation's notification configuration"),
        "{all}"
    );
    assert!(
        all.contains(&format!("the value it had before this trial: {webhook}")),
        "{all}"
    );
    assert!(all.contains("put it back with: sh '/"), "{all}");
    assert!(
        all.contains("restore-notification-demo-a-first.sh'"),
        "{all}"
    );
    assert!(
        all.contains(
            "refusing to change the organisation's notification configuration: trial `a-first` \
             could not put it back"
        ),
        "{all}"
    );
    assert!(all.contains("configuration NOT RESTORED"), "{all}");
    assert!(!all.contains("secret"), "the admin password leaked: {all}");
    let report = run_report(&dir.path().join("out"));
    let trial = &report["trials"][0];
    assert_eq!(trial["autorun"]["restore"], "not-restored", "{report}");
    assert_eq!(trial["autorun"]["restore_failure"]["saved_value"], webhook);
}

/// What a new user does: the emulator in one terminal, the scenarios in another, configured by
/// environment variables only; on both profiles the same scenarios pass.
#[test]
fn scenarios_pass_against_a_separately_started_emulator_on_both_profiles() {
    for profile in ["thehive4", "thehive5"] {
        let (_emulator, url) = spawn_emulator_with("env-only-pw", profile);
        let out = tempfile::tempdir().unwrap();

        let output = hivecheck()
            .args(["run", "--out"])
            .arg(out.path())
            .env("THEHIVE_URL", &url)
            .env("THEHIVE_ORG", "demo")
            .env("THEHIVE_USER", "analyst@thehive.local")
            .env("THEHIVE_PASSWORD", "env-only-pw")
            .env("THEHIVE_ADMIN_USER", "admin@thehive.local")
            .env("THEHIVE_ADMIN_PASSWORD", "secret")
            .output()
            .unwrap();

        let all = text(&output);
        assert_eq!(output.status.code(), Some(0), "{profile}: {all}");
        assert!(
            all.contains("test result: ok. 4 passed; 0 failed"),
            "{profile}: {all}"
        );
        assert!(all.contains("preflight: ok"), "{profile}: {all}");
        assert!(
            !all.contains("env-only-pw"),
            "{profile}: the password leaked"
        );
    }
}

/// STYLE §9: a run at trace log level never shows a secret: not on stdout, not in the logs,
/// not in the JSON report. Once with a sentinel API key, once with a session login (a
/// sentinel password, and the session cookie TheHive sets).
#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_output_logs_or_reports() {
    let key = "SENTINEL-KEY-0123456789abcdef";
    let password = "SENTINEL-PASSWORD-fedcba98";
    let emulator = start(hivecheck::emulator::EmulatorConfig {
        analyst_key: key.to_owned(),
        analyst_password: password.to_owned(),
        ..fast_config()
    })
    .await;
    // The emulator's session cookies are 40 letters and digits; one login shows that the scan
    // below would see a cookie value if one leaked.
    let cookie_value = regex::Regex::new(r"\b[A-Za-z0-9]{40}\b").unwrap();
    let login = reqwest::Client::new()
        .post(format!("{}/api/login", emulator.base_url()))
        .json(&json!({"user": "analyst@thehive.local", "password": password}))
        .send()
        .await
        .unwrap();
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie_value.is_match(&set_cookie), "{set_cookie}");

    for (variable, secret, login) in [
        ("THEHIVE_API_KEY", key, None),
        ("THEHIVE_PASSWORD", password, Some("analyst@thehive.local")),
    ] {
        let out = tempfile::tempdir().unwrap();
        let mut command = hivecheck();
        command
            .args([
                "run",
                "compact",
                "--url",
                &emulator.base_url(),
                "--org",
                "demo",
                "--out",
            ])
            .arg(out.path())
            .env(variable, secret)
            .env("HIVECHECK_LOG", "trace");
        if let Some(login) = login {
            command.args(["--user", login]);
        }

        let output = command.output().unwrap();

        let all = text(&output);
        assert_eq!(output.status.code(), Some(0), "{variable}: {all}");
        assert!(all.contains("hivecheck::http"), "trace logs were on: {all}");
        assert!(
            !all.contains(secret),
            "{variable} leaked into the output: {all}"
        );
        let cookie = cookie_value.find(&all).map(|m| m.as_str());
        assert_eq!(
            cookie, None,
            "a session cookie leaked into the output: {all}"
        );
        let files = walk(out.path());
        assert!(
            files.iter().any(|f| f.ends_with("report.json")),
            "{files:?}"
        );
        for entry in files {
            let content = std::fs::read_to_string(&entry).unwrap_or_default();
            assert!(
                !content.contains(secret) && !cookie_value.is_match(&content),
                "a secret leaked into {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `hivecheck runbook` shows which of the runbook's assumptions fail, against TheHive 4 and 5.
#[test]
fn runbook_command_names_the_wrong_assumptions() {
    for profile in ["thehive4", "thehive5"] {
        let (_emulator, url) = spawn_emulator_with("runbook-pw", profile);
        let output = hivecheck()
            .args([
                "runbook",
                "--url",
                &url,
                "--org",
                "demo",
                "--user",
                "analyst@thehive.local",
            ])
            .args(["--admin-user", "admin@thehive.local"])
            .env("THEHIVE_PASSWORD", "runbook-pw")
            .env("THEHIVE_ADMIN_PASSWORD", "secret")
            .output()
            .unwrap();

        let all = text(&output);
        assert_eq!(output.status.code(), Some(0), "{profile}: {all}");
        assert!(
            all.contains("WRONG     Step 1: `X-Organization: ORG`"),
            "{profile}: {all}"
        );
        assert!(
            all.contains(
                "with X-Organization the call ran in `admin`; with X-Organisation in `demo`"
            ),
            "{profile}: {all}"
        );
        assert!(
            all.contains("WRONG     Step 2: `server=cortex0`"),
            "{profile}: {all}"
        );
        assert!(all.contains("WRONG     Step 7:"), "{profile}: {all}");
        assert!(
            all.contains("holds     Step 4: `cortexId` is required"),
            "{profile}: {all}"
        );
    }
}

/// When no session opens, nothing is claimed to hold: the command says so and exits 4.
#[test]
fn runbook_command_fails_when_nothing_can_be_checked() {
    let (_emulator, url) = spawn_emulator_with("right-pw", "thehive4");
    let output = hivecheck()
        .args(["runbook", "--url", &url, "--org", "demo"])
        .args(["--user", "analyst@thehive.local"])
        .env("THEHIVE_PASSWORD", "wrong-pw")
        .output()
        .unwrap();

    let all = text(&output);
    assert_eq!(output.status.code(), Some(4), "{all}");
    assert!(
        all.contains("no runbook assumption could be checked"),
        "{all}"
    );
    assert!(!all.contains("WRONG"), "{all}");
    assert!(!all.contains("wrong-pw"), "the password leaked: {all}");
}

/// Stack flags without `--stack containers` would be ignored silently; they are a usage error.
#[test]
fn stack_flags_without_a_stack_are_a_usage_error() {
    let output = hivecheck().args(["run", "--reuse"]).output().unwrap();
    let all = text(&output);
    assert_eq!(output.status.code(), Some(2), "{all}");
    assert!(all.contains("add `--stack containers`"), "{all}");
}

/// A stack name Docker cannot use is refused before any Docker call, with the usage code.
#[test]
fn an_unusable_stack_name_is_a_usage_error_before_docker() {
    let up = hivecheck()
        .args(["stack", "up", "--stack-name", "no spaces/here"])
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .output()
        .unwrap();
    let run = hivecheck()
        .args(["run", "--stack", "containers", "--stack-name", ".hidden"])
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .output()
        .unwrap();
    let down_all = hivecheck()
        .args(["stack", "down", "--all", "--stack-name", "x"])
        .output()
        .unwrap();

    let up_text = text(&up);
    assert_eq!(up.status.code(), Some(2), "{up_text}");
    assert!(
        up_text.contains("stack name `no spaces/here` is not usable"),
        "{up_text}"
    );
    assert!(!up_text.contains("Docker daemon"), "{up_text}");
    let run_text = text(&run);
    assert_eq!(run.status.code(), Some(2), "{run_text}");
    assert!(run_text.contains("stack name `.hidden`"), "{run_text}");
    // Removing every stack is asked for on its own, never together with one name.
    assert_eq!(down_all.status.code(), Some(2), "{}", text(&down_all));
}
