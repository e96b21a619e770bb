//! Run-scoped clean-up: a run deletes the cases it created, and `cleanup` removes what
//! interrupted runs left, by tag, touching nothing else.

use std::time::Duration;

use hivecheck::cleanup::{Fate, cleanup};
use hivecheck::client::NewCase;
use hivecheck::emulator::{EmulatorConfig, Profile};

use crate::support::{self, context, fast_config, run, scenario, start, target};

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

    let dry = cleanup(&user, Duration::from_secs(2 * 86400), true)
        .await
        .unwrap();
    assert!(
        dry.iter()
            .any(|c| c.id == old.id() && c.fate == Fate::Deleted)
    );
    assert!(
        user.get_case(old.id()).await.is_ok(),
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
    cleanup_keeps_what_is_not_old_and_ours(EmulatorConfig {
        profile: Profile::TheHive5,
        ..fast_config()
    })
    .await;
}
