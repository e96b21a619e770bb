//! The Cortex role's HTTP API: the routes a bootstrap script and TheHive call (CX `conf/routes`).
//!
//! Authentication follows elastic4play's `Authenticated.getContext` (CX
//! `elastic4play/.../controllers/Authenticated.scala`): session cookie, then `Bearer` key, then
//! Basic (only with `auth.method.basic`), then the "init" method, which makes an unauthenticated
//! request a superuser while no user exists. Errors follow CX `services/ErrorHandler.scala`:
//! `{type, message}`, `AttributeCheckingError` with `tableName`, a 500 with the Java class name
//! for an unhandled attribute error, and 520 with a `null` body while the index is missing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, OriginalUri, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::config::EmulatorConfig;
use super::cortex_store::{
    Caller, CortexState, DEFINITIONS, Job, ROLES, RunRequest, User, Worker, config_items,
    definition_json,
};
use super::query::{self, Plain};
use super::request::{RequestFields, apply_range, listing, parse_range, request_fields};
use super::store::now_ms;

/// Cortex's session cookie (CX `conf/reference.conf` `play.http.session.cookieName`).
const SESSION_COOKIE: &str = "CORTEX_SESSION";
/// Cookie and header of Cortex's CSRF check (CX `services/CSRFFilter.scala`).
const XSRF_COOKIE: &str = "CORTEX-XSRF-TOKEN";
const XSRF_HEADER: &str = "X-CORTEX-XSRF-TOKEN";
/// The role check's refusal (elastic4play `Authenticated.apply`).
const INSUFFICIENT_RIGHTS: &str = "Insufficient rights to perform this action";

/// Shared state of the Cortex handlers.
#[derive(Clone)]
pub(crate) struct CortexApp {
    state: Arc<Mutex<CortexState>>,
}

impl CortexApp {
    fn lock(&self) -> MutexGuard<'_, CortexState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An error answered in Cortex's format.
#[derive(Debug)]
pub(crate) struct CxError {
    status: StatusCode,
    /// `None` sends no body at all (the bare 520 of `POST /api/login`).
    body: Option<Value>,
}

impl CxError {
    fn typed(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Some(json!({"type": kind, "message": message.into()})),
        }
    }

    /// 520 with a JSON `null` body: the index does not exist yet (`IndexNotFoundException`).
    fn no_index() -> Self {
        Self {
            status: StatusCode::from_u16(520).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Some(Value::Null),
        }
    }

    fn authentication() -> Self {
        Self::typed(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Authentication failure",
        )
    }

    fn authorization(message: &str) -> Self {
        Self::typed(StatusCode::FORBIDDEN, "AuthorizationError", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::NOT_FOUND, "NotFoundError", message)
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// A lone attribute error escapes the error handler's cases and is rendered with its
    /// class name as a 500.
    fn raw_attribute(error: AttrError) -> Self {
        Self::typed(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("org.elastic4play.{}", error.kind()),
            error.message(),
        )
    }

    /// 400 `AttributeCheckingError` (elastic4play `JsonFormat.attributeCheckingExceptionWrites`:
    /// `tableName`, `type`, `errors`, no top-level message).
    fn attributes(table: &str, errors: Vec<AttrError>) -> Self {
        let items: Vec<Value> = errors.iter().map(AttrError::json).collect();
        Self {
            status: StatusCode::BAD_REQUEST,
            body: Some(json!({
                "tableName": table,
                "type": "AttributeCheckingError",
                "errors": items,
            })),
        }
    }

    /// An already existing document (ES `version_conflict_engine_exception`, rendered as
    /// `ErrorWithObject`).
    fn conflict(kind: &str, id: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: Some(json!({
                "type": "ConflictError",
                "message": format!("[{id}]: version conflict, document already exists"),
                "object": {"_type": kind},
            })),
        }
    }
}

impl IntoResponse for CxError {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => {
                let mut response = (self.status, body.to_string()).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            None => self.status.into_response(),
        }
    }
}

/// One attribute error of elastic4play (`Errors.scala`).
#[derive(Debug, Clone)]
enum AttrError {
    Missing(String),
    Unknown(String, Value),
    InvalidFormat(String, String, Value),
}

