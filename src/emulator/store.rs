//! In-memory state of the emulated TheHive and Cortex: users, sessions, cases, observables,
//! TheHive jobs, Cortex jobs and organisation configuration.
//!
//! Time-dependent state (job status, reports, notification-started jobs) is derived lazily from
//! timestamps: nothing runs in the background, and every handler first calls [`Store::advance`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use super::abuseipdb::{self, Outcome};
use super::config::{EmulatorConfig, Role, random_secret};
use super::notification;
use super::query::Document;

/// Epoch milliseconds, the date format of TheHive's JSON.
pub(crate) type Millis = u64;

/// The current time in epoch milliseconds.
pub(crate) fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn ms(d: Duration) -> Millis {
    d.as_millis() as u64
}

/// Login of TheHive's internal user, author of notification-started jobs.
pub(crate) const SYSTEM_USER: &str = "system@thehive.local";

/// Name of the platform organisation.
pub(crate) const ADMIN_ORG: &str = "admin";

/// Permissions of the TH4 `admin` profile (TH4 `models/Permissions.scala`, platform permissions).
const ADMIN_PROFILE: &[&str] = &[
    "manageUser",
    "manageOrganisation",
    "manageProfile",
    "manageObservableTemplate",
    "manageCustomField",
    "manageConfig",
    "manageTaxonomy",
    "managePattern",
    "manageAnalyzerTemplate",
    "manageTag",
];

/// Permissions of the TH4 `org-admin` profile, which admin-org users get in other organisations
/// (TH4 `services/LocalUserSrv.scala` fallback).
const ORG_ADMIN_PROFILE: &[&str] = &[
    "manageOrganisation",
    "manageCase",
    "manageObservable",
    "manageAlert",
    "manageUser",
    "manageCaseTemplate",
    "manageShare",
    "manageAnalyse",
    "manageTask",
    "manageAction",
    "manageConfig",
    "managePage",
    "manageProcedure",
    "manageTag",
    "accessTheHiveFS",
];

/// Permissions of the TH4 `analyst` profile (no `manageConfig`).
const ANALYST_PROFILE: &[&str] = &[
    "manageCase",
    "manageObservable",
    "manageAlert",
    "manageTask",
    "manageAction",
    "manageShare",
    "manageAnalyse",
    "managePage",
    "manageProcedure",
    "accessTheHiveFS",
];

/// Permissions of the `read-only` profile: reading needs no permission in TheHive.
const READ_ONLY_PROFILE: &[&str] = &[];

/// Profile names the emulator knows, as `&'static` strings for memberships.
const PROFILES: &[&str] = &["admin", "org-admin", "analyst", "read-only"];

/// The `&'static` name of a known profile.
pub(crate) fn profile_name(name: &str) -> Option<&'static str> {
    PROFILES.iter().copied().find(|p| *p == name)
}

/// Permissions granted by a profile (an unknown name grants the analyst's).
fn profile_permissions(profile: &str) -> &'static [&'static str] {
    match profile {
        "admin" => ADMIN_PROFILE,
        "org-admin" => ORG_ADMIN_PROFILE,
        "read-only" => READ_ONLY_PROFILE,
        _ => ANALYST_PROFILE,
    }
}

/// A TheHive user and its organisation memberships.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub login: String,
    pub name: String,
    pub password: String,
    pub key: Option<String>,
    /// `(organisation, profile name)`, the first one being the default organisation.
    pub orgs: Vec<(String, &'static str)>,
    pub created_at: Millis,
    /// Author of the user record.
    pub created_by: String,
    /// TheHive 5 user type: `Normal`, `Service` or `External`.
    pub kind: String,
    /// E-mail address (TheHive 5 only).
    pub email: Option<String>,
}

/// An organisation.
#[derive(Debug, Clone)]
pub(crate) struct Org {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created_by: String,
    pub created_at: Millis,
}

/// Who is calling, in which organisation, with which permissions.
#[derive(Debug, Clone)]
pub(crate) struct AuthContext {
    pub login: String,
    pub org: String,
    pub permissions: &'static [&'static str],
}

impl AuthContext {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(&permission)
    }
}

/// A case (v0 `case`).
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub id: String,
    pub number: u64,
    pub org: String,
    pub fields: Map<String, Value>,
    pub created_by: String,
    pub created_at: Millis,
}

/// An observable in a case (v0 `case_artifact`).
#[derive(Debug, Clone)]
pub(crate) struct Observable {
    pub id: String,
    pub case_id: String,
    pub data_type: String,
    pub data: String,
    pub tlp: u64,
    pub fields: Map<String, Value>,
    pub created_by: String,
    pub created_at: Millis,
}

/// A job as Cortex stores it.
#[derive(Debug, Clone)]
pub(crate) struct CortexJob {
    pub id: String,
    pub cache_tag: String,
    pub created_at: Millis,
    pub finished_at: Millis,
    pub outcome: Outcome,
}

