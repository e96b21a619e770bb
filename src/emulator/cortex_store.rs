//! In-memory state of the Cortex role ([`CortexState`]): the migration flag, organizations,
//! users, enabled analyzers (workers) and jobs, with their Cortex JSON shapes.
//!
//! Shapes follow elastic4play's entity rendering (CX `elastic4play/.../models/ModelDef.scala`
//! `toJson`, `database/DBCreate.scala`): every stored attribute that is not sensitive, plus
//! `_id`, `id`, `_type`, `_parent`, `_routing`, `_seqNo` and `_primaryTerm`. Job status is
//! derived lazily from timestamps, as in the combined role; HTTP handling lives in
//! `cortex_api`.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use md5::{Digest, Md5};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use super::abuseipdb;
use super::abuseipdb::Outcome;
use super::config::{EmulatorConfig, random_secret};
use super::store::{Millis, cache_tag, run_analyzer, worker_id};

/// Name of the organization that migration creates and that holds the superadmins.
pub(crate) const CORTEX_ORG: &str = "cortex";

/// Role names in Cortex's order (CX `models/Roles.scala`).
pub(crate) const ROLES: [&str; 4] = ["read", "analyze", "orgadmin", "superadmin"];

/// One analyzer of the emulated catalog (CX `models/WorkerDefinition.scala`, catalog entries of
/// CA `analyzers/AbuseIPDB/AbuseIPDB.json`).
#[derive(Debug)]
pub(crate) struct Definition {
    /// `<name>_<version>` with dots replaced by `_`.
    pub id: &'static str,
    pub name: &'static str,
    pub version: &'static str,
    /// Which analyzer code runs, and so the author and description of its `AbuseIPDB.json`.
    pub analyzer: abuseipdb::Version,
    /// The image tag is inferred: the catalog files were not among the sources read \[I\].
    pub docker_image: &'static str,
}

impl Definition {
    /// `author` of the version's `AbuseIPDB.json`.
    pub fn author(&self) -> &'static str {
        abuseipdb::catalog(self.analyzer).author
    }

    /// `description` of the version's `AbuseIPDB.json`.
    pub fn description(&self) -> &'static str {
        abuseipdb::catalog(self.analyzer).description
    }
}

/// The analyzers the emulated Cortex offers: the three published AbuseIPDB versions, with
/// the descriptive fields of each version's `AbuseIPDB.json` (Cortex-Analyzers d2a1f1fe,
/// c24b757b, 48712ecc).
pub(crate) const DEFINITIONS: [Definition; 3] = [
    Definition {
        id: "AbuseIPDB_1_0",
        name: "AbuseIPDB",
        version: "1.0",
        analyzer: abuseipdb::Version::V1,
        docker_image: "cortexneurons/abuseipdb:1",
    },
    Definition {
        id: "AbuseIPDB_1_1",
        name: "AbuseIPDB",
        version: "1.1",
        analyzer: abuseipdb::Version::V1_1,
        docker_image: "cortexneurons/abuseipdb:1.1",
    },
    Definition {
        id: "AbuseIPDB_2_0",
        name: "AbuseIPDB",
        version: "2.0",
        analyzer: abuseipdb::Version::V2,
        docker_image: "cortexneurons/abuseipdb:2",
    },
];

/// A configuration item as Cortex validates it (`ConfigurationDefinitionItem`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConfigItem {
    pub name: &'static str,
    pub description: &'static str,
    /// `string`, `text`, `number` or `boolean`.
    pub kind: &'static str,
    pub required: bool,
    pub default: Option<fn() -> Value>,
}

