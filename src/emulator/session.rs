//! Login, logout, current user and status endpoints.
//!
//! Shapes follow TH4 `controllers/v0/AuthenticationCtrl.scala`, `UserCtrl.scala` and
//! `StatusCtrl.scala`; the v1 user of `/api/v1/login` follows TH4 `dto/v1/User.scala`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{ApiError, AttributeErrors};
use super::remote;
use super::request::{Call, SESSION_COOKIE};
use super::server::App;
use super::store::{ADMIN_ORG, AuthContext, Store, User, now_ms};

/// v0 roles derived from permissions (TH4 v0 `Conversion.scala` `permissions2Roles`).
fn roles(ctx: &AuthContext) -> Vec<&'static str> {
    let mut roles = vec!["read"];
    let has_other = ctx.permissions.iter().any(|p| *p != "manageAlert");
    if ctx.has("manageUser") || ctx.has("manageOrganisation") {
        roles.extend(["write", "admin", "alert"]);
    } else if has_other {
        roles.push("write");
    }
    if ctx.has("manageAlert") && !roles.contains(&"alert") {
        roles.push("alert");
    }
    roles
}

/// v0 user JSON in the given context.
fn user_v0(user: &User, ctx: &AuthContext) -> Value {
    json!({
        "_id": user.id,
        "id": user.login,
        "createdBy": "system@thehive.local",
        "createdAt": user.created_at,
        "_type": "user",
        "login": user.login,
        "name": user.name,
        "roles": roles(ctx),
        "organisation": ctx.org,
        "hasKey": user.key.is_some(),
        "status": "Ok",
    })
}

/// v1 user JSON in the given context.
fn user_v1(user: &User, ctx: &AuthContext) -> Value {
    let profile = user
        .orgs
        .iter()
        .find(|(o, _)| *o == ctx.org)
        .map(|(_, p)| *p)
        .unwrap_or("org-admin");
    json!({
        "_id": user.id,
        "_createdBy": "system@thehive.local",
        "_createdAt": user.created_at,
        "login": user.login,
        "name": user.name,
        "hasKey": user.key.is_some(),
        "hasPassword": true,
        "hasMFA": false,
        "locked": false,
        "profile": profile,
        "permissions": ctx.permissions,
        "organisation": ctx.org,
        "organisations": [],
        "extraData": {},
    })
}

