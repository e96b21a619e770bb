//! TheHive's Cortex connector: analyzers, jobs, job search and the `/api/v1/query` job listing.
//!
//! TH4 `cortex/connector/.../controllers/v0/AnalyzerCtrl.scala`, `JobCtrl.scala` and
//! `services/JobSrv.scala`; the job lifecycle itself lives in the store.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::{ApiError, AttributeErrors};
use super::query::{self, FilterError};
use super::query_steps::{self, bad_step, step_name};
use super::remote;
use super::request::{Call, apply_range, listing, nparent_field, range_field, sort_field};
use super::server::App;
use super::store::{AuthContext, Job, JobDoc, Millis, Store, now_ms};

/// Initial queries of TH4 v1 listed in errors (abridged).
const INITIAL_QUERIES: &[&str] = &[
    "getCase",
    "getObservable",
    "getTask",
    "getAlert",
    "getJob",
    "listCase",
    "listAlert",
    "listObservable",
    "listTask",
    "listOrganisation",
    "listUser",
];

/// Queries valid after `getObservable` (abridged).
const OBSERVABLE_QUERIES: &[&str] = &[
    "filter",
    "sort",
    "page",
    "jobs",
    "case",
    "alert",
    "similar",
    "organisations",
    "shares",
];

/// Queries valid on jobs.
const JOB_QUERIES: &[&str] = &["filter", "sort", "page", "observable", "case"];

/// `GET /api/connector/cortex/analyzer`: every server's analyzers merged by name; `server=` is
/// not read.
pub(crate) async fn list_analyzers(
    State(app): State<App>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    if let Some(link) = app.link() {
        call.auth(&app.lock())?;
        // TheHive forwards the range to every server and merges the answers.
        let range = call.str_field("range").unwrap_or("all").to_owned();
        return Ok(Json(Value::Array(
            remote::list_analyzers(&link, &range).await,
        )));
    }
    let (store, _) = app.enter(&call, now_ms())?;
    // Cortex lists with the range TheHive forwards; without one every analyzer is listed.
    let range = match call.fields.get("range") {
        None | Some(Value::Null) => (0, None),
        Some(_) => range_field(&call)?,
    };
    let items: Vec<Value> = store.analyzers().iter().map(|a| a.json()).collect();
    Ok(Json(Value::Array(apply_range(items, range))))
}

/// `GET /api/connector/cortex/analyzer/type/{dataType}`.
pub(crate) async fn analyzers_by_type(
    State(app): State<App>,
    Path(data_type): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    if let Some(link) = app.link() {
        call.auth(&app.lock())?;
        return Ok(Json(Value::Array(
            remote::analyzers_for_type(&link, &data_type).await,
        )));
    }
    let (store, _) = app.enter(&call, now_ms())?;
    let items: Vec<Value> = store
        .analyzers()
        .iter()
        .filter(|a| a.data_types.contains(&data_type))
        .map(|a| a.json())
        .collect();
    Ok(Json(Value::Array(items)))
}

/// `GET /api/connector/cortex/analyzer/{id}` (worker id).
pub(crate) async fn get_analyzer(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    if let Some(link) = app.link() {
        call.auth(&app.lock())?;
        return remote::get_analyzer(&link, &id).await.map(Json);
    }
    let (store, _) = app.enter(&call, now_ms())?;
    store
        .analyzers()
        .iter()
        .find(|a| a.worker_id == id)
        .map(|a| Json(a.json()))
        .ok_or_else(|| ApiError::not_found(format!("Analyzer {id} not found")))
}

