//! Integration tests of the built-in emulator: each test starts its own emulator on
//! `127.0.0.1:0` and talks to it over HTTP as the harness would.

use std::time::{Duration, Instant};

use hivecheck::emulator::{Emulator, EmulatorConfig, Latency};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "analyst-test-key-0123456789abcdef";
const ADMIN_KEY: &str = "admin-test-key-0123456789abcdef0";

fn fast_config() -> EmulatorConfig {
    EmulatorConfig {
        analyst_key: KEY.to_owned(),
        analyst_password: "analyst-pass".to_owned(),
        admin_key: Some(ADMIN_KEY.to_owned()),
        job_latency: Latency {
            min: Duration::from_millis(40),
            max: Duration::from_millis(120),
        },
        refresh_delay: Duration::from_millis(50),
        notification_delay: Duration::from_millis(50),
        ..EmulatorConfig::default()
    }
}

struct Fixture {
    emulator: Emulator,
    http: Client,
}

impl Fixture {
    async fn start() -> Self {
        Self::with(fast_config()).await
    }

    async fn with(config: EmulatorConfig) -> Self {
        let emulator = Emulator::start(config).await.expect("emulator starts");
        let http = Client::builder()
            .cookie_store(true)
            .build()
            .expect("client");
        Self { emulator, http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(KEY)
            .send()
            .await
            .expect("request")
    }

    async fn post(&self, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    async fn case(&self) -> String {
        let response = self
            .post(
                "/api/case",
                json!({"title": "t", "description": "d", "tags": ["x"]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let case: Value = response.json().await.expect("json");
        case["_id"].as_str().expect("case id").to_owned()
    }

    async fn observable(&self, case_id: &str, data: &str) -> String {
        let response = self
            .post(
                &format!("/api/case/{case_id}/artifact"),
                json!({"dataType": "ip", "data": data}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("json");
        created[0]["_id"]
            .as_str()
            .expect("observable id")
            .to_owned()
    }

    async fn run(&self, observable_id: &str, analyzer: &str) -> Value {
        let response = self
            .post(
                "/api/connector/cortex/job",
                json!({"analyzerId": analyzer, "cortexId": "cortex0", "artifactId": observable_id}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.expect("json")
    }

    /// Polls a job until it is finished with its report (or failed), as the harness does.
    async fn finished(&self, job_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let job: Value = self
                .get(&format!("/api/connector/cortex/job/{job_id}"))
                .await
                .json()
                .await
                .expect("json");
            let status = job["status"].as_str().unwrap_or("");
            if (status == "Success" && job.get("report").is_some()) || status == "Failure" {
                return job;
            }
            assert!(Instant::now() < deadline, "job never finished: {job}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn login_opens_a_session_and_rejects_bad_passwords() {
    let fx = Fixture::start().await;

    let ok = fx
        .http
        .post(fx.url("/api/login"))
        .json(&json!({"user": "analyst@thehive.local", "password": "analyst-pass"}))
        .send()
        .await
        .expect("request");
    let cookie = ok
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let user: Value = ok.json().await.expect("json");
    let current = fx
        .http
        .get(fx.url("/api/user/current"))
        .send()
        .await
        .expect("request");
    let current_org = current.headers().get("x-organisation").cloned();
    let bad = fx
        .http
        .post(fx.url("/api/login"))
        .json(&json!({"user": "admin", "password": "wrong"}))
        .send()
        .await
        .expect("request");

    assert!(cookie.starts_with("THEHIVE-SESSION="), "{cookie}");
    assert_eq!(user["organisation"], "demo");
    assert_eq!(user["_type"], "user");
    assert_eq!(current.status(), StatusCode::OK);
    assert_eq!(
        current_org.as_ref().and_then(|v| v.to_str().ok()),
        Some("demo")
    );
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad.json::<Value>().await.expect("json"),
        json!({"type": "AuthenticationError", "message": "Authentication failure"})
    );
}

#[tokio::test]
async fn current_user_without_credentials_is_a_plain_authentication_error() {
    let fx = Fixture::start().await;

    let anonymous = fx
        .http
        .get(fx.url("/api/user/current"))
        .send()
        .await
        .expect("request");
    let from_ui = fx
        .http
        .get(fx.url("/api/user/current"))
        .header("Referer", "http://ui.example/")
        .bearer_auth("wrong-key")
        .send()
        .await
        .expect("request");

    // TH4 v0 `UserCtrl.current` only answers `X-Logout` once authentication succeeded.
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().get("x-logout").is_none());
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"thehive\"")
    );
    let body: Value = anonymous.json().await.expect("json body");
    assert_eq!(
        body,
        json!({"type": "AuthenticationError", "message": "Authentication failure"})
    );
    assert_eq!(from_ui.status(), StatusCode::UNAUTHORIZED);
    assert!(from_ui.headers().get("www-authenticate").is_none());
    assert!(from_ui.headers().get("x-logout").is_none());
}

#[tokio::test]
async fn only_the_british_organisation_header_switches_org() {
    let fx = Fixture::start().await;
    let admin_get = |header: &'static str| {
        fx.http
            .get(fx.url("/api/user/current"))
            .bearer_auth(ADMIN_KEY)
            .header(header, "demo")
            .send()
    };

    let american = admin_get("X-Organization").await.expect("request");
    let british = admin_get("X-Organisation").await.expect("request");
    let analyst_elsewhere = fx
        .http
        .get(fx.url("/api/user/current"))
        .bearer_auth(KEY)
        .header("X-Organisation", "admin")
        .send()
        .await
        .expect("request");

    let american: Value = american.json().await.expect("json");
    let british: Value = british.json().await.expect("json");
    assert_eq!(american["organisation"], "admin");
    assert_eq!(british["organisation"], "demo");
    assert_eq!(analyst_elsewhere.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_and_basic_authenticate_and_failures_challenge() {
    let fx = Fixture::start().await;

    let bearer = fx.get("/api/user/current").await;
    let basic = fx
        .http
        .get(fx.url("/api/case/1"))
        .basic_auth("analyst", Some("analyst-pass"))
        .send()
        .await
        .expect("request");
    let bad_basic = fx
        .http
        .get(fx.url("/api/connector/cortex/analyzer"))
        .basic_auth("analyst", Some("nope"))
        .send()
        .await
        .expect("request");
    let with_referer = fx
        .http
        .get(fx.url("/api/connector/cortex/analyzer"))
        .header("Referer", "http://ui")
        .send()
        .await
        .expect("request");

    assert_eq!(bearer.status(), StatusCode::OK);
    // Authenticated, so the unknown case is a 404 and not a 401.
    assert_eq!(basic.status(), StatusCode::NOT_FOUND);
    assert_eq!(bad_basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        bad_basic
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Basic realm=\"thehive\"")
    );
    assert_eq!(with_referer.status(), StatusCode::UNAUTHORIZED);
    assert!(with_referer.headers().get("www-authenticate").is_none());
}

#[tokio::test]
async fn unknown_routes_answer_not_found_with_the_path() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "8.8.8.8").await;
    let path = format!("/api/case/artifact/{obs}/job");

    let authed = fx.get(&format!("{path}?range=all")).await;
    let anonymous = fx
        .http
        .get(fx.url("/api/nothing/here"))
        .send()
        .await
        .expect("request");

    assert_eq!(authed.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        authed.json::<Value>().await.expect("json"),
        json!({"type": "NotFoundError", "message": path})
    );
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        anonymous.json::<Value>().await.expect("json")["message"],
        "/api/nothing/here"
    );
}

#[tokio::test]
async fn malformed_json_is_rejected_before_authentication() {
    let fx = Fixture::start().await;

    let response = fx
        .http
        .post(fx.url("/api/case"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "BadRequest");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("Invalid Json")
    );
}

#[tokio::test]
async fn observables_are_created_as_an_array_and_duplicates_give_207() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let path = format!("/api/case/{case_id}/artifact");

    let first = fx
        .post(
            &path,
            json!({"dataType": "ip", "data": ["1.2.3.4", "5.6.7.8"], "tlp": 1}),
        )
        .await;
    let first_status = first.status();
    let first: Value = first.json().await.expect("json");
    let again = fx
        .post(
            &path,
            json!({"dataType": "ip", "data": ["1.2.3.4", "9.9.9.9"]}),
        )
        .await;
    let again_status = again.status();
    let again: Value = again.json().await.expect("json");
    let unknown_type = fx
        .post(&path, json!({"dataType": "nope", "data": "x"}))
        .await;

    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(first.as_array().map(Vec::len), Some(2));
    assert_eq!(first[0]["_type"], "case_artifact");
    assert_eq!(first[0]["tlp"], 1);
    assert_eq!(first[0]["reports"], json!({}));
    assert_eq!(again_status, StatusCode::MULTI_STATUS);
    assert_eq!(again["success"][0]["data"], "9.9.9.9");
    assert_eq!(
        again["failure"],
        json!([{"type": "CreateError", "message": "Observable already exists",
                "object": {"data": "1.2.3.4"}}])
    );
    assert_eq!(unknown_type.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown_type.json::<Value>().await.expect("json")["message"],
        "ObservableType nope not found"
    );
}

#[tokio::test]
async fn job_creation_errors_follow_thehive() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "8.8.4.4").await;

    let empty = fx.post("/api/connector/cortex/job", json!({})).await;
    let no_cortex = fx
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "artifactId": obs}),
        )
        .await;
    let unknown_cortex = fx
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex9", "artifactId": obs}),
        )
        .await;
    let unknown_analyzer = fx
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "Nope_1_0", "cortexId": "cortex0", "artifactId": obs}),
        )
        .await;
    let unknown_observable = fx
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex0", "artifactId": "~1"}),
        )
        .await;

    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let empty: Value = empty.json().await.expect("json");
    assert_eq!(empty["type"], "AttributeCheckingError");
    assert_eq!(
        empty["message"],
        "[Attribute artifactId is missing][Attribute cortexId is missing][Attribute analyzerId is missing]"
    );
    assert_eq!(
        no_cortex.json::<Value>().await.expect("json")["errors"],
        json!([{"name": "cortexId", "type": "MissingAttributeError"}])
    );
    assert_eq!(unknown_cortex.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown_cortex.json::<Value>().await.expect("json")["message"],
        "Cortex cortex9 not found"
    );
    assert_eq!(unknown_analyzer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        unknown_analyzer.json::<Value>().await.expect("json")["type"],
        "org.thp.client.ApplicationError"
    );
    assert_eq!(unknown_observable.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_in_its_own_org_may_not_run_analyzers() {
    let fx = Fixture::start().await;

    let response = fx
        .http
        .post(fx.url("/api/connector/cortex/job"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"analyzerId": "a", "cortexId": "cortex0", "artifactId": "~1"}))
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.json::<Value>().await.expect("json")["message"],
        "Job creation not allowed"
    );
}

