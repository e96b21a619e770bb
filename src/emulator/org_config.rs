//! Organisation configuration items: `GET|PUT /api/config/organisation/{path}`.
//!
//! TH4 `controllers/v0/ConfigCtrl.scala` `organisationGet`/`organisationSet`: the value is any
//! JSON, stored for the organisation of the caller's auth context, and echoed with its default.
//! An item exists when `organisation.defaults.<path>` is in TheHive's configuration (TH4
//! `services/ConfigContext.scala` `OrganisationConfigContext.defaultPath`; SG
//! `services/config/ApplicationConfig.scala` `ContextApplicationConfig.validatedItem` reads
//! that default when the item is built): `notification` and the four `ui.*` items of TH4
//! `thehive/conf/reference.conf`, and `ui` itself, the object holding those four.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::error::ApiError;
use super::request::Call;
use super::server::App;
use super::store::now_ms;

/// Default of an organisation item: `organisation.defaults` in TH4 `thehive/conf/reference.conf`
/// (`notification: []` in the `organisation` block, the `ui.*` keys in the later
/// `organisation.defaults` block, which HOCON merges into the same object).
fn default_value(path: &str) -> Option<Value> {
    let ui = json!({
        "hideEmptyCaseButton": false,
        "disallowMergeAlertInResolvedSimilarCases": false,
        "defaultAlertSimilarCaseFilter": "open-cases",
        "defaultDateFormat": "MM/DD/YY HH:mm",
    });
    match path {
        "notification" => Some(json!([])),
        "ui" => Some(ui),
        _ => path
            .strip_prefix("ui.")
            .and_then(|key| ui.get(key).cloned()),
    }
}

fn item(path: &str, value: Option<&Value>) -> Value {
    match default_value(path) {
        Some(default) => json!({
            "path": path,
            "defaultValue": default,
            "value": value.cloned().unwrap_or(default.clone()),
        }),
        // Building the item throws for a path without default, and `organisationGet` recovers
        // from any failure with nulls.
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
        // Building the item reads `organisation.defaults.<path>` outside any Try, so the
        // missing key escapes to the error handler, which answers with the exception class
        // (docs/upstream-notes.md Q7; the message is Typesafe Config's [I]).
        return Err(ApiError::internal(
            "com.typesafe.config.ConfigException$Missing",
            format!("No configuration setting found for key 'organisation.defaults.{path}'"),
        ));
    }
    let value = call.fields.get("value").cloned().unwrap_or(Value::Null);
    tracing::debug!(target: "emulator", org = %ctx.org, path = %path, "organisation config value set");
    store.set_org_config(&ctx.org, &path, value);
    Ok(Json(item(&path, store.org_config(&ctx.org, &path))))
}
