//! Integration tests of the emulator's split roles: a Cortex-role emulator bootstrapped through
//! its HTTP API as StrangeBee's `testing/scripts/test_init_cortex.sh` does it, and a
//! TheHive-role emulator reaching it by URL and key.

use std::time::{Duration, Instant};

use std::path::Path;
use std::sync::Arc;

use hivecheck::client::{Auth, Endpoint};
use hivecheck::emulator::{Emulator, EmulatorConfig, Latency, Profile, Role};
use hivecheck::runner::{self, Target};
use hivecheck::scenario::{self, AutorunVerdict, Outcome};
use hivecheck::stack::{self, Images, StackConfig};
use md5::{Digest, Md5};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "thehive1234";
const THEHIVE_KEY: &str = "analyst-roles-key-0123456789abcdef";
const ADMIN_KEY: &str = "admin-roles-key-0123456789abcdef0";

fn latency(ms: u64) -> Latency {
    Latency::fixed(Duration::from_millis(ms))
}

fn cortex_config(basic: bool, job_latency: Latency) -> EmulatorConfig {
    EmulatorConfig {
        role: Role::Cortex,
        cortex_basic_auth: basic,
        job_latency,
        ..EmulatorConfig::default()
    }
}

fn thehive_config(url: String, key: &str) -> EmulatorConfig {
    EmulatorConfig {
        role: Role::TheHive,
        cortex_urls: vec![("cortex0".to_owned(), url)],
        cortex_key: Some(key.to_owned()),
        analyst_key: THEHIVE_KEY.to_owned(),
        admin_key: Some(ADMIN_KEY.to_owned()),
        refresh_delay: Duration::from_millis(50),
        notification_delay: Duration::from_millis(50),
        ..EmulatorConfig::default()
    }
}

async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.expect("emulator starts")
}

/// A Cortex emulator plus a cookie-less client, as curl in the init script.
struct Cortex {
    emulator: Emulator,
    http: Client,
}

