//! Preflight against the emulator and against addresses where nothing (or the wrong thing)
//! answers: one report, one clear message, one exit code per kind of failure.

use std::process::Command;

use crate::support::{fast_config, root, start};

fn preflight(
    url: &str,
    org: &str,
    password: &str,
    scenarios: &std::path::Path,
) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hivecheck"))
        .current_dir(root())
        .args([
            "preflight",
            "--url",
            url,
            "--org",
            org,
            "--user",
            "analyst@thehive.local",
        ])
        .args(["--admin-user", "admin@thehive.local", "--scenarios"])
        .arg(scenarios)
        .env("THEHIVE_PASSWORD", password)
        .env("THEHIVE_ADMIN_PASSWORD", "secret")
        .env_remove("THEHIVE_API_KEY")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

fn scenarios() -> std::path::PathBuf {
    root().join("scenarios")
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
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn nothing_listening_is_unreachable() {
    // Port 9 (discard) on loopback: nothing of ours listens there.
    let (code, text) = preflight("http://127.0.0.1:9", "demo", "x", &scenarios());
    assert_eq!(code, Some(10), "{text}");
    assert!(text.contains("FAIL  reachable"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_to_a_plain_http_server_is_a_tls_failure() {
    let emulator = start(fast_config()).await;
    let url = emulator.base_url().replace("http://", "https://");
    let (code, text) = preflight(&url, "demo", "x", &scenarios());
    assert_eq!(code, Some(11), "{text}");
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
    let config = hivecheck::emulator::EmulatorConfig {
        role: hivecheck::emulator::Role::TheHive,
        cortex_urls: vec![("cortex0".to_owned(), "http://127.0.0.1:9".to_owned())],
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
}
