//! Cases and their observables (v0 `case` and `case_artifact`).
//!
//! TH4 `controllers/v0/CaseCtrl.scala` and `ObservableCtrl.scala` (and their v1 twins, which
//! share the logic and differ in JSON shape): creation answers 201, an observable creation
//! always answers an array, or 207 `{success, failure}` when an element fails.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::error::{ApiError, AttributeErrors};
use super::request::Call;
use super::server::App;
use super::store::now_ms;
use super::th5_shape;

/// Observable types of a fresh TheHive 4 database (TH4 `models/ObservableType.scala`).
const OBSERVABLE_TYPES: &[&str] = &[
    "autonomous-system",
    "domain",
    "file",
    "filename",
    "fqdn",
    "hash",
    "ip",
    "mail",
    "mail_subject",
    "other",
    "regexp",
    "registry",
    "uri_path",
    "url",
    "user-agent",
];

/// Fields of TH4 v0 `InputCase` the emulator keeps (`tasks`, `template` and v1
/// `customFieldValues`/`caseTemplate` are ignored).
const CASE_FIELDS: &[&str] = &[
    "title",
    "description",
    "severity",
    "startDate",
    "endDate",
    "tags",
    "flag",
    "tlp",
    "pap",
    "summary",
    "user",
    "customFields",
];

/// Which API generation renders the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `/api/...` and `/api/v0/...`.
    V0,
    /// `/api/v1/...` as TheHive 4 renders it.
    V1,
    /// `/api/v1/...` as TheHive 5 renders it (`th5_shape`).
    Th5,
}

/// `POST /api/case`.
pub(crate) async fn create(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    create_case(&app, &call, Api::V0)
}

/// `POST /api/v1/case`.
pub(crate) async fn create_v1(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    create_case(&app, &call, Api::V1)
}