/// A job as TheHive stores it (v0 `case_artifact_job`).
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub id: String,
    pub observable_id: String,
    pub cortex_id: String,
    pub cortex_job_id: String,
    pub worker_id: String,
    pub analyzer_name: String,
    pub definition: String,
    /// `startDate`/`endDate` at creation: Cortex's `startDate`/`endDate`, each falling back
    /// to Cortex's creation `date` (TH4 `cortex/connector/.../services/JobSrv.scala`
    /// `fromCortexOutputJob`). `startDate` never changes afterwards; `endDate` becomes the
    /// poller's clock when the result is stored (`updateJobStatus` sets `new Date()`).
    pub initial_dates: (Millis, Millis),
    /// Status Cortex answered at creation: `Waiting`, or `Success` for a finished cache hit.
    pub born_status: &'static str,
    /// Poller tick at which TheHive stores the Cortex result.
    pub stored_at: Millis,
    /// Login of the user who asked for the job.
    pub created_by: String,
    /// Creation time in TheHive.
    pub created_at: Millis,
    /// Why the submission to Cortex failed, for jobs TheHive 5 accepted without checking the
    /// Cortex server or the analyzer; the job then ends `Failure` with this message.
    pub submit_error: Option<String>,
    /// Role `thehive`: what TheHive learnt from a Cortex reached over HTTP; the in-process
    /// Cortex job is then absent and `stored_at` unused.
    pub remote: Option<RemoteJob>,
}

/// A job of a remote Cortex as TheHive's poller stored it.
#[derive(Debug, Clone)]
pub(crate) struct RemoteJob {
    /// Status stored by TheHive: Cortex's answer at creation, then the final one.
    pub status: String,
    /// TheHive's `report`, once a final status was stored.
    pub report: Option<Value>,
    /// `summary.taxonomies` of a successful report.
    pub taxonomies: Vec<Value>,
    /// Cortex's `endDate` once finished.
    pub end_date: Option<Millis>,
    /// Earliest time the lazy poller asks Cortex again.
    pub next_poll: Millis,
}

impl RemoteJob {
    /// Whether TheHive has stored a final status and stops polling (TH4
    /// `services/CortexActor.scala` only acts on `Success` and `Failure`).
    pub fn is_final(&self) -> bool {
        self.report.is_some()
    }
}

/// A RunAnalyzer notification waiting for its start time.
#[derive(Debug, Clone)]
pub(crate) struct PendingRun {
    pub due: Millis,
    pub org: String,
    pub observable_id: String,
    pub analyzer_name: String,
    pub parameters: Map<String, Value>,
}

/// An enabled analyzer as TheHive lists it, merged over the Cortex servers.
#[derive(Debug, Clone)]
pub(crate) struct Analyzer {
    pub worker_id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub data_types: Vec<String>,
    pub cortex_ids: Vec<String>,
}

impl Analyzer {
    /// TH4 `OutputWorker` JSON.
    pub fn json(&self) -> Value {
        json!({
            "id": self.worker_id,
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "dataTypeList": self.data_types,
            "cortexIds": self.cortex_ids,
        })
    }
}

