//! Run-scoped clean-up: a run deletes the cases it created, and `cleanup` removes what
//! interrupted runs left, by tag, touching nothing else.

use std::time::Duration;

use hivecheck::cleanup::{Fate, Kind, cleanup};
use hivecheck::client::{NewCase, NewObservable, TheHive};
use hivecheck::emulator::{EmulatorConfig, Profile};

use crate::support::{self, context, fast_config, hivecheck_command, run, scenario, start, target};

fn observable(data: &str, tags: &[&str]) -> NewObservable {
    NewObservable {
        data_type: "ip".into(),
        data: data.into(),
        message: "m".into(),
        tlp: 2,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

async fn add(user: &TheHive, case: &str, data: &str, tags: &[&str]) -> String {
    let mut created = user
        .create_observables(case, &observable(data, tags))
        .await
        .unwrap();
    created.created.remove(0).id().to_owned()
}

fn thehive5() -> EmulatorConfig {
    EmulatorConfig {
        profile: Profile::TheHive5,
        ..fast_config()
    }
}

fn now_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let digits: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    format!("{}-beef", digits.trim_end_matches('Z'))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_deletes_exactly_the_case_it_created() {
    let emulator = start(fast_config()).await;
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let other = user
        .create_case(&NewCase {
            title: "someone else's".into(),
            description: "d".into(),
            tags: vec!["hivecheck".into()],
        })
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut ctx_target = target(&emulator);
    ctx_target.admin = None;
    let ctx = hivecheck::runner::RunContext::new(
        ctx_target,
        hivecheck::runner::RunOptions {
            keep: false,
            ..context(target(&emulator), out.path()).options.clone()
        },
    );

    let report = run(&ctx, &scenario("description = \"d\"\n[analyzer]\nname = \"abuseipdb_1_0\"\n[observables]\nrandom = 1\n[poll]\ninterval = \"20ms\"\n"))
        .await
        .unwrap();

    let created = report.case.unwrap();
    let created_id = created.split_whitespace().next().unwrap();
    assert!(
        user.get_case(created_id).await.is_err(),
        "the run's case is gone"
    );
    assert!(
        user.get_case(other.id()).await.is_ok(),
        "the other case stays"
    );
    assert!(user.cases_tagged(&ctx.run_tag()).await.unwrap().is_empty());
}

/// A scenario naming an existing case leaves the case and what others put in it, and takes
/// its own observables out at the end.
async fn a_run_in_a_named_case_deletes_only_its_own_observables(config: EmulatorConfig) {
    let emulator = start(config).await;
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let named = user
        .create_case(&NewCase {
            title: "the SOC's test case".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    let by_hand = add(&user, named.id(), "8.8.8.8", &["hivecheck"]).await;
    let out = tempfile::tempdir().unwrap();
    let mut ctx_target = target(&emulator);
    ctx_target.admin = None;
    let ctx = hivecheck::runner::RunContext::new(
        ctx_target,
        hivecheck::runner::RunOptions {
            keep: false,
            ..context(target(&emulator), out.path()).options.clone()
        },
    );
    let text = format!(
        "description = \"d\"\n[analyzer]\nname = \"abuseipdb_1_0\"\n[case]\nid = \"{}\"\n\
         [observables]\nrandom = 2\n[poll]\ninterval = \"20ms\"\n",
        named.id()
    );

    let report = run(&ctx, &scenario(&text)).await.unwrap();

    let created: Vec<&str> = report
        .artifacts
        .iter()
        .filter_map(|a| a.observable_id.as_deref())
        .collect();
    assert_eq!(created.len(), 2, "{report:?}");
    for id in created {
        assert!(
            user.get_observable(id).await.is_err(),
            "the run's observable {id} is gone"
        );
    }
    assert!(
        user.get_case(named.id()).await.is_ok(),
        "the named case stays"
    );
    assert!(
        user.get_observable(&by_hand).await.is_ok(),
        "an observable without the run tag stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn named_case_clean_up_on_thehive4() {
    a_run_in_a_named_case_deletes_only_its_own_observables(fast_config()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn named_case_clean_up_on_thehive5() {
    a_run_in_a_named_case_deletes_only_its_own_observables(thehive5()).await;
}

async fn cleanup_keeps_what_is_not_old_and_ours(config: EmulatorConfig) {
    let emulator = start(config).await;
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let case = |title: &str, tags: &[&str]| NewCase {
        title: title.into(),
        description: "d".into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    let old = user
        .create_case(&case(
            "old run",
            &["hivecheck", "hivecheck:run=20200101T000000-aaaa"],
        ))
        .await
        .unwrap();
    let recent_tag = format!("hivecheck:run={}", now_run_id());
    let recent = user
        .create_case(&case("recent run", &["hivecheck", &recent_tag]))
        .await
        .unwrap();
    let tag_only = user
        .create_case(&case("tagged by hand", &["hivecheck"]))
        .await
        .unwrap();
    let untagged = user.create_case(&case("unrelated", &[])).await.unwrap();
    // Observables runs added to a case they did not create.
    let old_observable = add(
        &user,
        untagged.id(),
        "1.1.1.1",
        &["hivecheck", "hivecheck:run=20200101T000000-bbbb"],
    )
    .await;
    let recent_observable = add(&user, untagged.id(), "1.0.0.1", &["hivecheck", &recent_tag]).await;
    let hand_observable = add(&user, untagged.id(), "9.9.9.9", &["hivecheck"]).await;
    let plain_observable = add(&user, untagged.id(), "8.8.4.4", &[]).await;

    let dry = cleanup(&user, Duration::from_secs(2 * 86400), true)
        .await
        .unwrap();
    assert!(
        dry.iter()
            .any(|c| c.id == old.id() && c.fate == Fate::Deleted)
    );
    assert!(
        dry.iter().any(|c| c.id == old_observable
            && c.kind == Kind::Observable
            && c.fate == Fate::Deleted)
    );
    assert!(
        user.get_case(old.id()).await.is_ok() && user.get_observable(&old_observable).await.is_ok(),
        "a dry run deletes nothing"
    );

    let done = cleanup(&user, Duration::from_secs(2 * 86400), false)
        .await
        .unwrap();

    let fate = |id: &str| done.iter().find(|c| c.id == id).map(|c| c.fate.clone());
    assert_eq!(fate(old.id()), Some(Fate::Deleted));
    assert_eq!(fate(recent.id()), Some(Fate::Recent));
    assert_eq!(fate(tag_only.id()), Some(Fate::NotOurs));
    assert_eq!(
        fate(untagged.id()),
        None,
        "a case without our tag is not even listed"
    );
    assert!(user.get_case(old.id()).await.is_err());
    assert_eq!(fate(&old_observable), Some(Fate::Deleted));
    assert_eq!(fate(&recent_observable), Some(Fate::Recent));
    assert_eq!(fate(&hand_observable), Some(Fate::NotOurs));
    assert_eq!(fate(&plain_observable), None);
    assert!(user.get_observable(&old_observable).await.is_err());
    for kept in [&recent_observable, &hand_observable, &plain_observable] {
        assert!(user.get_observable(kept).await.is_ok(), "{kept} must stay");
    }
    for kept in [&recent, &tag_only, &untagged] {
        assert!(
            user.get_case(kept.id()).await.is_ok(),
            "{} must stay",
            kept.title
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_by_tag_on_thehive4() {
    cleanup_keeps_what_is_not_old_and_ours(fast_config()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cleanup_by_tag_on_thehive5() {
    cleanup_keeps_what_is_not_old_and_ours(thehive5()).await;
}

/// `hivecheck cleanup` as an operator runs it: a dry run first, then the deletion, each with a
/// line per case or observable and a closing count.
#[tokio::test(flavor = "multi_thread")]
async fn cleanup_command_previews_then_deletes_only_old_run_tagged_items() {
    let emulator = start(fast_config()).await;
    let user = support::session(&emulator, &support::analyst(&emulator)).await;
    let old_tags = ["hivecheck", "hivecheck:run=20200101T000000-cccc"];
    let old = user
        .create_case(&NewCase {
            title: "left by an interrupted run".into(),
            description: "d".into(),
            tags: old_tags.iter().map(|t| t.to_string()).collect(),
        })
        .await
        .unwrap();
    let named = user
        .create_case(&NewCase {
            title: "named by a scenario".into(),
            description: "d".into(),
            tags: vec![],
        })
        .await
        .unwrap();
    let left = add(&user, named.id(), "1.1.1.1", &old_tags).await;
    let foreign = add(&user, named.id(), "8.8.8.8", &[]).await;
    // Goes with its case: neither run may count it among the observables left elsewhere.
    let inside = add(&user, old.id(), "2.2.2.2", &old_tags).await;
    let cleanup_run = |extra: &[&str]| {
        hivecheck_command()
            .args(["cleanup", "--url", &emulator.base_url(), "--org", "demo"])
            .args(["--user", "analyst@thehive.local", "--older-than", "2d"])
            .args(extra)
            .env("THEHIVE_PASSWORD", &emulator.config().analyst_password)
            .output()
            .unwrap()
    };

    let dry = cleanup_run(&["--dry-run"]);
    let dry_text = String::from_utf8_lossy(&dry.stdout).into_owned();
    let dry_kept =
        user.get_case(old.id()).await.is_ok() && user.get_observable(&left).await.is_ok();
    let done = cleanup_run(&[]);
    let done_text = String::from_utf8_lossy(&done.stdout).into_owned();

    assert_eq!(dry.status.code(), Some(0), "{dry_text}");
    assert!(
        dry_text.contains(&format!("would delete   case       {}", old.id())),
        "{dry_text}"
    );
    assert!(
        dry_text.contains(&format!("would delete   observable {left} ip 1.1.1.1")),
        "{dry_text}"
    );
    assert!(dry_kept, "a dry run deletes nothing");
    assert!(
        dry_text.contains(
            "cleanup: 1 of 1 hivecheck cases and 1 of 1 hivecheck observables in other cases would be deleted"
        ),
        "the preview counts what the deletion will: {dry_text}"
    );
    assert!(!dry_text.contains(&inside), "{dry_text}");
    assert_eq!(done.status.code(), Some(0), "{done_text}");
    assert!(
        done_text.contains(
            "cleanup: 1 of 1 hivecheck cases and 1 of 1 hivecheck observables in other cases deleted"
        ),
        "{done_text}"
    );
    assert!(user.get_case(old.id()).await.is_err());
    assert!(user.get_observable(&left).await.is_err());
    assert!(user.get_case(named.id()).await.is_ok());
    assert!(user.get_observable(&foreign).await.is_ok());
    assert!(
        !done_text.contains(&foreign),
        "an untagged observable is not even listed"
    );
}

#[test]
fn cleanup_command_without_a_target_is_a_usage_error() {
    let output = hivecheck_command().args(["cleanup"]).output().unwrap();

    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("cleanup needs a target"), "{text}");
}