/// Items of the AbuseIPDB definition, then the global analyzer items, then TLP and PAP
/// (CX `services/WorkerSrv.scala` `create`, `models/BaseConfig.scala`).
pub(crate) fn config_items() -> Vec<ConfigItem> {
    let item = |name, kind, required, default| ConfigItem {
        name,
        description: "",
        kind,
        required,
        default,
    };
    vec![
        ConfigItem {
            description: "API key for AbuseIPDB",
            ..item("key", "string", true, None)
        },
        ConfigItem {
            description: "Check for IP Reports in the last X days",
            ..item("days", "number", false, Some(|| json!(30)))
        },
        ConfigItem {
            description: "extract artifacts from full report automatically",
            ..item(
                "auto_extract_artifacts",
                "boolean",
                false,
                Some(|| json!(false)),
            )
        },
        // `cache.job` (10 minutes) is the default of `jobCache` in Cortex's reference.conf.
        ConfigItem {
            description: "maximum time, in minutes, previous result is used if similar job is requested",
            ..item("jobCache", "number", false, Some(|| json!(10)))
        },
        item("proxy_http", "string", false, None),
        item("proxy_https", "string", false, None),
        item("cacerts", "text", false, None),
        // `job.timeout` is 30 minutes in Cortex's reference.conf.
        ConfigItem {
            description: "maximum allowed job execution time (in minutes)",
            ..item("jobTimeout", "number", false, Some(|| json!(30)))
        },
        item("check_tlp", "boolean", false, None),
        item("max_tlp", "number", false, None),
        item("check_pap", "boolean", false, None),
        item("max_pap", "number", false, None),
    ]
}

/// Definition JSON as `GET /api/analyzerdefinition` lists it (`WorkerDefinition.writes`).
pub(crate) fn definition_json(def: &Definition) -> Value {
    let items: Vec<Value> = config_items()
        .into_iter()
        .take(2)
        .map(|i| {
            let mut v = json!({
                "name": i.name,
                "description": i.description,
                "type": i.kind,
                "multi": false,
                "required": i.required,
            });
            if let Some(d) = i.default {
                v["defaultValue"] = d();
            }
            v
        })
        .collect();
    json!({
        "id": def.id,
        "name": def.name,
        "version": def.version,
        "description": def.description(),
        "dataTypeList": ["ip"],
        "author": def.author(),
        "url": "https://github.com/TheHive-Project/Cortex-Analyzers",
        "license": "AGPL-v3",
        "baseConfig": "AbuseIPDB",
        "configurationItems": items,
        "dockerImage": def.docker_image,
        "command": null,
    })
}

/// Elastic4play's internal fields of a root or child entity.
fn entity(kind: &str, id: &str, parent: Option<&str>, seq: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_id".into(), json!(id));
    m.insert("id".into(), json!(id));
    m.insert("_type".into(), json!(kind));
    m.insert("_parent".into(), parent.map_or(Value::Null, |p| json!(p)));
    m.insert("_routing".into(), json!(parent.unwrap_or(id)));
    m.insert("_seqNo".into(), json!(seq));
    m.insert("_primaryTerm".into(), json!(1));
    m
}

/// A Cortex organization.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub name: String,
    pub description: String,
    pub status: String,
    pub created_by: String,
    pub created_at: Millis,
    pub seq: u64,
}

impl Org {
    /// CX `models/Organization.scala` `toJson`.
    pub fn json(&self) -> Value {
        let mut m = entity("organization", &self.name, None, self.seq);
        m.insert("name".into(), json!(self.name));
        m.insert("description".into(), json!(self.description));
        m.insert("status".into(), json!(self.status));
        m.insert("createdBy".into(), json!(self.created_by));
        m.insert("createdAt".into(), json!(self.created_at));
        Value::Object(m)
    }
}

/// A Cortex user; its id is its login.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub login: String,
    pub name: String,
    pub roles: Vec<String>,
    pub org: String,
    pub password: Option<String>,
    pub key: Option<String>,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
    pub seq: u64,
}

impl User {
    /// CX `models/User.scala` `toJson`: no `login` (moved to `_id`), no key, password or
    /// preferences (sensitive), plus `hasKey` and `hasPassword`.
    pub fn json(&self) -> Value {
        let mut m = entity("user", &self.login, None, self.seq);
        m.insert("name".into(), json!(self.name));
        m.insert("roles".into(), json!(self.roles));
        m.insert("status".into(), json!("Ok"));
        m.insert("organization".into(), json!(self.org));
        m.insert("createdBy".into(), json!(self.created_by));
        m.insert("createdAt".into(), json!(self.created_at));
        if let Some(at) = self.updated_at {
            m.insert("updatedBy".into(), json!(self.created_by));
            m.insert("updatedAt".into(), json!(at));
        }
        m.insert("hasKey".into(), json!(self.key.is_some()));
        m.insert("hasPassword".into(), json!(self.password.is_some()));
        Value::Object(m)
    }
}