impl AttrError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Missing(_) => "MissingAttributeError",
            Self::Unknown(..) => "UnknownAttributeError",
            Self::InvalidFormat(..) => "InvalidFormatAttributeError",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Missing(name) => format!("Attribute {name} is missing"),
            Self::Unknown(name, value) => format!("Unknown attribute {name}: {value}"),
            Self::InvalidFormat(name, format, value) => {
                format!("Invalid format for {name}: {value}, expected {format}")
            }
        }
    }

    fn json(&self) -> Value {
        let mut v = match self {
            Self::Missing(name) => json!({"name": name}),
            Self::Unknown(name, value) => json!({"name": name, "value": value}),
            Self::InvalidFormat(name, format, value) => {
                json!({"name": name, "format": format, "value": value})
            }
        };
        v["type"] = json!(self.kind());
        v["message"] = json!(self.message());
        v
    }
}

/// A parsed Cortex request: headers and the merged fields of the query string and a JSON or
/// form body (elastic4play `FieldsBodyParser`).
#[derive(Debug)]
pub(crate) struct CxCall {
    method: Method,
    headers: HeaderMap,
    fields: Map<String, Value>,
    /// Fields holding query-string or form text (elastic4play `StringInputValue`).
    text: HashSet<String>,
}

impl<S: Send + Sync> FromRequest<S> for CxCall {
    type Rejection = CxError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let headers = req.headers().clone();
        let query = req.uri().query().unwrap_or("").to_owned();
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| CxError::bad_request(format!("Invalid body: {e}")))?;

        // elastic4play reads the body after its content type and puts the query string over
        // it, as ScalliGraph does (elastic4play `controllers/Fields.scala` `FieldsBodyParser`).
        let RequestFields { fields, text } =
            request_fields(&headers, &query, &body).map_err(CxError::bad_request)?;
        Ok(Self {
            method,
            headers,
            fields,
            text,
        })
    }
}

impl CxCall {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// A string: JSON text, or one query-string or form value (elastic4play
    /// `Fields.getString`).
    fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// A number given as a JSON number or as query-string or form text that parses as a
    /// `Long` (elastic4play `Fields.getLong`); a JSON string does not count.
    fn u64_field(&self, name: &str) -> Option<u64> {
        match self.fields.get(name)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) if self.text.contains(name) => s.parse().ok(),
            _ => None,
        }
    }

    /// A boolean given as JSON `true`/`false`, or as text that Scala's `toBoolean` reads
    /// (`true`/`false` in any case) or that is the number 1 (elastic4play
    /// `Fields.getBoolean`): Cortex4py's `force=1` query parameter is true, a JSON `1` or
    /// `"true"` is not read.
    fn bool_field(&self, name: &str) -> Option<bool> {
        match self.fields.get(name)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if self.text.contains(name) => {
                if s.eq_ignore_ascii_case("true") {
                    Some(true)
                } else if s.eq_ignore_ascii_case("false") {
                    Some(false)
                } else {
                    s.parse::<i64>().ok().map(|n| n == 1)
                }
            }
            _ => None,
        }
    }

    /// elastic4play's provider chain; the first method that yields a caller wins.
    fn auth(&self, state: &CortexState) -> Result<Caller, CxError> {
        if let Some(caller) = self.session_auth(state)? {
            return Ok(caller);
        }
        let authorization = self.header("Authorization").unwrap_or("");
        if let Some(key) = authorization.strip_prefix("Bearer ")
            && let Some(user) = state
                .users
                .iter()
                .find(|u| !key.is_empty() && u.key.as_deref() == Some(key))
        {
            return Ok(CortexState::caller(user));
        }
        if state.config.cortex_basic_auth
            && let Some(encoded) = authorization.strip_prefix("Basic ")
            && let Some(text) = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            && let [login, password] = text.split(':').collect::<Vec<_>>().as_slice()
            && let Some(user) = state.user(login)
            && user.password.as_deref() == Some(*password)
        {
            return Ok(CortexState::caller(user));
        }
        // Before migration the user count fails and is read as 0, so "init" applies then too
        // (elastic4play `DBIndex.getSize` recovers to 0; CX `UserSrv.getInitialUser`).
        if state.users.is_empty() {
            return Ok(Caller {
                user_id: "init".to_owned(),
                roles: ROLES.iter().map(|r| (*r).to_owned()).collect(),
            });
        }
        Err(CxError::authentication())
    }

    /// Session authentication, with the CSRF check that applies to requests carrying a
    /// session cookie (CX `services/CSRFFilter.scala`).
    fn session_auth(&self, state: &CortexState) -> Result<Option<Caller>, CxError> {
        let Some(token) = self.cookie(SESSION_COOKIE).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let unsafe_method = !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method {
            let cookie = self.cookie(XSRF_COOKIE);
            if cookie.is_none() || cookie.as_deref() != self.header(XSRF_HEADER) {
                return Err(CxError::typed(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "CSRF check failed",
                ));
            }
        }
        Ok(state
            .sessions
            .get(&token)
            .and_then(|login| state.user(login))
            .map(CortexState::caller))
    }

    /// Authenticates and requires one of `roles` (none: any authenticated caller).
    fn require(&self, state: &CortexState, roles: &[&str]) -> Result<Caller, CxError> {
        let caller = self.auth(state)?;
        if roles.is_empty() || caller.has_any(roles) {
            Ok(caller)
        } else {
            Err(CxError::authorization(INSUFFICIENT_RIGHTS))
        }
    }
}