#[tokio::test]
async fn job_goes_from_waiting_to_success_and_fills_observable_reports() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.1.7.9").await;
    let analyzers: Value = fx
        .get("/api/connector/cortex/analyzer?range=all")
        .await
        .json()
        .await
        .expect("json");
    let worker_id = analyzers[0]["id"].as_str().expect("id").to_owned();

    let created = fx.run(&obs, &worker_id).await;
    let done = fx.finished(created["id"].as_str().expect("job id")).await;
    let observable: Value = fx
        .get(&format!("/api/case/artifact/{obs}"))
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(analyzers[0]["name"], "AbuseIPDB_1_0");
    assert_eq!(analyzers[0]["cortexIds"], json!(["cortex0"]));
    assert_eq!(created["_type"], "case_artifact_job");
    assert_eq!(created["status"], "Waiting");
    assert!(created.get("report").is_none());
    assert!(created.get("_id").is_none());
    assert_eq!(created["operations"], "[]");
    assert_eq!(done["status"], "Success");
    assert_eq!(done["report"]["success"], true);
    assert!(done["report"].get("summary").is_none());
    assert_eq!(done["report"]["artifacts"], json!([]));
    assert_eq!(
        done["report"]["full"]["values"][0]["data"]["ipAddress"],
        "45.1.7.9"
    );
    let taxonomies = &observable["reports"]["AbuseIPDB_1_0"]["taxonomies"];
    assert!(
        taxonomies
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x["predicate"] == "Records")),
        "{observable}"
    );
}

