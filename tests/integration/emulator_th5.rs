//! Integration tests of the emulator's TheHive 5 profile: the OpenAPI 5.7.3 shapes, the
//! TheHive 5 quirks (authenticated `/api/v1/status`, unknown analyzers accepted), and the
//! official TheHive4py 2.x client driving the whole workflow through
//! `tests/thehive4py/drive_emulator.py`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hivecheck::emulator::{Emulator, EmulatorConfig, Latency, Profile};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "analyst-th5-key-0123456789abcdef";
const PASSWORD: &str = "analyst-th5-pass";

/// The TheHive4py release the script was verified with.
const THEHIVE4PY: &str = "thehive4py==2.1.0";

fn th5_config() -> EmulatorConfig {
    EmulatorConfig {
        profile: Profile::TheHive5,
        analyst_key: KEY.to_owned(),
        analyst_password: PASSWORD.to_owned(),
        job_latency: Latency {
            min: Duration::from_millis(40),
            max: Duration::from_millis(120),
        },
        refresh_delay: Duration::from_millis(50),
        ..EmulatorConfig::default()
    }
}

struct Fixture {
    emulator: Emulator,
    http: Client,
}

impl Fixture {
    async fn start() -> Self {
        let emulator = Emulator::start(th5_config())
            .await
            .expect("emulator starts");
        Self {
            emulator,
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    fn admin(&self, builder: RequestBuilder) -> RequestBuilder {
        builder
            .basic_auth("admin@thehive.local", Some("secret"))
            .header("X-Organisation", "admin")
    }

    async fn send(builder: RequestBuilder) -> (StatusCode, Value) {
        let response: Response = builder.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::send(self.http.get(self.url(path)).bearer_auth(KEY)).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::send(self.http.post(self.url(path)).bearer_auth(KEY).json(&body)).await
    }

    async fn observable(&self, data: &str) -> Value {
        let (status, case) = self
            .post("/api/v1/case", json!({"title": "t", "description": "d"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{case}");
        let path = format!("/api/v1/case/{}/observable", case["_id"].as_str().unwrap());
        let (status, created) = self
            .post(&path, json!({"dataType": "ip", "data": data, "pap": 1}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created[0].clone()
    }

    /// Polls a job until it is `Success` or `Failure`.
    async fn finished(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, job) = self
                .get(&format!("/api/v1/connector/cortex/job/{job_id}"))
                .await;
            if job["status"] == "Success" || job["status"] == "Failure" {
                return job;
            }
            assert!(Instant::now() < deadline, "job never finished: {job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn th5_status_needs_authentication_but_public_and_legacy_status_do_not() {
    let fx = Fixture::start().await;

    let (anonymous, _) = Fixture::send(fx.http.get(fx.url("/api/v1/status"))).await;
    let (authenticated, status) = fx.get("/api/v1/status").await;
    let (public_code, public) = Fixture::send(fx.http.get(fx.url("/api/v1/status/public"))).await;
    let (legacy_code, legacy) = Fixture::send(fx.http.get(fx.url("/api/status"))).await;

    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    assert_eq!(authenticated, StatusCode::OK);
    assert_eq!(status["version"], "5.7.5-1");
    assert_eq!(
        status["connectors"]["cortex"]["servers"][0]["name"],
        "cortex0"
    );
    assert!(status["license"]["expiresAt"].is_u64(), "{status}");
    assert_eq!(public_code, StatusCode::OK);
    assert_eq!(public["version"], "5.7.5-1");
    assert_eq!(public["sso"], false);
    assert_eq!(legacy_code, StatusCode::OK);
    assert_eq!(legacy["versions"]["TheHive"], "5.7.5-1");
    assert_eq!(keys(&legacy), vec!["config", "versions"]);
}

#[tokio::test]
async fn th5_licence_is_a_trial_fallback_expiring_in_the_future() {
    let fx = Fixture::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    let (status, licence) =
        Fixture::send(fx.admin(fx.http.get(fx.url("/api/v1/license/current")))).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(licence["notFound"], true);
    let expires = licence["fallback"]["expiresAt"]
        .as_u64()
        .expect("expiresAt");
    assert!(expires > now_ms + 13 * 24 * 3600 * 1000, "{licence}");
    for key in [
        "_id",
        "_createdAt",
        "_createdBy",
        "_type",
        "id",
        "customer",
        "plan",
        "kind",
        "validFrom",
        "current",
        "quotas",
    ] {
        assert!(
            licence["fallback"].get(key).is_some(),
            "{key} missing: {licence}"
        );
    }
}

#[tokio::test]
async fn th5_current_user_has_type_and_default_organisation() {
    let fx = Fixture::start().await;

    let (status, user) = fx.get("/api/v1/user/current").await;
    let (login_status, login) = Fixture::send(
        fx.http
            .post(fx.url("/api/v1/login"))
            .json(&json!({"user": "analyst@thehive.local", "password": PASSWORD})),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["type"], "Normal");
    assert_eq!(user["defaultOrganisation"], "demo");
    assert_eq!(user["organisation"], "demo");
    assert_eq!(user["organisations"][0]["organisation"], "demo");
    assert!(
        user["organisations"][0]["organisationId"]
            .as_str()
            .is_some_and(|id| id.starts_with('~'))
    );
    assert_eq!(login_status, StatusCode::OK);
    assert_eq!(login["login"], "analyst@thehive.local");
}

#[tokio::test]
async fn th5_observable_and_case_have_the_openapi_shapes() {
    let fx = Fixture::start().await;

    let observable = fx.observable("8.8.4.4").await;
    let (status, read) = fx
        .get(&format!(
            "/api/v1/observable/{}",
            observable["_id"].as_str().unwrap()
        ))
        .await;
    let (_, case) = fx
        .post(
            "/api/v1/case",
            json!({"title": "t", "description": "d", "severity": 3, "tlp": 3}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        keys(&read),
        vec![
            "_createdAt",
            "_createdBy",
            "_id",
            "_type",
            "data",
            "dataType",
            "external",
            "extraData",
            "ignoreSimilarity",
            "ioc",
            "pap",
            "papLabel",
            "reports",
            "sighted",
            "startDate",
            "tags",
            "tlp",
            "tlpLabel",
        ]
    );
    assert_eq!(read["_type"], "Observable");
    assert_eq!(read["tlpLabel"], "AMBER");
    assert_eq!(read["pap"], 1);
    assert_eq!(read["papLabel"], "GREEN");
    assert_eq!(case["status"], "New");
    assert_eq!(case["stage"], "New");
    assert_eq!(case["severityLabel"], "HIGH");
    assert_eq!(case["tlpLabel"], "AMBER+STRICT");
    assert_eq!(case["access"]["_kind"], "OrganisationAccessKind");
}

#[tokio::test]
async fn th5_job_has_ids_and_end_date_only_once_finished() {
    let fx = Fixture::start().await;
    let observable = fx.observable("8.8.8.8").await;

    let (status, job) = fx
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex0", "artifactId": observable["_id"]}),
        )
        .await;
    let finished = fx.finished(job["_id"].as_str().unwrap()).await;
    let (_, read) = fx
        .get(&format!(
            "/api/v1/observable/{}",
            observable["_id"].as_str().unwrap()
        ))
        .await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(job["_type"], "case_artifact_job");
    assert_eq!(job["_id"], job["id"]);
    assert_eq!(job["_createdBy"], "analyst@thehive.local");
    assert!(job.get("endDate").is_none(), "{job}");
    assert!(job.get("report").is_none(), "{job}");
    assert_eq!(finished["status"], "Success");
    assert!(finished["endDate"].is_u64(), "{finished}");
    assert_eq!(finished["report"]["success"], true);
    assert!(
        read["reports"]["AbuseIPDB_1_0"]["taxonomies"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
}

#[tokio::test]
async fn th5_unknown_cortex_or_analyzer_is_accepted_then_fails() {
    let fx = Fixture::start().await;
    let observable = fx.observable("1.1.1.1").await;

    let (dummy_status, dummy) = fx
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "dummy-analyzer", "cortexId": "dummy-cortex", "artifactId": observable["_id"]}),
        )
        .await;
    let (unknown_status, unknown) = fx
        .post(
            "/api/v1/connector/cortex/job",
            json!({"analyzerId": "NoSuchAnalyzer_1_0", "cortexId": "cortex0", "artifactId": observable["_id"]}),
        )
        .await;
    let dummy_done = fx.finished(dummy["_id"].as_str().unwrap()).await;
    let unknown_done = fx.finished(unknown["_id"].as_str().unwrap()).await;

    assert_eq!(dummy_status, StatusCode::CREATED, "{dummy}");
    assert_eq!(dummy["status"], "Waiting");
    assert_eq!(dummy["cortexId"], "dummy-cortex");
    assert_eq!(unknown_status, StatusCode::CREATED, "{unknown}");
    assert_eq!(dummy_done["status"], "Failure");
    assert_eq!(
        dummy_done["report"],
        json!({"errorMessage": "Cortex dummy-cortex not found", "success": false})
    );
    assert_eq!(unknown_done["status"], "Failure");
    assert_eq!(
        unknown_done["report"]["errorMessage"],
        "Analyzer NoSuchAnalyzer_1_0 not found"
    );
}

#[tokio::test]
async fn th5_missing_job_attributes_and_unknown_observable_still_fail() {
    let fx = Fixture::start().await;

    let (missing, body) = fx.post("/api/v1/connector/cortex/job", json!({})).await;
    let (unknown, not_found) = fx
        .post(
            "/api/v1/connector/cortex/job",
            json!({"analyzerId": "a", "cortexId": "c", "artifactId": "~999999"}),
        )
        .await;

    assert_eq!(missing, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], "AttributeCheckingError");
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(not_found["message"], "Observable not found");
}

#[tokio::test]
async fn th5_bulk_jobs_and_query_listing_leave_reports_out() {
    let fx = Fixture::start().await;
    let first = fx.observable("9.9.9.9").await;
    let second = fx.observable("8.8.8.8").await;

    let (bulk_status, bulk) = fx
        .post(
            "/api/v1/connector/cortex/job/_bulk",
            json!({"jobs": [
                {"analyzerId": "AbuseIPDB_2_0", "cortexId": "cortex0", "artifactId": first["_id"]},
                {"analyzerId": "AbuseIPDB_2_0", "cortexId": "cortex0", "artifactId": second["_id"]},
            ]}),
        )
        .await;
    let first_job = bulk[0]["_id"].as_str().unwrap().to_owned();
    fx.finished(&first_job).await;
    let (_, by_id) = fx
        .post(
            "/api/v1/query",
            json!({"query": [{"_name": "listJob"}, {"_name": "filter", "_id": first_job}]}),
        )
        .await;
    let paged = fx
        .http
        .post(fx.url("/api/v1/query"))
        .bearer_auth(KEY)
        .json(&json!({"query": [
            {"_name": "getObservable", "idOrName": second["_id"]},
            {"_name": "jobs"},
            {"_name": "sort", "_fields": [{"startDate": "desc"}]},
            {"_name": "page", "from": 0, "to": 10, "extraData": []},
        ]}))
        .send()
        .await
        .expect("request");
    let total = paged.headers().get("x-total").cloned();
    let paged: Value = paged.json().await.expect("json");
    let (_, count) = fx
        .post(
            "/api/v1/query",
            json!({"query": [{"_name": "listJob"}, {"_name": "filter", "_eq": {"_field": "analyzerName", "_value": "AbuseIPDB_2_0"}}, {"_name": "count"}]}),
        )
        .await;
    let (bad_status, bad) = fx
        .post(
            "/api/v1/query",
            json!({"query": [{"_name": "listNothing"}]}),
        )
        .await;

    assert_eq!(bulk_status, StatusCode::CREATED);
    assert_eq!(bulk.as_array().map(Vec::len), Some(2));
    assert_eq!(by_id.as_array().map(Vec::len), Some(1), "{by_id}");
    assert_eq!(by_id[0]["_id"], first_job.as_str());
    assert_eq!(by_id[0]["status"], "Success");
    assert!(by_id[0].get("report").is_none(), "{by_id}");
    assert_eq!(paged.as_array().map(Vec::len), Some(1), "{paged}");
    assert_eq!(paged[0]["_id"], bulk[1]["_id"]);
    assert_eq!(total.as_ref().and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(count, json!(2));
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["type"], "AttributeCheckingError");
}

#[tokio::test]
async fn th5_admin_creates_organisation_user_memberships_and_key() {
    let fx = Fixture::start().await;

    let (org_status, org) = Fixture::send(
        fx.admin(fx.http.post(fx.url("/api/v1/organisation")))
            .json(&json!({"name": "soc", "description": "second"})),
    )
    .await;
    let (user_status, user) =
        Fixture::send(fx.admin(fx.http.post(fx.url("/api/v1/user"))).json(&json!({
            "login": "bot@thehive.local", "name": "Bot", "profile": "analyst",
            "organisation": "demo", "type": "Service"
        })))
        .await;
    let user_id = user["_id"].as_str().unwrap().to_owned();
    let (set_status, set) = Fixture::send(
        fx.admin(
            fx.http
                .put(fx.url(&format!("/api/v1/user/{user_id}/organisations"))),
        )
        .json(&json!({"organisations": [
            {"organisation": "demo", "profile": "analyst"},
            {"organisation": "soc", "profile": "org-admin", "default": true},
        ]})),
    )
    .await;
    let renewed = fx
        .admin(
            fx.http
                .post(fx.url(&format!("/api/v1/user/{user_id}/key/renew"))),
        )
        .send()
        .await
        .expect("request");
    let content_type = renewed.headers().get("content-type").cloned();
    let key = renewed.text().await.expect("key");
    let (me_status, me) = Fixture::send(
        fx.http
            .get(fx.url("/api/v1/user/current"))
            .bearer_auth(&key),
    )
    .await;
    let (denied, _) = fx
        .post(
            "/api/v1/organisation",
            json!({"name": "x", "description": "y"}),
        )
        .await;

    assert_eq!(org_status, StatusCode::CREATED, "{org}");
    assert_eq!(org["_type"], "Organisation");
    assert_eq!(user_status, StatusCode::CREATED, "{user}");
    assert_eq!(user["type"], "Service");
    assert_eq!(set_status, StatusCode::OK, "{set}");
    assert_eq!(
        set,
        json!({"organisations": [
            {"organisation": "soc", "profile": "org-admin", "default": true},
            {"organisation": "demo", "profile": "analyst", "default": false},
        ]})
    );
    assert!(
        content_type
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"))
    );
    assert_eq!(me_status, StatusCode::OK, "{me}");
    assert_eq!(me["organisation"], "soc");
    assert_eq!(me["defaultOrganisation"], "soc");
    assert_eq!(denied, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn th5_has_no_v0_case_routes_but_keeps_the_legacy_connector() {
    let fx = Fixture::start().await;

    let (v0_case, body) = fx
        .post("/api/case", json!({"title": "t", "description": "d"}))
        .await;
    let (legacy, analyzers) = fx.get("/api/connector/cortex/analyzer").await;
    let (v1, v1_analyzers) = fx.get("/api/v1/connector/cortex/analyzer/type/ip").await;

    assert_eq!(v0_case, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "/api/case");
    assert_eq!(legacy, StatusCode::OK);
    assert_eq!(analyzers.as_array().map(Vec::len), Some(2));
    assert_eq!(v1, StatusCode::OK);
    assert_eq!(v1_analyzers, analyzers);
}

/// A Python interpreter with the pinned TheHive4py: `target/thehive4py-venv` when it exists
/// (fast local loops), else a fresh venv under `scratch`.
fn thehive4py_python(scratch: &Path) -> PathBuf {
    let cached = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/thehive4py-venv");
    let venv = if cached.join("bin/python").exists() {
        cached
    } else {
        let venv = scratch.join("venv");
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .expect("python3 must be installed to run the TheHive4py test");
        assert!(
            made.status.success(),
            "python3 -m venv failed: {}",
            describe(&made)
        );
        venv
    };
    let python = venv.join("bin/python");
    let pip = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            THEHIVE4PY,
        ])
        .output()
        .expect("the venv's python runs");
    // CI has PyPI access; without it this test must fail rather than pass silently.
    assert!(
        pip.status.success(),
        "`pip install {THEHIVE4PY}` failed (no network or no PyPI access?): {}",
        describe(&pip)
    );
    python
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thehive4py_drives_the_thehive5_profile() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let python = {
        let dir = scratch.path().to_owned();
        tokio::task::spawn_blocking(move || thehive4py_python(&dir))
            .await
            .expect("venv set-up")
    };
    let fx = Fixture::start().await;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/thehive4py/drive_emulator.py");

    let mut command = Command::new(&python);
    command
        .arg(script)
        .env("THEHIVE_URL", fx.emulator.base_url())
        .env("THEHIVE_ORG", &fx.emulator.config().org)
        .env("THEHIVE_USER", &fx.emulator.config().analyst_login)
        .env("THEHIVE_PASSWORD", PASSWORD)
        .env("THEHIVE_ADMIN_USER", &fx.emulator.config().admin_login)
        .env(
            "THEHIVE_ADMIN_PASSWORD",
            &fx.emulator.config().admin_password,
        )
        .env("THEHIVE_JOB_TIMEOUT", "20");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("script task")
        .expect("the script starts");

    assert!(
        output.status.success(),
        "drive_emulator.py failed: {}",
        describe(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("all thehive4py checks passed"),
        "{}",
        describe(&output)
    );
}