/// Worker id of an analyzer: md5 of `<cortexOrgId>_<name>_analyzer` (CX `models/Worker.scala`).
pub(crate) fn worker_id(cortex_org: &str, name: &str) -> String {
    let digest = Md5::digest(format!("{cortex_org}_{name}_analyzer").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Version, description and data types of an analyzer definition id such as `AbuseIPDB_1_0`.
fn definition(name: &str) -> (String, String, Vec<String>) {
    let version = name
        .rsplit_once('_')
        .and_then(|(head, minor)| {
            let (_, major) = head.rsplit_once('_')?;
            Some(format!("{major}.{minor}"))
        })
        .unwrap_or_else(|| "1.0".to_owned());
    let description = match abuseipdb::Version::of(name) {
        Some(v) => abuseipdb::catalog(v).description.to_owned(),
        None => format!("{name} (emulated)"),
    };
    (version, description, vec!["ip".to_owned()])
}

/// The whole emulator state behind one lock.
#[derive(Debug)]
pub(crate) struct Store {
    pub config: EmulatorConfig,
    next_id: u64,
    next_case_number: u64,
    rng: StdRng,
    pub users: Vec<User>,
    pub orgs: Vec<Org>,
    pub sessions: HashMap<String, (String, String)>,
    pub cases: BTreeMap<u64, Case>,
    pub observables: BTreeMap<u64, Observable>,
    pub jobs: BTreeMap<u64, Job>,
    cortex_jobs: Vec<CortexJob>,
    org_config: HashMap<(String, String), Value>,
    pending: Vec<PendingRun>,
}

/// Numeric part of a `~id`, used as map key so that maps keep creation order.
pub(crate) fn id_key(id: &str) -> Option<u64> {
    id.strip_prefix('~')?.parse().ok()
}

impl Store {
    pub fn new(config: EmulatorConfig) -> Self {
        let now = now_ms();
        let mut store = Self {
            rng: StdRng::seed_from_u64(config.seed),
            next_id: 4096,
            next_case_number: 1,
            users: Vec::new(),
            orgs: Vec::new(),
            sessions: HashMap::new(),
            cases: BTreeMap::new(),
            observables: BTreeMap::new(),
            jobs: BTreeMap::new(),
            cortex_jobs: Vec::new(),
            org_config: HashMap::new(),
            pending: Vec::new(),
            config,
        };
        let admin = User {
            id: store.alloc_id(),
            login: store.config.admin_login.clone(),
            name: "Default admin user".to_owned(),
            password: store.config.admin_password.clone(),
            key: store.config.admin_key.clone(),
            orgs: vec![(ADMIN_ORG.to_owned(), "admin")],
            created_at: now,
            created_by: SYSTEM_USER.to_owned(),
            kind: "Normal".to_owned(),
            email: None,
        };
        let analyst = User {
            id: store.alloc_id(),
            login: store.config.analyst_login.clone(),
            name: "Analyst".to_owned(),
            password: store.config.analyst_password.clone(),
            key: Some(store.config.analyst_key.clone()),
            orgs: vec![(store.config.org.clone(), "analyst")],
            created_at: now,
            created_by: SYSTEM_USER.to_owned(),
            kind: "Normal".to_owned(),
            email: None,
        };
        store.users = vec![admin, analyst];
        for (name, description) in [
            (
                ADMIN_ORG.to_owned(),
                "organisation for administration".to_owned(),
            ),
            (store.config.org.clone(), "working organisation".to_owned()),
        ] {
            let id = store.alloc_id();
            store.orgs.push(Org {
                id,
                name,
                description,
                created_by: SYSTEM_USER.to_owned(),
                created_at: now,
            });
        }
        store
    }

    /// A fresh `~<digits>` id from the single counter.
    pub fn alloc_id(&mut self) -> String {
        self.next_id += 8;
        format!("~{}", self.next_id)
    }

    /// Whether `org` exists.
    pub fn org_exists(&self, org: &str) -> bool {
        self.find_org(org).is_some()
    }

    /// An organisation by `~id` or name.
    pub fn find_org(&self, id_or_name: &str) -> Option<&Org> {
        self.orgs
            .iter()
            .find(|o| o.id == id_or_name || o.name == id_or_name)
    }

    /// A user by `~id` or login.
    pub fn find_user(&self, id_or_login: &str) -> Option<&User> {
        match self.users.iter().find(|u| u.id == id_or_login) {
            Some(user) => Some(user),
            None => self.user(id_or_login),
        }
    }

    /// Looks a user up by login, applying `auth.defaultUserDomain` (`thehive.local`).
    pub fn user(&self, login: &str) -> Option<&User> {
        let login = normalise_login(login);
        self.users.iter().find(|u| u.login == login)
    }

    /// The auth context of `user` in `org` (its default organisation if `None`), or `None` if
    /// the user may not act there.
    pub fn context(&self, user: &User, org: Option<&str>) -> Option<AuthContext> {
        let org = org.unwrap_or(&user.orgs[0].0);
        let profile = match user.orgs.iter().find(|(o, _)| o == org) {
            Some((_, profile)) => *profile,
            // Members of the admin organisation may enter any organisation as org-admins
            // (TH4 `LocalUserSrv.getAuthContext` fallback).
            None if user.orgs.iter().any(|(o, _)| o == ADMIN_ORG) && self.org_exists(org) => {
                "org-admin"
            }
            None => return None,
        };
        let permissions = profile_permissions(profile);
        Some(AuthContext {
            login: user.login.clone(),
            org: org.to_owned(),
            permissions,
        })
    }

    /// Context of TheHive's system user in `org`, with every organisation permission.
    pub(crate) fn system_context(org: &str) -> AuthContext {
        AuthContext {
            login: SYSTEM_USER.to_owned(),
            org: org.to_owned(),
            permissions: ORG_ADMIN_PROFILE,
        }
    }

    /// Opens a session and returns its cookie value.
    pub fn open_session(&mut self, login: &str, org: &str) -> String {
        let token = random_secret(40);
        self.sessions
            .insert(token.clone(), (login.to_owned(), org.to_owned()));
        token
    }

    /// Removes and returns the RunAnalyzer notifications due by `now`.
    pub fn take_due_runs(&mut self, now: Millis) -> Vec<PendingRun> {
        self.pending.sort_by_key(|p| p.due);
        let split = self.pending.partition_point(|p| p.due <= now);
        self.pending.drain(..split).collect()
    }

    /// Starts the notification-started jobs that are due by `now`.
    ///
    /// In the `thehive` role the due runs stay queued: they need HTTP calls, which the
    /// connector makes before locking the store.
    pub fn advance(&mut self, now: Millis) {
        if self.config.role == Role::TheHive {
            return;
        }
        let due = self.take_due_runs(now);
        for run in due {
            let Some(key) = id_key(&run.observable_id) else {
                continue;
            };
            if !self.observables.contains_key(&key) {
                continue;
            }
            // TH4 `RunAnalyzer.scala` takes the first Cortex server that has the analyzer.
            let server = self
                .config
                .cortex_servers
                .iter()
                .find(|s| s.analyzers.contains(&run.analyzer_name))
                .map(|s| s.name.clone());
            let Some(server) = server else {
                tracing::debug!(target: "emulator", analyzer = %run.analyzer_name, "RunAnalyzer: analyzer not found");
                continue;
            };
            let ctx = Self::system_context(&run.org);
            let job = self.submit_job(
                run.due,
                &ctx,
                &run.observable_id,
                &server,
                &run.analyzer_name,
                run.parameters,
            );
            tracing::debug!(target: "emulator", job_id = %job, observable = %run.observable_id, "RunAnalyzer notification started a job");
        }
    }

    /// Enabled analyzers merged by name over the Cortex servers, in configuration order.
    pub fn analyzers(&self) -> Vec<Analyzer> {
        let mut out: Vec<Analyzer> = Vec::new();
        for server in &self.config.cortex_servers {
            for name in &server.analyzers {
                if let Some(a) = out.iter_mut().find(|a| &a.name == name) {
                    if !a.cortex_ids.contains(&server.name) {
                        a.cortex_ids.push(server.name.clone());
                    }
                    continue;
                }
                let (version, description, data_types) = definition(name);
                out.push(Analyzer {
                    worker_id: worker_id(&self.config.org, name),
                    name: name.clone(),
                    version,
                    description,
                    data_types,
                    cortex_ids: vec![server.name.clone()],
                });
            }
        }
        out
    }

    /// Resolves an analyzer on one server by worker id, then by name (TH4 `JobSrv.submit`).
    pub fn resolve_analyzer(&self, server: &str, id_or_name: &str) -> Option<Analyzer> {
        self.analyzers().into_iter().find(|a| {
            a.cortex_ids.iter().any(|c| c == server)
                && (a.worker_id == id_or_name || a.name == id_or_name)
        })
    }

    /// Creates a case from validated fields.
    pub fn create_case(
        &mut self,
        now: Millis,
        ctx: &AuthContext,
        fields: Map<String, Value>,
    ) -> String {
        let id = self.alloc_id();
        let number = self.next_case_number;
        self.next_case_number += 1;
        self.cases.insert(
            id_key(&id).expect("own id"),
            Case {
                id: id.clone(),
                number,
                org: ctx.org.clone(),
                fields,
                created_by: ctx.login.clone(),
                created_at: now,
            },
        );
        id
    }

    /// A case visible in `org` by `~id` or case number.
    pub fn find_case(&self, org: &str, id_or_number: &str) -> Option<&Case> {
        let found = match id_key(id_or_number) {
            Some(key) => self.cases.get(&key),
            None => {
                let number: u64 = id_or_number.parse().ok()?;
                self.cases.values().find(|c| c.number == number)
            }
        };
        found.filter(|c| c.org == org)
    }

    /// Deletes a case with its observables and their jobs.
    pub fn delete_case(&mut self, id: &str) {
        let Some(key) = id_key(id) else { return };
        self.cases.remove(&key);
        let gone: Vec<u64> = self
            .observables
            .iter()
            .filter(|(_, o)| o.case_id == id)
            .map(|(k, _)| *k)
            .collect();
        for k in &gone {
            if let Some(obs) = self.observables.remove(k) {
                self.jobs.retain(|_, j| j.observable_id != obs.id);
            }
        }
    }

    /// An observable visible in `org`.
    pub fn find_observable(&self, org: &str, id: &str) -> Option<&Observable> {
        let obs = self.observables.get(&id_key(id)?)?;
        let case = self.cases.get(&id_key(&obs.case_id)?)?;
        (case.org == org).then_some(obs)
    }

    /// A job visible in `org`.
    pub fn find_job(&self, org: &str, id: &str) -> Option<&Job> {
        let job = self.jobs.get(&id_key(id)?)?;
        self.find_observable(org, &job.observable_id)?;
        Some(job)
    }

    /// Whether the case already holds an observable with this data type and data.
    pub fn observable_exists(&self, case_id: &str, data_type: &str, data: &str) -> bool {
        self.observables
            .values()
            .any(|o| o.case_id == case_id && o.data_type == data_type && o.data == data)
    }

    /// Creates one observable and schedules the RunAnalyzer notifications it triggers.
    pub fn create_observable(
        &mut self,
        now: Millis,
        ctx: &AuthContext,
        case_id: &str,
        data_type: &str,
        data: &str,
        fields: Map<String, Value>,
    ) -> String {
        let id = self.alloc_id();
        let tlp = fields.get("tlp").and_then(Value::as_u64).unwrap_or(2);
        let obs = Observable {
            id: id.clone(),
            case_id: case_id.to_owned(),
            data_type: data_type.to_owned(),
            data: data.to_owned(),
            tlp,
            fields,
            created_by: ctx.login.clone(),
            created_at: now,
        };
        let audit = self.creation_audit(&obs, ctx, now);
        self.observables.insert(id_key(&id).expect("own id"), obs);
        self.schedule_notifications(now, &ctx.org, &id, &audit);
        id
    }

    /// The audit TheHive writes for an observable creation, as `FilteredEvent` filters see it
    /// (TH4 `models/Audit.scala` fields).
    fn creation_audit(&mut self, obs: &Observable, ctx: &AuthContext, now: Millis) -> Value {
        let details = json!({
            "dataType": obs.data_type,
            "data": obs.data,
            "tlp": obs.tlp,
            "ioc": obs.fields.get("ioc").cloned().unwrap_or(json!(false)),
            "sighted": obs.fields.get("sighted").cloned().unwrap_or(json!(false)),
            "tags": obs.fields.get("tags").cloned().unwrap_or(json!([])),
        });
        json!({
            "_id": self.alloc_id(),
            "_type": "Audit",
            "_createdBy": ctx.login,
            "_createdAt": now,
            "requestId": random_secret(16),
            "action": "create",
            "mainAction": true,
            "objectId": obs.id,
            "objectType": "Observable",
            "details": details.to_string(),
            "user": ctx.login,
        })
    }

    fn schedule_notifications(
        &mut self,
        now: Millis,
        org: &str,
        observable_id: &str,
        audit: &Value,
    ) {
        if self.config.emulate_runanalyzer_lookup_bug {
            // TH4 4.1.24 looks the analyzer up among responders, so it is never found.
            return;
        }
        let Some(config) = self
            .org_config
            .get(&(org.to_owned(), "notification".to_owned()))
        else {
            return;
        };
        let runs = notification::analyzers_to_run(config, audit);
        let due = now + ms(self.config.notification_delay);
        for run in runs {
            self.pending.push(PendingRun {
                due,
                org: org.to_owned(),
                observable_id: observable_id.to_owned(),
                analyzer_name: run.analyzer_name,
                parameters: run.parameters,
            });
        }
    }

    /// Submits a job to Cortex and records it in TheHive; returns the TheHive job id.
    ///
    /// The caller has checked the observable, the server and the analyzer.
    pub fn submit_job(
        &mut self,
        now: Millis,
        ctx: &AuthContext,
        observable_id: &str,
        server: &str,
        analyzer_name: &str,
        mut parameters: Map<String, Value>,
    ) -> String {
        let analyzer = self
            .resolve_analyzer(server, analyzer_name)
            .expect("checked by caller");
        let obs = self
            .observables
            .get(&id_key(observable_id).expect("checked by caller"))
            .expect("checked by caller")
            .clone();

        // TheHive adds the organisation and user to the parameters it sends (TH4
        // `cortex/.../services/JobSrv.scala` `submit`), so they are part of Cortex's cache tag.
        parameters.insert("organisation".to_owned(), json!(ctx.org));
        parameters.insert("user".to_owned(), json!(ctx.login));
        let tag = cache_tag(
            &analyzer.worker_id,
            &obs.data_type,
            obs.tlp,
            &obs.data,
            &parameters,
        );
        let cortex_job = self.cortex_submit(now, &tag, &analyzer.name, &obs);

        let (born_status, initial_dates) = if cortex_job.finished_at <= now {
            (
                status_of(&cortex_job.outcome),
                (cortex_job.created_at, cortex_job.finished_at),
            )
        } else {
            ("Waiting", (now, now))
        };
        let stored_at = self.first_tick(now, cortex_job.finished_at);
        let id = self.alloc_id();
        self.jobs.insert(
            id_key(&id).expect("own id"),
            Job {
                id: id.clone(),
                observable_id: obs.id.clone(),
                cortex_id: server.to_owned(),
                cortex_job_id: cortex_job.id.clone(),
                worker_id: analyzer.worker_id.clone(),
                analyzer_name: analyzer.name.clone(),
                definition: analyzer.name.clone(),
                initial_dates,
                born_status,
                stored_at,
                created_by: ctx.login.clone(),
                created_at: now,
                submit_error: None,
                remote: None,
            },
        );
        id
    }

    /// Records a job that TheHive 5 accepted but could not submit: an unknown Cortex server or
    /// analyzer. It fails at the first poller tick with `error`; returns the TheHive job id.
    pub fn record_failed_job(
        &mut self,
        now: Millis,
        ctx: &AuthContext,
        observable_id: &str,
        server: &str,
        analyzer_id: &str,
        error: String,
    ) -> String {
        let stored_at = self.first_tick(now, now);
        let id = self.alloc_id();
        self.jobs.insert(
            id_key(&id).expect("own id"),
            Job {
                id: id.clone(),
                observable_id: observable_id.to_owned(),
                cortex_id: server.to_owned(),
                cortex_job_id: String::new(),
                worker_id: analyzer_id.to_owned(),
                analyzer_name: analyzer_id.to_owned(),
                definition: analyzer_id.to_owned(),
                initial_dates: (now, now),
                born_status: "Waiting",
                stored_at,
                created_by: ctx.login.clone(),
                created_at: now,
                submit_error: Some(error),
                remote: None,
            },
        );
        id
    }

    /// Records a job that a remote Cortex accepted (role `thehive`); returns the TheHive id.
    ///
    /// TheHive keeps Cortex's status (`Success` for a cache hit) and dates, each falling back
    /// to Cortex's creation `date` (TH4 `cortex/connector/.../services/JobSrv.scala`
    /// `fromCortexOutputJob`); the current time only stands in for a `date` Cortex omitted.
    pub fn record_remote_job(
        &mut self,
        now: Millis,
        created_by: &str,
        observable_id: &str,
        server: &str,
        cortex_job: &Value,
    ) -> String {
        let text = |k: &str| cortex_job[k].as_str().unwrap_or_default().to_owned();
        let worker_id = cortex_job["workerId"]
            .as_str()
            .or_else(|| cortex_job["analyzerId"].as_str())
            .unwrap_or_default()
            .to_owned();
        let name = cortex_job["workerName"]
            .as_str()
            .or_else(|| cortex_job["analyzerName"].as_str())
            .unwrap_or_default()
            .to_owned();
        let definition = cortex_job["workerDefinitionId"]
            .as_str()
            .or_else(|| cortex_job["analyzerDefinitionId"].as_str())
            .unwrap_or(&name)
            .to_owned();
        let date = cortex_job["date"].as_u64().unwrap_or(now);
        let start = cortex_job["startDate"].as_u64().unwrap_or(date);
        let end = cortex_job["endDate"].as_u64().unwrap_or(date);
        let status = text("status");
        let id = self.alloc_id();
        self.jobs.insert(
            id_key(&id).expect("own id"),
            Job {
                id: id.clone(),
                observable_id: observable_id.to_owned(),
                cortex_id: server.to_owned(),
                cortex_job_id: text("id"),
                worker_id,
                analyzer_name: name,
                definition,
                initial_dates: (start, end),
                born_status: "Waiting",
                stored_at: now,
                created_by: created_by.to_owned(),
                created_at: now,
                submit_error: None,
                remote: Some(RemoteJob {
                    status,
                    report: None,
                    taxonomies: Vec::new(),
                    end_date: None,
                    next_poll: now + ms(self.config.refresh_delay),
                }),
            },
        );
        id
    }

    /// Remote jobs the lazy poller should ask about at `now`: `(job id, server, Cortex job id)`.
    pub fn remote_jobs_to_poll(&self, now: Millis) -> Vec<(String, String, String)> {
        self.jobs
            .values()
            .filter(|j| {
                j.remote
                    .as_ref()
                    .is_some_and(|r| !r.is_final() && r.next_poll <= now)
            })
            .map(|j| (j.id.clone(), j.cortex_id.clone(), j.cortex_job_id.clone()))
            .collect()
    }

    /// Stores one poll answer (a Cortex job with `report`, or `None` after a failed call).
    ///
    /// Like TH4's `CortexActor`, only `Success` and `Failure` are stored; the success report
    /// keeps `full` and `artifacts`, the summary only feeds the observable's `reports`.
    pub fn apply_poll(&mut self, now: Millis, job_id: &str, answer: Option<&Value>) {
        let period = ms(self.config.refresh_delay).max(1);
        let Some(job) = id_key(job_id).and_then(|k| self.jobs.get_mut(&k)) else {
            return;
        };
        let Some(remote) = job.remote.as_mut() else {
            return;
        };
        remote.next_poll = now + period;
        let Some(answer) = answer else { return };
        let status = answer["status"].as_str().unwrap_or_default();
        let report = &answer["report"];
        match status {
            "Success" => {
                remote.status = status.to_owned();
                remote.taxonomies = report["summary"]["taxonomies"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                remote.report = Some(json!({
                    "success": true,
                    "full": report["full"],
                    "artifacts": report["artifacts"].as_array().cloned().unwrap_or_default(),
                }));
            }
            "Failure" => {
                remote.status = status.to_owned();
                remote.report = Some(json!({
                    "errorMessage": report["errorMessage"].as_str().unwrap_or_default(),
                    "success": false,
                }));
            }
            _ => return,
        }
        // TheHive stamps the end with its own clock when it stores the result, not with
        // Cortex's `endDate` (TH4 `JobSrv.scala` `updateJobStatus`).
        remote.end_date = Some(now);
        job.stored_at = now;
    }

    /// First poller tick after `created` that sees a job finished at `finished`.
    fn first_tick(&self, created: Millis, finished: Millis) -> Millis {
        let period = ms(self.config.refresh_delay).max(1);
        let ticks = finished.saturating_sub(created).div_ceil(period).max(1);
        created + ticks * period
    }

    /// Cortex side of a submission, honouring the job cache (CX `services/JobSrv.scala`).
    fn cortex_submit(
        &mut self,
        now: Millis,
        tag: &str,
        analyzer: &str,
        obs: &Observable,
    ) -> CortexJob {
        // Cortex only reuses a job that has a `startDate` in the cache window and did not
        // fail (CX `services/JobSrv.scala` `findSimilarJob`); the emulated jobs start when
        // they finish, so a job still `Waiting` is never a hit.
        let horizon = now.saturating_sub(ms(self.config.job_cache));
        let cached = self.cortex_jobs.iter().rev().find(|j| {
            j.cache_tag == tag
                && j.finished_at <= now
                && j.created_at >= horizon
                && !matches!(j.outcome, Outcome::Failure(_))
        });
        if let Some(job) = cached {
            return job.clone();
        }

        let latency = self.config.job_latency.sample(&mut self.rng);
        let outcome = run_analyzer(analyzer, &obs.data_type, &obs.data);
        let digest = Md5::digest(format!("{}-{}", self.next_id, tag).as_bytes());
        let id: String =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, digest)
                .chars()
                .take(20)
                .collect();
        let job = CortexJob {
            id,
            cache_tag: tag.to_owned(),
            created_at: now,
            finished_at: now + ms(latency),
            outcome,
        };
        self.cortex_jobs.push(job.clone());
        job
    }

    fn cortex_job(&self, id: &str) -> Option<&CortexJob> {
        self.cortex_jobs.iter().find(|j| j.id == id)
    }

    /// TheHive status of a job at `now`.
    pub fn job_status<'a>(&'a self, job: &'a Job, now: Millis) -> &'a str {
        if let Some(remote) = &job.remote {
            return &remote.status;
        }
        if job.submit_error.is_some() {
            return if now >= job.stored_at {
                "Failure"
            } else {
                job.born_status
            };
        }
        match self.cortex_job(&job.cortex_job_id) {
            Some(cj) if now >= job.stored_at => status_of(&cj.outcome),
            _ => job.born_status,
        }
    }

    /// v0 job JSON (TH4 `cortex/.../controllers/v0/Conversion.scala` `jobOutput`).
    pub fn job_json(&self, job: &Job, now: Millis) -> Value {
        let mut out = json!({
            "_type": "case_artifact_job",
            "id": job.id,
            "analyzerId": job.worker_id,
            "analyzerName": job.analyzer_name,
            "analyzerDefinition": job.definition,
            "status": self.job_status(job, now),
            "startDate": job.initial_dates.0,
            "endDate": job.initial_dates.1,
            "cortexId": job.cortex_id,
            "cortexJobId": job.cortex_job_id,
            "operations": "[]",
        });
        if let Some(remote) = &job.remote {
            if let (Some(report), Some(end)) = (&remote.report, remote.end_date) {
                out["endDate"] = json!(end);
                out["report"] = report.clone();
            }
            return out;
        }
        if let Some(cj) = self
            .cortex_job(&job.cortex_job_id)
            .filter(|_| now >= job.stored_at)
        {
            // The poller's clock at the tick that stored the result (TH4 `JobSrv.scala`
            // `updateJobStatus`), not Cortex's end.
            out["endDate"] = json!(job.stored_at);
            out["report"] = match &cj.outcome {
                Outcome::Success { full, .. } => {
                    json!({"success": true, "full": full, "artifacts": []})
                }
                Outcome::Failure(message) => json!({"errorMessage": message, "success": false}),
            };
        }
        out
    }

    /// End date and report of a finished job, `None` while it runs.
    pub fn job_result(&self, job: &Job, now: Millis) -> Option<(Millis, Value)> {
        if let Some(remote) = &job.remote {
            // A remote job is finished once the poller stored Cortex's final answer.
            return Some((remote.end_date?, remote.report.clone()?));
        }
        if now < job.stored_at {
            return None;
        }
        if let Some(error) = &job.submit_error {
            return Some((
                job.stored_at,
                json!({"errorMessage": error, "success": false}),
            ));
        }
        let cj = self.cortex_job(&job.cortex_job_id)?;
        let report = match &cj.outcome {
            Outcome::Success { full, .. } => {
                json!({"success": true, "full": full, "artifacts": []})
            }
            Outcome::Failure(message) => json!({"errorMessage": message, "success": false}),
        };
        Some((job.stored_at, report))
    }

    /// `reports` of an observable, for renderers outside the store.
    pub fn observable_reports(&self, obs: &Observable, now: Millis) -> Map<String, Value> {
        self.reports(obs, now)
    }

    /// Jobs of one observable.
    pub fn jobs_of<'a>(&'a self, observable_id: &'a str) -> impl Iterator<Item = &'a Job> + 'a {
        self.jobs
            .values()
            .filter(move |j| j.observable_id == observable_id)
    }

    /// `reports` of an observable: for each analyzer, the taxonomies of its latest stored
    /// successful job with a non-empty summary (TH4 `services/ReportTagSrv.scala`).
    fn reports(&self, obs: &Observable, now: Millis) -> Map<String, Value> {
        let mut stored: Vec<&Job> = self
            .jobs_of(&obs.id)
            .filter(|j| now >= j.stored_at)
            .collect();
        stored.sort_by_key(|j| (j.stored_at, id_key(&j.id)));
        let mut reports = Map::new();
        for job in stored {
            if let Some(remote) = &job.remote {
                if remote.status == "Success" && !remote.taxonomies.is_empty() {
                    reports.insert(
                        job.analyzer_name.clone(),
                        json!({"taxonomies": remote.taxonomies}),
                    );
                }
                continue;
            }
            if let Some(CortexJob {
                outcome: Outcome::Success { taxonomies, .. },
                ..
            }) = self.cortex_job(&job.cortex_job_id)
                && !taxonomies.is_empty()
            {
                reports.insert(job.analyzer_name.clone(), json!({"taxonomies": taxonomies}));
            }
        }
        reports
    }

    /// v0 observable JSON (`case_artifact`, TH4 `dto/v0/Observable.scala`).
    pub fn observable_json(&self, obs: &Observable, now: Millis) -> Value {
        let reports = self.reports(obs, now);
        let mut out = json!({
            "_id": obs.id,
            "id": obs.id,
            "createdBy": obs.created_by,
            "createdAt": obs.created_at,
            "_type": "case_artifact",
            "dataType": obs.data_type,
            "data": obs.data,
            // TheHive renders the creation date whatever `startDate` was sent (TH4 v0
            // `Conversion.scala` `observableOutput`).
            "startDate": obs.created_at,
            "tlp": obs.tlp,
            "tags": obs.fields.get("tags").cloned().unwrap_or(json!([])),
            "ioc": obs.fields.get("ioc").cloned().unwrap_or(json!(false)),
            "sighted": obs.fields.get("sighted").cloned().unwrap_or(json!(false)),
            "reports": reports,
            "stats": {},
        });
        for key in ["message", "ignoreSimilarity"] {
            if let Some(v) = obs.fields.get(key) {
                out[key] = v.clone();
            }
        }
        out
    }

    /// v0 case JSON (TH4 `dto/v0/Case.scala` `OutputCase.writes`).
    ///
    /// Unlike the other v0 outputs, the case writer is hand-written with `Json.obj`, so absent
    /// optionals are rendered as `null` (docs/upstream-notes.md Q3). `permissions` lists the caller's
    /// permissions.
    pub fn case_json(&self, case: &Case, ctx: &AuthContext) -> Value {
        let f = &case.fields;
        let get = |k: &str, default: Value| f.get(k).cloned().unwrap_or(default);
        json!({
            "_id": case.id,
            "id": case.id,
            "createdBy": case.created_by,
            "updatedBy": null,
            "createdAt": case.created_at,
            "updatedAt": null,
            "_type": "case",
            "caseId": case.number,
            "title": get("title", json!("")),
            "description": get("description", json!("")),
            "severity": get("severity", json!(2)),
            "startDate": get("startDate", json!(case.created_at)),
            "endDate": get("endDate", Value::Null),
            "impactStatus": null,
            "resolutionStatus": null,
            "tags": get("tags", json!([])),
            "flag": get("flag", json!(false)),
            "tlp": get("tlp", json!(2)),
            "pap": get("pap", json!(2)),
            // TheHive ignores an input status: a new case is always open.
            "status": "Open",
            "summary": get("summary", Value::Null),
            "owner": get("user", json!(case.created_by)),
            "customFields": get("customFields", json!({})),
            "stats": {},
            "permissions": ctx.permissions,
        })
    }

    /// v1 observable JSON (`Observable`, TH4 `dto/v1/Observable.scala`).
    pub fn observable_json_v1(&self, obs: &Observable, now: Millis) -> Value {
        let mut out = json!({
            "_id": obs.id,
            "_type": "Observable",
            "_createdBy": obs.created_by,
            "_createdAt": obs.created_at,
            "dataType": obs.data_type,
            "data": obs.data,
            // As in v0, the creation date (TH4 v1 `Conversion.scala` `observableOutput`).
            "startDate": obs.created_at,
            "tlp": obs.tlp,
            "tags": obs.fields.get("tags").cloned().unwrap_or(json!([])),
            "ioc": obs.fields.get("ioc").cloned().unwrap_or(json!(false)),
            "sighted": obs.fields.get("sighted").cloned().unwrap_or(json!(false)),
            "reports": self.reports(obs, now),
            "extraData": {},
        });
        for key in ["message", "ignoreSimilarity"] {
            if let Some(v) = obs.fields.get(key) {
                out[key] = v.clone();
            }
        }
        out
    }

    /// v1 case JSON (`Case`, TH4 `dto/v1/Case.scala`): absent optionals are omitted.
    pub fn case_json_v1(&self, case: &Case) -> Value {
        let f = &case.fields;
        let get = |k: &str, default: Value| f.get(k).cloned().unwrap_or(default);
        let mut out = json!({
            "_id": case.id,
            "_type": "Case",
            "_createdBy": case.created_by,
            "_createdAt": case.created_at,
            "number": case.number,
            "title": get("title", json!("")),
            "description": get("description", json!("")),
            "severity": get("severity", json!(2)),
            "startDate": get("startDate", json!(case.created_at)),
            "tags": get("tags", json!([])),
            "flag": get("flag", json!(false)),
            "tlp": get("tlp", json!(2)),
            "pap": get("pap", json!(2)),
            "status": "Open",
            "assignee": get("user", json!(case.created_by)),
            "customFields": [],
            "extraData": {},
        });
        for key in ["endDate", "summary"] {
            if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
                out[key] = v.clone();
            }
        }
        out
    }

    /// Stored organisation configuration item, if set.
    pub fn org_config(&self, org: &str, path: &str) -> Option<&Value> {
        self.org_config.get(&(org.to_owned(), path.to_owned()))
    }

    /// Stores an organisation configuration item.
    pub fn set_org_config(&mut self, org: &str, path: &str, value: Value) {
        self.org_config
            .insert((org.to_owned(), path.to_owned()), value);
    }
}