fn create_case(app: &App, call: &Call, api: Api) -> Result<Response, ApiError> {
    let now = now_ms();
    let (mut store, ctx) = app.enter(call, now)?;

    // The macro-built `InputCase` parser reports fields in declaration order, `title` before
    // `description` (docs/upstream-notes.md Q1).
    let mut errors = AttributeErrors::default();
    errors.string(&call.fields, "title");
    errors.string(&call.fields, "description");
    errors.check()?;
    // TH4 `CaseCtrl.create` looks up an organisation where the caller has `manageCase`: v0
    // fails with an authorization error, v1 with the failed lookup (docs/upstream-notes.md Q3).
    if !ctx.has("manageCase") {
        return Err(match api {
            Api::V0 => ApiError::authorization("Operation not permitted"),
            Api::V1 | Api::Th5 => ApiError::not_found("Organisation not found"),
        });
    }

    // v1 names the assignee `assignee` where v0 says `user`; both are stored as `user`.
    let assignee_field = match api {
        Api::V0 => "user",
        Api::V1 | Api::Th5 => "assignee",
    };
    if let Some(user) = call.str_field(assignee_field)
        && store.user(user).is_none()
    {
        return Err(ApiError::not_found("User not found"));
    }
    let mut fields: Map<String, Value> = call
        .fields
        .iter()
        .filter(|(k, _)| CASE_FIELDS.contains(&k.as_str()) && k.as_str() != "user")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(assignee) = call.fields.get(assignee_field) {
        fields.insert("user".to_owned(), assignee.clone());
    }
    let id = store.create_case(now, &ctx, fields);
    let case = store.find_case(&ctx.org, &id).expect("just created");
    tracing::debug!(target: "emulator", case_id = %id, number = case.number, "case created");
    let body = match api {
        Api::V0 => store.case_json(case, &ctx),
        Api::V1 => store.case_json_v1(case),
        Api::Th5 => th5_shape::case(case, &ctx),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/v1/case` of the TheHive 5 profile.
pub(crate) async fn create_th5(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    create_case(&app, &call, Api::Th5)
}

/// `GET /api/case/{idOrNumber}`.
pub(crate) async fn get(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    get_case(&app, &id, &call, Api::V0)
}

/// `GET /api/v1/case/{idOrNumber}`.
pub(crate) async fn get_v1(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    get_case(&app, &id, &call, Api::V1)
}

fn get_case(app: &App, id: &str, call: &Call, api: Api) -> Result<Json<Value>, ApiError> {
    let (store, ctx) = app.enter(call, now_ms())?;
    let case = store
        .find_case(&ctx.org, id)
        .ok_or_else(|| ApiError::not_found("Case not found"))?;
    Ok(Json(match api {
        Api::V0 => store.case_json(case, &ctx),
        Api::V1 => store.case_json_v1(case),
        Api::Th5 => th5_shape::case(case, &ctx),
    }))
}

/// `GET /api/v1/case/{idOrNumber}` of the TheHive 5 profile.
pub(crate) async fn get_th5(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    get_case(&app, &id, &call, Api::Th5)
}

/// `DELETE /api/case/{idOrNumber}` (also v1): removes the case, its observables and their jobs; 204.
pub(crate) async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Response, ApiError> {
    let (mut store, ctx) = app.enter(&call, now_ms())?;
    // TheHive filters the case with `can(manageCase)`, so a case the caller may not manage
    // is reported as missing.
    let case_id = store
        .find_case(&ctx.org, &id)
        .filter(|_| ctx.has("manageCase"))
        .map(|c| c.id.clone())
        .ok_or_else(|| ApiError::not_found("Case not found"))?;
    store.delete_case(&case_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/case/{idOrNumber}/artifact`.
pub(crate) async fn create_observable(
    State(app): State<App>,
    Path(case_ref): Path<String>,
    call: Call,
) -> Result<Response, ApiError> {
    create_observables(&app, &case_ref, &call, Api::V0)
}

/// `POST /api/v1/case/{idOrNumber}/observable`.
pub(crate) async fn create_observable_v1(
    State(app): State<App>,
    Path(case_ref): Path<String>,
    call: Call,
) -> Result<Response, ApiError> {
    create_observables(&app, &case_ref, &call, Api::V1)
}

fn create_observables(
    app: &App,
    case_ref: &str,
    call: &Call,
    api: Api,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let (mut store, ctx) = app.enter(call, now)?;

    let Some(data_type) = call.fields.get("dataType") else {
        return Err(ApiError::missing_attributes(&["dataType"]));
    };
    let Some(data_type) = data_type.as_str().map(str::to_owned) else {
        return Err(ApiError::invalid_format("dataType", "string", data_type));
    };
    let data: Vec<String> = match call.fields.get("data") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(other) => return Err(ApiError::invalid_format("data", "string", other)),
    };

    // TH4 checks the case with `can(manageObservable)` and fails with one message whether the
    // case is missing or not manageable.
    let case_id = store
        .find_case(&ctx.org, case_ref)
        .filter(|_| ctx.has("manageObservable"))
        .map(|c| c.id.clone())
        .ok_or_else(|| ApiError::authorization("Operation not permitted"))?;
    if !OBSERVABLE_TYPES.contains(&data_type.as_str()) {
        return Err(ApiError::not_found(format!(
            "ObservableType {data_type} not found"
        )));
    }

    // `startDate` is not kept: TheHive renders an observable's creation date in its place.
    let mut fields = Map::new();
    for key in [
        "message",
        "tlp",
        "pap",
        "sightedAt",
        "tags",
        "ioc",
        "sighted",
        "ignoreSimilarity",
    ] {
        if let Some(v) = call.fields.get(key) {
            fields.insert(key.to_owned(), v.clone());
        }
    }
    // `InputObservable.tags` is a `Set[String]` and the output renders a set, so a repeated
    // tag appears once (TH4 `dto/v0/Observable.scala`, v1 `Conversion.scala` `tags.toSet`).
    if let Some(Value::Array(tags)) = fields.get_mut("tags") {
        let mut seen = Vec::with_capacity(tags.len());
        tags.retain(|t| {
            let fresh = !seen.contains(t);
            if fresh {
                seen.push(t.clone());
            }
            fresh
        });
    }
    let mut success = Vec::new();
    let mut failure = Vec::new();
    for item in data.iter().filter(|d| !d.trim().is_empty()) {
        if store.observable_exists(&case_id, &data_type, item) {
            failure.push(json!({
                "type": "CreateError",
                "message": "Observable already exists",
                "object": {"data": item},
            }));
            continue;
        }
        let id = store.create_observable(now, &ctx, &case_id, &data_type, item, fields.clone());
        let obs = store.find_observable(&ctx.org, &id).expect("just created");
        tracing::debug!(target: "emulator", observable_id = %id, case_id = %case_id, "observable created");
        success.push(match api {
            Api::V0 => store.observable_json(obs, now),
            Api::V1 => store.observable_json_v1(obs, now),
            Api::Th5 => th5_shape::observable(&store, obs, now),
        });
    }

    if failure.is_empty() {
        Ok((StatusCode::CREATED, Json(Value::Array(success))).into_response())
    } else {
        Ok((
            StatusCode::MULTI_STATUS,
            Json(json!({"success": success, "failure": failure})),
        )
            .into_response())
    }
}

/// `POST /api/v1/case/{idOrNumber}/observable` of the TheHive 5 profile.
pub(crate) async fn create_observable_th5(
    State(app): State<App>,
    Path(case_ref): Path<String>,
    call: Call,
) -> Result<Response, ApiError> {
    create_observables(&app, &case_ref, &call, Api::Th5)
}

/// `GET /api/case/artifact/{id}`.
pub(crate) async fn get_observable(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    app.sync().await;
    read_observable(&app, &id, &call, Api::V0)
}

/// `GET /api/v1/observable/{id}`.
pub(crate) async fn get_observable_v1(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    app.sync().await;
    read_observable(&app, &id, &call, Api::V1)
}

/// `GET /api/v1/observable/{id}` of the TheHive 5 profile.
pub(crate) async fn get_observable_th5(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    app.sync().await;
    read_observable(&app, &id, &call, Api::Th5)
}

fn read_observable(app: &App, id: &str, call: &Call, api: Api) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let (store, ctx) = app.enter(call, now)?;
    let obs = store
        .find_observable(&ctx.org, id)
        .ok_or_else(|| ApiError::not_found("Observable not found"))?;
    Ok(Json(match api {
        Api::V0 => store.observable_json(obs, now),
        Api::V1 => store.observable_json_v1(obs, now),
        Api::Th5 => th5_shape::observable(&store, obs, now),
    }))
}

