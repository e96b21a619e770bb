//! TheHive 5 profile: login, users, organisations, licence and status endpoints, and the
//! Cortex server configuration of the `thehive` role.
//!
//! Routes and bodies follow the TheHive 5.7.3 OpenAPI (StrangeBeeCorp/docs
//! `docs/thehive/api-docs/docs.yaml`) and the calls TheHive4py 2.x makes (T4P
//! `thehive4py/endpoints/user.py`, `organisation.py`, `tests/utils.py`). TheHive 5 is closed
//! source, so permission checks and error texts are those of TheHive 4 (`TH4
//! controllers/v1/UserCtrl.scala`, `OrganisationCtrl.scala`) unless a comment says otherwise.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::config::random_secret;
use super::cortex_link::{Server, ServerAuth};
use super::error::{ApiError, AttributeErrors};
use super::remote;
use super::request::Call;
use super::server::App;
use super::session::{login_common, with_session_cookie};
use super::store::{ADMIN_ORG, Org, User, normalise_login, now_ms, profile_name};
use super::th5_shape;

/// `POST /api/v1/login`: 200 `OutputUser` and the session cookie.
pub(crate) async fn login(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let login = login_common(&app, &call)?;
    let body = {
        let store = app.lock();
        th5_shape::user(&store, &login.user, Some(&login.ctx))
    };
    Ok(with_session_cookie(body, &login.token, &login.path))
}

/// `GET /api/v1/user/current`.
pub(crate) async fn current_user(
    State(app): State<App>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    let store = app.lock();
    let ctx = call.auth(&store)?;
    let user = store
        .user(&ctx.login)
        .ok_or_else(ApiError::authentication)?;
    Ok(Json(th5_shape::user(&store, user, Some(&ctx))))
}

