//! The TheHive role's Cortex connector: what TheHive 4 does with Cortex servers reached over
//! HTTP (analyzer lists, job submission, polling, status checks).
//!
//! The model stays lazy: nothing runs in the background. Before a handler reads jobs,
//! [`sync`] starts the RunAnalyzer notifications that are due and, for every unfinished job
//! whose poller tick has passed, asks Cortex `waitreport?atMost=1 second` as TH4's
//! `services/CortexActor.scala` does every `refreshDelay`. The store lock is never held across
//! an HTTP call.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::task::JoinSet;

use super::cortex_link::{CortexLink, LinkError, Server, ServerStatus};
use super::error::ApiError;
use super::server::App;
use super::store::{AuthContext, Millis, now_ms};

/// Merges analyzer lists by name; `cortexIds` lists the servers that have each one (TH4
/// `cortex/.../services/AnalyzerSrv.scala`).
fn merge(lists: Vec<(String, Vec<Value>)>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for (server, items) in lists {
        for worker in items {
            let name = worker["name"].clone();
            if let Some(existing) = out.iter_mut().find(|a| a["name"] == name) {
                if let Some(ids) = existing["cortexIds"].as_array_mut() {
                    ids.push(json!(server));
                }
                continue;
            }
            // TH4 `dto/.../v0/Worker.scala` `OutputWorker`.
            out.push(json!({
                "id": worker["id"],
                "name": name,
                "version": worker["version"],
                "description": worker["description"],
                "dataTypeList": worker["dataTypeList"].as_array().cloned().unwrap_or_default(),
                "cortexIds": [server],
            }));
        }
    }
    out
}

/// Logs a failed Cortex call: TheHive logs it and the server contributes nothing.
fn ignored(error: &LinkError) {
    tracing::debug!(target: "emulator", error = %error, "Cortex call failed; ignored");
}

/// `GET /api/connector/cortex/analyzer`: every server's list with `range`, merged.
pub(crate) async fn list_analyzers(link: &CortexLink, range: &str) -> Vec<Value> {
    let mut lists = Vec::new();
    for server in &link.servers {
        match link.analyzers(server, range).await {
            Ok(items) => lists.push((server.name.clone(), items)),
            Err(e) => ignored(&e),
        }
    }
    merge(lists)
}

/// `GET /api/connector/cortex/analyzer/type/{dataType}`.
pub(crate) async fn analyzers_for_type(link: &CortexLink, data_type: &str) -> Vec<Value> {
    let mut lists = Vec::new();
    for server in &link.servers {
        match link.analyzers_for_type(server, data_type).await {
            Ok(items) => lists.push((server.name.clone(), items)),
            Err(e) => ignored(&e),
        }
    }
    merge(lists)
}

/// `GET /api/connector/cortex/analyzer/{id}`: the worker from every server that has it.
pub(crate) async fn get_analyzer(link: &CortexLink, id: &str) -> Result<Value, ApiError> {
    let mut lists = Vec::new();
    for server in &link.servers {
        match link.analyzer(server, id).await {
            Ok(worker) => lists.push((server.name.clone(), vec![worker])),
            Err(e) => ignored(&e),
        }
    }
    merge(lists)
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("Analyzer {id} not found")))
}

/// A Cortex failure as TheHive renders it: the client's `ApplicationError` (status and body)
/// or, without an answer, the connection exception; both are 500s with the class name
/// (TH4 `client-common/.../BaseClient.scala`, docs/upstream-notes.md Q5).
fn client_error(error: LinkError) -> ApiError {
    match error {
        LinkError::Status { status, body, .. } => ApiError::internal(
            "org.thp.client.ApplicationError",
            format!(
                "ApplicationError({}):\n{}",
                status.as_u16(),
                jackson_pretty(&body)
            ),
        ),
        LinkError::Unreachable { source, .. } => {
            ApiError::internal("java.net.ConnectException", source.to_string())
        }
    }
}

/// `Json.prettyPrint` as play-json does it, with Jackson's default pretty printer: two-space
/// indents for object members, `"key" : value`, arrays on one line as `[ a, b ]`, and `{ }` /
/// `[ ]` when empty.
pub(crate) fn jackson_pretty(value: &Value) -> String {
    fn write(value: &Value, depth: usize, out: &mut String) {
        match value {
            Value::Object(map) if map.is_empty() => out.push_str("{ }"),
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    out.push_str(&"  ".repeat(depth + 1));
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push_str(" : ");
                    write(v, depth + 1, out);
                }
                out.push('\n');
                out.push_str(&"  ".repeat(depth));
                out.push('}');
            }
            Value::Array(items) if items.is_empty() => out.push_str("[ ]"),
            Value::Array(items) => {
                out.push_str("[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    // Arrays do not indent: nested objects keep the enclosing depth.
                    write(item, depth, out);
                }
                out.push_str(" ]");
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, 0, &mut out);
    out
}

