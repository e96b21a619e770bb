//! TheHive 5 profile: Cortex job creation (single and bulk) and job reads.
//!
//! Jobs render as OAS 5.7.3 `OutputJob` (`th5_shape::job`) on both the v1 paths and the legacy
//! `/api/connector/cortex/job` paths TheHive4py 2.x uses (T4P `thehive4py/endpoints/cortex.py`).
//! Unlike TheHive 4, TheHive 5 submits jobs asynchronously (SBD `release-notes-5.1.md`) and
//! accepts an unknown `cortexId` or `analyzerId` with 201: TheHive4py's tests create jobs with
//! `dummy-cortex`/`dummy-analyzer` on an instance without Cortex and read them back (T4P
//! `tests/test_cortex_endpoint.py`). Such a job then fails; its status and error text are
//! inferred. In the `thehive` role jobs go to the remote Cortex over HTTP (`remote`), with the
//! same leniency: a submission that fails there gives a failing job, not an error answer.

use std::collections::HashSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::cortex;
use super::error::{ApiError, AttributeErrors};
use super::remote::{self, SubmitError};
use super::request::Call;
use super::server::App;
use super::store::{AuthContext, Millis, Store, now_ms};
use super::th5_shape;

/// An `InputJob` that passed TheHive's checks made before any Cortex lookup.
struct JobInput {
    artifact_id: String,
    cortex_id: String,
    analyzer_id: String,
    parameters: Map<String, Value>,
}

/// Reads an `InputJob` object and checks the permission and the observable.
fn check_input(
    store: &Store,
    ctx: &AuthContext,
    fields: &Map<String, Value>,
    text: &HashSet<String>,
) -> Result<JobInput, ApiError> {
    // Same extraction order as TheHive 4 (analyzerId, cortexId, artifactId, parameters), so
    // the errors are listed last-extracted first (docs/upstream-notes.md Q1) [I for TheHive 5].
    let mut errors = AttributeErrors::default();
    let parameters = super::cortex::parameters_field(fields, text, &mut errors);
    let artifact_id = errors.string(fields, "artifactId");
    let cortex_id = errors.string(fields, "cortexId");
    let analyzer_id = errors.string(fields, "analyzerId");
    errors.check()?;
    let input = JobInput {
        artifact_id: artifact_id.unwrap_or_default(),
        cortex_id: cortex_id.unwrap_or_default(),
        analyzer_id: analyzer_id.unwrap_or_default(),
        parameters,
    };

    if !ctx.has("manageAnalyse") {
        return Err(ApiError::authorization("Job creation not allowed"));
    }
    if store
        .find_observable(&ctx.org, &input.artifact_id)
        .is_none()
    {
        return Err(ApiError::not_found("Observable not found"));
    }
    Ok(input)
}

/// Creates a job on the in-process Cortex (combined role); returns the TheHive job id.
fn create_local(store: &mut Store, ctx: &AuthContext, input: JobInput, now: Millis) -> String {
    let JobInput {
        artifact_id,
        cortex_id,
        analyzer_id,
        parameters,
    } = input;
    let server_known = store
        .config
        .cortex_servers
        .iter()
        .any(|s| s.name == cortex_id);
    let analyzer = server_known
        .then(|| store.resolve_analyzer(&cortex_id, &analyzer_id))
        .flatten();
    match analyzer {
        Some(analyzer) => store.submit_job(
            now,
            ctx,
            &artifact_id,
            &cortex_id,
            &analyzer.name,
            parameters,
        ),
        None => {
            // The texts reuse TheHive 4's lookup errors (`Cortex <id> not found`, `Analyzer
            // <id> not found`) [I].
            let error = if server_known {
                format!("Analyzer {analyzer_id} not found")
            } else {
                format!("Cortex {cortex_id} not found")
            };
            store.record_failed_job(now, ctx, &artifact_id, &cortex_id, &analyzer_id, error)
        }
    }
}

/// Creates one job from an `InputJob` object; returns the TheHive job id.
///
/// In the `thehive` role the job goes to the remote Cortex over HTTP. A submission that fails
/// there (unknown server or analyzer, Cortex unreachable or refusing) still gives a job, which
/// fails at the first poller tick, as on the in-process Cortex.
async fn create_one(
    app: &App,
    ctx: &AuthContext,
    fields: &Map<String, Value>,
    text: &HashSet<String>,
) -> Result<String, ApiError> {
    let (input, link) = {
        let mut store = app.lock();
        let now = now_ms();
        store.advance(now);
        let input = check_input(&store, ctx, fields, text)?;
        let Some(link) = app.link() else {
            let id = create_local(&mut store, ctx, input, now);
            tracing::debug!(target: "emulator", job_id = %id, "job created");
            return Ok(id);
        };
        // The store stays unlocked during the HTTP calls to Cortex.
        (input, link)
    };
    let submitted = remote::try_submit(
        app,
        &link,
        ctx,
        &input.artifact_id,
        &input.cortex_id,
        &input.analyzer_id,
        input.parameters.clone(),
    )
    .await;
    match submitted {
        Ok(id) => Ok(id),
        Err(SubmitError::Refused(e)) => Err(e),
        Err(e) => {
            let error = e
                .failure_message(&input.cortex_id, &input.analyzer_id)
                .unwrap_or_default();
            tracing::debug!(target: "emulator", %error, "job submission to remote Cortex failed; recorded as failing");
            Ok(app.lock().record_failed_job(
                now_ms(),
                ctx,
                &input.artifact_id,
                &input.cortex_id,
                &input.analyzer_id,
                error,
            ))
        }
    }
}

/// `POST /api/v1/connector/cortex/job` and legacy `POST /api/connector/cortex/job`: 201
/// `OutputJob`.
pub(crate) async fn create_job(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let ctx = call.auth(&app.lock())?;
    let id = create_one(&app, &ctx, &call.fields, &call.text).await?;
    let now = now_ms();
    let store = app.lock();
    let job = store.find_job(&ctx.org, &id).expect("just created");
    let body = th5_shape::job(&store, job, now, true);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/v1/connector/cortex/job/_bulk` (`{"jobs":[InputJob…]}`): 201 array. The first
/// invalid job stops the request with its error [I: whether TheHive 5 creates the others].
pub(crate) async fn create_jobs_bulk(
    State(app): State<App>,
    call: Call,
) -> Result<Response, ApiError> {
    let ctx = call.auth(&app.lock())?;
    let items = match call.fields.get("jobs") {
        None => return Err(ApiError::missing_attributes(&["jobs"])),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => return Err(ApiError::invalid_format("jobs", "seq", other)),
    };
    let mut ids = Vec::new();
    for item in &items {
        let fields = item.as_object().cloned().unwrap_or_default();
        // Bulk items are JSON inside the body, never query-string text.
        ids.push(create_one(&app, &ctx, &fields, &HashSet::new()).await?);
    }
    let now = now_ms();
    let store = app.lock();
    let body: Vec<Value> = ids
        .iter()
        .filter_map(|id| store.find_job(&ctx.org, id))
        .map(|job| th5_shape::job(&store, job, now, true))
        .collect();
    Ok((StatusCode::CREATED, Json(Value::Array(body))).into_response())
}

/// `GET /api/v1/connector/cortex/job/{id}` and legacy `GET /api/connector/cortex/job/{id}`:
/// the job with its report once finished.
pub(crate) async fn get_job(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    cortex::read_job(&app, &id, &call, |store, job, now| {
        th5_shape::job(store, job, now, true)
    })
    .await
}