/// `POST /api/connector/cortex/job`.
pub(crate) async fn create_job(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let request = check_job_request(&app, &call)?;
    if let Some(link) = app.link() {
        let id = remote::submit(
            &app,
            &link,
            &request.ctx,
            &request.artifact_id,
            &request.cortex_id,
            &request.analyzer_id,
            request.parameters,
        )
        .await?;
        let store = app.lock();
        let job = store
            .find_job(&request.ctx.org, &id)
            .expect("just recorded");
        return Ok((StatusCode::CREATED, Json(store.job_json(job, now_ms()))).into_response());
    }

    let now = now_ms();
    let mut store = app.lock();
    let JobRequest {
        ctx,
        artifact_id,
        cortex_id,
        analyzer_id,
        parameters,
    } = request;
    if !store
        .config
        .cortex_servers
        .iter()
        .any(|s| s.name == cortex_id)
    {
        return Err(ApiError::not_found(format!("Cortex {cortex_id} not found")));
    }
    let Some(analyzer) = store.resolve_analyzer(&cortex_id, &analyzer_id) else {
        return Err(remote::analyzer_not_found(&analyzer_id));
    };

    let id = store.submit_job(
        now,
        &ctx,
        &artifact_id,
        &cortex_id,
        &analyzer.name,
        parameters,
    );
    let job = store.find_job(&ctx.org, &id).expect("just created");
    tracing::debug!(target: "emulator", job_id = %id, cortex_job_id = %job.cortex_job_id, status = job.born_status, "job created");
    Ok((StatusCode::CREATED, Json(store.job_json(job, now))).into_response())
}

/// A job creation request that passed TheHive's checks before the Cortex lookup.
struct JobRequest {
    ctx: AuthContext,
    artifact_id: String,
    cortex_id: String,
    analyzer_id: String,
    parameters: Map<String, Value>,
}

/// Authentication, attributes, permission and observable, in TheHive's order.
fn check_job_request(app: &App, call: &Call) -> Result<JobRequest, ApiError> {
    let (store, ctx) = app.enter(call, now_ms())?;

    // Errors come last-extracted first: TH4 extracts analyzerId, cortexId, artifactId,
    // parameters (docs/upstream-notes.md Q1).
    let mut errors = AttributeErrors::default();
    let parameters = parameters_field(&call.fields, &call.text, &mut errors);
    let artifact_id = errors.string(&call.fields, "artifactId");
    let cortex_id = errors.string(&call.fields, "cortexId");
    let analyzer_id = errors.string(&call.fields, "analyzerId");
    errors.check()?;

    if !ctx.has("manageAnalyse") {
        return Err(ApiError::authorization("Job creation not allowed"));
    }
    // `check` passed, so every required attribute is present.
    let artifact_id = artifact_id.unwrap_or_default();
    if store.find_observable(&ctx.org, &artifact_id).is_none() {
        return Err(ApiError::not_found("Observable not found"));
    }
    Ok(JobRequest {
        ctx,
        artifact_id,
        cortex_id: cortex_id.unwrap_or_default(),
        analyzer_id: analyzer_id.unwrap_or_default(),
        parameters,
    })
}

/// The optional `parameters` object of a job request: `FieldsParser.jsObject.optional`, so
/// `null` counts as absent and any other non-object is an `InvalidFormat` naming `jsObject`
/// (SG `controllers/FieldsParser.scala` `jsObject`).
pub(crate) fn parameters_field(
    fields: &Map<String, Value>,
    text: &std::collections::HashSet<String>,
    errors: &mut AttributeErrors,
) -> Map<String, Value> {
    match fields.get("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(obj)) if !text.contains("parameters") => obj.clone(),
        Some(other) => {
            errors.invalid_as(
                "parameters",
                "jsObject",
                &["jsObject"],
                other,
                text.contains("parameters"),
            );
            Map::new()
        }
    }
}

/// `GET /api/connector/cortex/job/{id}`.
pub(crate) async fn get_job(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    read_job(&app, &id, &call, Store::job_json).await
}

/// A job of the caller's organisation, read after a sync and rendered by `render`.
pub(crate) async fn read_job(
    app: &App,
    id: &str,
    call: &Call,
    render: impl Fn(&Store, &Job, Millis) -> Value,
) -> Result<Json<Value>, ApiError> {
    app.sync().await;
    let now = now_ms();
    let (store, ctx) = app.enter(call, now)?;
    let job = store
        .find_job(&ctx.org, id)
        .ok_or_else(|| ApiError::not_found("Job not found"))?;
    Ok(Json(render(&store, job, now)))
}