/// `POST /api/case/_search` (v0): the organisation's cases matching `query`, paged by `range`,
/// with `X-Total` (TH4 `controllers/v0/CaseCtrl.scala` `search`, SG `QueryExecutor`).
pub(crate) async fn search(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let (store, ctx) = app.enter(&call, now_ms())?;
    let filter = call
        .fields
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let keys = super::request::sort_field(&call)?;
    let range = super::request::range_field(&call)?;
    let mut matching = Vec::new();
    for case in store.cases.values().filter(|c| c.org == ctx.org) {
        let rendered = store.case_json(case, &ctx);
        let keep = super::query::matches(&filter, &super::query::Plain(&rendered))
            .map_err(|e| ApiError::search(e.to_string()))?;
        if keep {
            matching.push(rendered);
        }
    }
    matching.sort_by(|a, b| super::query_steps::compare_by(&keys, a, b));
    let total = matching.len();
    Ok(super::request::listing(
        super::request::apply_range(matching, range),
        total,
    ))
}

/// `DELETE /api/case/artifact/{id}` (v0), `DELETE /api/v1/observable/{id}` (TheHive 4 v1 and
/// 5): removes the observable and its jobs; 204. TH4 `controllers/v0/ObservableCtrl.scala` and
/// `v1/ObservableCtrl.scala` `delete` look it up with `canManage` (`manageObservable`) and
/// answer `NoContent`; the TheHive 5.7.3 OpenAPI documents the same 204 for the v1 path.
pub(crate) async fn delete_observable(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Response, ApiError> {
    let (mut store, ctx) = app.enter(&call, now_ms())?;
    let key = store
        .find_observable(&ctx.org, &id)
        .filter(|_| ctx.has("manageObservable"))
        .and_then(|obs| super::store::id_key(&obs.id))
        .ok_or_else(|| ApiError::not_found("Observable not found"))?;
    if let Some(obs) = store.observables.remove(&key) {
        store.jobs.retain(|_, j| j.observable_id != obs.id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An observable as `_search` filters see it, with its case as `_parent` (`_type` `case`).
struct ObservableDoc {
    json: Value,
    case: Value,
}

impl super::query::Document for ObservableDoc {
    fn json(&self) -> &Value {
        &self.json
    }
    fn parent(&self) -> Option<(&str, &Value)> {
        Some(("case", &self.case))
    }
}

/// `POST /api/case/artifact/_search` (v0): the organisation's observables matching `query`
/// (with `_parent` on the case), paged by `range`, with `X-Total` (TH4
/// `controllers/v0/ObservableCtrl.scala` `search`, SG `QueryExecutor`).
pub(crate) async fn search_observables(
    State(app): State<App>,
    call: Call,
) -> Result<Response, ApiError> {
    app.sync().await;
    let now = now_ms();
    let (store, ctx) = app.enter(&call, now)?;
    let filter = call
        .fields
        .get("query")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let range = super::request::range_field(&call)?;
    let mut matching = Vec::new();
    for obs in store.observables.values() {
        let Some(case) = store.find_case(&ctx.org, &obs.case_id) else {
            continue;
        };
        let doc = ObservableDoc {
            json: store.observable_json(obs, now),
            case: store.case_json(case, &ctx),
        };
        let keep =
            super::query::matches(&filter, &doc).map_err(|e| ApiError::search(e.to_string()))?;
        if keep {
            matching.push(doc.json);
        }
    }
    let total = matching.len();
    Ok(super::request::listing(
        super::request::apply_range(matching, range),
        total,
    ))
}
