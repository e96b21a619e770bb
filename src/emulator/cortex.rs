//! TheHive's Cortex connector: analyzers, jobs, job search and the `/api/v1/query` job listing.
//!
//! TH4 `cortex/connector/.../controllers/v0/AnalyzerCtrl.scala`, `JobCtrl.scala` and
//! `services/JobSrv.scala`; the job lifecycle itself lives in the store.

use std::cmp::Ordering;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::{ApiError, AttributeErrors};
use super::query::{self, FilterError};
use super::remote;
use super::request::{Call, apply_range, parse_range};
use super::server::App;
use super::store::{AuthContext, JobDoc, Millis, Store, now_ms};

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
    let mut store = app.lock();
    store.advance(now_ms());
    call.auth(&store)?;
    // Cortex lists with the range TheHive forwards; without one every analyzer is listed.
    let range = match call.str_field("range") {
        Some(r) => parse_range(Some(r))?,
        None => (0, None),
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
    let mut store = app.lock();
    store.advance(now_ms());
    call.auth(&store)?;
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
    let mut store = app.lock();
    store.advance(now_ms());
    call.auth(&store)?;
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
        // The id lookup fails with 404, the name search returns nothing, and TheHive throws
        // `ApplicationError(404, "Analyzer <id> not found")`, which ScalliGraph renders with
        // its class name (TH4 `JobSrv.scala`, `BaseClient.scala`; research note Q5).
        return Err(ApiError::internal(
            "org.thp.client.ApplicationError",
            format!("ApplicationError(404):\n\"Analyzer {analyzer_id} not found\""),
        ));
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
    let mut store = app.lock();
    store.advance(now_ms());
    let ctx = call.auth(&store)?;

    // Errors come last-extracted first: TH4 extracts analyzerId, cortexId, artifactId,
    // parameters (research note Q1).
    let mut errors = AttributeErrors::default();
    let parameters = match call.fields.get("parameters") {
        None => Map::new(),
        Some(Value::Object(obj)) => obj.clone(),
        Some(other) => {
            errors.invalid("parameters", "object", &["object"], other);
            Map::new()
        }
    };
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

/// `GET /api/connector/cortex/job/{id}`.
pub(crate) async fn get_job(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    app.sync().await;
    let now = now_ms();
    let mut store = app.lock();
    store.advance(now);
    let ctx = call.auth(&store)?;
    let job = store
        .find_job(&ctx.org, &id)
        .ok_or_else(|| ApiError::not_found("Job not found"))?;
    Ok(Json(store.job_json(job, now)))
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
    docs.sort_by(|a, b| {
        for (field, desc) in keys {
            let ord = compare_json(&a.json[field.as_str()], &b.json[field.as_str()]);
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// Orders two JSON values as TheHive's sort does for numbers and strings; `null` first.
pub(crate) fn compare_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// v0 `sort`: `"-field"`, `"+field"`, `"field"`, or an array of those.
fn v0_sort_keys(sort: Option<&Value>) -> Vec<(String, bool)> {
    let one = |s: &str| match s.strip_prefix('-') {
        Some(f) => (f.to_owned(), true),
        None => (s.trim_start_matches('+').to_owned(), false),
    };
    match sort {
        Some(Value::String(s)) => vec![one(s)],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(one).collect(),
        _ => Vec::new(),
    }
}

/// `POST /api/connector/cortex/job/_search`: 200 array with `X-Total`.
pub(crate) async fn search_jobs(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    app.sync().await;
    let now = now_ms();
    let mut store = app.lock();
    store.advance(now);
    let ctx = call.auth(&store)?;

    let filter = call
        .fields
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let range = parse_range(call.str_field("range"))?;
    let with_parent = call
        .fields
        .get("nparent")
        .is_some_and(|v| v != "0" && v != &json!(0) && v != &json!(false));

    let mut docs = filter_jobs(visible_jobs(&store, &ctx.org, now), &filter)
        .map_err(|e| ApiError::search(e.to_string()))?;
    sort_jobs(&mut docs, &v0_sort_keys(call.fields.get("sort")));
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

    let mut response = Json(Value::Array(items)).into_response();
    response
        .headers_mut()
        .insert("X-Total", HeaderValue::from(total as u64));
    Ok(response)
}

/// `POST /api/v1/query`: the job listing of the TH4 UI (`getObservable` then `jobs`, with
/// optional `filter`, `sort` and `page`).
pub(crate) async fn v1_query(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    app.sync().await;
    let now = now_ms();
    let mut store = app.lock();
    store.advance(now);
    let ctx = call.auth(&store)?;

    let steps = match call.fields.get("query") {
        None => return Err(ApiError::missing_attributes(&["query"])),
        Some(Value::Array(steps)) => steps.clone(),
        Some(other) => return Err(ApiError::invalid_format("query", "query", other)),
    };
    let name_of = |s: &Value| s.get("_name").and_then(Value::as_str).map(str::to_owned);
    // An unknown step is reported as a bad `_name` with the queries valid at that point
    // (research note Q6).
    let bad_step = |step: &Value, accepted: &[&str]| {
        ApiError::invalid_format_among("_name", "query", accepted, step)
    };

    let mut iter = steps.iter();
    let Some(first) = iter.next() else {
        // TheHive takes the head of the empty list and fails with an unhandled exception.
        return Err(ApiError::internal(
            "java.util.NoSuchElementException",
            "head of empty list",
        ));
    };
    let observable_id = match name_of(first).as_deref() {
        Some("getObservable") => first
            .get("idOrName")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing_attributes(&["idOrName"]))?
            .to_owned(),
        _ => return Err(bad_step(first, INITIAL_QUERIES)),
    };
    match iter.next() {
        Some(step) if name_of(step).as_deref() == Some("jobs") => {}
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
        match name_of(step).as_deref() {
            Some("filter") => {
                let mut filter = step.clone();
                if let Some(obj) = filter.as_object_mut() {
                    obj.remove("_name");
                }
                docs = filter_jobs(docs, &filter).map_err(|e| ApiError::search(e.to_string()))?;
            }
            Some("sort") => {
                let keys: Vec<(String, bool)> = step
                    .get("_fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .flat_map(|o| o.iter())
                    .map(|(k, v)| (k.clone(), v == "desc"))
                    .collect();
                sort_jobs(&mut docs, &keys);
            }
            Some("page") => {
                let from = step.get("from").and_then(Value::as_u64);
                let to = step.get("to").and_then(Value::as_u64);
                let (Some(from), Some(to)) = (from, to) else {
                    let missing: Vec<&str> = [("to", to), ("from", from)]
                        .into_iter()
                        .filter(|(_, v)| v.is_none())
                        .map(|(n, _)| n)
                        .collect();
                    return Err(ApiError::missing_attributes(&missing));
                };
                page = Some((from as usize, to as usize));
            }
            _ => return Err(bad_step(step, JOB_QUERIES)),
        }
    }
    let total = docs.len();
    let docs = match page {
        Some((from, to)) => apply_range(docs, (from, Some(to))),
        None => docs,
    };
    let items: Vec<Value> = docs.into_iter().map(|d| d.json).collect();
    let mut response = Json(Value::Array(items)).into_response();
    // A `page` step computes the total (`richPage(withTotal = true)`); a bare output does not.
    if page.is_some() {
        response
            .headers_mut()
            .insert("X-Total", HeaderValue::from(total as u64));
    }
    Ok(response)
}