/// An enabled analyzer of one organization.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    pub id: String,
    pub name: String,
    pub definition: &'static Definition,
    pub org: String,
    pub configuration: Map<String, Value>,
    pub job_cache: Option<Value>,
    pub job_timeout: Option<Value>,
    pub created_by: String,
    pub created_at: Millis,
    pub seq: u64,
}

impl Worker {
    /// CX `controllers/AnalyzerCtrl.scala` `analyzerJson`: the worker entity plus
    /// `analyzerDefinitionId`, and `configuration` for organization administrators only.
    pub fn json(&self, with_configuration: bool) -> Value {
        let def = self.definition;
        let mut m = entity("worker", &self.id, Some(&self.org), self.seq);
        m.insert("name".into(), json!(self.name));
        m.insert("version".into(), json!(def.version));
        m.insert("workerDefinitionId".into(), json!(def.id));
        m.insert("description".into(), json!(def.description()));
        m.insert("author".into(), json!(def.author()));
        m.insert(
            "url".into(),
            json!("https://github.com/TheHive-Project/Cortex-Analyzers"),
        );
        m.insert("license".into(), json!("AGPL-v3"));
        m.insert("dockerImage".into(), json!(def.docker_image));
        m.insert("dataTypeList".into(), json!(["ip"]));
        m.insert("baseConfig".into(), json!("AbuseIPDB"));
        if let Some(v) = &self.job_cache {
            m.insert("jobCache".into(), v.clone());
        }
        if let Some(v) = &self.job_timeout {
            m.insert("jobTimeout".into(), v.clone());
        }
        m.insert("type".into(), json!("analyzer"));
        m.insert("createdBy".into(), json!(self.created_by));
        m.insert("createdAt".into(), json!(self.created_at));
        if with_configuration {
            m.insert(
                "configuration".into(),
                Value::Object(self.configuration.clone()),
            );
        }
        m.insert("analyzerDefinitionId".into(), json!(def.id));
        Value::Object(m)
    }

    /// The job cache in minutes: the worker's `jobCache`, else `cache.job`.
    fn cache_minutes(&self, default: Duration) -> u64 {
        self.job_cache
            .as_ref()
            .and_then(Value::as_u64)
            .unwrap_or(default.as_secs() / 60)
    }
}

/// What a run request asks for (CX `services/JobSrv.scala` `create`).
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    pub data_type: String,
    pub data: String,
    pub tlp: u64,
    pub pap: u64,
    pub message: String,
    pub parameters: Map<String, Value>,
    pub label: Option<String>,
    pub force: bool,
}

/// A Cortex job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: String,
    pub worker_id: String,
    pub worker_name: String,
    pub definition_id: String,
    pub org: String,
    pub request: RunRequest,
    pub cache_tag: String,
    pub created_by: String,
    pub created_at: Millis,
    pub finished_at: Millis,
    pub outcome: Outcome,
    pub seq: u64,
}

