//! Preflight against the emulator and against addresses where nothing (or the wrong thing)
//! answers: one report, one clear message, one exit code per kind of failure.

use std::path::{Path, PathBuf};

use hivecheck::emulator::{EmulatorConfig, LicenceState, Profile, Role};

use crate::support::{fast_config, hivecheck_command, root, start, start_tls};

/// `hivecheck preflight` with the analyst's and admin's logins, the analyst's password, and
/// `extra` flags; the exit code and everything printed.
fn preflight_with(
    url: &str,
    password: &str,
    scenarios: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let output = hivecheck_command()
        .args(["preflight", "--url", url, "--user", "analyst@thehive.local"])
        .args(["--admin-user", "admin@thehive.local", "--scenarios"])
        .arg(scenarios)
        .args(extra)
        .env("THEHIVE_PASSWORD", password)
        .env("THEHIVE_ADMIN_PASSWORD", "secret")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn preflight(url: &str, org: &str, password: &str, scenarios: &Path) -> (Option<i32>, String) {
    preflight_with(url, password, scenarios, &["--org", org])
}

fn scenarios() -> PathBuf {
    root().join("scenarios")
}

/// A directory holding only the compact scenario (no autorun).
fn compact_only() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("scenarios/compact.toml"),
        dir.path().join("compact.toml"),
    )
    .unwrap();
    dir
}

fn thehive5() -> EmulatorConfig {
    EmulatorConfig {
        profile: Profile::TheHive5,
        ..fast_config()
    }
}