/// TheHive 4's answer to a job for an analyzer Cortex does not know: the id lookup fails with
/// 404, the name search returns nothing, and TheHive throws `ApplicationError(404, "Analyzer
/// <id> not found")`, which ScalliGraph renders with its class name (TH4 `JobSrv.scala`,
/// `BaseClient.scala`; docs/upstream-notes.md Q5).
pub(crate) fn analyzer_not_found(analyzer: &str) -> ApiError {
    ApiError::internal(
        "org.thp.client.ApplicationError",
        format!("ApplicationError(404):\n\"Analyzer {analyzer} not found\""),
    )
}

/// Why a job could not be submitted to a remote Cortex, before TheHive renders it: TheHive 4
/// answers the request with an error, TheHive 5 records a job that fails.
pub(crate) enum SubmitError {
    /// TheHive refused the request itself (the observable or its case is not visible).
    Refused(ApiError),
    /// No configured Cortex server has that name.
    UnknownServer,
    /// The server has no analyzer of that id or name.
    UnknownAnalyzer,
    /// The analyzer lookup failed (Cortex down, or an error answer).
    Lookup(LinkError),
    /// Cortex did not accept the `run` call.
    Run(LinkError),
}

impl SubmitError {
    /// The text TheHive 5 stores as the failed job's `errorMessage`, or `None` for a refusal,
    /// which TheHive answers at once. The texts for unknown servers and analyzers reuse
    /// TheHive 4's lookup errors, and those of failed calls are the emulator's own \[I\].
    pub fn failure_message(&self, server: &str, analyzer: &str) -> Option<String> {
        Some(match self {
            SubmitError::Refused(_) => return None,
            SubmitError::UnknownServer => format!("Cortex {server} not found"),
            SubmitError::UnknownAnalyzer => format!("Analyzer {analyzer} not found"),
            SubmitError::Lookup(e) | SubmitError::Run(e) => e.to_string(),
        })
    }

    /// TheHive 4's answer to the job creation request.
    fn into_th4(self, server: &str, analyzer: &str) -> ApiError {
        match self {
            SubmitError::Refused(e) => e,
            SubmitError::UnknownServer => ApiError::not_found(format!("Cortex {server} not found")),
            SubmitError::UnknownAnalyzer => analyzer_not_found(analyzer),
            SubmitError::Lookup(e) => client_error(e),
            // TheHive reads any answer as a job; an error body does not parse as one. The
            // exception text is inferred from play-json's `JsResultException` [I].
            SubmitError::Run(LinkError::Status { .. }) => ApiError::internal(
                "play.api.libs.json.JsResultException",
                "JsResultException(errors:List(((/id),List(JsonValidationError(List(error.path.missing),List())))))",
            ),
            SubmitError::Run(e) => client_error(e),
        }
    }
}

/// Resolves an analyzer by worker id, then by name (TH4 `JobSrv.submit`).
async fn resolve(
    link: &CortexLink,
    server: &Server,
    id_or_name: &str,
) -> Result<Value, SubmitError> {
    if let Ok(worker) = link.analyzer(server, id_or_name).await {
        return Ok(worker);
    }
    match link.analyzer_by_name(server, id_or_name).await {
        Ok(Some(worker)) => Ok(worker),
        Ok(None) => Err(SubmitError::UnknownAnalyzer),
        Err(e) => Err(SubmitError::Lookup(e)),
    }
}

/// What TheHive sends to `/api/analyzer/{id}/run` for an observable, read under the lock.
struct Submission {
    body: Value,
}

/// Builds the run body: observable TLP and data, case PAP, the case number as message, and
/// the organisation and user added to the parameters (TH4 `cortex/.../services/JobSrv.scala`).
fn submission(
    app: &App,
    ctx: &AuthContext,
    observable_id: &str,
    mut parameters: Map<String, Value>,
) -> Result<Submission, ApiError> {
    let store = app.lock();
    let obs = store
        .find_observable(&ctx.org, observable_id)
        .ok_or_else(|| ApiError::not_found("Observable not found"))?;
    let case = store
        .find_case(&ctx.org, &obs.case_id)
        .ok_or_else(|| ApiError::not_found("Case not found"))?;
    parameters.insert("organisation".to_owned(), json!(ctx.org));
    parameters.insert("user".to_owned(), json!(ctx.login));
    Ok(Submission {
        body: json!({
            "tlp": obs.tlp,
            "pap": case.fields.get("pap").cloned().unwrap_or(json!(2)),
            "dataType": obs.data_type,
            "message": case.number.to_string(),
            "data": obs.data,
            "parameters": parameters,
        }),
    })
}

/// Submits a job on `server_name` and records it; returns the TheHive job id, or TheHive 4's
/// error answer.
pub(crate) async fn submit(
    app: &App,
    link: &CortexLink,
    ctx: &AuthContext,
    observable_id: &str,
    server_name: &str,
    analyzer_id: &str,
    parameters: Map<String, Value>,
) -> Result<String, ApiError> {
    try_submit(
        app,
        link,
        ctx,
        observable_id,
        server_name,
        analyzer_id,
        parameters,
    )
    .await
    .map_err(|e| e.into_th4(server_name, analyzer_id))
}