impl Job {
    /// `Waiting` until the analyzer is done, then `Success` or `Failure`.
    pub fn status(&self, now: Millis) -> &'static str {
        if now < self.finished_at {
            "Waiting"
        } else {
            match self.outcome {
                Outcome::Success { .. } => "Success",
                Outcome::Failure(_) => "Failure",
            }
        }
    }

    /// The input the analyzer received, with the secret configuration item replaced as
    /// cortexutils does in its error output (CU `cortexutils/worker.py`).
    fn input(&self) -> Value {
        json!({
            "data": self.request.data,
            "dataType": self.request.data_type,
            "tlp": self.request.tlp,
            "pap": self.request.pap,
            "message": self.request.message,
            "parameters": self.request.parameters,
            "config": {"key": "REMOVED"},
        })
    }

    /// CX `models/Job.scala` `toJson`; `from_cache` adds `fromCache: true` as a cache hit does.
    pub fn json(&self, now: Millis, from_cache: bool) -> Value {
        let status = self.status(now);
        let mut m = entity("job", &self.id, None, self.seq);
        m.insert("workerDefinitionId".into(), json!(self.definition_id));
        m.insert("workerId".into(), json!(self.worker_id));
        m.insert("workerName".into(), json!(self.worker_name));
        m.insert("organization".into(), json!(self.org));
        m.insert("status".into(), json!(status));
        if status != "Waiting" {
            m.insert("startDate".into(), json!(self.created_at));
            m.insert("endDate".into(), json!(self.finished_at));
        }
        m.insert("dataType".into(), json!(self.request.data_type));
        m.insert("data".into(), json!(self.request.data));
        m.insert("tlp".into(), json!(self.request.tlp));
        m.insert("pap".into(), json!(self.request.pap));
        m.insert("message".into(), json!(self.request.message));
        if let (Outcome::Failure(message), "Failure") = (&self.outcome, status) {
            m.insert("errorMessage".into(), json!(message));
            m.insert("input".into(), self.input());
        }
        m.insert(
            "parameters".into(),
            Value::Object(self.request.parameters.clone()),
        );
        if from_cache {
            m.insert("fromCache".into(), json!(true));
        }
        m.insert("type".into(), json!("analyzer"));
        if let Some(label) = &self.request.label {
            m.insert("label".into(), json!(label));
        }
        m.insert("cacheTag".into(), json!(self.cache_tag));
        m.insert("createdBy".into(), json!(self.created_by));
        m.insert("createdAt".into(), json!(self.created_at));
        m.insert("analyzerId".into(), json!(self.worker_id));
        m.insert("analyzerName".into(), json!(self.worker_name));
        m.insert("analyzerDefinitionId".into(), json!(self.definition_id));
        m.insert("date".into(), json!(self.created_at));
        Value::Object(m)
    }

    /// The `report` of `GET /api/job/{id}/report` (CX `controllers/JobCtrl.scala`
    /// `getJobWithReport`): a string while unfinished.
    pub fn report(&self, now: Millis) -> Value {
        if now < self.finished_at {
            return json!("Waiting");
        }
        match &self.outcome {
            Outcome::Success { full, taxonomies } => json!({
                "summary": {"taxonomies": taxonomies},
                "full": full,
                "success": true,
                "artifacts": [],
                "operations": [],
            }),
            Outcome::Failure(message) => json!({
                "errorMessage": message,
                "input": self.input(),
                "success": false,
            }),
        }
    }
}

/// Who is calling: a user login, or `init` while no user exists.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub user_id: String,
    pub roles: Vec<String>,
}

impl Caller {
    /// Whether the caller has one of `roles`.
    pub fn has_any(&self, roles: &[&str]) -> bool {
        self.roles.iter().any(|r| roles.contains(&r.as_str()))
    }
}

/// The whole Cortex-role state behind one lock.
#[derive(Debug)]
pub(crate) struct CortexState {
    pub config: EmulatorConfig,
    rng: StdRng,
    seq: u64,
    /// Whether `POST /api/maintenance/migrate` created the index.
    pub migrated: bool,
    pub orgs: Vec<Org>,
    pub users: Vec<User>,
    pub workers: Vec<Worker>,
    pub jobs: Vec<Job>,
    /// Session token → login.
    pub sessions: HashMap<String, String>,
}

