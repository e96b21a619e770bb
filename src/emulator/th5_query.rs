//! TheHive 5 profile: `POST /api/v1/query`, the query API TheHive4py 2.x uses for every
//! `find` and `count` (T4P `thehive4py/endpoints/*.py` `find`, `count`).
//!
//! A query is a list of steps: one initial step (`listCase`, `getCase`, `listObservable`,
//! `getObservable`, `listJob`, `getJob`, `listOrganisation`, `getOrganisation`, `listUser`,
//! `getUser`), then traversals (`observables` of a case, `jobs`/`case` of an observable,
//! `observable` of a job) and the generic `filter`, `sort`, `page` and `count`. Filters and
//! sorts work on the JSON each entity renders to (`th5_shape`); list results leave job
//! reports out (SBD `release-notes-5.0.md`). A `page` step sets `X-Total` as TheHive 4 does
//! (SG `query/QueryExecutor.scala`).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::{self, Plain};
use super::query_steps::{self, bad_step, step_name};
use super::request::Call;
use super::server::App;
use super::store::{ADMIN_ORG, AuthContext, Millis, Store, id_key, now_ms};
use super::th5_shape;

/// Initial steps the emulator answers (TheHive 5 has many more: alerts, tasks, …).
const INITIAL: &[&str] = &[
    "listCase",
    "getCase",
    "listObservable",
    "getObservable",
    "listJob",
    "getJob",
    "listOrganisation",
    "getOrganisation",
    "listUser",
    "getUser",
];

/// Steps valid after any initial step.
const GENERIC: &[&str] = &["filter", "sort", "page", "count"];

/// One entity of a query result, by store key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity {
    Case(u64),
    Observable(u64),
    Job(u64),
    Org(usize),
    User(usize),
}

/// The kind of entities a step produces, for the list of valid next steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Case,
    Observable,
    Job,
    Org,
    User,
}

impl Kind {
    fn next_steps(self) -> Vec<&'static str> {
        let traversals: &[&str] = match self {
            Kind::Case => &["observables"],
            Kind::Observable => &["jobs", "case"],
            Kind::Job => &["observable"],
            Kind::Org | Kind::User => &[],
        };
        GENERIC.iter().chain(traversals).copied().collect()
    }
}

/// Evaluation state: the caller and the clock.
struct Eval<'a> {
    store: &'a Store,
    ctx: &'a AuthContext,
    now: Millis,
}