/// Path of the session cookie: Play's `play.http.session.path` defaults to the context path.
fn cookie_path(store: &Store) -> String {
    let path = store.config.context_path.trim_end_matches('/');
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

/// A successful login: the user, its context, the session cookie value and the cookie path.
pub(crate) struct LoginOutcome {
    pub user: User,
    pub ctx: AuthContext,
    pub token: String,
    pub path: String,
}

/// Checks the login body and opens a session (TH4 `AuthenticationCtrl.scala`; the TheHive 5
/// `LoginInput` has the same fields).
pub(crate) fn login_common(app: &App, call: &Call) -> Result<LoginOutcome, ApiError> {
    let mut store = app.lock();
    // Login reads `user`, `password` and optional `organisation`; a missing one is an
    // attribute error listed last-extracted first (docs/upstream-notes.md Q1).
    let mut errors = AttributeErrors::default();
    errors.string(&call.fields, "password");
    errors.string(&call.fields, "user");
    errors.check()?;
    let login = call.str_field("user").unwrap_or_default();
    let password = call.str_field("password").unwrap_or_default();
    let org = call
        .str_field("organisation")
        .or_else(|| call.requested_org());

    let user = store
        .user(login)
        .filter(|u| u.password == password)
        .cloned()
        .ok_or_else(ApiError::authentication)?;
    let ctx = store
        .context(&user, org)
        .ok_or_else(ApiError::authentication)?;
    let token = store.open_session(&user.login, &ctx.org);
    let path = cookie_path(&store);
    Ok(LoginOutcome {
        user,
        ctx,
        token,
        path,
    })
}

/// A JSON answer that sets the session cookie.
pub(crate) fn with_session_cookie(body: Value, token: &str, path: &str) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; SameSite=Lax; Path={path}; HttpOnly"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /api/login`.
pub(crate) async fn login(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let login = login_common(&app, &call)?;
    let body = user_v0(&login.user, &login.ctx);
    Ok(with_session_cookie(body, &login.token, &login.path))
}

/// `POST /api/v1/login`.
pub(crate) async fn login_v1(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let login = login_common(&app, &call)?;
    let body = user_v1(&login.user, &login.ctx);
    Ok(with_session_cookie(body, &login.token, &login.path))
}

/// `GET|POST /api/logout`: 200 with an empty body and the session cleared.
pub(crate) async fn logout(State(app): State<App>, call: Call) -> Response {
    let path = {
        let mut store = app.lock();
        if let Some(token) = call.cookie(SESSION_COOKIE) {
            store.sessions.remove(&token);
        }
        cookie_path(&store)
    };
    let mut response = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Lax; Path={path}; HttpOnly"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The caller of `GET /api/user/current` (v0 and v1, TH4 `controllers/v0/UserCtrl.scala` and
/// `v1/UserCtrl.scala` `current`).
///
/// A failed authentication is the usual 401 `AuthenticationError` (with the Basic challenge
/// by the usual rules): the action is `authRoTransaction`, so its body, and the `recover`
/// that answers a bodiless 401 with `X-Logout: 1`, only run once authentication succeeded.
/// That 401 is for an authenticated caller whose user cannot be read.
fn current_user(store: &Store, call: &Call) -> Result<(User, AuthContext), ApiError> {
    let ctx = call.auth(store)?;
    let user = store
        .user(&ctx.login)
        .cloned()
        .ok_or_else(|| ApiError::authentication().into_logout())?;
    Ok((user, ctx))
}

/// `GET /api/user/current`: v0 user plus `X-Organisation`.
pub(crate) async fn current(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let store = app.lock();
    let (user, ctx) = current_user(&store, &call)?;
    let mut response = Json(user_v0(&user, &ctx)).into_response();
    if let Ok(v) = HeaderValue::from_str(&ctx.org) {
        response.headers_mut().insert("X-Organisation", v);
    }
    Ok(response)
}

/// `GET /api/v1/user/current`: v1 user plus `X-Organisation` and `X-Permissions`, the
/// user's permissions that belong to the scope of the organisation (`admin` for the admin
/// organisation, else `organisation`; TH4 `controllers/v1/UserCtrl.scala` `current`,
/// `models/Permissions.scala`).
pub(crate) async fn current_v1(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let store = app.lock();
    let (user, ctx) = current_user(&store, &call)?;
    let mut response = Json(user_v1(&user, &ctx)).into_response();
    let admin_scope = ctx.org == ADMIN_ORG;
    let scoped: Vec<&str> = ctx
        .permissions
        .iter()
        .copied()
        .filter(|p| permission_in_scope(p, admin_scope))
        .collect();
    for (name, value) in [
        ("X-Organisation", ctx.org.clone()),
        ("X-Permissions", scoped.join(",")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    Ok(response)
}

/// Whether a permission belongs to the admin scope (`admin_scope`) or the organisation scope
/// (TH4 `models/Permissions.scala`: `manageConfig` and `manageUser` are in both).
fn permission_in_scope(permission: &str, admin_scope: bool) -> bool {
    const ADMIN_ONLY: &[&str] = &[
        "manageAnalyzerTemplate",
        "manageCustomField",
        "manageObservableTemplate",
        "manageOrganisation",
        "managePattern",
        "managePlatform",
        "manageProfile",
        "manageTaxonomy",
    ];
    const BOTH: &[&str] = &["manageConfig", "manageUser"];
    BOTH.contains(&permission) || (ADMIN_ONLY.contains(&permission) == admin_scope)
}

const THEHIVE_VERSION: &str = "4.1.24-1";
const CORTEX_VERSION: &str = "3.1.8-1";

fn status_body(store: &Store, with_connectors: bool) -> Value {
    let servers: Vec<Value> = store
        .config
        .cortex_servers
        .iter()
        .map(|s| json!({"name": s.name, "version": CORTEX_VERSION, "status": "OK"}))
        .collect();
    let connectors = if with_connectors {
        json!({"cortex": {"enabled": true, "status": "OK", "servers": servers}})
    } else {
        json!({})
    };
    let mut body = json!({
        // 4.1.24 builds with the Play sbt plugin 2.8.13 (TH4 `project/plugins.sbt`).
        "versions": {"Scalligraph": THEHIVE_VERSION, "TheHive": THEHIVE_VERSION, "Play": "2.8.13"},
        "connectors": connectors,
        "config": {
            "protectDownloadsWith": "malware",
            "authType": ["session", "basic", "local", "key"],
            "capabilities": ["changePassword", "setPassword", "authByKey", "mfa"],
            "ssoAutoLogin": false,
            "pollingDuration": 1000,
        },
        "schemaStatus": [{"name": "thehive", "currentVersion": 76, "expectedVersion": 76, "error": null}],
    });
    if with_connectors {
        body["config"]["freeTagDefaultColour"] = json!("#000000");
    } else {
        body["cluster"] = json!({"members": []});
    }
    body
}

/// `GET /api/health` (public): plain-text `Ok`, `Warning` or `Error` after the Cortex
/// connector status.
pub(crate) async fn health(State(app): State<App>) -> &'static str {
    let Some(link) = app.link() else {
        return "Ok";
    };
    let statuses = remote::statuses(&app, &link).await;
    match remote::connector_json(&statuses)["status"].as_str() {
        Some("OK") => "Ok",
        Some("WARNING") => "Warning",
        _ => "Error",
    }
}

/// `GET /api/status` (public).
pub(crate) async fn status(State(app): State<App>) -> Json<Value> {
    let connector = match app.link() {
        Some(link) => Some(remote::connector_json(&remote::statuses(&app, &link).await)),
        None => None,
    };
    let mut store = app.lock();
    store.advance(now_ms());
    let mut body = status_body(&store, true);
    if let Some(connector) = connector {
        body["connectors"]["cortex"] = connector;
    }
    Json(body)
}

/// `GET /api/v1/status` (public in TH4, connectors always empty).
pub(crate) async fn status_v1(State(app): State<App>) -> Json<Value> {
    let store = app.lock();
    Json(status_body(&store, false))
}
