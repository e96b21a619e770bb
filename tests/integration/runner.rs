//! The runner against the in-process emulator: every step, every failure the issues name,
//! and every autorun verdict with its restore.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hivecheck::client::{
    Auth, ClientError, Endpoint, NewCase, NewObservable, ORG_HEADER, ORG_HEADER_RUNBOOK, Secret,
    TheHive,
};
use hivecheck::emulator::{EmulatorConfig, Latency};
use hivecheck::runner::{RestoreState, RunContext, RunError, RunOptions, Target};
use hivecheck::scenario::{AutorunVerdict, Outcome};
use reqwest::Method;
use serde_json::{Value, json};

use crate::proxy::{Action, Proxy};
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

/// A case made outside any run that already holds the `ip` observable `data`, so a scenario
/// naming it sees TheHive refuse that value as a duplicate.
async fn case_already_holding(
    user: &TheHive,
    data: &str,
) -> (hivecheck::client::Case, NewObservable) {
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
        data: data.into(),
        message: "already there".into(),
        tlp: 2,
        tags: vec![],
    };
    user.create_observables(case.id(), &observable)
        .await
        .unwrap();
    (case, observable)
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_observable_is_rejected_with_thehives_reason() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let (case, observable) = case_already_holding(&user, "4.4.4.4").await;

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
    assert_eq!(autorun.restore, RestoreState::Verified);
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
async fn saved_files_are_readable_only_by_their_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    let autorun = report.autorun.unwrap();
    let mode = |path: &str| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let saved = autorun.saved_to.unwrap();
    let script = autorun.restore_script.unwrap();
    assert_eq!(mode(&saved), 0o600, "{saved}");
    assert_eq!(mode(&script), 0o700, "{script}");
    let run_dir = std::path::Path::new(&saved).parent().unwrap();
    assert_eq!(mode(run_dir.to_str().unwrap()), 0o700);
    assert!(std::path::Path::new(&saved).is_absolute());
    let answer: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    assert_eq!(
        answer,
        json!({"path": "notification", "defaultValue": [], "value": []}),
        "TheHive's whole answer is saved"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_trial_saves_its_own_files_and_never_overwrites() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());

    let first = run(&ctx, &scenario(AUTORUN)).await.unwrap();
    let second = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    let (first, second) = (first.autorun.unwrap(), second.autorun.unwrap());
    assert_ne!(first.saved_to, second.saved_to);
    assert_ne!(first.restore_script, second.restore_script);
    assert!(
        first
            .saved_to
            .as_deref()
            .unwrap()
            .ends_with("notification-demo-test-saved.json"),
        "{:?}",
        first.saved_to
    );
    for saved in [first.saved_to.unwrap(), second.saved_to.unwrap()] {
        let answer: Value =
            serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
        assert_eq!(answer["value"], before, "{saved}");
    }
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
    let notes = autorun.notes.join("\n");
    assert!(
        notes.contains("not a list of {trigger, notifier} rules"),
        "{notes}"
    );
    assert!(notes.contains("the organisation had none"), "{notes}");
    assert!(
        report
            .artifacts
            .iter()
            .all(|a| a.outcome == Outcome::Timeout && a.job_id.is_none())
    );
    assert!(report.passed(), "{:?}", report.failures());
    assert_eq!(current_rules(&emulator).await, json!([]));
    let summary = hivecheck::report::render_trial(&report);
    assert!(
        summary.contains(
            "rule stored but never fired: no job of AbuseIPDB_1_0 on any of 2 observables within 600ms"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("configuration restored and verified"),
        "{summary}"
    );
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
    let summary = hivecheck::report::render_trial(&report);
    assert!(
        summary.contains(
            "rule fired but the analyzer failed on 1 of 1 observable: Unable to query AbuseIPDB API"
        ),
        "{summary}"
    );
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
    assert_eq!(autorun.restore, RestoreState::NothingToRestore);
    let why = autorun.rejection.clone().unwrap();
    assert!(
        why.contains("is not allowed to PUT /api/config/organisation/notification"),
        "{why}"
    );
    assert!(why.contains("manageConfig"), "{why}");
    assert!(!report.passed());
    let summary = hivecheck::report::render_trial(&report);
    assert!(summary.contains("rule rejected by TheHive: "), "{summary}");
    assert!(
        summary.contains("configuration untouched (nothing was written)"),
        "{summary}"
    );
    assert!(!summary.contains("NOT RESTORED"), "{summary}");
    assert!(!summary.contains("until the restore"), "{summary}");

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
    // Expect the real rule never to fire: it does, so the trial fails.
    let text = AUTORUN.replace("expect = \"fired\"", "expect = \"never-fired\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    assert!(!report.passed());
    assert!(
        report.failures()[0].contains("autorun verdict is fired, expected never-fired"),
        "{:?}",
        report.failures()
    );
    assert_eq!(report.autorun.unwrap().restore, RestoreState::Verified);
    assert_eq!(current_rules(&emulator).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_is_restored_when_interrupted_in_replace_mode() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = RunContext::new(
        target(&emulator),
        RunOptions {
            replace: true,
            ..context(target(&emulator), out.path()).options.clone()
        },
    );
    let text = AUTORUN
        .replace("template = \"thehive4\"", "template = \"runbook\"")
        .replace("deadline = \"3s\"", "deadline = \"30s\"");
    let watcher = {
        let admin = support::session(&emulator, &support::admin(&emulator)).await;
        tokio::spawn(async move {
            for _ in 0..300 {
                let value = admin.get_org_config("notification").await.unwrap()["value"].clone();
                if value.get("items").is_some() {
                    return Some(value);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None
        })
    };

    let interrupt = ctx.interrupt.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        interrupt.raise("SIGINT");
    });
    let err = run(&ctx, &scenario(&text)).await.unwrap_err();

    assert!(
        matches!(stopped_by(&err), RunError::Interrupted { signal } if signal == "SIGINT"),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("the notification configuration was restored and verified"),
        "{err}"
    );
    assert!(
        watcher.await.unwrap().is_some(),
        "--replace put the runbook body in place of the webhook rule"
    );
    assert_eq!(current_rules(&emulator).await, before);
    assert!(ctx.interrupt.pending().is_empty(), "nothing left pending");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signal_before_the_write_stops_the_trial_unwritten() {
    let emulator = start(fast_config()).await;
    let proxy = Proxy::start(&emulator.base_url(), |_| Action::Forward).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());
    ctx.interrupt.raise("SIGTERM");

    let err = run(&ctx, &scenario(AUTORUN)).await.unwrap_err();

    assert!(matches!(err, RunError::Interrupted { .. }), "{err}");
    assert_eq!(proxy.count(&Method::PUT, CONFIG), 0, "nothing was written");
}

const CONFIG: &str = "/api/config/organisation/notification";

/// Why an autorun trial stopped once it had begun to write: the error its `Stopped` wraps.
fn stopped_by(err: &RunError) -> &RunError {
    match err {
        RunError::Stopped { source, .. } => source,
        other => panic!("expected a trial stopped after its write, got: {other}"),
    }
}

/// The emulator's target, reached through `proxy`.
fn via(emulator: &hivecheck::emulator::Emulator, proxy: &Proxy) -> Target {
    Target {
        endpoint: Endpoint::parse(&proxy.url).unwrap(),
        ..target(emulator)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_template_is_not_appended_to_existing_rules_and_nothing_is_written() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let proxy = Proxy::start(&emulator.base_url(), |_| Action::Forward).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());
    let text = AUTORUN
        .replace("template = \"thehive4\"", "template = \"runbook\"")
        .replace("expect = \"fired\"", "expect = \"never-fired\"");

    let err = run(&ctx, &scenario(&text)).await.unwrap_err();

    let rendered = hivecheck::runner::render(&err, err.hint());
    assert!(
        rendered.contains(
            "failed to add the rule to the organisation's notification rules: the template's value \
             is not a list of rules, so it cannot be added to the organisation's rule"
        ),
        "{rendered}"
    );
    assert!(rendered.contains("`hivecheck run --replace`"), "{rendered}");
    assert_eq!(proxy.count(&Method::PUT, CONFIG), 0);
    assert_eq!(current_rules(&emulator).await, before);
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    assert!(
        user.cases_tagged(&ctx.run_tag()).await.unwrap().is_empty(),
        "no case was created for a trial that could not start"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_answer_without_value_is_refused_before_any_write() {
    let emulator = start(fast_config()).await;
    let proxy = Proxy::start(&emulator.base_url(), |seen| {
        if seen.method == Method::GET && seen.path == CONFIG {
            Action::ForwardAndMap(|mut answer| {
                answer.as_object_mut().unwrap().remove("value");
                answer
            })
        } else {
            Action::Forward
        }
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());

    let err = run(&ctx, &scenario(AUTORUN)).await.unwrap_err();

    assert!(matches!(err, RunError::UnsavableConfig { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("the answer has no `value` to put back"),
        "{err}"
    );
    assert_eq!(proxy.count(&Method::PUT, CONFIG), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_on_a_write_that_did_not_land_restores_nothing() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let proxy = Proxy::start(&emulator.base_url(), |seen| match seen.method {
        Method::PUT if seen.path == CONFIG => Action::Answer(
            axum::http::StatusCode::BAD_GATEWAY,
            json!({"type": "-", "message": "upstream down"}),
        ),
        _ => Action::Forward,
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());

    let err = run(&ctx, &scenario(AUTORUN)).await.unwrap_err();

    assert!(
        stopped_by(&err)
            .to_string()
            .contains("failed to write the notification rule"),
        "a 502 is not TheHive refusing the rule: {err}"
    );
    assert!(
        err.to_string()
            .ends_with("the notification configuration was never changed"),
        "{err}"
    );
    assert_eq!(
        proxy.count(&Method::PUT, CONFIG),
        1,
        "the value read before the restore was the saved one: nothing put back"
    );
    assert_eq!(current_rules(&emulator).await, before);
    assert!(ctx.failed_restore().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_on_a_write_that_landed_is_put_back() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let proxy = Proxy::start(&emulator.base_url(), |seen| match seen.method {
        Method::PUT if seen.path == CONFIG && seen.nth == 0 => Action::ForwardThenAnswer(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            json!({"type": "InternalError", "message": "timeout after the write"}),
        ),
        _ => Action::Forward,
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());

    let err = run(&ctx, &scenario(AUTORUN)).await.unwrap_err();

    assert!(matches!(stopped_by(&err), RunError::Step { .. }), "{err}");
    assert!(
        err.to_string()
            .ends_with("the notification configuration was restored and verified"),
        "{err}"
    );
    assert_eq!(
        proxy.count(&Method::PUT, CONFIG),
        2,
        "written, then put back"
    );
    assert_eq!(current_rules(&emulator).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_someone_else_changed_meanwhile_is_left_alone_and_said_loudly() {
    let emulator = start(fast_config()).await;
    preset_rules(&emulator).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let theirs = json!([{"delegate": false, "trigger": {"name": "CaseCreated"}, "notifier": {"name": "Emailer"}}]);
    let meddler = {
        let admin = support::session(&emulator, &support::admin(&emulator)).await;
        let theirs = theirs.clone();
        tokio::spawn(async move {
            for _ in 0..300 {
                let value = admin.get_org_config("notification").await.unwrap()["value"].clone();
                if value.as_array().is_some_and(|rules| rules.len() == 2) {
                    admin
                        .put_org_config("notification", &json!({ "value": theirs }))
                        .await
                        .unwrap();
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        })
    };

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    assert!(
        meddler.await.unwrap(),
        "the other change was made during the trial"
    );
    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.restore, RestoreState::NotRestored);
    let failures = report.failures().join("\n");
    assert!(
        failures.contains("neither the saved value nor the one hivecheck wrote"),
        "{failures}"
    );
    assert_eq!(
        current_rules(&emulator).await,
        theirs,
        "someone else's change is not undone"
    );
    assert!(report.restore_failed());
}

/// The worst case: the trial breaks while it waits for jobs, and the restore fails too. The
/// report must say the rule was written and that no verdict was reached, not make one up.
#[tokio::test(flavor = "multi_thread")]
async fn a_trial_that_breaks_and_cannot_restore_says_no_verdict_was_reached() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let proxy = Proxy::start(&emulator.base_url(), |seen| {
        let restoring = seen.method == Method::PUT && seen.path == CONFIG && seen.nth > 0;
        let listing_jobs = seen.path == "/api/connector/cortex/job/_search";
        if restoring || listing_jobs {
            Action::Answer(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                json!({"type": "InternalError", "message": "down for the test"}),
            )
        } else {
            Action::Forward
        }
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.stored, "stored as sent", "the rule was written");
    assert!(
        autorun
            .stopped
            .as_deref()
            .is_some_and(|why| why.contains("failed to list the jobs")),
        "{:?}",
        autorun.stopped
    );
    assert_eq!(autorun.restore, RestoreState::NotRestored);
    let text = hivecheck::report::render_trial(&report);
    assert!(text.contains("verdict not reached"), "{text}");
    assert!(
        !text.contains("inconclusive"),
        "no verdict is made up: {text}"
    );
    assert!(
        !report
            .failures()
            .iter()
            .any(|f| f.contains("autorun verdict is")),
        "a verdict that was never reached is not compared: {:?}",
        report.failures()
    );
    assert_ne!(
        current_rules(&emulator).await,
        before,
        "still changed, as said"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_restore_is_loud_recorded_and_stops_later_autorun_trials() {
    let emulator = start(fast_config()).await;
    let before = preset_rules(&emulator).await;
    let broken = Arc::new(AtomicBool::new(true));
    let proxy = {
        let broken = broken.clone();
        Proxy::start(&emulator.base_url(), move |seen| {
            let restoring = seen.method == Method::PUT && seen.path == CONFIG && seen.nth > 0;
            if restoring && broken.load(Ordering::SeqCst) {
                Action::Answer(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"type": "InternalError", "message": "restore refused by the test"}),
                )
            } else {
                Action::Forward
            }
        })
        .await
    };
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.restore, RestoreState::NotRestored);
    assert_eq!(
        proxy.count(&Method::PUT, CONFIG),
        1 + 4,
        "the write, then four attempts to put it back"
    );
    let failure = autorun.restore_failure.as_ref().unwrap();
    assert_eq!(failure.saved_value, before);
    let script = autorun.restore_script.clone().unwrap();
    assert_eq!(failure.command, format!("sh '{script}'"));
    let failures = report.failures().join("\n");
    assert!(
        failures.contains("failed to restore the organisation's notification configuration"),
        "{failures}"
    );
    assert!(
        failures.contains(&before.to_string()),
        "the saved value: {failures}"
    );
    assert!(
        failures.contains(&failure.command),
        "the command: {failures}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["autorun"]["restore"], "not-restored");
    assert_eq!(
        json["autorun"]["restore_failure"]["command"],
        failure.command
    );
    assert_eq!(
        ctx.interrupt.pending().len(),
        1,
        "a second signal would name it"
    );

    // Later autorun trials of the run refuse to save the changed value as the original.
    let refused = run(&ctx, &scenario(AUTORUN)).await.unwrap_err();
    assert!(
        matches!(refused, RunError::EarlierRestoreFailed { ref trial, .. } if trial == "test"),
        "{refused}"
    );
    assert!(refused.hint().unwrap().contains(&failure.command));
    assert_eq!(
        proxy.count(&Method::PUT, CONFIG),
        5,
        "the refused trial wrote nothing"
    );

    // The printed command puts the configuration back.
    broken.store(false, Ordering::SeqCst);
    let output = tokio::process::Command::new("sh")
        .arg(&script)
        .env_remove("THEHIVE_ADMIN_API_KEY")
        .env("THEHIVE_ADMIN_PASSWORD", &emulator.config().admin_password)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(current_rules(&emulator).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_restore_script_fails_on_an_http_error() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();
    let script = report.autorun.unwrap().restore_script.unwrap();

    let output = tokio::process::Command::new("sh")
        .arg(&script)
        .env_remove("THEHIVE_ADMIN_API_KEY")
        .env("THEHIVE_ADMIN_PASSWORD", "not-the-password")
        .output()
        .await
        .unwrap();

    assert!(!output.status.success(), "a 401 fails the script");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("not-the-password"),
        "the password is not echoed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_observable_fired_and_one_not_is_partly_fired() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    // The real rule, except for one address its filter leaves out.
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("all-but-one.json");
    let real =
        std::fs::read_to_string(support::root().join("fixtures/notifications/thehive4.json"))
            .unwrap();
    let mut rule: Value = serde_json::from_str(&real).unwrap();
    rule["value"][0]["trigger"]["filter"]["_and"]
        .as_array_mut()
        .unwrap()
        .push(json!({"_not": {"_like": {"details": "*\"data\":\"9.9.9.9\"*"}}}));
    std::fs::write(&template, rule.to_string()).unwrap();
    let text = AUTORUN
        .replace(
            "template = \"thehive4\"",
            &format!("template = {:?}", template.display().to_string()),
        )
        .replace("deadline = \"3s\"", "deadline = \"800ms\"")
        .replace(
            "random = 2",
            "random = 1\n[[observables.items]]\ndata = \"9.9.9.9\"\nexpect = { outcome = \"timeout\" }",
        )
        .replace("expect = \"fired\"", "expect = \"partly-fired\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.verdict, AutorunVerdict::PartlyFired);
    assert!(report.passed(), "{:?}", report.failures());
    let summary = hivecheck::report::render_trial(&report);
    assert!(
        summary.contains(
            "rule fired on 1 of 2 observables only: no job of AbuseIPDB_1_0 on the other 1 within 800ms"
        ),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_observable_created_is_inconclusive_not_never_fired() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let (case, _) = case_already_holding(&user, "4.4.4.4").await;
    let text = format!(
        "{}\n[case]\nid = \"{}\"\n",
        AUTORUN
            .replace("random = 2", "[[observables.items]]\ndata = \"4.4.4.4\"")
            .replace("expect = \"fired\"", "expect = \"inconclusive\""),
        case.id()
    );

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    assert_eq!(
        report.autorun.as_ref().unwrap().verdict,
        AutorunVerdict::Inconclusive
    );
    assert!(report.passed(), "{:?}", report.failures());
    let summary = hivecheck::report::render_trial(&report);
    assert!(
        summary.contains("inconclusive: no observable could be created, so nothing could fire"),
        "{summary}"
    );
}

/// E2: the built-in rule is confined to the observables hivecheck's own user creates.
#[tokio::test(flavor = "multi_thread")]
async fn the_built_in_rule_leaves_other_users_observables_alone() {
    let emulator = start(fast_config()).await;
    let analyst = support::session(&emulator, &support::analyst(&emulator)).await;
    let admin = support::session(&emulator, &support::admin(&emulator)).await;
    let login = analyst.current_user().await.unwrap()["login"].clone();
    let text =
        std::fs::read_to_string(support::root().join("fixtures/notifications/thehive4.json"))
            .unwrap()
            .replace("{{analyzerName}}", "AbuseIPDB_1_0")
            .replace("{{userLogin}}", login.as_str().unwrap());
    admin
        .put_org_config("notification", &serde_json::from_str(&text).unwrap())
        .await
        .unwrap();
    let case = analyst
        .create_case(&NewCase {
            title: "shared".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    let observable = |data: &str| NewObservable {
        data_type: "ip".into(),
        data: data.into(),
        message: "m".into(),
        tlp: 2,
        tags: vec![],
    };

    let theirs = admin
        .create_observables(case.id(), &observable("5.5.5.5"))
        .await
        .unwrap()
        .created[0]
        .id()
        .to_owned();
    let ours = analyst
        .create_observables(case.id(), &observable("6.6.6.6"))
        .await
        .unwrap()
        .created[0]
        .id()
        .to_owned();

    let mut fired_on_ours = false;
    for _ in 0..100 {
        if !analyst.jobs_of_observable(&ours).await.unwrap().is_empty() {
            fired_on_ours = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        fired_on_ours,
        "the rule fires on the observable our user created"
    );
    assert!(
        analyst
            .jobs_of_observable(&theirs)
            .await
            .unwrap()
            .is_empty(),
        "and not on the one another user created"
    );
}

/// E5: TheHive 4.1.24's RunAnalyzer looks analyzers up among responders, so a right rule
/// never fires; the verdict says never-fired and a hint says why it may not be the rule.
#[tokio::test(flavor = "multi_thread")]
async fn thehive_4_1_lookup_bug_gives_never_fired_with_a_hint() {
    let emulator = start(EmulatorConfig {
        emulate_runanalyzer_lookup_bug: true,
        ..fast_config()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = AUTORUN
        .replace("deadline = \"3s\"", "deadline = \"600ms\"")
        .replace("expect = \"fired\"", "expect = \"never-fired\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    assert_eq!(
        report.autorun.as_ref().unwrap().verdict,
        AutorunVerdict::NeverFired
    );
    let summary = hivecheck::report::render_trial(&report);
    assert!(
        summary.contains(
            "hint: TheHive 4.1.24-1's RunAnalyzer looks `AbuseIPDB_1_0` up among Cortex responders"
        ),
        "{summary}"
    );
    assert!(summary.contains("client.searchResponders"), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_that_never_fires_for_another_reason_gets_no_lookup_hint() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(target(&emulator), out.path());
    let text = AUTORUN
        .replace("template = \"thehive4\"", "template = \"runbook\"")
        .replace("deadline = \"3s\"", "deadline = \"300ms\"")
        .replace("expect = \"fired\"", "expect = \"never-fired\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    assert!(!hivecheck::report::render_trial(&report).contains("searchResponders"));
}

/// E7: a trial that cannot save the configuration leaves no case behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_trial_that_cannot_save_creates_no_case() {
    let emulator = start(fast_config()).await;
    let out = tempfile::tempdir().unwrap();
    let blocked = out.path().join("not-a-dir");
    std::fs::write(&blocked, "a file where the output folder should be").unwrap();
    let ctx = context(target(&emulator), &blocked);

    let err = run(&ctx, &scenario(AUTORUN)).await.unwrap_err();

    assert!(matches!(err, RunError::Output { .. }), "{err}");
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    assert!(user.cases_tagged(&ctx.run_tag()).await.unwrap().is_empty());
    assert_eq!(current_rules(&emulator).await, json!([]));
}

// ---- job lists of the wrong shape (E1) ----------------------------------------------------

const JOB_SEARCH: &str = "/api/connector/cortex/job/_search";

async fn job_search_answering(emulator: &hivecheck::emulator::Emulator, answer: Value) -> Proxy {
    Proxy::start(&emulator.base_url(), move |seen| {
        if seen.path == JOB_SEARCH {
            Action::Answer(axum::http::StatusCode::OK, answer.clone())
        } else {
            Action::Forward
        }
    })
    .await
}

async fn an_observable(user: &TheHive) -> String {
    let case = user
        .create_case(&NewCase {
            title: "t".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    user.create_observables(
        case.id(),
        &NewObservable {
            data_type: "ip".into(),
            data: "7.7.7.7".into(),
            message: "m".into(),
            tlp: 2,
            tags: vec![],
        },
    )
    .await
    .unwrap()
    .created[0]
        .id()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_search_answering_an_error_object_says_so() {
    let emulator = start(fast_config()).await;
    let proxy = job_search_answering(
        &emulator,
        json!({"type": "SearchError", "message": "index unavailable"}),
    )
    .await;
    let user = support::session_at(&proxy.url, &emulator, &support::analyst(&emulator)).await;
    let observable = an_observable(&user).await;

    let err = user.jobs_of_observable(&observable).await.unwrap_err();

    assert!(
        err.to_string().contains(
            r#"an error object instead of a list of jobs: {"message":"index unavailable","type":"SearchError"}"#
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_search_answering_another_shape_names_it() {
    let emulator = start(fast_config()).await;
    let proxy = job_search_answering(&emulator, json!({"jobs": []})).await;
    let user = support::session_at(&proxy.url, &emulator, &support::analyst(&emulator)).await;
    let observable = an_observable(&user).await;

    let err = user.jobs_of_observable(&observable).await.unwrap_err();

    assert!(
        err.to_string().contains("instead of a list of jobs")
            && !err.to_string().contains("error object"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_search_answering_an_empty_list_is_no_job_yet() {
    let emulator = start(fast_config()).await;
    let proxy = job_search_answering(&emulator, json!([])).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());
    let text = AUTORUN
        .replace("random = 2", "random = 1")
        .replace("deadline = \"3s\"", "deadline = \"300ms\"")
        .replace("expect = \"fired\"", "expect = \"never-fired\"");

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    assert!(
        proxy.count(&Method::POST, JOB_SEARCH) > 1,
        "an empty list is asked again until the deadline"
    );
    assert_eq!(report.artifacts[0].status, "no job");
    assert_eq!(report.autorun.unwrap().verdict, AutorunVerdict::NeverFired);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_job_list_is_that_observables_result_not_a_broken_trial() {
    let emulator = start(fast_config()).await;
    let proxy = job_search_answering(&emulator, json!("maintenance")).await;
    let out = tempfile::tempdir().unwrap();
    let ctx = context(via(&emulator, &proxy), out.path());

    let report = run(&ctx, &scenario(AUTORUN)).await.unwrap();

    for artifact in &report.artifacts {
        assert_eq!(artifact.outcome, Outcome::Unreadable);
        assert_eq!(artifact.status, "unreadable job list");
        assert!(
            artifact
                .error
                .as_deref()
                .unwrap()
                .contains("a string instead of a list of jobs"),
            "{:?}",
            artifact.error
        );
    }
    let autorun = report.autorun.as_ref().unwrap();
    assert_eq!(autorun.verdict, AutorunVerdict::Inconclusive);
    assert_eq!(autorun.restore, RestoreState::Verified);
    assert!(!report.passed());
}