/// Fails with 520 while the index does not exist.
fn need_index(state: &CortexState) -> Result<(), CxError> {
    if state.migrated {
        Ok(())
    } else {
        Err(CxError::no_index())
    }
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// The Cortex-role router for `config`.
pub(crate) fn router(config: EmulatorConfig) -> Router {
    let prefix = format!("{}/api", config.context_path.trim_end_matches('/'));
    let app = CortexApp {
        state: Arc::new(Mutex::new(CortexState::new(config))),
    };
    let p = |path: &str| format!("{prefix}{path}");
    Router::new()
        .route(&p("/status"), get(status))
        .route(&p("/maintenance/migrate"), post(migrate))
        .route(&p("/login"), post(login))
        .route(&p("/logout"), get(logout))
        .route(&p("/user/current"), get(current_user))
        .route(&p("/user"), post(create_user))
        .route(&p("/user/{id}"), get(get_user))
        .route(&p("/user/{id}/key"), get(get_key))
        .route(&p("/user/{id}/key/renew"), post(renew_key))
        .route(&p("/organization"), post(create_org))
        .route(&p("/organization/{id}"), get(get_org))
        .route(&p("/analyzerdefinition"), get(list_definitions))
        .route(&p("/organization/analyzer"), get(list_analyzers))
        .route(
            &p("/organization/analyzer/{definitionId}"),
            post(enable_analyzer),
        )
        .route(&p("/analyzer"), get(list_analyzers))
        .route(&p("/analyzer/_search"), post(list_analyzers))
        .route(&p("/analyzer/type/{dataType}"), get(analyzers_for_type))
        .route(&p("/analyzer/{id}"), get(get_analyzer))
        .route(&p("/analyzer/{id}/run"), post(run_analyzer))
        .route(&p("/job"), get(list_jobs))
        .route(&p("/job/_search"), post(list_jobs))
        .route(&p("/job/{id}"), get(get_job))
        .route(&p("/job/{id}/report"), get(job_report))
        .route(&p("/job/{id}/waitreport"), get(wait_report))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .with_state(app)
}

/// Unmatched routes: Play's client-error 404 (CX `ErrorHandler.onClientError`).
async fn not_found(OriginalUri(uri): OriginalUri) -> CxError {
    CxError::typed(StatusCode::NOT_FOUND, "NotFound", uri.path())
}

/// `GET /api/status`: public and independent of the database (CX `StatusCtrl.get`).
///
/// Cortex 3.1.8 builds with elastic4play 1.13.6 and the Play sbt plugin 2.8.19 (CX tag 3.1.8
/// `project/Dependencies.scala`, `project/plugins.sbt`); the Elastic4s and Elasticsearch
/// client versions copy a 3.1.7-1 capture (StrangeBeeCorp/docs `upgrade.md`) \[I\].
async fn status() -> axum::Json<Value> {
    axum::Json(json!({
        "versions": {
            "Cortex": "3.1.8-1",
            "Elastic4Play": "1.13.6",
            "Play": "2.8.19",
            "Elastic4s": "7.17.2",
            "ElasticSearch client": "7.17.1",
        },
        "config": {
            "protectDownloadsWith": "malware",
            "authType": ["key", "local"],
            "capabilities": ["authByKey", "changePassword", "setPassword"],
            "ssoAutoLogin": false,
        },
    }))
}

/// `POST /api/maintenance/migrate`: creates the index and the `cortex` organization; 204.
async fn migrate(State(app): State<CortexApp>) -> StatusCode {
    app.lock().migrate(now_ms());
    StatusCode::NO_CONTENT
}

/// `POST /api/login`: a bare 520 before migration, then `{id, name, roles}` and a session.
async fn login(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let mut state = app.lock();
    if !state.migrated {
        // CX `AuthenticationCtrl.login` answers `Results.Status(520)` itself, without a body.
        return Err(CxError {
            status: StatusCode::from_u16(520).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: None,
        });
    }
    let login = call
        .str_field("user")
        .ok_or_else(|| CxError::raw_attribute(AttrError::Missing("user".into())))?
        .to_owned();
    let password = call
        .str_field("password")
        .ok_or_else(|| CxError::raw_attribute(AttrError::Missing("password".into())))?;
    let user = state
        .user(&login)
        .filter(|u| u.password.as_deref() == Some(password))
        .cloned()
        .ok_or_else(CxError::authentication)?;

    let token = super::config::random_secret(40);
    let xsrf = super::config::random_secret(32);
    state.sessions.insert(token.clone(), user.login.clone());
    let mut response =
        axum::Json(json!({"id": user.login, "name": user.name, "roles": user.roles}))
            .into_response();
    let path = cookie_path(&state);
    for cookie in [
        format!("{SESSION_COOKIE}={token}; SameSite=Lax; Path={path}; HttpOnly"),
        format!("{XSRF_COOKIE}={xsrf}; SameSite=Lax; Path={path}"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

fn cookie_path(state: &CortexState) -> String {
    let path = state.config.context_path.trim_end_matches('/');
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

/// `GET /api/logout`: 200 with the session dropped.
async fn logout(State(app): State<CortexApp>, call: CxCall) -> Response {
    let mut state = app.lock();
    if let Some(token) = call.cookie(SESSION_COOKIE) {
        state.sessions.remove(&token);
    }
    let mut response = StatusCode::OK.into_response();
    let clear = format!("{SESSION_COOKIE}=; Max-Age=0; Path={}", cookie_path(&state));
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `GET /api/user/current`: the user plus `preferences` (CX `UserCtrl.currentUser`).
async fn current_user(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.auth(&state)?;
    need_index(&state)?;
    let user = state
        .user(&caller.user_id)
        .ok_or_else(|| CxError::not_found(format!("user {} not found", caller.user_id)))?;
    let mut body = user.json();
    body["preferences"] = json!({});
    Ok(axum::Json(body).into_response())
}

/// Reads `roles` as a list of known role names (`RoleAttributeFormat`).
fn read_roles(value: Option<&Value>, errors: &mut Vec<AttrError>) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut roles = Vec::new();
    for item in items {
        match item.as_str().map(str::to_lowercase) {
            Some(role) if ROLES.contains(&role.as_str()) => roles.push(role),
            _ => errors.push(AttrError::InvalidFormat(
                "roles".into(),
                "role".into(),
                item.clone(),
            )),
        }
    }
    roles
}

/// `POST /api/user` (CX `UserCtrl.create`, `UserSrv.create`).
async fn create_user(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let now = now_ms();
    let mut state = app.lock();
    let caller = call.require(&state, &["orgadmin", "superadmin"])?;
    need_index(&state)?;

    let caller_org = state.org_of(&caller);
    let org_name = call
        .str_field("organization")
        .map_or(caller_org.clone(), str::to_owned);
    let org = state
        .org(&org_name)
        .ok_or_else(|| CxError::not_found(format!("organization {org_name} not found")))?;
    let mut errors = Vec::new();
    let roles = read_roles(call.fields.get("roles"), &mut errors);
    let allowed = org.status == "Active"
        && (caller.has_any(&["superadmin"])
            || (caller_org == org_name && !roles.iter().any(|r| r == "superadmin")));
    if !allowed {
        return Err(CxError::authorization(
            "You are not authorized to perform this action",
        ));
    }

    let login = call.str_field("login").map(str::to_lowercase);
    let name = call.str_field("name").map(str::to_owned);
    if login.is_none() {
        errors.push(AttrError::Missing("login".into()));
    }
    if name.is_none() {
        errors.push(AttrError::Missing("name".into()));
    }
    let (Some(login), Some(name), true) = (login, name, errors.is_empty()) else {
        return Err(CxError::attributes("user", errors));
    };
    if state.user(&login).is_some() {
        return Err(CxError::conflict("user", &login));
    }

    let seq = state.next_seq();
    let user = User {
        login,
        name,
        roles,
        org: org_name,
        password: None,
        key: None,
        created_by: caller.user_id.clone(),
        created_at: now,
        updated_at: None,
        seq,
    };
    // The answer is the user as first stored: the password is set by a later update, so
    // `hasPassword` is still false in it.
    let body = user.json();
    let password = call.str_field("password").map(str::to_owned);
    let login = user.login.clone();
    state.users.push(user);
    if let Some(password) = password
        && let Some(stored) = state.user_mut(&login)
    {
        stored.password = Some(password);
        stored.updated_at = Some(now);
    }
    Ok(created(body))
}

/// Finds a user the caller may see: superadmins see all, others their organization's.
fn visible_user<'a>(
    state: &'a CortexState,
    caller: &Caller,
    login: &str,
) -> Result<&'a User, CxError> {
    let user = state.user(login);
    let caller_org = state.org_of(caller);
    user.filter(|u| caller.has_any(&["superadmin"]) || u.org == caller_org)
        .ok_or_else(|| CxError::not_found(format!("user {login} not found")))
}

/// `GET /api/user/{id}`.
async fn get_user(
    State(app): State<CortexApp>,
    Path(login): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["read", "superadmin"])?;
    need_index(&state)?;
    Ok(axum::Json(visible_user(&state, &caller, &login)?.json()).into_response())
}

/// Checks the key routes' rules: same organization (or superadmin), and self, orgadmin or
/// superadmin (CX `UserCtrl.renewKey`, `getKey`).
fn key_access(state: &CortexState, caller: &Caller, login: &str) -> Result<(), CxError> {
    visible_user(state, caller, login)?;
    if caller.user_id == login || caller.has_any(&["orgadmin", "superadmin"]) {
        Ok(())
    } else {
        Err(CxError::authorization(
            "You are not authorized to perform this operation",
        ))
    }
}

fn plain_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// `POST /api/user/{id}/key/renew`: 200 with the new key as plain text.
async fn renew_key(
    State(app): State<CortexApp>,
    Path(login): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let now = now_ms();
    let mut state = app.lock();
    let caller = call.require(&state, &[])?;
    need_index(&state)?;
    key_access(&state, &caller, &login)?;
    let key = state.new_key();
    if let Some(user) = state.user_mut(&login) {
        user.key = Some(key.clone());
        user.updated_at = Some(now);
    }
    Ok(plain_text(key))
}

/// `GET /api/user/{id}/key`: the key as plain text, or 400 when the user has none.
async fn get_key(
    State(app): State<CortexApp>,
    Path(login): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &[])?;
    need_index(&state)?;
    key_access(&state, &caller, &login)?;
    state
        .user(&login)
        .and_then(|u| u.key.clone())
        .map(plain_text)
        .ok_or_else(|| CxError::bad_request(format!("User {login} hasn't key")))
}

/// `POST /api/organization` (superadmin): `name` and `description` required.
async fn create_org(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let now = now_ms();
    let mut state = app.lock();
    let caller = call.require(&state, &["superadmin"])?;
    need_index(&state)?;

    let name = call.str_field("name").map(str::to_owned);
    let description = call.str_field("description").map(str::to_owned);
    let mut errors = Vec::new();
    if name.is_none() {
        errors.push(AttrError::Missing("name".into()));
    }
    if description.is_none() {
        errors.push(AttrError::Missing("description".into()));
    }
    let status = call.str_field("status").unwrap_or("Active").to_owned();
    if status != "Active" && status != "Locked" {
        errors.push(AttrError::InvalidFormat(
            "status".into(),
            "enumeration".into(),
            json!(status),
        ));
    }
    let (Some(name), Some(description), true) = (name, description, errors.is_empty()) else {
        return Err(CxError::attributes("organization", errors));
    };
    if state.org(&name).is_some() {
        return Err(CxError::conflict("organization", &name));
    }
    let seq = state.next_seq();
    let org = super::cortex_store::Org {
        name,
        description,
        status,
        created_by: caller.user_id,
        created_at: now,
        seq,
    };
    let body = org.json();
    state.orgs.push(org);
    Ok(created(body))
}

/// `GET /api/organization/{id}`: superadmins see all, orgadmins their own.
async fn get_org(
    State(app): State<CortexApp>,
    Path(id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["superadmin", "orgadmin"])?;
    need_index(&state)?;
    let own = caller.has_any(&["superadmin"]) || state.org_of(&caller) == id;
    state
        .org(&id)
        .filter(|_| own)
        .map(|o| axum::Json(o.json()).into_response())
        .ok_or_else(|| CxError::not_found(format!("organization {id} not found")))
}

/// `GET /api/analyzerdefinition`: the catalog, read from files rather than the database.
async fn list_definitions(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let state = app.lock();
    call.require(&state, &["orgadmin", "superadmin"])?;
    let items: Vec<Value> = DEFINITIONS.iter().map(definition_json).collect();
    let total = items.len();
    Ok(listing(items, total))
}

/// Validates a worker configuration (CX `WorkerSrv.create`): known items take their value or
/// default and must have the declared type; unknown keys are refused.
fn validate_configuration(raw: &Map<String, Value>) -> Result<Map<String, Value>, Vec<AttrError>> {
    let items = config_items();
    let mut config = Map::new();
    let mut errors = Vec::new();
    for item in &items {
        let value = raw
            .get(item.name)
            .cloned()
            .or_else(|| item.default.map(|d| d()));
        match value {
            None if item.required => errors.push(AttrError::Missing(item.name.into())),
            None => {
                config.insert(item.name.into(), Value::Null);
            }
            Some(v) => {
                let ok = match (&v, item.kind) {
                    (Value::String(_), "string" | "text") => true,
                    (Value::Number(_), "number") => true,
                    (Value::Bool(_), "boolean") => true,
                    (Value::Null, _) => !item.required,
                    _ => false,
                };
                if ok {
                    config.insert(item.name.into(), v);
                } else {
                    errors.push(AttrError::InvalidFormat(
                        format!("{}[]", item.name),
                        item.kind.into(),
                        v,
                    ));
                }
            }
        }
    }
    // The unknown keys are folded by prepending, so they come out in reverse order.
    for key in raw.keys().rev() {
        if !items.iter().any(|i| i.name == key) {
            errors.push(AttrError::Unknown("worker.config".into(), json!(key)));
        }
    }
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// `POST /api/organization/analyzer/{definitionId}` (orgadmin): enables an analyzer for the
/// caller's organization; 201 with the worker, without its configuration.
async fn enable_analyzer(
    State(app): State<CortexApp>,
    Path(definition_id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let now = now_ms();
    let mut state = app.lock();
    let caller = call.require(&state, &["orgadmin"])?;
    need_index(&state)?;

    let org = state.org_of(&caller);
    let definition = DEFINITIONS
        .iter()
        .find(|d| d.id == definition_id)
        .ok_or_else(|| CxError::not_found(format!("Worker {definition_id} not found")))?;
    let raw = match call.fields.get("configuration") {
        None => Map::new(),
        Some(Value::Object(obj)) => obj.clone(),
        Some(other) => {
            return Err(CxError::attributes(
                "worker",
                vec![AttrError::InvalidFormat(
                    "configuration".into(),
                    "object".into(),
                    other.clone(),
                )],
            ));
        }
    };
    let configuration = match validate_configuration(&raw) {
        Ok(c) => c,
        Err(mut errors) if errors.len() == 1 => {
            return Err(CxError::raw_attribute(errors.remove(0)));
        }
        Err(errors) => {
            return Err(CxError::attributes(
                &format!("worker({}).configuration", definition.name),
                errors,
            ));
        }
    };
    let Some(name) = call.str_field("name").map(str::to_owned) else {
        return Err(CxError::attributes(
            "worker",
            vec![AttrError::Missing("name".into())],
        ));
    };
    if state
        .workers_of(&org)
        .any(|w| w.id == super::store::worker_id(&org, &name))
    {
        return Err(CxError::conflict("worker", &name));
    }
    let job_cache = call.fields.get("jobCache").cloned();
    let job_timeout = call.fields.get("jobTimeout").cloned();
    let worker = state.add_worker(Worker {
        id: String::new(),
        name,
        definition,
        org,
        configuration,
        job_cache,
        job_timeout,
        created_by: caller.user_id,
        created_at: now,
        seq: 0,
    });
    Ok(created(worker.json(false)))
}

/// `GET /api/analyzer`, `POST /api/analyzer/_search`: the caller's organization's analyzers,
/// filtered by `query`, with `X-Total`; orgadmins also see the configuration.
async fn list_analyzers(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["read"])?;
    need_index(&state)?;
    let org = state.org_of(&caller);
    let admin = caller.has_any(&["orgadmin"]);
    let filter = call.fields.get("query").cloned().unwrap_or(json!({}));
    query::validate(&filter)
        .map_err(|e| CxError::typed(StatusCode::BAD_REQUEST, "SearchError", e.to_string()))?;
    let mut items = Vec::new();
    for worker in state.workers_of(&org) {
        let json = worker.json(admin);
        let keep = query::matches(&filter, &Plain(&json))
            .map_err(|e| CxError::typed(StatusCode::BAD_REQUEST, "SearchError", e.to_string()))?;
        if keep {
            items.push(json);
        }
    }
    let total = items.len();
    let range = parse_range(call.str_field("range"));
    Ok(listing(apply_range(items, range), total))
}

/// `GET /api/analyzer/type/{dataType}`: every analyzer accepting `dataType`, without
/// configuration.
async fn analyzers_for_type(
    State(app): State<CortexApp>,
    Path(data_type): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["read"])?;
    need_index(&state)?;
    let org = state.org_of(&caller);
    let items: Vec<Value> = state
        .workers_of(&org)
        .filter(|_| data_type == "ip")
        .map(|w| w.json(false))
        .collect();
    let total = items.len();
    Ok(listing(items, total))
}

/// `GET /api/analyzer/{id}`: 404 `worker <id> not found` outside the caller's organization.
async fn get_analyzer(
    State(app): State<CortexApp>,
    Path(id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["read"])?;
    need_index(&state)?;
    let org = state.org_of(&caller);
    let admin = caller.has_any(&["orgadmin"]);
    state
        .workers_of(&org)
        .find(|w| w.id == id)
        .map(|w| axum::Json(w.json(admin)).into_response())
        .ok_or_else(|| CxError::not_found(format!("worker {id} not found")))
}

/// `POST /api/analyzer/{id}/run` (role `analyze`, which superadmins lack): 200 with the new
/// job, or with a cached one (`fromCache: true`).
async fn run_analyzer(
    State(app): State<CortexApp>,
    Path(id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let now = now_ms();
    let mut state = app.lock();
    let caller = call.require(&state, &["analyze"])?;
    need_index(&state)?;
    let org = state.org_of(&caller);
    let worker = state
        .workers_of(&org)
        .find(|w| w.id == id)
        .cloned()
        .ok_or_else(|| CxError::not_found(format!("worker {id} not found")))?;

    let mut errors = Vec::new();
    let data_type = call.str_field("dataType").map(str::to_owned);
    if data_type.is_none() {
        errors.push(AttrError::Missing("dataType".into()));
    }
    let data = call.str_field("data").map(str::to_owned);
    if data.is_none() {
        // File observables arrive as an attachment, which the emulator does not take.
        errors.push(AttrError::Missing("data/attachment".into()));
    }
    let (Some(data_type), Some(data), true) = (data_type, data, errors.is_empty()) else {
        return Err(CxError::attributes("job", errors));
    };
    let request = RunRequest {
        data_type,
        data,
        tlp: call.u64_field("tlp").unwrap_or(2),
        pap: call.u64_field("pap").unwrap_or(2),
        message: call.str_field("message").unwrap_or("").to_owned(),
        parameters: call
            .fields
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        label: call.str_field("label").map(str::to_owned),
        force: call.bool_field("force").unwrap_or(false),
    };
    let (job, from_cache) = state.run(now, &worker, request, &caller.user_id);
    tracing::debug!(target: "emulator", cortex_job_id = %job.id, from_cache, "cortex job created");
    Ok(axum::Json(job.json(now, from_cache)).into_response())
}

fn find_job(state: &CortexState, caller: &Caller, id: &str) -> Result<Job, CxError> {
    let org = state.org_of(caller);
    state
        .job(&org, id)
        .cloned()
        .ok_or_else(|| CxError::not_found(format!("job {id} not found")))
}

/// `GET /api/job`, `POST /api/job/_search`: the organization's jobs, newest first.
async fn list_jobs(State(app): State<CortexApp>, call: CxCall) -> Result<Response, CxError> {
    let now = now_ms();
    let state = app.lock();
    let caller = call.require(&state, &["read"])?;
    need_index(&state)?;
    let org = state.org_of(&caller);
    let filter = call.fields.get("query").cloned().unwrap_or(json!({}));
    let mut items = Vec::new();
    for job in state.jobs.iter().rev().filter(|j| j.org == org) {
        let json = job.json(now, false);
        if query::matches(&filter, &Plain(&json)).unwrap_or(false) {
            items.push(json);
        }
    }
    let total = items.len();
    let range = parse_range(call.str_field("range"));
    Ok(listing(apply_range(items, range), total))
}

/// `GET /api/job/{id}`: the job without report.
async fn get_job(
    State(app): State<CortexApp>,
    Path(id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["read"])?;
    need_index(&state)?;
    let job = find_job(&state, &caller, &id)?;
    Ok(axum::Json(job.json(now_ms(), false)).into_response())
}

fn with_report(job: &Job, now: u64) -> Response {
    let mut body = job.json(now, false);
    body["report"] = job.report(now);
    axum::Json(body).into_response()
}

/// `GET /api/job/{id}/report`: the job with its report (a string while unfinished).
async fn job_report(
    State(app): State<CortexApp>,
    Path(id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let state = app.lock();
    let caller = call.require(&state, &["read"])?;
    need_index(&state)?;
    let job = find_job(&state, &caller, &id)?;
    Ok(with_report(&job, now_ms()))
}

/// Parses a Scala duration such as `1 second`, `1minute` or `500 milliseconds`.
fn parse_scala_duration(text: &str) -> Option<Duration> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let split = compact.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = compact.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit = unit.trim_end_matches('s');
    let ms = match unit {
        "ms" | "milli" | "millisecond" => 1,
        "" | "sec" | "second" => 1_000,
        "m" | "min" | "minute" => 60_000,
        "h" | "hour" => 3_600_000,
        "d" | "day" => 86_400_000,
        _ => return None,
    };
    Some(Duration::from_millis(n.saturating_mul(ms)))
}

/// `GET /api/job/{id}/waitreport?atMost=`: while the job is unfinished, waits until it ends or
/// `atMost` (default `1minute`) passes, then answers the job with its report.
async fn wait_report(
    State(app): State<CortexApp>,
    Path(id): Path<String>,
    call: CxCall,
) -> Result<Response, CxError> {
    let now = now_ms();
    let job = {
        let state = app.lock();
        let caller = call.require(&state, &["read"])?;
        need_index(&state)?;
        find_job(&state, &caller, &id)?
    };
    if now < job.finished_at {
        let at_most = call.str_field("atMost").unwrap_or("1minute");
        let at_most = parse_scala_duration(at_most).ok_or_else(|| {
            CxError::typed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "java.lang.NumberFormatException",
                format!("format error {at_most}"),
            )
        })?;
        // The job's end is known in advance, so one sleep replaces Cortex's wait for the
        // "job ended" event; nothing polls.
        let remaining = Duration::from_millis(job.finished_at - now);
        tokio::time::sleep(remaining.min(at_most)).await;
    }
    Ok(with_report(&job, now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scala_durations_parse() {
        assert_eq!(
            parse_scala_duration("1 second"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_scala_duration("1minute"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_scala_duration("250 milliseconds"),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_scala_duration("soon"), None);
    }

    #[test]
    fn configuration_needs_the_key_and_refuses_unknown_items() {
        let missing = validate_configuration(&Map::new()).expect_err("key is required");
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].message(), "Attribute key is missing");

        let mut raw = Map::new();
        raw.insert("key".into(), json!("k"));
        raw.insert("colour".into(), json!("blue"));
        let unknown = validate_configuration(&raw).expect_err("unknown item");
        assert_eq!(
            unknown[0].message(),
            "Unknown attribute worker.config: \"colour\""
        );

        raw.remove("colour");
        let config = validate_configuration(&raw).expect("valid");
        assert_eq!(config["days"], 30);
        assert_eq!(config["proxy_http"], Value::Null);
    }
}