impl Cortex {
    async fn start(basic: bool, job_latency: Latency) -> Self {
        Self {
            emulator: start(cortex_config(basic, job_latency)).await,
            http: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    fn get(&self, path: &str) -> RequestBuilder {
        self.http.get(self.url(path))
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.http.post(self.url(path))
    }

    /// SBC `test_init_cortex.sh` steps: migrate, superadmin via "init", organization, org user,
    /// key renewal; then the analyzer activation. Returns the `thehive` user's key.
    async fn bootstrap(&self) -> String {
        let migrated = self.post("/api/maintenance/migrate").send().await.unwrap();
        assert_eq!(migrated.status(), StatusCode::NO_CONTENT);

        let admin = self
            .post("/api/user")
            .json(
                &json!({"login": "admin", "name": "admin", "roles": ["superadmin"],
                "preferences": "{}", "password": ADMIN_PASSWORD, "organization": "cortex"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status(), StatusCode::CREATED);

        let org = self
            .post("/api/organization")
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&json!({"name": "demo", "description": "demo organization"}))
            .send()
            .await
            .unwrap();
        assert_eq!(org.status(), StatusCode::CREATED);

        let user = self
            .post("/api/user")
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .json(&json!({"login": "thehive", "name": "thehive",
                "roles": ["read", "analyze", "orgadmin"], "password": ADMIN_PASSWORD,
                "organization": "demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(user.status(), StatusCode::CREATED);

        // `curl -d ''` sends an empty form body.
        let renewed = self
            .post("/api/user/thehive/key/renew")
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert_eq!(renewed.status(), StatusCode::OK);
        let key = renewed.text().await.unwrap();
        let checked = self
            .get("/api/user/thehive")
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(checked.status(), StatusCode::OK);

        let enabled = self.enable("AbuseIPDB_1_0", abuseipdb_body()).await;
        assert_eq!(enabled.status(), StatusCode::CREATED);
        key
    }

    async fn enable(&self, definition: &str, body: Value) -> Response {
        self.post(&format!("/api/organization/analyzer/{definition}"))
            .basic_auth("thehive", Some(ADMIN_PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

fn abuseipdb_body() -> Value {
    json!({"name": "AbuseIPDB_1_0",
        "configuration": {"key": "abuse-key", "days": 30, "auto_extract_artifacts": false,
            "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2},
        "jobCache": 10, "jobTimeout": 30})
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The analyst side of a TheHive-role emulator.
struct TheHive {
    emulator: Emulator,
    http: Client,
}

impl TheHive {
    async fn start(url: String, key: &str) -> Self {
        Self {
            emulator: start(thehive_config(url, key)).await,
            http: Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.emulator.base_url()))
            .bearer_auth(THEHIVE_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.emulator.base_url()))
            .bearer_auth(THEHIVE_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn thehive_role_runs_an_analyzer_on_a_bootstrapped_cortex_role() {
    let cortex = Cortex::start(true, latency(80)).await;
    let key = cortex.bootstrap().await;
    let thehive = TheHive::start(cortex.emulator.base_url(), &key).await;

    let status = thehive.get("/api/status").await;
    let analyzers = thehive
        .get("/api/connector/cortex/analyzer?range=all")
        .await;
    let (_, case) = thehive
        .post("/api/case", json!({"title": "t", "description": "d"}))
        .await;
    let case_id = case["_id"].as_str().unwrap();
    let (_, observables) = thehive
        .post(
            &format!("/api/case/{case_id}/artifact"),
            json!({"dataType": "ip", "data": "8.8.8.8"}),
        )
        .await;
    let observable_id = observables[0]["_id"].as_str().unwrap().to_owned();
    let (created, job) = thehive
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex0", "artifactId": observable_id}),
        )
        .await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    let finished = loop {
        let job = thehive
            .get(&format!("/api/connector/cortex/job/{job_id}"))
            .await;
        if job["status"] == "Success" && job.get("report").is_some() {
            break job;
        }
        assert!(Instant::now() < deadline, "job never finished: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let observable = thehive
        .get(&format!("/api/case/artifact/{observable_id}"))
        .await;

    let worker_id = md5_hex("demo_AbuseIPDB_1_0_analyzer");
    assert_eq!(status["connectors"]["cortex"]["status"], "OK", "{status}");
    assert_eq!(
        status["connectors"]["cortex"]["servers"][0]["version"],
        "3.1.8-1"
    );
    assert_eq!(analyzers[0]["id"], worker_id.as_str());
    assert_eq!(analyzers[0]["cortexIds"], json!(["cortex0"]));
    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(job["status"], "Waiting");
    assert_eq!(job["analyzerId"], worker_id.as_str());
    assert!(
        finished["report"]["full"]["values"].is_array(),
        "{finished}"
    );
    assert!(finished["report"].get("summary").is_none());
    let taxonomies = &observable["reports"]["AbuseIPDB_1_0"]["taxonomies"];
    assert!(
        taxonomies
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["predicate"] == "Abuse Confidence Score"),
        "{observable}"
    );

    let cortex_job = cortex
        .get(&format!(
            "/api/job/{}/report",
            finished["cortexJobId"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let cortex_job: Value = cortex_job.json().await.unwrap();
    assert_eq!(cortex_job["status"], "Success");
    assert_eq!(cortex_job["parameters"]["organisation"], "demo");
    assert_eq!(cortex_job["report"]["summary"]["taxonomies"], *taxonomies);
}

#[tokio::test]
async fn cortex_answers_520_until_migrated() {
    let cortex = Cortex::start(false, latency(50)).await;

    let status = cortex.get("/api/status").send().await.unwrap();
    let analyzers = cortex.get("/api/analyzer").send().await.unwrap();
    let user = cortex
        .post("/api/user")
        .json(&json!({"login": "admin", "name": "admin", "roles": ["superadmin"]}))
        .send()
        .await
        .unwrap();
    let login = cortex
        .post("/api/login")
        .json(&json!({"user": "admin", "password": "x"}))
        .send()
        .await
        .unwrap();

    assert_eq!(status.status(), StatusCode::OK);
    assert_eq!(analyzers.status().as_u16(), 520);
    assert_eq!(analyzers.text().await.unwrap(), "null");
    assert_eq!(user.status().as_u16(), 520);
    assert_eq!(login.status().as_u16(), 520);
    assert_eq!(login.text().await.unwrap(), "");

    cortex
        .post("/api/maintenance/migrate")
        .send()
        .await
        .unwrap();
    let analyzers = cortex.get("/api/analyzer").send().await.unwrap();
    assert_eq!(analyzers.status(), StatusCode::OK);
}

#[tokio::test]
async fn renewed_key_is_plain_text_and_basic_auth_is_off_by_default() {
    let with_basic = Cortex::start(true, latency(50)).await;
    let key = with_basic.bootstrap().await;
    let without_basic = Cortex::start(false, latency(50)).await;
    without_basic
        .post("/api/maintenance/migrate")
        .send()
        .await
        .unwrap();
    without_basic
        .post("/api/user")
        .json(
            &json!({"login": "admin", "name": "admin", "roles": ["superadmin"],
            "password": ADMIN_PASSWORD, "organization": "cortex"}),
        )
        .send()
        .await
        .unwrap();

    let renewed = with_basic
        .post("/api/user/thehive/key/renew")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let content_type = renewed.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let new_key = renewed.text().await.unwrap();
    let old_key = with_basic
        .get("/api/user/current")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let current: Value = with_basic
        .get("/api/user/current")
        .bearer_auth(&new_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let basic = without_basic
        .get("/api/user/current")
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();

    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(!new_key.starts_with('"'), "{new_key}");
    assert_eq!(new_key.len(), 32);
    assert_eq!(old_key.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(current["id"], "thehive");
    assert_eq!(current["roles"], json!(["read", "analyze", "orgadmin"]));
    assert_eq!(current["hasKey"], true);
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn superadmin_cannot_run_analyzers() {
    let cortex = Cortex::start(true, latency(50)).await;
    cortex.bootstrap().await;
    let worker_id = md5_hex("demo_AbuseIPDB_1_0_analyzer");

    let refused = cortex
        .post(&format!("/api/analyzer/{worker_id}/run"))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&json!({"dataType": "ip", "data": "1.2.3.4"}))
        .send()
        .await
        .unwrap();
    let refused_status = refused.status();
    let body: Value = refused.json().await.unwrap();
    let allowed = cortex
        .post(&format!("/api/analyzer/{worker_id}/run"))
        .basic_auth("thehive", Some(ADMIN_PASSWORD))
        .json(&json!({"dataType": "ip", "data": "1.2.3.4"}))
        .send()
        .await
        .unwrap();

    assert_eq!(refused_status, StatusCode::FORBIDDEN);
    assert_eq!(
        body,
        json!({"type": "AuthorizationError", "message": "Insufficient rights to perform this action"})
    );
    assert_eq!(allowed.status(), StatusCode::OK);
}

#[tokio::test]
async fn analyzer_configuration_needs_the_key_and_known_items() {
    let cortex = Cortex::start(true, latency(50)).await;
    cortex.bootstrap().await;

    let missing = cortex
        .enable(
            "AbuseIPDB_2_0",
            json!({"name": "AbuseIPDB_2_0", "configuration": {}}),
        )
        .await;
    let missing_status = missing.status();
    let missing: Value = missing.json().await.unwrap();
    let both = cortex
        .enable(
            "AbuseIPDB_2_0",
            json!({"name": "AbuseIPDB_2_0", "configuration": {"colour": "blue"}}),
        )
        .await;
    let both_status = both.status();
    let both: Value = both.json().await.unwrap();

    assert_eq!(missing_status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(missing["type"], "org.elastic4play.MissingAttributeError");
    assert_eq!(missing["message"], "Attribute key is missing");
    assert_eq!(both_status, StatusCode::BAD_REQUEST);
    assert_eq!(both["tableName"], "worker(AbuseIPDB).configuration");
    assert_eq!(both["errors"][1]["type"], "UnknownAttributeError");
}

#[tokio::test]
async fn waitreport_waits_for_the_end_and_the_cache_reuses_jobs() {
    let cortex = Cortex::start(true, latency(300)).await;
    let key = cortex.bootstrap().await;
    let worker_id = md5_hex("demo_AbuseIPDB_1_0_analyzer");
    let run = |force: bool| {
        cortex
            .post(&format!("/api/analyzer/{worker_id}/run"))
            .bearer_auth(&key)
            .json(&json!({"dataType": "ip", "data": "9.9.9.9", "force": force}))
            .send()
    };

    let job: Value = run(false).await.unwrap().json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let report: Value = cortex
        .get(&format!("/api/job/{id}/report"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let short: Value = cortex
        .get(&format!(
            "/api/job/{id}/waitreport?atMost=20%20milliseconds"
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let started = Instant::now();
    let waited: Value = cortex
        .get(&format!("/api/job/{id}/waitreport?atMost=5%20seconds"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let cached: Value = run(false).await.unwrap().json().await.unwrap();
    let forced: Value = run(true).await.unwrap().json().await.unwrap();
    let unknown = cortex
        .get("/api/job/nope")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();

    assert_eq!(job["status"], "Waiting");
    assert_eq!(report["report"], "Waiting");
    assert_eq!(short["report"], "Waiting");
    assert_eq!(waited["status"], "Success");
    assert_eq!(waited["report"]["success"], true);
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(cached["id"], id.as_str());
    assert_eq!(cached["fromCache"], true);
    assert_ne!(forced["id"], id.as_str());
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn connector_status_reports_error_and_auth_error() {
    let cortex = Cortex::start(true, latency(50)).await;
    cortex.bootstrap().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let down = TheHive::start(closed, "any-key").await;
    let wrong_key = TheHive::start(cortex.emulator.base_url(), "wrong-key").await;

    let down_status = down.get("/api/status").await;
    let down_analyzers = down.get("/api/connector/cortex/analyzer").await;
    let auth_status = wrong_key.get("/api/status").await;

    let connector = &down_status["connectors"]["cortex"];
    assert_eq!(connector["status"], "ERROR", "{down_status}");
    assert_eq!(connector["servers"][0]["status"], "ERROR");
    assert_eq!(connector["servers"][0]["version"], "");
    assert_eq!(down_analyzers, json!([]));
    assert_eq!(
        auth_status["connectors"]["cortex"]["servers"][0]["status"],
        "AUTH_ERROR"
    );
}

#[tokio::test]
async fn run_analyzer_notification_submits_to_the_remote_cortex() {
    let cortex = Cortex::start(true, latency(50)).await;
    let key = cortex.bootstrap().await;
    let thehive = TheHive::start(cortex.emulator.base_url(), &key).await;
    let rule = json!({"value": [{"delegate": false,
        "trigger": {"name": "FilteredEvent", "filter": {"_and": [
            {"_is": {"action": "create"}}, {"_is": {"objectType": "Observable"}}]}},
        "notifier": {"name": "RunAnalyzer", "analyzerName": "AbuseIPDB_1_0"}}]});
    let set = thehive
        .http
        .put(format!(
            "{}/api/config/organisation/notification",
            thehive.emulator.base_url()
        ))
        .bearer_auth(ADMIN_KEY)
        .header("X-Organisation", "demo")
        .json(&rule)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let (_, case) = thehive
        .post("/api/case", json!({"title": "t", "description": "d"}))
        .await;
    let case_id = case["_id"].as_str().unwrap();

    let (_, observables) = thehive
        .post(
            &format!("/api/case/{case_id}/artifact"),
            json!({"dataType": "ip", "data": "45.3.7.9"}),
        )
        .await;
    let observable_id = observables[0]["_id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    let (status, jobs) = thehive
        .post(
            "/api/connector/cortex/job/_search?range=all",
            json!({"query": {"_parent": {"_type": "case_artifact", "_id": observable_id}}}),
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs}");
    assert_eq!(jobs[0]["analyzerName"], "AbuseIPDB_1_0");
    assert_eq!(jobs[0]["cortexId"], "cortex0");
}

/// The container stack's pair in-process: a Cortex role bootstrapped by `stack::cortex`, then a
/// TheHive role with the TheHive 5 profile reaching it, bootstrapped by `stack::thehive`.
struct Th5Stack {
    cortex: Emulator,
    thehive: Emulator,
    credentials: stack::Credentials,
}

impl Th5Stack {
    async fn start() -> Self {
        // `--role cortex --cortex-basic-auth`, as the stack's Cortex container runs.
        let cortex = start(cortex_config(true, latency(80))).await;
        let config = StackConfig::new("roles-test", Images::emulator("hivecheck:test"));
        let setup = stack::cortex(&cortex.base_url(), &config)
            .await
            .expect("Cortex bootstraps");
        // `--role thehive --profile thehive5`, with no Cortex until the bootstrap registers it.
        let thehive = start(EmulatorConfig {
            role: Role::TheHive,
            profile: Profile::TheHive5,
            ..EmulatorConfig::default()
        })
        .await;
        let registration = stack::CortexRegistration {
            url: cortex.base_url(),
            key: setup.key,
        };
        let credentials = stack::thehive(&thehive.base_url(), &registration)
            .await
            .expect("TheHive bootstraps");
        Self {
            cortex,
            thehive,
            credentials,
        }
    }

    /// The target `hivecheck run --stack containers` builds (`harness::stack_target`).
    fn target(&self) -> Target {
        let c = &self.credentials;
        Target {
            label: "in-process TheHive 5 + Cortex roles".to_owned(),
            endpoint: Endpoint::parse(&self.thehive.base_url()).unwrap(),
            org: Some(c.org.clone()),
            user: Auth::Session {
                login: c.user.clone(),
                password: c.password.clone().unwrap(),
            },
            admin: Some(Auth::ApiKey {
                key: c.admin_api_key.clone().unwrap(),
            }),
            cortex: Some(c.cortex.clone()),
            builtin: false,
        }
    }

    /// A call as the bootstrapped analyst, by API key.
    fn analyst(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        Client::new()
            .request(method, format!("{}{path}", self.thehive.base_url()))
            .bearer_auth(self.credentials.api_key.as_ref().unwrap().expose())
    }

    async fn shutdown(self) {
        self.thehive.shutdown().await;
        self.cortex.shutdown().await;
    }
}

/// Runs one scenario file of `scenarios/` through the runner against `target`.
async fn run_scenario(target: Target, file: &str, out: &Path) -> runner::TrialReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(file);
    let scenario = Arc::new(scenario::load_file(&path).expect("a valid scenario"));
    let ctx = runner::RunContext::new(
        target,
        runner::RunOptions {
            seed_override: None,
            run_seed: 7,
            snapshots: runner::SnapshotMode::Never,
            out_dir: out.to_owned(),
            fixtures_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
            keep: true,
            replace: false,
        },
    );
    let pattern = scenario.analyzers[0].clone();
    runner::run_trial(ctx, scenario.clone(), pattern, scenario.name.clone())
        .await
        .expect("the trial runs")
}

#[tokio::test]
async fn thehive5_role_over_a_cortex_role_passes_the_container_stack_scenarios() {
    let pair = Th5Stack::start().await;
    let out = tempfile::tempdir().unwrap();

    // TheHive's organisation `hivecheck` sees what Cortex's organisation of the key enabled.
    let analyzers: Value = pair
        .analyst(reqwest::Method::GET, "/api/v1/connector/cortex/analyzer")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status: Value = pair
        .analyst(reqwest::Method::GET, "/api/v1/status")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let compact = run_scenario(pair.target(), "compact.toml", out.path()).await;
    let autorun = run_scenario(pair.target(), "autorun.toml", out.path()).await;
    pair.shutdown().await;

    // The stack enables both AbuseIPDB versions, listed by name.
    assert_eq!(
        names(&analyzers),
        ["AbuseIPDB_1_0", "AbuseIPDB_2_0"],
        "{analyzers}"
    );
    assert_eq!(
        analyzers[0]["id"],
        md5_hex("hivecheck_AbuseIPDB_1_0_analyzer")
    );
    assert_eq!(analyzers[0]["cortexIds"], json!(["cortex0"]));
    assert_eq!(status["version"], "5.7.5-1", "{status}");
    assert_eq!(status["connectors"]["cortex"]["status"], "OK", "{status}");
    assert_eq!(
        status["connectors"]["cortex"]["servers"][0]["name"],
        "cortex0"
    );
    assert!(compact.passed(), "{:?}", compact.failures());
    assert_eq!(compact.artifacts.len(), 3);
    assert!(
        compact
            .artifacts
            .iter()
            .all(|a| a.outcome == Outcome::Success)
    );
    assert!(autorun.passed(), "{:?}", autorun.failures());
    assert_eq!(autorun.autorun.unwrap().verdict, AutorunVerdict::Fired);
}

/// The analyzers' names in a list, sorted.
fn names(analyzers: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = analyzers
        .as_array()
        .map(|list| list.iter().filter_map(|a| a["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort_unstable();
    names
}

#[tokio::test]
async fn thehive5_role_accepts_unknown_cortex_or_analyzer_and_fails_the_job_later() {
    let pair = Th5Stack::start().await;
    let case: Value = pair
        .analyst(reqwest::Method::POST, "/api/v1/case")
        .json(&json!({"title": "t", "description": "d"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let observables: Value = pair
        .analyst(
            reqwest::Method::POST,
            &format!("/api/v1/case/{}/observable", case["_id"].as_str().unwrap()),
        )
        .json(&json!({"dataType": "ip", "data": "45.3.7.9"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let observable_id = observables[0]["_id"].as_str().unwrap().to_owned();

    let mut answers = Vec::new();
    for (cortex_id, analyzer_id) in [
        ("dummy-cortex", "AbuseIPDB_1_0"),
        ("cortex0", "dummy-analyzer"),
    ] {
        let created = pair
            .analyst(reqwest::Method::POST, "/api/v1/connector/cortex/job")
            .json(&json!({"cortexId": cortex_id, "analyzerId": analyzer_id,
                "artifactId": observable_id}))
            .send()
            .await
            .unwrap();
        let status = created.status();
        let job: Value = created.json().await.unwrap();
        let id = job["_id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(5);
        let finished = loop {
            let job: Value = pair
                .analyst(
                    reqwest::Method::GET,
                    &format!("/api/v1/connector/cortex/job/{id}"),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if job["status"] == "Failure" {
                break job;
            }
            assert!(Instant::now() < deadline, "job never failed: {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        answers.push((status, job, finished));
    }
    pair.shutdown().await;

    for ((status, job, finished), text) in answers.iter().zip([
        "Cortex dummy-cortex not found",
        "Analyzer dummy-analyzer not found",
    ]) {
        assert_eq!(*status, StatusCode::CREATED, "{job}");
        assert_eq!(job["status"], "Waiting", "{job}");
        assert!(job.get("endDate").is_none(), "{job}");
        assert_eq!(finished["report"]["errorMessage"], text, "{finished}");
        assert_eq!(finished["report"]["success"], false);
    }
}

#[tokio::test]
async fn cortex_cache_skips_waiting_jobs_and_reads_force_as_elastic4play() {
    let cortex = Cortex::start(true, latency(300)).await;
    let key = cortex.bootstrap().await;
    let worker_id = md5_hex("demo_AbuseIPDB_1_0_analyzer");
    let body = json!({"dataType": "ip", "data": "9.9.9.8"});
    let run = |query: &str, body: Value| {
        let request = cortex
            .post(&format!("/api/analyzer/{worker_id}/run{query}"))
            .bearer_auth(&key)
            .json(&body);
        async move {
            let job: Value = request.send().await.unwrap().json().await.unwrap();
            job
        }
    };
    let with_force = |force: Value| {
        let mut b = body.clone();
        b["force"] = force;
        b
    };

    let first = run("", body.clone()).await;
    let while_waiting = run("", body.clone()).await;
    let id = first["id"].as_str().unwrap().to_owned();
    let finished: Value = cortex
        .get(&format!("/api/job/{id}/waitreport?atMost=5%20seconds"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cached = run("", body.clone()).await;
    let json_one = run("", with_force(json!(1))).await;
    let json_text = run("", with_force(json!("true"))).await;
    let query_one = run("?force=1", body.clone()).await;
    let query_true = run("?force=TRUE", body.clone()).await;

    // A job still `Waiting` has no `startDate`, so Cortex's cache lookup skips it.
    assert_ne!(while_waiting["id"], first["id"]);
    assert!(while_waiting.get("fromCache").is_none());
    assert_eq!(finished["status"], "Success");
    assert_eq!(cached["fromCache"], true, "{cached}");
    // elastic4play reads `force` from JSON booleans and from text only.
    assert_eq!(json_one["fromCache"], true);
    assert_eq!(json_text["fromCache"], true);
    for forced in [&query_one, &query_true] {
        assert!(forced.get("fromCache").is_none(), "{forced}");
        assert_ne!(forced["id"], cached["id"]);
    }
}

#[tokio::test]
async fn cortex_catalog_has_each_abuseipdb_version_with_its_own_description() {
    let cortex = Cortex::start(true, latency(50)).await;
    cortex.bootstrap().await;

    let definitions: Value = cortex
        .get("/api/analyzerdefinition")
        .basic_auth("thehive", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let find = |id: &str| {
        definitions
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };

    let (v1, v1_1, v2) = (
        find("AbuseIPDB_1_0"),
        find("AbuseIPDB_1_1"),
        find("AbuseIPDB_2_0"),
    );
    assert_eq!(v1["author"], "Matteo Lodi");
    assert_eq!(v1_1["version"], "1.1");
    assert_eq!(v2["author"], "Matteo Lodi; Fabien Bloume, StrangeBee");
    assert!(
        v2["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Check IP addresses or CIDR blocks")),
        "{v2}"
    );
    assert_ne!(v1["description"], v2["description"]);
    // Cortex's `WorkerDefinition` does not carry the catalog's `integration_type`.
    assert!(v2.get("integration_type").is_none());
}

#[tokio::test]
async fn thehive_role_stamps_end_date_with_its_own_poll_time() {
    let cortex = Cortex::start(true, latency(20)).await;
    let key = cortex.bootstrap().await;
    let thehive = start(EmulatorConfig {
        refresh_delay: Duration::from_millis(400),
        ..thehive_config(cortex.emulator.base_url(), &key)
    })
    .await;
    let th = TheHive {
        emulator: thehive,
        http: Client::new(),
    };
    let (_, case) = th
        .post("/api/case", json!({"title": "t", "description": "d"}))
        .await;
    let (_, observables) = th
        .post(
            &format!("/api/case/{}/artifact", case["_id"].as_str().unwrap()),
            json!({"dataType": "ip", "data": "9.9.9.7"}),
        )
        .await;
    let obs = observables[0]["_id"].as_str().unwrap().to_owned();

    let (status, job) = th
        .post(
            "/api/connector/cortex/job",
            json!({"analyzerId": "AbuseIPDB_1_0", "cortexId": "cortex0", "artifactId": obs}),
        )
        .await;
    let id = job["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    let done = loop {
        let job = th.get(&format!("/api/connector/cortex/job/{id}")).await;
        if job.get("report").is_some() {
            break job;
        }
        assert!(Instant::now() < deadline, "job never finished: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    assert_eq!(status, StatusCode::CREATED);
    let (start_date, end_date) = (
        done["startDate"].as_u64().unwrap(),
        done["endDate"].as_u64().unwrap(),
    );
    // Cortex finished after 20 ms; TheHive polls 400 ms after the submission.
    assert!(end_date >= start_date + 400, "{start_date} {end_date}");
}

#[tokio::test]
async fn cortex_status_names_the_libraries_of_3_1_8() {
    let cortex = Cortex::start(false, latency(50)).await;

    let status: Value = cortex
        .get("/api/status")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(status["versions"]["Cortex"], "3.1.8-1");
    assert_eq!(status["versions"]["Elastic4Play"], "1.13.6");
    assert_eq!(status["versions"]["Play"], "2.8.19");
}

/// `PUT /api/v1/admin/config/cortex` as an admin of the admin organisation, or as `login`.
async fn put_cortex_config(base: &str, login: (&str, &str), org: &str, body: Value) -> Response {
    Client::new()
        .put(format!("{base}/api/v1/admin/config/cortex"))
        .basic_auth(login.0, Some(login.1))
        .header("X-Organisation", org)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_as_admin(base: &str, path: &str) -> Value {
    Client::new()
        .get(format!("{base}{path}"))
        .basic_auth("admin@thehive.local", Some("secret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn thehive5_role_takes_its_cortex_servers_from_the_admin_config_route() {
    let cortex = Cortex::start(true, latency(50)).await;
    let key = cortex.bootstrap().await;
    let thehive = start(EmulatorConfig {
        role: Role::TheHive,
        profile: Profile::TheHive5,
        analyst_password: "analyst-pw-0123".to_owned(),
        ..EmulatorConfig::default()
    })
    .await;
    let base = thehive.base_url();
    let admin = ("admin@thehive.local", "secret");
    let server = |name: &str, key: &str| {
        json!({"name": name, "url": format!("{}/", cortex.emulator.base_url()),
            "includedTheHiveOrganisations": ["*"], "excludedTheHiveOrganisations": [],
            "auth": {"type": "bearer", "key": key}})
    };
    let config = |servers: Vec<Value>| {
        json!({"statusCheckInterval": "1 minute", "refreshDelay": "5 seconds",
            "maxRetryOnError": 3, "jobTimeout": "3 hours", "servers": servers})
    };

    let before = get_as_admin(&base, "/api/v1/connector/cortex/analyzer").await;
    let as_analyst = put_cortex_config(
        &base,
        ("analyst@thehive.local", "analyst-pw-0123"),
        "demo",
        config(vec![server("cortex0", &key)]),
    )
    .await;
    let bad_auth = put_cortex_config(
        &base,
        admin,
        "admin",
        json!({"servers": [{"name": "c", "url": "http://x", "auth": {"type": "token"}}]}),
    )
    .await;
    let registered =
        put_cortex_config(&base, admin, "admin", config(vec![server("cortex0", &key)])).await;
    let registered_status = registered.status();
    let registered_body = registered.text().await.unwrap();
    let after = get_as_admin(&base, "/api/v1/connector/cortex/analyzer").await;
    let status = get_as_admin(&base, "/api/v1/status").await;
    let rekeyed = put_cortex_config(
        &base,
        admin,
        "admin",
        config(vec![server("cortex0", "wrong")]),
    )
    .await;
    let rekeyed_status = get_as_admin(&base, "/api/v1/status").await;
    let emptied = put_cortex_config(&base, admin, "admin", config(vec![])).await;
    let emptied_list = get_as_admin(&base, "/api/v1/connector/cortex/analyzer").await;
    thehive.shutdown().await;

    assert_eq!(before, json!([]));
    assert_eq!(as_analyst.status(), StatusCode::FORBIDDEN);
    assert_eq!(bad_auth.status(), StatusCode::BAD_REQUEST);
    assert_eq!(registered_status, StatusCode::NO_CONTENT);
    assert_eq!(registered_body, "");
    assert_eq!(names(&after), ["AbuseIPDB_1_0"], "{after}");
    assert_eq!(after[0]["cortexIds"], json!(["cortex0"]));
    let servers = &status["connectors"]["cortex"]["servers"];
    assert_eq!(servers[0]["name"], "cortex0", "{status}");
    assert_eq!(servers[0]["status"], "OK", "{status}");
    // A new configuration replaces the old one at once: the status is checked again.
    assert_eq!(rekeyed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        rekeyed_status["connectors"]["cortex"]["servers"][0]["status"], "AUTH_ERROR",
        "{rekeyed_status}"
    );
    assert_eq!(emptied.status(), StatusCode::NO_CONTENT);
    assert_eq!(emptied_list, json!([]));
}