/// Jobs visible in `org`, with their parent observables, in creation order.
fn visible_jobs(store: &Store, org: &str, now: Millis) -> Vec<JobDoc> {
    store
        .jobs
        .values()
        .filter_map(|job| {
            let obs = store.find_observable(org, &job.observable_id)?;
            Some(JobDoc {
                json: store.job_json(job, now),
                parent: store.observable_json(obs, now),
            })
        })
        .collect()
}

fn filter_jobs(docs: Vec<JobDoc>, filter: &Value) -> Result<Vec<JobDoc>, FilterError> {
    query::validate(filter)?;
    let mut out = Vec::new();
    for doc in docs {
        if query::matches(filter, &doc)? {
            out.push(doc);
        }
    }
    Ok(out)
}

/// Sort keys as `(field, descending)`.
fn sort_jobs(docs: &mut [JobDoc], keys: &[(String, bool)]) {
    docs.sort_by(|a, b| query_steps::compare_by(keys, &a.json, &b.json));
}

/// `POST /api/connector/cortex/job/_search`: 200 array with `X-Total`.
pub(crate) async fn search_jobs(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    app.sync().await;
    let now = now_ms();
    let (store, ctx) = app.enter(&call, now)?;

    let filter = call
        .fields
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({}));
    // TheHive reads the filter, then the sort, the range and `nparent`, stopping at the
    // first that fails (TH4 `controllers/v0/QueryCtrl.scala` `searchParser`).
    let keys = sort_field(&call)?;
    let range = range_field(&call)?;
    let with_parent = nparent_field(&call)? > 0;

    let mut docs = filter_jobs(visible_jobs(&store, &ctx.org, now), &filter)
        .map_err(|e| ApiError::search(e.to_string()))?;
    sort_jobs(&mut docs, &keys);
    let total = docs.len();
    let items: Vec<Value> = apply_range(docs, range)
        .into_iter()
        .map(|d| {
            let mut json = d.json;
            if with_parent {
                json["case_artifact"] = d.parent;
            }
            json
        })
        .collect();
    Ok(listing(items, total))
}

/// `POST /api/v1/query`: the job listing of the TH4 UI (`getObservable` then `jobs`, with
/// optional `filter`, `sort` and `page`).
pub(crate) async fn v1_query(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    app.sync().await;
    let now = now_ms();
    let (store, ctx) = app.enter(&call, now)?;

    let steps = query_steps::steps(&call)?;
    let mut iter = steps.iter();
    let Some(first) = iter.next() else {
        // TheHive takes the head of the empty list and fails with an unhandled exception.
        return Err(ApiError::internal(
            "java.util.NoSuchElementException",
            "head of empty list",
        ));
    };
    let observable_id = match step_name(first).as_deref() {
        Some("getObservable") => first
            .get("idOrName")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing_attributes(&["idOrName"]))?
            .to_owned(),
        _ => return Err(bad_step(first, INITIAL_QUERIES)),
    };
    match iter.next() {
        Some(step) if step_name(step).as_deref() == Some("jobs") => {}
        Some(step) => return Err(bad_step(step, OBSERVABLE_QUERIES)),
        None => {
            return Err(ApiError::search(
                "the emulator only outputs jobs after getObservable",
            ));
        }
    }

    // An unknown or invisible observable gives an empty traversal, not an error.
    let mut docs: Vec<JobDoc> = visible_jobs(&store, &ctx.org, now)
        .into_iter()
        .filter(|d| d.parent["_id"] == observable_id.as_str())
        .collect();
    let mut page: Option<(usize, usize)> = None;
    for step in iter {
        match step_name(step).as_deref() {
            Some("filter") => {
                docs = filter_jobs(docs, &query_steps::filter(step))
                    .map_err(|e| ApiError::search(e.to_string()))?;
            }
            Some("sort") => sort_jobs(&mut docs, &query_steps::sort_keys(step)),
            Some("page") => page = Some(query_steps::page(step)?),
            _ => return Err(bad_step(step, JOB_QUERIES)),
        }
    }
    Ok(query_steps::output(docs, page, |d| d.json))
}
