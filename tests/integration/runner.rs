//! The runner against the in-process emulator: every step, every failure the issues name,
//! and every autorun verdict with its restore.

use std::time::Duration;

use hivecheck::client::Auth;
use hivecheck::client::{
    ClientError, NewCase, NewObservable, ORG_HEADER, ORG_HEADER_RUNBOOK, Secret,
};
use hivecheck::emulator::{EmulatorConfig, Latency};
use hivecheck::runner::RunError;
use hivecheck::scenario::{AutorunVerdict, Outcome};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{self, context, fast_config, run, scenario, start, target};

const ONE_IP: &str = r#"
description = "one address"
seed = 5
[analyzer]
name = "abuseipdb_1_0"
[observables]
random = 1
[poll]
interval = "20ms"
deadline = "10s"
"#;

#[tokio::test(flavor = "multi_thread")]
async fn compact_sequence_reads_the_taxonomies_of_each_artifact() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    let report = run(&ctx, &scenario(&ONE_IP.replace("random = 1", "random = 3")))
        .await
        .unwrap();

    assert!(report.passed(), "{:?}", report.failures());
    assert_eq!(report.artifacts.len(), 3);
    for artifact in &report.artifacts {
        assert_eq!(artifact.outcome, Outcome::Success);
        assert_eq!(artifact.observable_report_keys, vec!["AbuseIPDB_1_0"]);
        let predicates: Vec<&str> = artifact
            .taxonomies
            .iter()
            .map(|t| t.predicate.as_str())
            .collect();
        assert!(
            predicates.contains(&"Abuse Confidence Score"),
            "{predicates:?}"
        );
        assert!(artifact.job_id.is_some() && artifact.time_to_result.is_some());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_names_the_session_that_failed() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let mut target = target(&emulator);
    target.user = Auth::Session {
        login: "analyst@thehive.local".into(),
        password: Secret::new("wrong-pw"),
    };
    let ctx = context(target, out.path());

    let err = run(&ctx, &scenario(ONE_IP)).await.unwrap_err();

    let text = hivecheck::runner::render(&err, err.hint());
    assert!(text.contains("failed to open the user session"), "{text}");
    assert!(
        text.contains("user session `analyst@thehive.local` failed to authenticate"),
        "{text}"
    );
    assert!(text.contains("Authentication failure"), "{text}");
    assert!(
        !text.contains("wrong-pw"),
        "the password must not appear: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_without_the_british_org_header_lands_in_the_default_org() {
    let emulator = start(fast_config()).await;
    // Logged in as the runbook does: no organisation at login, so the session's is `admin`.
    let runbook_admin = hivecheck::client::TheHive::connect(
        &support::endpoint(&emulator),
        &support::admin(&emulator),
        None,
        "admin",
    )
    .await
    .unwrap()
    .with_org(Some("demo"));
    let admin = support::session(&emulator, &support::admin(&emulator)).await;
    let rule = json!({"value": [{"delegate": false, "trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "x"}}]});

    // The runbook's header: TheHive ignores it, so the admin writes to its own org, `admin`.
    let runbook = runbook_admin
        .raw(
            Method::PUT,
            "/api/config/organisation/notification",
            Some(&rule),
            ORG_HEADER_RUNBOOK,
        )
        .await
        .unwrap();
    assert_eq!(runbook.status, 200);
    let demo = admin.get_org_config("notification").await.unwrap();
    assert_eq!(demo["value"], json!([]), "the working org is untouched");

    let real = admin
        .raw(
            Method::PUT,
            "/api/config/organisation/notification",
            Some(&rule),
            ORG_HEADER,
        )
        .await
        .unwrap();
    assert_eq!(real.status, 200);
    assert_eq!(
        admin.get_org_config("notification").await.unwrap()["value"],
        rule["value"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_analyzer_lists_the_available_names() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    let err = run(
        &ctx,
        &scenario(&ONE_IP.replace("abuseipdb_1_0", "virustotal")),
    )
    .await
    .unwrap_err();

    let RunError::NoAnalyzer {
        ref available,
        ref cortex,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(cortex, "cortex0");
    assert!(
        available.contains("AbuseIPDB_1_0 (cortex0)") && available.contains("AbuseIPDB_2_0"),
        "{available}"
    );
    assert!(err.hint().unwrap().contains("enabled in Cortex"));
}

#[tokio::test(flavor = "multi_thread")]
async fn analyzers_on_another_cortex_server_do_not_count() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    let err = run(
        &ctx,
        &scenario(&ONE_IP.replace("[observables]", "cortex = \"cortex1\"\n[observables]")),
    )
    .await
    .unwrap_err();

    assert!(
        matches!(err, RunError::NoAnalyzer { ref cortex, .. } if cortex == "cortex1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_cortex_id_surfaces_thehives_400() {
    let emulator = start(fast_config()).await;
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let case = user
        .create_case(&NewCase {
            title: "t".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    let created = user
        .create_observables(
            case.id(),
            &NewObservable {
                data_type: "ip".into(),
                data: "1.1.1.1".into(),
                message: "m".into(),
                tlp: 2,
                tags: vec![],
            },
        )
        .await
        .unwrap();
    let artifact = created.created[0].id().to_owned();

    let err = user
        .call::<Value>(
            Method::POST,
            "/api/connector/cortex/job",
            Some(&json!({"analyzerId": "AbuseIPDB_1_0", "artifactId": artifact})),
        )
        .await
        .unwrap_err();

    let ClientError::Attributes {
        ref attributes,
        ref message,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(attributes, &vec!["cortexId".to_owned()]);
    assert!(
        message.contains("Attribute cortexId is missing"),
        "{message}"
    );
    assert!(err.hint().unwrap().contains("cortexId"));
}

#[tokio::test(flavor = "multi_thread")]
async fn job_failure_shows_cortexs_error_message() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = ONE_IP.replace("random = 1", "[[observables.items]]\ndata = \"8.8.8.x\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    let artifact = &report.artifacts[0];
    assert_eq!(artifact.outcome, Outcome::Failure);
    assert_eq!(artifact.status, "Failure");
    assert!(
        artifact
            .error
            .as_deref()
            .unwrap()
            .starts_with("Unable to query AbuseIPDB API")
    );
    let failures = report.failures().join("\n");
    assert!(
        failures.contains("expected success, got failure (Unable to query AbuseIPDB API)"),
        "{failures}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn job_stuck_waiting_past_the_deadline_shows_the_last_status() {
    let config = EmulatorConfig {
        job_latency: Latency::fixed(Duration::from_secs(3600)),
        ..fast_config()
    };
    let emulator = start(config).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = ONE_IP.replace("deadline = \"10s\"", "deadline = \"300ms\"");

    let started = std::time::Instant::now();
    let report = run(&ctx, &scenario(&text)).await.unwrap();

    let artifact = &report.artifacts[0];
    assert_eq!(artifact.outcome, Outcome::Timeout);
    assert_eq!(artifact.status, "timeout (Waiting, no report)");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "polling stops at the deadline"
    );
    assert!(!report.passed());
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_hit_born_success_waits_for_the_report() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let same_ip = ONE_IP.replace("random = 1", "[[observables.items]]\ndata = \"9.9.9.9\"");

    let first = run(&ctx, &scenario(&same_ip)).await.unwrap();
    let second = run(&ctx, &scenario(&same_ip)).await.unwrap();

    assert!(!first.artifacts[0].from_cache);
    let cached = &second.artifacts[0];
    assert!(
        cached.from_cache,
        "the second job is Cortex's cached one, born Success"
    );
    assert_eq!(cached.outcome, Outcome::Success);
    assert!(
        !cached.taxonomies.is_empty(),
        "the report was awaited, not skipped"
    );
    assert_eq!(cached.taxonomies, first.artifacts[0].taxonomies);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_observable_is_rejected_with_thehives_reason() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let case = user
        .create_case(&NewCase {
            title: "existing".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    let observable = NewObservable {
        data_type: "ip".into(),
        data: "4.4.4.4".into(),
        message: "already there".into(),
        tlp: 2,
        tags: vec![],
    };
    user.create_observables(case.id(), &observable)
        .await
        .unwrap();

    let direct = user
        .create_observables(case.id(), &observable)
        .await
        .unwrap();
    assert!(direct.created.is_empty());
    assert_eq!(direct.failed[0].message, "Observable already exists");

    let text = format!(
        "{}\n[case]\nid = \"{}\"\n",
        ONE_IP.replace("random = 1", "[[observables.items]]\ndata = \"4.4.4.4\"\nexpect = { outcome = \"rejected\", error = \"already exists\" }"),
        case.id()
    );
    let report = run(&ctx, &scenario(&text)).await.unwrap();
    assert_eq!(report.artifacts[0].outcome, Outcome::Rejected);
    assert!(report.passed(), "{:?}", report.failures());
}

// ---- autorun ---------------------------------------------------------------------------------

const AUTORUN: &str = r#"
description = "autorun"
seed = 11
[analyzer]
name = "abuseipdb_1_0"
[observables]
random = 2
[poll]
interval = "20ms"
deadline = "10s"
[autorun]
template = "thehive4"
deadline = "3s"
expect = "fired"
"#;

const WEBHOOK_RULE: &str = r#"[{"delegate": false, "trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "soc"}}]"#;

async fn preset_rules(emulator: &hivecheck::emulator::Emulator) -> Value {
    let admin = support::session(emulator, &support::admin(emulator)).await;
    let value: Value = serde_json::from_str(WEBHOOK_RULE).unwrap();
    admin
        .put_org_config("notification", &json!({ "value": value }))
        .await
        .unwrap();
    value
}

async fn current_rules(emulator: &hivecheck::emulator::Emulator) -> Value {
    let admin = support::session(emulator, &support::admin(emulator)).await;
    admin.get_org_config("notification").await.unwrap()["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_rule_fires_and_the_configuration_is_restored() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.verdict, AutorunVerdict::Fired);
    assert_eq!(autorun.stored, "stored as sent");
    assert!(autorun.restored);
    assert!(report.passed(), "{:?}", report.failures());
    for artifact in &report.artifacts {
        assert!(artifact.time_to_job.is_some() && artifact.time_to_result.is_some());
        assert!(!artifact.taxonomies.is_empty());
    }
    assert_eq!(current_rules(&emulator).await, before);
    let saved = std::fs::read_to_string(autorun.saved_to.as_ref().unwrap()).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&saved).unwrap()["value"],
        before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn appending_keeps_the_rules_that_were_there() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    // Watch the configuration while the trial runs.
    let watcher = {
        let admin = support::session(&emulator, &support::admin(&emulator)).await;
        tokio::spawn(async move {
            for _ in 0..200 {
                let value = admin.get_org_config("notification").await.unwrap()["value"].clone();
                if value.as_array().is_some_and(|rules| rules.len() == 2) {
                    return Some(value);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None
        })
    };
    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();
    let during = watcher
        .await
        .unwrap()
        .expect("our rule was added beside the existing one");

    assert_eq!(
        during[0], before[0],
        "the existing rule stays first and unchanged"
    );
    assert_eq!(during[1]["notifier"]["name"], "RunAnalyzer");
    assert_eq!(report.autorun.unwrap().verdict, AutorunVerdict::Fired);
    assert_eq!(current_rules(&emulator).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn runbook_body_is_stored_but_never_fires() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = AUTORUN
        .replace("template = \"thehive4\"", "template = \"runbook\"")
        .replace("deadline = \"3s\"", "deadline = \"600ms\"")
        .replace("expect = \"fired\"", "expect = \"never-fired\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.stored, "stored as sent");
    assert_eq!(autorun.verdict, AutorunVerdict::NeverFired);
    assert!(
        autorun
            .diff
            .iter()
            .any(|l| l.contains("not a list of {trigger, notifier} rules")),
        "{:?}",
        autorun.diff
    );
    assert!(
        report
            .artifacts
            .iter()
            .all(|a| a.outcome == Outcome::Timeout && a.job_id.is_none())
    );
    assert!(report.passed(), "{:?}", report.failures());
    assert_eq!(current_rules(&emulator).await, json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn fired_rule_with_a_failing_analyzer_is_its_own_verdict() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = AUTORUN
        .replace("random = 2", "[[observables.items]]\ndata = \"8.8.8.x\"")
        .replace("expect = \"fired\"", "expect = \"analyzer-failed\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.verdict, AutorunVerdict::AnalyzerFailed);
    assert!(
        report.artifacts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("Unable to query AbuseIPDB API")
    );
    assert!(report.passed(), "{:?}", report.failures());
}

#[tokio::test(flavor = "multi_thread")]
async fn analyst_cannot_configure_and_the_verdict_says_rejected() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let mut target = target(&emulator);
    target.admin = Some(support::analyst(&emulator));
    let ctx = context(target, out.path());

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.verdict, AutorunVerdict::Rejected);
    let why = autorun.diff.join("\n");
    assert!(
        why.contains("is not allowed to PUT /api/config/organisation/notification"),
        "{why}"
    );
    assert!(why.contains("manageConfig"), "{why}");
    assert!(!report.passed());

    // The client's own error carries a hint about the profile.
    let analyst = support::session(&emulator, &support::analyst(&emulator)).await;
    let err = analyst
        .put_org_config("notification", &json!({"value": []}))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Forbidden { .. }), "{err}");
    assert!(err.hint().unwrap().contains("org-admin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_is_restored_after_a_failed_run() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    // Expect the runbook body to fire: it never does, so the trial fails.
    let text = AUTORUN
        .replace("template = \"thehive4\"", "template = \"runbook\"")
        .replace("deadline = \"3s\"", "deadline = \"300ms\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    assert!(!report.passed());
    assert!(
        report.failures()[0].contains("autorun verdict is never-fired, expected fired"),
        "{:?}",
        report.failures()
    );
    assert!(report.autorun.unwrap().restored);
    assert_eq!(current_rules(&emulator).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_is_restored_when_interrupted() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = AUTORUN
        .replace("template = \"thehive4\"", "template = \"runbook\"")
        .replace("deadline = \"3s\"", "deadline = \"30s\"");

    let interrupt = ctx.interrupt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        interrupt.raise("SIGINT");
    });
    let err = run(&ctx, &scenario(&text)).await.unwrap_err();

    assert!(
        matches!(err, RunError::Interrupted { ref signal } if signal == "SIGINT"),
        "{err}"
    );
    assert_eq!(current_rules(&emulator).await, before);
}