impl Eval<'_> {
    fn render(&self, entity: Entity) -> Value {
        let store = self.store;
        match entity {
            Entity::Case(k) => store
                .cases
                .get(&k)
                .map_or(Value::Null, |c| th5_shape::case(c, self.ctx)),
            Entity::Observable(k) => store
                .observables
                .get(&k)
                .map_or(Value::Null, |o| th5_shape::observable(store, o, self.now)),
            Entity::Job(k) => store
                .jobs
                .get(&k)
                .map_or(Value::Null, |j| th5_shape::job(store, j, self.now, false)),
            Entity::Org(i) => th5_shape::organisation(&store.orgs[i]),
            Entity::User(i) => {
                let user = &store.users[i];
                th5_shape::user(store, user, None)
            }
        }
    }

    fn cases(&self) -> Vec<Entity> {
        let org = &self.ctx.org;
        self.store
            .cases
            .iter()
            .filter(|(_, c)| &c.org == org)
            .map(|(k, _)| Entity::Case(*k))
            .collect()
    }

    fn observables(&self) -> Vec<Entity> {
        self.store
            .observables
            .iter()
            .filter(|(_, o)| self.store.find_observable(&self.ctx.org, &o.id).is_some())
            .map(|(k, _)| Entity::Observable(*k))
            .collect()
    }

    fn jobs(&self) -> Vec<Entity> {
        self.store
            .jobs
            .iter()
            .filter(|(_, j)| self.store.find_job(&self.ctx.org, &j.id).is_some())
            .map(|(k, _)| Entity::Job(*k))
            .collect()
    }

    /// Organisations the caller belongs to, or all of them from the admin organisation.
    fn orgs(&self) -> Vec<Entity> {
        let member_of: Vec<&str> = self
            .store
            .user(&self.ctx.login)
            .map(|u| u.orgs.iter().map(|(o, _)| o.as_str()).collect())
            .unwrap_or_default();
        self.store
            .orgs
            .iter()
            .enumerate()
            .filter(|(_, o)| self.ctx.org == ADMIN_ORG || member_of.contains(&o.name.as_str()))
            .map(|(i, _)| Entity::Org(i))
            .collect()
    }

    /// Users of the caller's organisation, or all of them from the admin organisation.
    fn users(&self) -> Vec<Entity> {
        self.store
            .users
            .iter()
            .enumerate()
            .filter(|(_, u)| {
                self.ctx.org == ADMIN_ORG || u.orgs.iter().any(|(o, _)| *o == self.ctx.org)
            })
            .map(|(i, _)| Entity::User(i))
            .collect()
    }

    /// Whether the entity's `_id` (or name-like key) is `id_or_name`.
    fn named(&self, entity: Entity, id_or_name: &str) -> bool {
        let store = self.store;
        match entity {
            Entity::Case(k) => store
                .cases
                .get(&k)
                .is_some_and(|c| c.id == id_or_name || c.number.to_string() == id_or_name),
            Entity::Observable(k) => id_key(id_or_name) == Some(k),
            Entity::Job(k) => id_key(id_or_name) == Some(k),
            Entity::Org(i) => {
                let o = &store.orgs[i];
                o.id == id_or_name || o.name == id_or_name
            }
            Entity::User(i) => {
                let u = &store.users[i];
                u.id == id_or_name || store.user(id_or_name).is_some_and(|x| x.id == u.id)
            }
        }
    }

    /// Runs an initial step.
    fn initial(&self, step: &Value) -> Result<(Kind, Vec<Entity>), ApiError> {
        let name = step_name(step).unwrap_or_default();
        let (kind, all) = match name.trim_start_matches("list").trim_start_matches("get") {
            "Case" => (Kind::Case, self.cases()),
            "Observable" => (Kind::Observable, self.observables()),
            "Job" => (Kind::Job, self.jobs()),
            "Organisation" => (Kind::Org, self.orgs()),
            "User" => (Kind::User, self.users()),
            _ => return Err(bad_step(step, INITIAL)),
        };
        if !INITIAL.contains(&name.as_str()) {
            return Err(bad_step(step, INITIAL));
        }
        if name.starts_with("list") {
            return Ok((kind, all));
        }
        let Some(id) = step.get("idOrName").and_then(Value::as_str) else {
            return Err(ApiError::missing_attributes(&["idOrName"]));
        };
        // An unknown or invisible entity gives an empty result, not an error
        // (docs/upstream-notes.md Q6 for TheHive 4).
        let found = all.into_iter().filter(|e| self.named(*e, id)).collect();
        Ok((kind, found))
    }

    /// Runs a traversal step, or `None` if `name` is not one for `kind`.
    fn traverse(&self, kind: Kind, items: &[Entity], name: &str) -> Option<(Kind, Vec<Entity>)> {
        let store = self.store;
        let out = match (kind, name) {
            (Kind::Case, "observables") => {
                let ids: Vec<&str> = items
                    .iter()
                    .filter_map(|e| match e {
                        Entity::Case(k) => store.cases.get(k).map(|c| c.id.as_str()),
                        _ => None,
                    })
                    .collect();
                let obs = self
                    .observables()
                    .into_iter()
                    .filter(|e| match e {
                        Entity::Observable(k) => store
                            .observables
                            .get(k)
                            .is_some_and(|o| ids.contains(&o.case_id.as_str())),
                        _ => false,
                    })
                    .collect();
                (Kind::Observable, obs)
            }
            (Kind::Observable, "jobs") => {
                let ids: Vec<String> = items
                    .iter()
                    .filter_map(|e| match e {
                        Entity::Observable(k) => store.observables.get(k).map(|o| o.id.clone()),
                        _ => None,
                    })
                    .collect();
                let jobs = self
                    .jobs()
                    .into_iter()
                    .filter(|e| match e {
                        Entity::Job(k) => store
                            .jobs
                            .get(k)
                            .is_some_and(|j| ids.contains(&j.observable_id)),
                        _ => false,
                    })
                    .collect();
                (Kind::Job, jobs)
            }
            (Kind::Observable, "case") => {
                let mut cases = Vec::new();
                for e in items {
                    if let Entity::Observable(k) = e
                        && let Some(case_key) =
                            store.observables.get(k).and_then(|o| id_key(&o.case_id))
                        && !cases.contains(&Entity::Case(case_key))
                    {
                        cases.push(Entity::Case(case_key));
                    }
                }
                (Kind::Case, cases)
            }
            (Kind::Job, "observable") => {
                let mut obs = Vec::new();
                for e in items {
                    if let Entity::Job(k) = e
                        && let Some(obs_key) =
                            store.jobs.get(k).and_then(|j| id_key(&j.observable_id))
                        && !obs.contains(&Entity::Observable(obs_key))
                    {
                        obs.push(Entity::Observable(obs_key));
                    }
                }
                (Kind::Observable, obs)
            }
            _ => return None,
        };
        Some(out)
    }
}

/// `POST /api/v1/query`.
pub(crate) async fn query(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    // Role `thehive`: start due notifications and poll Cortex before reading jobs.
    app.sync().await;
    let now = now_ms();
    let (store, ctx) = app.enter(&call, now)?;

    let steps = query_steps::steps(&call)?;
    let Some((first, rest)) = steps.split_first() else {
        // TheHive 4 fails with a 500 here; the profile answers 400 so that TheHive4py does
        // not retry [I for TheHive 5].
        return Err(ApiError::bad_request("Query is empty"));
    };
    let eval = Eval {
        store: &store,
        ctx: &ctx,
        now,
    };

    let (mut kind, mut items) = eval.initial(first)?;
    let mut page: Option<(usize, usize)> = None;
    let mut count = false;
    for step in rest {
        let name = step_name(step).unwrap_or_default();
        if count {
            // Nothing can follow `count`, whose output is a number.
            return Err(bad_step(step, &[]));
        }
        match name.as_str() {
            "filter" => {
                let filter = query_steps::filter(step);
                query::validate(&filter).map_err(|e| ApiError::search(e.to_string()))?;
                let mut kept = Vec::new();
                for e in items {
                    let json = eval.render(e);
                    if query::matches(&filter, &Plain(&json))
                        .map_err(|e| ApiError::search(e.to_string()))?
                    {
                        kept.push(e);
                    }
                }
                items = kept;
            }
            "sort" => {
                let keys = query_steps::sort_keys(step);
                let mut rendered: Vec<(Entity, Value)> =
                    items.into_iter().map(|e| (e, eval.render(e))).collect();
                rendered.sort_by(|(_, a), (_, b)| query_steps::compare_by(&keys, a, b));
                items = rendered.into_iter().map(|(e, _)| e).collect();
            }
            "page" => page = Some(query_steps::page(step)?),
            "count" => count = true,
            other => match eval.traverse(kind, &items, other) {
                Some((k, found)) => {
                    kind = k;
                    items = found;
                }
                None => return Err(bad_step(step, &kind.next_steps())),
            },
        }
    }

    if count {
        return Ok(Json(json!(items.len())).into_response());
    }
    Ok(query_steps::output(items, page, |e| eval.render(e)))
}