/// Submits a job on `server_name` and records it; returns the TheHive job id, or why it could
/// not be submitted (nothing is recorded then).
pub(crate) async fn try_submit(
    app: &App,
    link: &CortexLink,
    ctx: &AuthContext,
    observable_id: &str,
    server_name: &str,
    analyzer_id: &str,
    parameters: Map<String, Value>,
) -> Result<String, SubmitError> {
    let server = link.server(server_name).ok_or(SubmitError::UnknownServer)?;
    let Submission { body } =
        submission(app, ctx, observable_id, parameters).map_err(SubmitError::Refused)?;
    let worker = resolve(link, server, analyzer_id).await?;
    let worker_id = worker["id"].as_str().unwrap_or(analyzer_id).to_owned();
    let job = link
        .run(server, &worker_id, &body)
        .await
        .map_err(SubmitError::Run)?;
    let id = app
        .lock()
        .record_remote_job(now_ms(), &ctx.login, observable_id, server_name, &job);
    tracing::debug!(target: "emulator", job_id = %id, cortex_job_id = %job["id"], status = %job["status"], "job submitted to remote Cortex");
    Ok(id)
}

/// Starts due RunAnalyzer notifications, then polls the jobs whose tick has passed.
pub(crate) async fn sync(app: &App, link: &Arc<CortexLink>) {
    let now = now_ms();
    let runs = app.lock().take_due_runs(now);
    for run in runs {
        let ctx = super::store::Store::system_context(&run.org);
        // TH4 `RunAnalyzer.scala` takes the first server that has an analyzer of that name.
        let mut started = false;
        for server in &link.servers {
            if let Ok(Some(_)) = link.analyzer_by_name(server, &run.analyzer_name).await {
                let result = submit(
                    app,
                    link,
                    &ctx,
                    &run.observable_id,
                    &server.name,
                    &run.analyzer_name,
                    run.parameters.clone(),
                )
                .await;
                started = result.is_ok();
                break;
            }
        }
        if !started {
            tracing::debug!(target: "emulator", analyzer = %run.analyzer_name, "RunAnalyzer: analyzer not found");
        }
    }
    poll(app, link).await;
}

async fn poll(app: &App, link: &Arc<CortexLink>) {
    let due = app.lock().remote_jobs_to_poll(now_ms());
    let mut calls = JoinSet::new();
    for (job_id, server_name, cortex_job_id) in due {
        let link = Arc::clone(link);
        calls.spawn(async move {
            let answer = match link.server(&server_name) {
                Some(server) => link.wait_report(server, &cortex_job_id).await.map_err(|e| {
                    ignored(&e);
                }),
                None => Err(()),
            };
            (job_id, answer.ok())
        });
    }
    while let Some(joined) = calls.join_next().await {
        if let Ok((job_id, answer)) = joined {
            app.lock().apply_poll(now_ms(), &job_id, answer.as_ref());
        }
    }
}

/// Checks every server (TH4 `cortex/.../services/Connector.scala`).
pub(crate) async fn check(link: &CortexLink) -> Vec<ServerStatus> {
    let mut out = Vec::new();
    for server in &link.servers {
        out.push(link.check(server).await);
    }
    out
}

/// `connectors.cortex` of `/api/status`: `OK` if every server is, `ERROR` if none is, else
/// `WARNING`.
pub(crate) fn connector_json(statuses: &[ServerStatus]) -> Value {
    let ok = statuses.iter().filter(|s| s.status == "OK").count();
    let status = if ok == statuses.len() {
        "OK"
    } else if ok == 0 {
        "ERROR"
    } else {
        "WARNING"
    };
    let servers: Vec<Value> = statuses
        .iter()
        .map(|s| json!({"name": s.name, "version": s.version, "status": s.status}))
        .collect();
    json!({"enabled": true, "status": status, "servers": servers})
}

/// The connector status, re-checked when older than `statusCheckInterval`.
pub(crate) async fn statuses(app: &App, link: &CortexLink) -> Vec<ServerStatus> {
    let now = now_ms();
    let interval = app.lock().config.status_check_interval.as_millis() as Millis;
    if let Some((at, cached)) = app.cached_status()
        && now.saturating_sub(at) < interval
    {
        return cached;
    }
    let fresh = check(link).await;
    app.set_cached_status(now, fresh.clone());
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_errors_print_json_as_jackson_does() {
        let body = json!({"a": "x", "b": [1, {"c": []}], "d": {}});

        assert_eq!(
            jackson_pretty(&body),
            "{\n  \"a\" : \"x\",\n  \"b\" : [ 1, {\n    \"c\" : [ ]\n  } ],\n  \"d\" : { }\n}"
        );
    }
}