#[tokio::test]
async fn cache_hit_is_born_success_without_report_then_gets_it() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.2.7.9").await;
    let first = fx.run(&obs, "AbuseIPDB_1_0").await;
    let first_done = fx.finished(first["id"].as_str().expect("id")).await;

    let second = fx.run(&obs, "AbuseIPDB_1_0").await;
    let second_done = fx.finished(second["id"].as_str().expect("id")).await;

    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["cortexJobId"], first["cortexJobId"]);
    assert_eq!(second["status"], "Success");
    assert!(second.get("report").is_none());
    assert_eq!(second_done["report"], first_done["report"]);
}

#[tokio::test]
async fn abuseipdb_versions_use_their_own_predicates() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "10.0.0.1").await;

    let v1 = fx.run(&obs, "AbuseIPDB_1_0").await;
    let v2 = fx.run(&obs, "AbuseIPDB_2_0").await;
    let v2_done = fx.finished(v2["id"].as_str().expect("id")).await;
    fx.finished(v1["id"].as_str().expect("id")).await;
    let observable: Value = fx
        .get(&format!("/api/case/artifact/{obs}"))
        .await
        .json()
        .await
        .expect("json");

    let tax = |name: &str| observable["reports"][name]["taxonomies"].clone();
    assert_eq!(
        tax("AbuseIPDB_1_0"),
        json!([
            {"level": "info", "namespace": "AbuseIPDB", "predicate": "Usage Type", "value": "Reserved"},
            {"level": "safe", "namespace": "AbuseIPDB", "predicate": "Abuse Confidence Score", "value": 0},
            {"level": "safe", "namespace": "AbuseIPDB", "predicate": "Records", "value": 0}
        ])
    );
    assert_eq!(
        tax("AbuseIPDB_2_0"),
        json!([
            {"level": "info", "namespace": "AbuseIPDB", "predicate": "Usage", "value": "Reserved"},
            {"level": "safe", "namespace": "AbuseIPDB", "predicate": "Score", "value": 0},
            {"level": "safe", "namespace": "AbuseIPDB", "predicate": "Reports", "value": 0}
        ])
    );
    // 2.0 names the query type beside `values` (Cortex-Analyzers 48712ecc).
    assert_eq!(v2_done["report"]["full"]["query_type"], "check");
    assert!(
        v2_done["report"]["full"]["values"][0]
            .get("query_type")
            .is_none()
    );
    assert_eq!(
        v2_done["report"]["full"]["values"][0]["data"]["isPublic"],
        false
    );
}