/// An address on loopback where nothing listens (the port was free a moment ago).
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_target_passes_every_check() {
    let emulator = start(fast_config()).await;
    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        &scenarios(),
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ok    cortex         cortex0"), "{text}");
    assert!(text.contains("ok    admin session"), "{text}");
    assert!(text.contains("(v0 API, from its version)"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_thehive5_reports_cortex_versions_and_the_trial_licence() {
    let emulator = start(thehive5()).await;

    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        &scenarios(),
    );

    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("(v1 API, from its version)"), "{text}");
    assert!(
        text.contains("ok    cortex         cortex0 4.1.0-1 OK"),
        "{text}"
    );
    assert!(
        text.contains("ok    licence        no licence installed; fallback: plan Platinum (Trial)"),
        "{text}"
    );
}

#[test]
fn nothing_listening_is_unreachable() {
    let (code, text) = preflight(&closed_url(), "demo", "x", &scenarios());
    assert_eq!(code, Some(10), "{text}");
    assert!(text.contains("FAIL  reachable"), "{text}");
}

/// Host names with words such as "alert" or "ssl" in them fail DNS, not TLS.
#[test]
fn unknown_hosts_are_unreachable_whatever_their_names_say() {
    for url in ["http://alerts.invalid", "http://ssl-gw.invalid"] {
        let (code, text) = preflight(url, "demo", "x", &scenarios());
        assert_eq!(code, Some(10), "{url}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_to_a_plain_http_server_is_a_tls_failure() {
    let emulator = start(fast_config()).await;
    let url = emulator.base_url().replace("http://", "https://");
    let (code, text) = preflight(&url, "demo", "x", &scenarios());
    assert_eq!(code, Some(11), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn untrusted_certificate_fails_and_ca_cert_or_insecure_pass() {
    let emulator = start_tls(fast_config()).await;
    let password = emulator.config.analyst_password.clone();
    let ca = emulator.ca_pem.to_str().unwrap().to_owned();

    let (untrusted, untrusted_text) =
        preflight_with(&emulator.url, &password, &scenarios(), &["--org", "demo"]);
    let (trusted, trusted_text) = preflight_with(
        &emulator.url,
        &password,
        &scenarios(),
        &["--org", "demo", "--ca-cert", &ca],
    );
    let (insecure, insecure_text) = preflight_with(
        &emulator.url,
        &password,
        &scenarios(),
        &["--org", "demo", "--insecure"],
    );

    assert_eq!(untrusted, Some(11), "{untrusted_text}");
    assert!(
        untrusted_text.contains("--ca-cert FILE"),
        "{untrusted_text}"
    );
    assert!(
        untrusted_text.contains("FAIL  reachable"),
        "{untrusted_text}"
    );
    assert_eq!(trusted, Some(0), "{trusted_text}");
    assert_eq!(insecure, Some(0), "{insecure_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_ca_cert_is_a_usage_error_naming_the_flag() {
    let emulator = start(fast_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();

    for path in [dir.path().join("missing.pem"), not_pem] {
        let (code, text) = preflight_with(
            &emulator.base_url(),
            "x",
            &scenarios(),
            &["--org", "demo", "--ca-cert", path.to_str().unwrap()],
        );
        assert_eq!(code, Some(2), "{text}");
        assert!(text.contains("`--ca-cert`"), "{text}");
    }
}

#[test]
fn url_with_credentials_is_refused_without_printing_them() {
    let (code, text) = preflight(
        "https://analyst:url-password-sentinel@thehive.example",
        "demo",
        "x",
        &scenarios(),
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("THEHIVE_USER/THEHIVE_PASSWORD"), "{text}");
    assert!(!text.contains("url-password-sentinel"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_a_credentials_failure() {
    let emulator = start(fast_config()).await;
    let (code, text) = preflight(&emulator.base_url(), "demo", "wrong", &scenarios());
    assert_eq!(code, Some(12), "{text}");
    assert!(text.contains("Authentication failure"), "{text}");
    assert!(
        !text.contains("wrong"),
        "the password is never printed: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_organisation_is_told_apart_from_a_wrong_password() {
    let emulator = start(fast_config()).await;
    let (code, text) = preflight(
        &emulator.base_url(),
        "nosuch",
        &emulator.config().analyst_password,
        &scenarios(),
    );
    assert_eq!(code, Some(13), "{text}");
    assert!(text.contains("not in organisation `nosuch`"), "{text}");
    assert!(text.contains("(check THEHIVE_ORG"), "{text}");
    assert!(!text.contains("login and password"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_admin_credentials_say_so_and_how_to_skip_autorun() {
    let emulator = start(fast_config()).await;

    let output = hivecheck_command()
        .args(["preflight", "--url", &emulator.base_url(), "--org", "demo"])
        .args(["--user", "analyst@thehive.local", "--scenarios"])
        .arg(scenarios())
        .env("THEHIVE_PASSWORD", &emulator.config().analyst_password)
        .output()
        .unwrap();

    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(12), "{text}");
    assert!(text.contains("no admin credentials were given"), "{text}");
    assert!(
        text.contains("--skip autorun --skip runbook-notification"),
        "{text}"
    );
    assert!(!text.contains("refused"), "{text}");

    // The advice works with `preflight` itself, as with `run`.
    let skipped = hivecheck_command()
        .args(["preflight", "--url", &emulator.base_url(), "--org", "demo"])
        .args(["--user", "analyst@thehive.local", "--scenarios"])
        .arg(scenarios())
        .args(["--skip", "autorun", "--skip", "runbook-notification"])
        .env("THEHIVE_PASSWORD", &emulator.config().analyst_password)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&skipped.stdout);
    assert_eq!(skipped.status.code(), Some(0), "{report}");
    assert!(!report.contains("admin session"), "{report}");
    assert!(report.contains("compact:"), "{report}");
    assert!(!report.contains("autorun:"), "{report}");
}

/// Without `--org` each session works in its own default organisation: the admin's rule
/// would watch `admin` while the observables go to `demo`.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_in_different_organisations_fail_autorun_preflight() {
    let emulator = start(fast_config()).await;
    let password = emulator.config().analyst_password.clone();

    let (autorun, autorun_text) =
        preflight_with(&emulator.base_url(), &password, &scenarios(), &[]);
    let (compact, compact_text) =
        preflight_with(&emulator.base_url(), &password, compact_only().path(), &[]);

    assert_eq!(autorun, Some(13), "{autorun_text}");
    assert!(
        autorun_text.contains("the admin session works in `admin` and the user session in `demo`"),
        "{autorun_text}"
    );
    assert!(autorun_text.contains("set THEHIVE_ORG"), "{autorun_text}");
    assert_eq!(compact, Some(0), "{compact_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_analyzer_names_the_scenario_and_what_exists() {
    let emulator = start(fast_config()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("needs-vt.toml"),
        "description = \"x\"\n[analyzer]\nname = \"VirusTotal\"\n[observables]\nrandom = 1\n",
    )
    .unwrap();
    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        dir.path(),
    );
    assert_eq!(code, Some(15), "{text}");
    assert!(
        text.contains("needs-vt: `VirusTotal` matches no analyzer on cortex0"),
        "{text}"
    );
    assert!(text.contains("AbuseIPDB_1_0 (cortex0)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn analyzer_that_does_not_take_the_data_type_fails() {
    let emulator = start(fast_config()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("domains.toml"),
        "description = \"x\"\n[analyzer]\nname = \"abuseipdb_1_0\"\n[observables]\ndata_type = \"domain\"\n[[observables.items]]\ndata = \"example.org\"\n",
    )
    .unwrap();
    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        dir.path(),
    );
    assert_eq!(code, Some(15), "{text}");
    assert!(text.contains("does not take `domain`"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cortex_down_is_named_with_its_own_exit_code() {
    // TheHive reaching its Cortex over HTTP, at an address where nothing listens.
    let config = EmulatorConfig {
        role: Role::TheHive,
        cortex_urls: vec![("cortex0".to_owned(), closed_url())],
        cortex_key: Some("unused-key".to_owned()),
        ..fast_config()
    };
    let emulator = start(config).await;
    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        &scenarios(),
    );
    assert_eq!(code, Some(14), "{text}");
    assert!(
        text.contains("FAIL  cortex         cortex0 is not reachable from TheHive (ERROR)"),
        "{text}"
    );
    assert!(
        text.contains(
            "skip  analyzer       compact: `abuseipdb_1_0` not checked: cortex0 failed above"
        ),
        "{text}"
    );
}

/// TheHive 5's public status has no connectors: the Cortex state comes from the authenticated
/// `/api/v1/status`.
#[tokio::test(flavor = "multi_thread")]
async fn thehive5_cortex_down_or_refusing_the_key_exits_14_naming_the_server() {
    let cortex = start(EmulatorConfig {
        role: Role::Cortex,
        ..EmulatorConfig::default()
    })
    .await;
    for (url, expected) in [
        (
            closed_url(),
            "FAIL  cortex         cortex0 is not reachable from TheHive (ERROR)",
        ),
        (
            cortex.base_url(),
            "FAIL  cortex         cortex0 refuses TheHive's API key (AUTH_ERROR)",
        ),
    ] {
        let emulator = start(EmulatorConfig {
            role: Role::TheHive,
            cortex_urls: vec![("cortex0".to_owned(), url)],
            cortex_key: Some("a-key-cortex-does-not-know".to_owned()),
            ..thehive5()
        })
        .await;

        let (code, text) = preflight(
            &emulator.base_url(),
            "demo",
            &emulator.config().analyst_password,
            compact_only().path(),
        );

        assert_eq!(code, Some(14), "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("matches no analyzer"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cortex_failure_on_a_server_no_scenario_uses_is_a_warning() {
    let emulator = start(EmulatorConfig {
        role: Role::TheHive,
        cortex_urls: vec![("spare".to_owned(), closed_url())],
        cortex_key: Some("unused-key".to_owned()),
        ..fast_config()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("nothing-needed.toml"),
        "description = \"x\"\n[analyzer]\nname = \"x\"\ncortex = \"cortex9\"\n[observables]\nrandom = 1\n",
    )
    .unwrap();

    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        dir.path(),
    );

    assert!(
        text.contains("warn  cortex         spare is not reachable from TheHive (ERROR); no selected scenario uses it"),
        "{text}"
    );
    assert_eq!(code, Some(15), "the analyzer check still runs: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_licence_fails_every_run_with_exit_16() {
    let emulator = start(EmulatorConfig {
        licence: LicenceState::ExpiredTrial,
        ..thehive5()
    })
    .await;

    let (code, text) = preflight(
        &emulator.base_url(),
        "demo",
        &emulator.config().analyst_password,
        compact_only().path(),
    );

    assert_eq!(code, Some(16), "{text}");
    assert!(text.contains("FAIL  licence"), "{text}");
    assert!(text.contains("read-only"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_without_platinum_fails_only_autorun_runs() {
    let emulator = start(EmulatorConfig {
        licence: LicenceState::Installed("Gold".to_owned()),
        ..thehive5()
    })
    .await;
    let password = emulator.config().analyst_password.clone();

    let (autorun, autorun_text) = preflight(&emulator.base_url(), "demo", &password, &scenarios());
    let (compact, compact_text) = preflight(
        &emulator.base_url(),
        "demo",
        &password,
        compact_only().path(),
    );

    assert_eq!(autorun, Some(16), "{autorun_text}");
    assert!(
        autorun_text.contains("licence: plan Gold"),
        "{autorun_text}"
    );
    assert!(
        autorun_text.contains("only Platinum (or the trial) includes"),
        "{autorun_text}"
    );
    assert_eq!(compact, Some(0), "{compact_text}");
    assert!(
        compact_text.contains("ok    licence        installed licence: plan Gold"),
        "{compact_text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn api_override_is_used_and_a_wrong_one_is_not_a_credentials_failure() {
    let emulator = start(thehive5()).await;
    let password = emulator.config().analyst_password.clone();

    let (v0, v0_text) = preflight_with(
        &emulator.base_url(),
        &password,
        compact_only().path(),
        &["--org", "demo", "--api", "v0"],
    );
    let (v1, v1_text) = preflight_with(
        &emulator.base_url(),
        &password,
        compact_only().path(),
        &["--org", "demo", "--api", "v1"],
    );

    assert_eq!(v0, Some(17), "{v0_text}");
    assert!(v0_text.contains("(v0 API, as configured"), "{v0_text}");
    assert!(v0_text.contains("--api v1"), "{v0_text}");
    assert!(!v0_text.contains("V0"), "{v0_text}");
    assert_eq!(v1, Some(0), "{v1_text}");
    assert!(v1_text.contains("(v1 API, as configured"), "{v1_text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn url_without_the_context_path_is_told_apart_from_a_dead_host() {
    let emulator = start(EmulatorConfig {
        context_path: "/thehive".to_owned(),
        ..fast_config()
    })
    .await;
    let password = emulator.config().analyst_password.clone();
    let base = emulator.base_url();
    let without = base.trim_end_matches("/thehive");

    let (code, text) = preflight(without, "demo", &password, compact_only().path());
    let (right, right_text) = preflight(&base, "demo", &password, compact_only().path());

    assert!(base.ends_with("/thehive"), "{base}");
    assert_eq!(code, Some(17), "{text}");
    assert!(text.contains("context path is probably wrong"), "{text}");
    assert_eq!(right, Some(0), "{right_text}");
}

/// A nightly job's configuration: a profile of `hivecheck.toml` with its secret in a variable.
#[tokio::test(flavor = "multi_thread")]
async fn profile_with_secret_variable_passes_and_an_empty_variable_is_refused() {
    let emulator = start(fast_config()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hivecheck.toml");
    std::fs::write(
        &config,
        format!(
            "[profile.staging]\nurl = \"{}\"\norg = \"demo\"\nuser = \"analyst@thehive.local\"\n\
             password_env = \"HIVECHECK_TEST_STAGING_PW\"\nadmin_user = \"admin@thehive.local\"\n\
             admin_password = \"secret\"\n",
            emulator.base_url()
        ),
    )
    .unwrap();
    let run = |password: &str| {
        hivecheck_command()
            .args(["preflight", "--profile", "staging", "--config"])
            .arg(&config)
            .args(["--scenarios"])
            .arg(compact_only().path())
            .env("HIVECHECK_TEST_STAGING_PW", password)
            .output()
            .unwrap()
    };

    let ready = run(&emulator.config().analyst_password);
    let empty = run("");

    let ready_text = String::from_utf8_lossy(&ready.stderr).into_owned();
    let empty_text = String::from_utf8_lossy(&empty.stderr).into_owned();
    assert_eq!(ready.status.code(), Some(0), "{ready_text}");
    assert!(
        ready_text.contains("profile `staging` holds `admin_password` in plain text"),
        "{ready_text}"
    );
    assert!(!ready_text.contains("\"secret\""), "{ready_text}");
    assert_eq!(empty.status.code(), Some(2), "{empty_text}");
    assert!(
        empty_text.contains("the variable `HIVECHECK_TEST_STAGING_PW` is empty"),
        "{empty_text}"
    );
}

/// A server without the legacy `/api/status` still tells its version through TheHive 5's
/// public status.
#[tokio::test(flavor = "multi_thread")]
async fn public_v1_status_is_read_when_the_legacy_status_is_missing() {
    let app = axum::Router::new()
        .route(
            "/api/v1/status/public",
            axum::routing::get(|| async {
                axum::Json(serde_json::json!({"sso": false, "version": "5.9.0-1"}))
            }),
        )
        .fallback(|uri: axum::http::Uri| async move {
            (
                axum::http::StatusCode::NOT_FOUND,
                axum::Json(serde_json::json!({"type": "NotFoundError", "message": uri.path()})),
            )
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let (code, text) = preflight(&url, "demo", "x", compact_only().path());
    server.abort();

    assert!(
        text.contains("ok    reachable      TheHive 5.9.0-1 (v1 API, from its version)"),
        "{text}"
    );
    assert_eq!(code, Some(17), "no login route here: {text}");
}