/// Applies `auth.defaultUserDomain`: a login without `@` gets `@thehive.local`.
pub(crate) fn normalise_login(login: &str) -> String {
    if login.contains('@') {
        login.to_owned()
    } else {
        format!("{login}@thehive.local")
    }
}

fn status_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Success { .. } => "Success",
        Outcome::Failure(_) => "Failure",
    }
}

/// Cortex cache tag: md5 of `workerId|dataType|tlp|data|parameters` (CX `JobSrv.scala`).
pub(crate) fn cache_tag(
    worker: &str,
    data_type: &str,
    tlp: u64,
    data: &str,
    parameters: &Map<String, Value>,
) -> String {
    let text = format!(
        "{worker}|{data_type}|{tlp}|{data}|{}",
        Value::Object(parameters.clone())
    );
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Runs an enabled analyzer by name.
///
/// Names starting with `AbuseIPDB` run the AbuseIPDB version they name (`abuseipdb::Version::of`).
/// Any other analyzer takes every data type and succeeds with an empty summary, which adds no
/// report entry.
pub(crate) fn run_analyzer(name: &str, data_type: &str, data: &str) -> Outcome {
    match abuseipdb::Version::of(name) {
        Some(version) => abuseipdb::run(version, data_type, data),
        None => Outcome::Success {
            full: json!({"data": data, "dataType": data_type}),
            taxonomies: Vec::new(),
        },
    }
}

/// A job with its parent observable, for `_parent` filters.
pub(crate) struct JobDoc {
    pub json: Value,
    pub parent: Value,
}

impl Document for JobDoc {
    fn json(&self) -> &Value {
        &self.json
    }
    fn parent(&self) -> Option<(&str, &Value)> {
        Some(("case_artifact", &self.parent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_id_is_md5_of_org_name_and_kind() {
        let expected: String = Md5::digest(b"demo_AbuseIPDB_1_0_analyzer")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();

        assert_eq!(worker_id("demo", "AbuseIPDB_1_0"), expected);
        assert_eq!(expected.len(), 32);
    }

    #[test]
    fn definition_version_comes_from_the_id() {
        assert_eq!(definition("AbuseIPDB_2_0").0, "2.0");
    }

    #[test]
    fn first_tick_is_never_at_creation() {
        let store = Store::new(EmulatorConfig {
            refresh_delay: Duration::from_millis(100),
            ..EmulatorConfig::default()
        });

        assert_eq!(store.first_tick(1000, 1000), 1100);
        assert_eq!(store.first_tick(1000, 1250), 1300);
        assert_eq!(store.first_tick(1000, 900), 1100);
    }
}