#[tokio::test]
async fn invalid_ip_fails_with_the_abuseipdb_message() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "8.8.8.x").await;

    let job = fx.run(&obs, "AbuseIPDB_1_0").await;
    let done = fx.finished(job["id"].as_str().expect("id")).await;
    let observable: Value = fx
        .get(&format!("/api/case/artifact/{obs}"))
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(done["status"], "Failure");
    assert_eq!(done["report"]["success"], false);
    assert!(
        done["report"]["errorMessage"]
            .as_str()
            .unwrap_or("")
            .starts_with("Unable to query AbuseIPDB API\n"),
        "{done}"
    );
    assert_eq!(observable["reports"], json!({}));
}

#[tokio::test]
async fn notification_config_is_echoed_and_needs_manage_config() {
    let fx = Fixture::start().await;
    let runbook = json!({"endpoints": [], "items": [{"name": "auto", "enabled": true,
        "trigger": {"type": "ArtifactCreated"},
        "action": {"type": "RunAnalyzer", "config": {"analyzers": ["*"]}}}]});

    let analyst_put = fx
        .http
        .put(fx.url("/api/config/organisation/notification"))
        .bearer_auth(KEY)
        .json(&json!({"value": runbook}))
        .send()
        .await
        .expect("request");
    let admin_put = fx
        .http
        .put(fx.url("/api/config/organisation/notification"))
        .bearer_auth(ADMIN_KEY)
        .header("X-Organisation", "demo")
        .json(&json!({"value": runbook}))
        .send()
        .await
        .expect("request");
    let admin_put_status = admin_put.status();
    let echoed: Value = admin_put.json().await.expect("json");
    let read: Value = fx
        .get("/api/config/organisation/notification")
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(analyst_put.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        analyst_put.json::<Value>().await.expect("json")["message"],
        "Your are not authorized to set organisation configuration item, you haven't the permission manageConfig"
    );
    assert_eq!(admin_put_status, StatusCode::OK);
    assert_eq!(
        echoed,
        json!({"path": "notification", "defaultValue": [], "value": runbook})
    );
    assert_eq!(read, echoed);
}