/// `POST /api/v1/user` (`InputCreateUser`: `login`, `name`, `profile` required): 201
/// `OutputUser`.
pub(crate) async fn create_user(State(app): State<App>, call: Call) -> Result<Response, ApiError> {
    let now = now_ms();
    let mut store = app.lock();
    let ctx = call.auth(&store)?;

    let mut errors = AttributeErrors::default();
    let profile = errors.string(&call.fields, "profile");
    let name = errors.string(&call.fields, "name");
    let login = errors.string(&call.fields, "login");
    errors.check()?;
    let (profile, name, login) = (
        profile.unwrap_or_default(),
        name.unwrap_or_default(),
        normalise_login(&login.unwrap_or_default()),
    );
    let org = call
        .str_field("organisation")
        .unwrap_or(&ctx.org)
        .to_owned();

    // Managing users of another organisation needs the admin organisation, whose members
    // act as org-admins everywhere (TH4 `LocalUserSrv` fallback).
    if !ctx.has("manageUser") || (org != ctx.org && ctx.org != ADMIN_ORG) {
        return Err(ApiError::authorization("Operation not permitted"));
    }
    let Some(org_name) = store.find_org(&org).map(|o| o.name.clone()) else {
        return Err(ApiError::not_found(format!("Organisation {org} not found")));
    };
    let Some(profile) = profile_name(&profile) else {
        return Err(ApiError::not_found(format!("Profile {profile} not found")));
    };
    if store.user(&login).is_some() {
        return Err(ApiError::create(format!("User {login} already exists")));
    }

    let user = User {
        id: store.alloc_id(),
        login,
        name,
        password: call.str_field("password").unwrap_or_default().to_owned(),
        key: None,
        orgs: vec![(org_name, profile)],
        created_at: now,
        created_by: ctx.login.clone(),
        kind: call.str_field("type").unwrap_or("Normal").to_owned(),
        email: call.str_field("email").map(str::to_owned),
    };
    tracing::debug!(target: "emulator", user = %user.login, "user created");
    store.users.push(user.clone());
    let user_ctx = store.context(&user, None);
    let body = th5_shape::user(&store, &user, user_ctx.as_ref());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `PUT /api/v1/user/{id}/organisations`: replaces the memberships and answers
/// `OutputSetUserOrganisations` (`{"organisations":[{organisation, profile, default}]}`),
/// which TheHive4py indexes by `organisations`.
pub(crate) async fn set_user_organisations(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    let mut store = app.lock();
    let ctx = call.auth(&store)?;
    if !ctx.has("manageUser") || ctx.org != ADMIN_ORG {
        return Err(ApiError::authorization("Operation not permitted"));
    }
    let Some(user_id) = store.find_user(&id).map(|u| u.id.clone()) else {
        return Err(ApiError::not_found(format!("User {id} not found")));
    };
    let items = match call.fields.get("organisations") {
        None => return Err(ApiError::missing_attributes(&["organisations"])),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => {
            return Err(ApiError::invalid_format("organisations", "seq", other));
        }
    };

    let mut memberships: Vec<(String, &'static str, bool)> = Vec::new();
    for item in &items {
        let mut errors = AttributeErrors::default();
        let profile = errors.string_in(item, "profile");
        let org = errors.string_in(item, "organisation");
        errors.check()?;
        let (org, profile) = (org.unwrap_or_default(), profile.unwrap_or_default());
        let Some(org_name) = store.find_org(&org).map(|o| o.name.clone()) else {
            return Err(ApiError::not_found(format!("Organisation {org} not found")));
        };
        let Some(profile) = profile_name(&profile) else {
            return Err(ApiError::not_found(format!("Profile {profile} not found")));
        };
        let default = item
            .get("default")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        memberships.push((org_name, profile, default));
    }
    // The default organisation comes first, which is how the store marks it.
    memberships.sort_by_key(|(_, _, default)| !default);

    let answer: Vec<Value> = memberships
        .iter()
        .enumerate()
        .map(|(i, (org, profile, _))| {
            json!({"organisation": org, "profile": profile, "default": i == 0})
        })
        .collect();
    if let Some(user) = store.users.iter_mut().find(|u| u.id == user_id) {
        user.orgs = memberships.into_iter().map(|(o, p, _)| (o, p)).collect();
    }
    Ok(Json(json!({"organisations": answer})))
}

/// `POST /api/v1/user/{id}/key/renew`: the new key as plain text. Without the right to manage
/// that user the lookup fails with 404 (TH4 `v1/UserCtrl.renewKey`).
pub(crate) async fn renew_key(
    State(app): State<App>,
    Path(id): Path<String>,
    call: Call,
) -> Result<Response, ApiError> {
    let mut store = app.lock();
    let ctx = call.auth(&store)?;
    let user_id = store
        .find_user(&id)
        .filter(|u| u.login == ctx.login || ctx.has("manageUser"))
        .map(|u| u.id.clone())
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    let key = random_secret(32);
    if let Some(user) = store.users.iter_mut().find(|u| u.id == user_id) {
        user.key = Some(key.clone());
    }
    let mut response = key.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// `POST /api/v1/organisation` (also legacy `/api/organisation`, which SBC's init script
/// uses): 201 `OutputOrganisation`; needs `manageOrganisation` in the admin organisation.
pub(crate) async fn create_organisation(
    State(app): State<App>,
    call: Call,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let mut store = app.lock();
    let ctx = call.auth(&store)?;

    let mut errors = AttributeErrors::default();
    let description = errors.string(&call.fields, "description");
    let name = errors.string(&call.fields, "name");
    errors.check()?;
    let (name, description) = (name.unwrap_or_default(), description.unwrap_or_default());
    if !ctx.has("manageOrganisation") || ctx.org != ADMIN_ORG {
        return Err(ApiError::authorization("Operation not permitted"));
    }
    if store.find_org(&name).is_some() {
        return Err(ApiError::create(format!(
            "Organisation {name} already exists"
        )));
    }

    let org = Org {
        id: store.alloc_id(),
        name,
        description,
        created_by: ctx.login.clone(),
        created_at: now,
    };
    tracing::debug!(target: "emulator", org = %org.name, "organisation created");
    let body = th5_shape::organisation(&org);
    store.orgs.push(org);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v1/license/current`: the configured licence state (by default no licence
/// installed, so the trial fallback).
pub(crate) async fn licence_current(
    State(app): State<App>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    let store = app.lock();
    call.auth(&store)?;
    Ok(Json(th5_shape::licence_current(&store)))
}

/// `GET /api/v1/status`: authentication required in 5.7.3 (OAS lists a 401 answer and the
/// three security schemes for it, unlike `/api/v1/status/public`).
///
/// In the `thehive` role `connectors.cortex` comes from a check of the remote servers, as
/// TheHive 4's `/api/status` does (`remote::statuses`).
pub(crate) async fn status(State(app): State<App>, call: Call) -> Result<Json<Value>, ApiError> {
    call.auth(&app.lock())?;
    let connector = match app.link() {
        Some(link) => Some(remote::connector_json(&remote::statuses(&app, &link).await)),
        None => None,
    };
    let store = app.lock();
    let mut body = th5_shape::status_v1(&store);
    if let Some(connector) = connector {
        body["connectors"]["cortex"] = connector;
    }
    Ok(Json(body))
}

/// `GET /api/v1/status/public` (no authentication).
pub(crate) async fn status_public() -> Json<Value> {
    Json(th5_shape::status_public())
}

/// Legacy `GET /api/status` (no authentication; the health probe of SBC, GO and T4P).
pub(crate) async fn status_legacy() -> Json<Value> {
    Json(th5_shape::status_legacy())
}

/// `PUT /api/v1/admin/config/cortex` (role `thehive`): replaces the Cortex servers with the
/// body's `servers` and answers 204, as StrangeBee's `testing/scripts/test_init_thehive.sh`
/// expects (StrangeBeeCorp/docker 0293639). The 5.7.3 OpenAPI does not document the route; the
/// docs give it `[admin] managePlatform` (StrangeBeeCorp/docs fc4027e
/// `docs/thehive/administration/cortex/add-a-cortex-server.md`), which the emulator's TheHive 4
/// permission lists stand for with `manageConfig` in the admin organisation \[I\]. Only `servers`
/// is read: `name`, `url` and `auth` (`bearer` with `key`, or `basic` with `username` and
/// `password`); the intervals, `wsConfig` and the organisation filters are accepted and
/// ignored. The validation and its texts are inferred \[I\].
pub(crate) async fn set_cortex_config(
    State(app): State<App>,
    call: Call,
) -> Result<StatusCode, ApiError> {
    let ctx = call.auth(&app.lock())?;
    if ctx.org != ADMIN_ORG || !ctx.has("manageConfig") {
        return Err(ApiError::authorization("Operation not permitted"));
    }
    let items = match call.fields.get("servers") {
        None => return Err(ApiError::missing_attributes(&["servers"])),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => return Err(ApiError::invalid_format("servers", "seq", other)),
    };

    let mut servers: Vec<Server> = Vec::new();
    for item in &items {
        let server = cortex_server(item)?;
        if servers.iter().any(|s| s.name == server.name) {
            return Err(ApiError::bad_request(format!(
                "Cortex server {} is defined twice",
                server.name
            )));
        }
        servers.push(server);
    }

    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    tracing::info!(target: "emulator", servers = ?names, "cortex.servers config was updated");
    app.set_cortex_servers(servers);
    Ok(StatusCode::NO_CONTENT)
}

/// One entry of `servers`: its name, URL (without a trailing `/`) and credentials.
fn cortex_server(item: &Value) -> Result<Server, ApiError> {
    let mut errors = AttributeErrors::default();
    let url = errors.string_in(item, "url");
    let name = errors.string_in(item, "name");
    errors.check()?;
    let (name, url) = (name.unwrap_or_default(), url.unwrap_or_default());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::invalid_format(
            "servers.url",
            "url",
            &Value::String(url),
        ));
    }

    let auth = match item.get("auth") {
        None | Some(Value::Null) => None,
        Some(auth) => Some(server_auth(auth)?),
    };
    Ok(Server {
        name,
        url: url.trim_end_matches('/').to_owned(),
        auth,
    })
}

/// A server's `auth` object.
fn server_auth(auth: &Value) -> Result<ServerAuth, ApiError> {
    let kind = auth.get("type").cloned().unwrap_or(Value::Null);
    let mut errors = AttributeErrors::default();
    let auth = match kind.as_str() {
        Some("bearer") => errors.string_in(auth, "key").map(ServerAuth::Bearer),
        Some("basic") => {
            let password = errors.string_in(auth, "password");
            let username = errors.string_in(auth, "username");
            username
                .zip(password)
                .map(|(username, password)| ServerAuth::Basic { username, password })
        }
        _ => {
            errors.invalid("auth.type", "string", &["bearer", "basic"], &kind);
            None
        }
    };
    errors.check()?;
    auth.ok_or_else(|| ApiError::missing_attributes(&["auth"]))
}
