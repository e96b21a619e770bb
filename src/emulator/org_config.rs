//! Organisation configuration items: `GET|PUT /api/config/organisation/{path}`.
//!
//! TH4 `controllers/v0/ConfigCtrl.scala` `organisationGet`/`organisationSet`: the value is any
//! JSON, stored for the organisation of the caller's auth context, and echoed with its default.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::request::Call;
use super::server::App;
use super::store::now_ms;

/// Default of an organisation item (TH4 `thehive/conf/reference.conf` `organisation.defaults`).
fn default_value(path: &str) -> Option<Value> {
    (path == "notification").then(|| json!([]))
}

fn item(path: &str, value: Option<&Value>) -> Value {
    match default_value(path) {
        Some(default) => json!({
            "path": path,
            "defaultValue": default,
            "value": value.cloned().unwrap_or(default.clone()),
        }),
        // TheHive answers nulls for a path it has no definition for.
        None => {
            json!({"path": path, "defaultValue": null, "value": value.cloned().unwrap_or(Value::Null)})
        }
    }
}

/// `GET /api/config/organisation/{path}`: authentication only, no permission.
pub(crate) async fn get(
    State(app): State<App>,
    Path(path): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    let (store, ctx) = app.enter(&call, now_ms())?;
    Ok(Json(item(&path, store.org_config(&ctx.org, &path))))
}

/// `PUT /api/config/organisation/{path}`: needs `manageConfig`; a body without `value` stores
/// `null` (the symptom of TheHive issue #1318).
pub(crate) async fn set(
    State(app): State<App>,
    Path(path): Path<String>,
    call: Call,
) -> Result<Json<Value>, ApiError> {
    let (mut store, ctx) = app.enter(&call, now_ms())?;
    if !ctx.has("manageConfig") {
        return Err(ApiError::authorization(
            "Your are not authorized to set organisation configuration item, you haven't the permission manageConfig",
        ));
    }
    if default_value(&path).is_none() {
        // Writing an item without a declared default throws outside TheHive's Try, so the
        // error handler answers with the exception class (research note Q7, [I]).
        return Err(ApiError::internal(
            "com.typesafe.config.ConfigException$Missing",
            format!("No configuration setting found for key '{path}'"),
        ));
    }
    let value = call.fields.get("value").cloned().unwrap_or(Value::Null);
    tracing::debug!(target: "emulator", org = %ctx.org, path = %path, "organisation config value set");
    store.set_org_config(&ctx.org, &path, value);
    Ok(Json(item(&path, store.org_config(&ctx.org, &path))))
}