async fn set_notification(fx: &Fixture, value: Value) {
    let response = fx
        .http
        .put(fx.url("/api/config/organisation/notification"))
        .bearer_auth(ADMIN_KEY)
        .header("X-Organisation", "demo")
        .json(&json!({ "value": value }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn jobs_of(fx: &Fixture, obs: &str) -> (Vec<Value>, Option<String>) {
    let response = fx
        .post(
            "/api/connector/cortex/job/_search?range=0-200&sort=-startDate",
            json!({"query": {"_and": [{"_parent": {"_type": "case_artifact", "_query": {"_id": obs}}}]}}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let total = response
        .headers()
        .get("x-total")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let jobs: Vec<Value> = response.json().await.expect("json");
    (jobs, total)
}

#[tokio::test]
async fn real_format_run_analyzer_rule_fires_on_observable_creation() {
    let fx = Fixture::start().await;
    set_notification(
        &fx,
        json!([{"delegate": false,
            "trigger": {"name": "FilteredEvent", "filter": {"_and": [
                {"_is": {"action": "create"}}, {"_is": {"objectType": "Observable"}}]}},
            "notifier": {"name": "RunAnalyzer", "analyzerName": "AbuseIPDB_2_0"}}]),
    )
    .await;
    let case_id = fx.case().await;

    let obs = fx.observable(&case_id, "45.3.7.9").await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let (jobs, total) = jobs_of(&fx, &obs).await;
    let done = fx.finished(jobs[0]["id"].as_str().expect("id")).await;
    let query: Vec<Value> = fx
        .post(
            "/api/v1/query?name=observable-jobs",
            json!({"query": [{"_name": "getObservable", "idOrName": obs}, {"_name": "jobs"},
                {"_name": "sort", "_fields": [{"startDate": "desc"}]},
                {"_name": "page", "from": 0, "to": 200}]}),
        )
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(jobs.len(), 1);
    assert_eq!(total.as_deref(), Some("1"));
    assert_eq!(jobs[0]["analyzerName"], "AbuseIPDB_2_0");
    assert_eq!(done["status"], "Success");
    assert_eq!(query.len(), 1);
    assert_eq!(query[0]["id"], jobs[0]["id"]);
}

#[tokio::test]
async fn runbook_rule_is_stored_but_never_fires() {
    let fx = Fixture::start().await;
    set_notification(
        &fx,
        json!({"endpoints": [], "items": [{"name": "auto", "enabled": true,
            "trigger": {"type": "ArtifactCreated"},
            "action": {"type": "RunAnalyzer", "config": {"connectorName": "cortex0",
                "analyzers": ["*"], "maxParallel": 2, "timeout": 60}}}]}),
    )
    .await;
    let case_id = fx.case().await;

    let obs = fx.observable(&case_id, "45.4.7.9").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (jobs, total) = jobs_of(&fx, &obs).await;

    assert!(jobs.is_empty(), "{jobs:?}");
    assert_eq!(total.as_deref(), Some("0"));
}

#[tokio::test]
async fn lookup_bug_mode_never_runs_notification_analyzers() {
    let fx = Fixture::with(EmulatorConfig {
        emulate_runanalyzer_lookup_bug: true,
        ..fast_config()
    })
    .await;
    set_notification(
        &fx,
        json!([{"delegate": false, "trigger": {"name": "AnyEvent"},
            "notifier": {"name": "RunAnalyzer", "analyzerName": "AbuseIPDB_1_0"}}]),
    )
    .await;
    let case_id = fx.case().await;

    let obs = fx.observable(&case_id, "45.5.7.9").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (jobs, _) = jobs_of(&fx, &obs).await;

    assert!(jobs.is_empty());
}

#[tokio::test]
async fn search_by_parent_only_returns_that_observables_jobs() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let a = fx.observable(&case_id, "45.6.7.9").await;
    let b = fx.observable(&case_id, "45.7.7.9").await;
    fx.run(&a, "AbuseIPDB_1_0").await;
    fx.run(&a, "AbuseIPDB_2_0").await;
    fx.run(&b, "AbuseIPDB_1_0").await;

    let (jobs, total) = jobs_of(&fx, &a).await;
    let short_form: Vec<Value> = fx
        .post(
            "/api/connector/cortex/job/_search",
            json!({"query": {"_parent": {"_type": "case_artifact", "_id": b}}}),
        )
        .await
        .json()
        .await
        .expect("json");
    let bad = fx
        .post(
            "/api/connector/cortex/job/_search",
            json!({"query": {"_regexp": {"status": "S.*"}}}),
        )
        .await;

    assert_eq!(jobs.len(), 2);
    assert_eq!(total.as_deref(), Some("2"));
    assert_eq!(short_form.len(), 1);
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn context_path_prefixes_every_route() {
    let fx = Fixture::with(EmulatorConfig {
        context_path: "/thehive".to_owned(),
        ..fast_config()
    })
    .await;

    let status = fx
        .http
        .get(fx.url("/api/status"))
        .send()
        .await
        .expect("request");
    let body: Value = status.json().await.expect("json");

    assert!(fx.emulator.base_url().ends_with("/thehive"));
    assert_eq!(
        body["connectors"]["cortex"]["servers"][0]["name"],
        "cortex0"
    );
}

#[tokio::test]
async fn deleted_case_is_gone_with_its_observables() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.8.7.9").await;

    let deleted = fx
        .http
        .delete(fx.url(&format!("/api/case/{case_id}")))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let case = fx.get(&format!("/api/case/{case_id}")).await;
    let observable = fx.get(&format!("/api/case/artifact/{obs}")).await;

    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(case.status(), StatusCode::NOT_FOUND);
    assert_eq!(observable.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn public_address_levels_follow_each_version_rules() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let mut seen_levels = Vec::new();

    for i in 1..=6 {
        let obs = fx.observable(&case_id, &format!("45.{i}.7.9")).await;
        let v1 = fx.run(&obs, "AbuseIPDB_1_0").await;
        let v2 = fx.run(&obs, "AbuseIPDB_2_0").await;
        fx.finished(v1["id"].as_str().expect("id")).await;
        fx.finished(v2["id"].as_str().expect("id")).await;
        let observable: Value = fx
            .get(&format!("/api/case/artifact/{obs}"))
            .await
            .json()
            .await
            .expect("json");
        let find = |analyzer: &str, predicate: &str| {
            observable["reports"][analyzer]["taxonomies"]
                .as_array()
                .and_then(|t| t.iter().find(|x| x["predicate"] == predicate).cloned())
                .unwrap_or_else(|| panic!("{analyzer} {predicate} in {observable}"))
        };

        let v1_score = find("AbuseIPDB_1_0", "Abuse Confidence Score");
        let v2_score = find("AbuseIPDB_2_0", "Score");
        let score = v2_score["value"].as_u64().expect("numeric score");
        let v1_expected = if score > 0 { "suspicious" } else { "safe" };
        let v2_expected = match score {
            75.. => "malicious",
            1.. => "suspicious",
            _ => "safe",
        };
        assert_eq!(v1_score["value"], v2_score["value"]);
        assert_eq!(v1_score["level"], v1_expected);
        assert_eq!(v2_score["level"], v2_expected);
        assert_eq!(
            find("AbuseIPDB_1_0", "Records")["value"],
            find("AbuseIPDB_2_0", "Reports")["value"]
        );
        find("AbuseIPDB_1_0", "Usage Type");
        find("AbuseIPDB_2_0", "Usage");
        seen_levels.push(v2_expected);
    }

    assert!(seen_levels.contains(&"safe"), "{seen_levels:?}");
    assert!(seen_levels.contains(&"malicious"), "{seen_levels:?}");
}

#[tokio::test]
async fn null_and_missing_job_attributes_are_reported_together() {
    let fx = Fixture::start().await;

    let response = fx
        .post(
            "/api/connector/cortex/job",
            json!({"cortexId": null, "artifactId": "~1"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["message"],
        "[Invalid format for cortexId: FNull, expected string (string)][Attribute analyzerId is missing]"
    );
    assert_eq!(body["errors"][0]["type"], "InvalidFormatAttributeError");
    assert_eq!(body["errors"][1]["name"], "analyzerId");
}

#[tokio::test]
async fn v1_case_and_observable_routes_use_v1_shapes() {
    let fx = Fixture::start().await;

    let case: Value = fx
        .post("/api/v1/case", json!({"title": "t", "description": "d"}))
        .await
        .json()
        .await
        .expect("json");
    let case_id = case["_id"].as_str().expect("id").to_owned();
    let created = fx
        .post(
            &format!("/api/v1/case/{case_id}/observable"),
            json!({"dataType": "ip", "data": "45.9.7.9"}),
        )
        .await;
    let created_status = created.status();
    let created: Value = created.json().await.expect("json");
    let obs_id = created[0]["_id"].as_str().expect("id").to_owned();
    let observable: Value = fx
        .get(&format!("/api/v1/observable/{obs_id}"))
        .await
        .json()
        .await
        .expect("json");
    let v0_case: Value = fx
        .get(&format!("/api/case/{}", case["number"]))
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(case["_type"], "Case");
    assert!(case.get("summary").is_none());
    assert_eq!(created_status, StatusCode::CREATED);
    assert_eq!(observable["_type"], "Observable");
    assert!(observable.get("id").is_none());
    assert_eq!(observable["extraData"], json!({}));
    assert_eq!(v0_case["_id"], case["_id"]);
    assert_eq!(v0_case["summary"], Value::Null);
}

/// A new observable with one finished job per analyzer named, run in that order.
async fn observable_with_jobs(fx: &Fixture, analyzers: &[&str]) -> String {
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.1.7.9").await;
    for analyzer in analyzers {
        let job = fx.run(&obs, analyzer).await;
        fx.finished(job["id"].as_str().expect("id")).await;
    }
    obs
}

async fn search_jobs(
    fx: &Fixture,
    obs: &str,
    query_string: &str,
) -> (StatusCode, Value, Option<String>) {
    let response = fx
        .post(
            &format!("/api/connector/cortex/job/_search{query_string}"),
            json!({"query": {"_parent": {"_type": "case_artifact", "_id": obs}}}),
        )
        .await;
    let status = response.status();
    let total = response
        .headers()
        .get("x-total")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, response.json().await.expect("json"), total)
}

#[tokio::test]
async fn curl_form_and_text_bodies_give_missing_attributes() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.2.7.9").await;
    let json_text =
        json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex0", "artifactId": obs})
            .to_string();
    let missing_all = json!([
        {"name": "artifactId", "type": "MissingAttributeError"},
        {"name": "cortexId", "type": "MissingAttributeError"},
        {"name": "analyzerId", "type": "MissingAttributeError"},
    ]);

    let mut answers = Vec::new();
    // `curl -d '{json}'` sends the JSON as a form, and a text body is ignored.
    for content_type in ["application/x-www-form-urlencoded", "text/plain"] {
        let response = fx
            .http
            .post(fx.url("/api/connector/cortex/job"))
            .bearer_auth(KEY)
            .header("Content-Type", content_type)
            .body(json_text.clone())
            .send()
            .await
            .expect("request");
        answers.push((
            response.status(),
            response.json::<Value>().await.expect("json"),
        ));
    }
    let with_charset = fx
        .http
        .post(fx.url("/api/connector/cortex/job"))
        .bearer_auth(KEY)
        .header("Content-Type", "Application/JSON; charset=UTF-8")
        .body(json_text.clone())
        .send()
        .await
        .expect("request");
    let form_login = fx
        .http
        .post(fx.url("/api/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("user=analyst%40thehive.local&password=analyst-pass")
        .send()
        .await
        .expect("request");

    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["type"], "AttributeCheckingError");
        assert_eq!(body["errors"], missing_all);
    }
    assert_eq!(with_charset.status(), StatusCode::CREATED);
    assert_eq!(form_login.status(), StatusCode::OK);
}

#[tokio::test]
async fn query_string_parameters_win_over_body_fields() {
    let fx = Fixture::start().await;

    let login = fx
        .http
        .post(fx.url("/api/login?password=analyst-pass"))
        .json(&json!({"user": "analyst@thehive.local", "password": "wrong"}))
        .send()
        .await
        .expect("request");
    let obs = observable_with_jobs(&fx, &["AbuseIPDB_1_0", "AbuseIPDB_2_0"]).await;
    let response = fx
        .post(
            "/api/connector/cortex/job/_search?range=0-1",
            json!({"query": {"_parent": {"_type": "case_artifact", "_id": obs}}, "range": "all"}),
        )
        .await;
    let jobs: Value = response.json().await.expect("json");

    assert_eq!(login.status(), StatusCode::OK);
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs}");
}

#[tokio::test]
async fn unreadable_ranges_fall_back_as_thehive_does() {
    let fx = Fixture::start().await;
    let obs = observable_with_jobs(&fx, &["AbuseIPDB_1_0", "AbuseIPDB_2_0", "AbuseIPDB_1_0"]).await;

    let (abc_status, abc, abc_total) = search_jobs(&fx, &obs, "?range=abc").await;
    let (_, from_two, _) = search_jobs(&fx, &obs, "?range=2").await;
    let (_, backwards, _) = search_jobs(&fx, &obs, "?range=1-0").await;
    let number = fx
        .post(
            "/api/connector/cortex/job/_search",
            json!({"query": {}, "range": 5}),
        )
        .await;
    let number_status = number.status();
    let number: Value = number.json().await.expect("json");

    // `abc` is 0-10, `2` is 2-12 and `1-0` is 1-11.
    assert_eq!(abc_status, StatusCode::OK);
    assert_eq!(abc.as_array().map(Vec::len), Some(3));
    assert_eq!(abc_total.as_deref(), Some("3"));
    assert_eq!(from_two.as_array().map(Vec::len), Some(1));
    assert_eq!(backwards.as_array().map(Vec::len), Some(2));
    assert_eq!(number_status, StatusCode::BAD_REQUEST);
    assert_eq!(
        number["message"],
        "[Invalid format for range: FNumber(5.0), expected string (string)]"
    );
}

#[tokio::test]
async fn sort_text_is_split_on_commas() {
    let fx = Fixture::start().await;
    let obs = observable_with_jobs(&fx, &["AbuseIPDB_2_0", "AbuseIPDB_1_0", "AbuseIPDB_2_0"]).await;
    let names = |jobs: &Value| -> Vec<String> {
        jobs.as_array()
            .into_iter()
            .flatten()
            .map(|j| {
                format!(
                    "{}@{}",
                    j["analyzerName"].as_str().unwrap_or(""),
                    j["startDate"]
                )
            })
            .collect()
    };

    let (status, split, _) = search_jobs(&fx, &obs, "?sort=analyzerName,-startDate").await;
    let (empty_status, empty, _) = search_jobs(&fx, &obs, "?sort=analyzerName,,startDate").await;

    assert_eq!(status, StatusCode::OK);
    let sorted = names(&split);
    assert!(sorted[0].starts_with("AbuseIPDB_1_0@"), "{sorted:?}");
    let v2_dates: Vec<u64> = split
        .as_array()
        .into_iter()
        .flatten()
        .filter(|j| j["analyzerName"] == "AbuseIPDB_2_0")
        .filter_map(|j| j["startDate"].as_u64())
        .collect();
    assert_eq!(v2_dates.len(), 2);
    assert!(v2_dates[0] >= v2_dates[1], "{sorted:?}");
    // An empty element makes TheHive's `s(0)` throw.
    assert_eq!(empty_status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(empty["type"], "java.lang.StringIndexOutOfBoundsException");
}

#[tokio::test]
async fn job_end_date_is_the_poller_tick_that_stored_the_result() {
    let fx = Fixture::with(EmulatorConfig {
        job_latency: Latency::fixed(Duration::from_millis(10)),
        refresh_delay: Duration::from_millis(400),
        ..fast_config()
    })
    .await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.3.7.9").await;

    let created = fx.run(&obs, "AbuseIPDB_1_0").await;
    let done = fx.finished(created["id"].as_str().expect("id")).await;

    let start = done["startDate"].as_u64().expect("startDate");
    let end = done["endDate"].as_u64().expect("endDate");
    // Cortex finished after 10 ms; TheHive stores the result at its first tick, 400 ms on.
    assert_eq!(created["startDate"], done["startDate"]);
    assert!(end >= start + 400, "start {start}, end {end}");
}

#[tokio::test]
async fn observables_render_their_creation_date_and_a_tag_set() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;

    let mut created = Vec::new();
    for path in [
        format!("/api/case/{case_id}/artifact"),
        format!("/api/v1/case/{case_id}/observable"),
    ] {
        let response = fx
            .post(
                &path,
                json!({"dataType": "ip", "data": format!("45.4.7.{}", created.len() + 1),
                    "startDate": 1000, "tags": ["a", "a", "b"]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        created.push(body[0].clone());
    }

    let (v0, v1) = (&created[0], &created[1]);
    assert_eq!(v0["startDate"], v0["createdAt"]);
    assert_eq!(v1["startDate"], v1["_createdAt"]);
    assert_eq!(v0["tags"], json!(["a", "b"]));
    assert_eq!(v1["tags"], json!(["a", "b"]));
}

#[tokio::test]
async fn organisation_ui_items_have_defaults_and_unknown_items_name_the_key() {
    let fx = Fixture::start().await;
    let admin_put = |path: &str, value: Value| {
        fx.http
            .put(fx.url(&format!("/api/config/organisation/{path}")))
            .bearer_auth(ADMIN_KEY)
            .header("X-Organisation", "demo")
            .json(&json!({ "value": value }))
            .send()
    };

    let date_format: Value = fx
        .get("/api/config/organisation/ui.defaultDateFormat")
        .await
        .json()
        .await
        .expect("json");
    let unknown_get: Value = fx
        .get("/api/config/organisation/ui.colour")
        .await
        .json()
        .await
        .expect("json");
    let set = admin_put("ui.hideEmptyCaseButton", json!(true))
        .await
        .expect("request");
    let set_status = set.status();
    let set: Value = set.json().await.expect("json");
    let unknown = admin_put("ui.colour", json!("blue"))
        .await
        .expect("request");
    let unknown_status = unknown.status();
    let unknown: Value = unknown.json().await.expect("json");

    assert_eq!(
        date_format,
        json!({"path": "ui.defaultDateFormat", "defaultValue": "MM/DD/YY HH:mm", "value": "MM/DD/YY HH:mm"})
    );
    assert_eq!(
        unknown_get,
        json!({"path": "ui.colour", "defaultValue": null, "value": null})
    );
    assert_eq!(set_status, StatusCode::OK);
    assert_eq!(
        set,
        json!({"path": "ui.hideEmptyCaseButton", "defaultValue": false, "value": true})
    );
    assert_eq!(unknown_status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        unknown["type"],
        "com.typesafe.config.ConfigException$Missing"
    );
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.contains("'organisation.defaults.ui.colour'")),
        "{unknown}"
    );
}

#[tokio::test]
async fn non_object_parameters_are_refused_as_js_object_and_null_is_absent() {
    let fx = Fixture::start().await;
    let case_id = fx.case().await;
    let obs = fx.observable(&case_id, "45.5.7.9").await;
    let job = |parameters: Value| {
        fx.post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex0", "artifactId": obs,
                "parameters": parameters}),
        )
    };

    let text = job(json!("x")).await;
    let text_status = text.status();
    let text: Value = text.json().await.expect("json");
    let null = job(Value::Null).await;

    assert_eq!(text_status, StatusCode::BAD_REQUEST);
    assert_eq!(
        text["message"],
        "[Invalid format for parameters: FString(x), expected jsObject (jsObject)]"
    );
    assert_eq!(text["errors"][0]["format"], "jsObject");
    assert_eq!(null.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn version_1_1_keeps_1_0_predicates_with_a_malicious_level_from_75() {
    let mut config = fast_config();
    config.cortex_servers[0].analyzers = vec!["AbuseIPDB_1_1".to_owned()];
    let fx = Fixture::with(config).await;
    let case_id = fx.case().await;

    let mut scores = Vec::new();
    for i in 1..=16 {
        let obs = fx.observable(&case_id, &format!("45.{i}.7.9")).await;
        let job = fx.run(&obs, "AbuseIPDB_1_1").await;
        let done = fx.finished(job["id"].as_str().expect("id")).await;
        assert!(
            done["report"]["full"]["values"][0]
                .get("freshness")
                .is_some()
        );
        let observable: Value = fx
            .get(&format!("/api/case/artifact/{obs}"))
            .await
            .json()
            .await
            .expect("json");
        let taxonomies = observable["reports"]["AbuseIPDB_1_1"]["taxonomies"].clone();
        let score = taxonomies
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["predicate"] == "Abuse Confidence Score")
            .cloned()
            .expect("score taxonomy");
        scores.push((
            score["value"].as_u64().expect("score"),
            score["level"].clone(),
        ));
    }

    for (score, level) in &scores {
        let expected = match score {
            75.. => "malicious",
            1.. => "suspicious",
            0 => "safe",
        };
        assert_eq!(level, expected, "score {score}");
    }
    assert!(scores.iter().any(|(s, _)| *s >= 75), "{scores:?}");
}

#[tokio::test]
async fn v1_current_user_lists_scoped_permissions() {
    let fx = Fixture::start().await;

    let analyst = fx.get("/api/v1/user/current").await;
    let admin = fx
        .http
        .get(fx.url("/api/v1/user/current"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("request");
    let header = |r: &Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };

    let analyst_permissions = header(&analyst, "x-permissions");
    let admin_permissions = header(&admin, "x-permissions");
    assert_eq!(header(&analyst, "x-organisation"), "demo");
    assert!(analyst_permissions.split(',').any(|p| p == "manageAnalyse"));
    assert!(
        admin_permissions
            .split(',')
            .any(|p| p == "manageOrganisation")
    );
    // `manageTag` only belongs to the organisation scope.
    assert!(!admin_permissions.split(',').any(|p| p == "manageTag"));
}

#[tokio::test]
async fn wrong_method_on_a_known_path_is_the_catch_all_without_allow() {
    let fx = Fixture::start().await;

    let response = fx
        .http
        .put(fx.url("/api/case/artifact/~1"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get("allow").is_none());
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["message"], "/api/case/artifact/~1");
}

#[tokio::test]
async fn status_names_the_play_version_of_4_1_24() {
    let fx = Fixture::start().await;

    let status: Value = fx.get("/api/status").await.json().await.expect("json");

    assert_eq!(status["versions"]["Play"], "2.8.13");
}