impl CortexState {
    pub fn new(config: EmulatorConfig) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            config,
            seq: 0,
            migrated: false,
            orgs: Vec::new(),
            users: Vec::new(),
            workers: Vec::new(),
            jobs: Vec::new(),
            sessions: HashMap::new(),
        }
    }

    /// The next `_seqNo`.
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Creates the index and the `cortex` organization (CX `models/Migration.scala`).
    pub fn migrate(&mut self, now: Millis) {
        if self.migrated {
            return;
        }
        self.migrated = true;
        let seq = self.next_seq();
        self.orgs.push(Org {
            name: CORTEX_ORG.to_owned(),
            description: "Default organization".to_owned(),
            status: "Active".to_owned(),
            created_by: "init".to_owned(),
            created_at: now,
            seq,
        });
    }

    pub fn org(&self, name: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.name == name)
    }

    pub fn user(&self, login: &str) -> Option<&User> {
        self.users.iter().find(|u| u.login == login)
    }

    pub fn user_mut(&mut self, login: &str) -> Option<&mut User> {
        self.users.iter_mut().find(|u| u.login == login)
    }

    /// Organization of the caller; `init` acts in `cortex`.
    pub fn org_of(&self, caller: &Caller) -> String {
        self.user(&caller.user_id)
            .map_or_else(|| CORTEX_ORG.to_owned(), |u| u.org.clone())
    }

    /// A fresh API key: base64 of 24 random bytes (CX `services/KeyAuthSrv.scala`).
    pub fn new_key(&mut self) -> String {
        let text = random_secret(24);
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    }

    /// The caller for a user, as `getFromUser` builds it.
    pub fn caller(user: &User) -> Caller {
        Caller {
            user_id: user.login.clone(),
            roles: user.roles.clone(),
        }
    }

    /// Workers of `org`, in creation order.
    pub fn workers_of<'a>(&'a self, org: &'a str) -> impl Iterator<Item = &'a Worker> + 'a {
        self.workers.iter().filter(move |w| w.org == org)
    }

    /// Enables an analyzer: stores `worker` with its id (md5 of `<org>_<name>_analyzer`, CX
    /// `models/Worker.scala`) and a fresh `_seqNo`.
    pub fn add_worker(&mut self, mut worker: Worker) -> Worker {
        worker.id = worker_id(&worker.org, &worker.name);
        worker.seq = self.next_seq();
        self.workers.retain(|w| w.id != worker.id);
        self.workers.push(worker.clone());
        worker
    }

    /// Runs or reuses a job (CX `services/JobSrv.scala` `create` and `findSimilarJob`):
    /// returns the job and whether it came from the cache.
    pub fn run(
        &mut self,
        now: Millis,
        worker: &Worker,
        request: RunRequest,
        created_by: &str,
    ) -> (Job, bool) {
        let tag = cache_tag(
            &worker.id,
            &request.data_type,
            request.tlp,
            &request.data,
            &request.parameters,
        );
        let cache = Duration::from_secs(60 * worker.cache_minutes(self.config.job_cache));
        if !request.force && !cache.is_zero() {
            let horizon = now.saturating_sub(cache.as_millis() as u64);
            // Cortex looks for a job with the same tag, neither failed nor deleted, whose
            // `startDate` falls within the cache window (CX `services/JobSrv.scala`
            // `findSimilarJob`): a job still `Waiting` has no `startDate` and never matches.
            // The emulated jobs start when they finish, and show `startDate` from then on.
            let hit = self.jobs.iter().rev().find(|j| {
                j.cache_tag == tag
                    && now >= j.finished_at
                    && j.created_at >= horizon
                    && j.status(now) != "Failure"
            });
            if let Some(job) = hit {
                return (job.clone(), true);
            }
        }

        let latency = self.config.job_latency.sample(&mut self.rng);
        let timeout_minutes = worker
            .job_timeout
            .as_ref()
            .and_then(Value::as_u64)
            .unwrap_or(30);
        let timeout = Duration::from_secs(60 * timeout_minutes);
        let (finished_at, outcome) = if latency > timeout {
            // The runner kills the analyzer, which leaves no report behind.
            (
                now + timeout.as_millis() as u64,
                Outcome::Failure("no output".to_owned()),
            )
        } else {
            (
                now + latency.as_millis() as u64,
                run_analyzer(worker.definition.id, &request.data_type, &request.data),
            )
        };
        let seq = self.next_seq();
        let digest = Md5::digest(format!("{seq}-{tag}-{now}").as_bytes());
        let id: String = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(digest)
            .chars()
            .take(20)
            .collect();
        let job = Job {
            id,
            worker_id: worker.id.clone(),
            worker_name: worker.name.clone(),
            definition_id: worker.definition.id.to_owned(),
            org: worker.org.clone(),
            request,
            cache_tag: tag,
            created_by: created_by.to_owned(),
            created_at: now,
            finished_at,
            outcome,
            seq,
        };
        self.jobs.push(job.clone());
        (job, false)
    }

    /// A job of `org`.
    pub fn job(&self, org: &str, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id == id && j.org == org)
    }
}
