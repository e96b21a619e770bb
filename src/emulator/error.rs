//! Errors of the emulator: [`EmulatorError`] for starting and serving, [`ApiError`] for the
//! TheHive-style error bodies that handlers answer with.
//!
//! `ApiError` renders the `{"type","message"}` scheme of ScalliGraph's error handler
//! (SG `core/.../ErrorHandler.scala`); the HTTP status per type follows the reference §3.

use std::net::SocketAddr;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Failure to configure, start or run the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("failed to bind the emulator to `{addr}`")]
    Bind {
        /// Requested address.
        addr: SocketAddr,
        /// Cause reported by the operating system.
        #[source]
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("emulator server failed")]
    Serve(#[source] std::io::Error),
    /// A command-line value is not usable.
    #[error("invalid emulator option `{option}`: {reason}")]
    InvalidOption {
        /// Flag name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// An error answered to an HTTP client in TheHive's format.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Option<Value>,
    /// Sets `WWW-Authenticate: Basic realm="thehive"` (SG `BasicAuthSrv.addAuthenticateHeader`).
    www_authenticate: bool,
    /// Sets `X-Logout: 1` (TH4 `controllers/v0/UserCtrl.scala` `current`).
    logout: bool,
}

impl ApiError {
    fn typed(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Some(json!({"type": kind, "message": message.into()})),
            www_authenticate: false,
            logout: false,
        }
    }

    /// 401 `AuthenticationError` / `Authentication failure`.
    pub fn authentication() -> Self {
        Self::typed(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Authentication failure",
        )
    }

    /// 403 `AuthorizationError` with the given message.
    pub fn authorization(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::FORBIDDEN, "AuthorizationError", message)
    }

    /// 404 `NotFoundError` with the given message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::NOT_FOUND, "NotFoundError", message)
    }

    /// 400 `BadRequest` (Play client error, e.g. a malformed JSON body).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// 400 `CreateError`, e.g. an entity that already exists.
    pub fn create(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::BAD_REQUEST, "CreateError", message)
    }

    /// 400 `SearchError` for a query the emulator cannot read.
    pub fn search(message: impl Into<String>) -> Self {
        Self::typed(StatusCode::BAD_REQUEST, "SearchError", message)
    }

    /// 500 with a Java class name as type, as ScalliGraph renders unknown exceptions.
    pub fn internal(class_name: &str, message: impl Into<String>) -> Self {
        Self::typed(StatusCode::INTERNAL_SERVER_ERROR, class_name, message)
    }

    /// 400 `AttributeCheckingError` for missing attributes, listed in the order given.
    pub fn missing_attributes(names: &[&str]) -> Self {
        let mut errors = AttributeErrors::default();
        for name in names {
            errors.missing(name);
        }
        errors.into_error()
    }

    /// 400 `AttributeCheckingError` for a field of the wrong JSON type.
    pub fn invalid_format(name: &str, format: &str, field: &Value) -> Self {
        Self::invalid_format_among(name, format, &[format], field)
    }

    /// 400 `AttributeCheckingError` for a field whose accepted inputs are listed.
    pub fn invalid_format_among(
        name: &str,
        format: &str,
        accepted: &[&str],
        field: &Value,
    ) -> Self {
        let mut errors = AttributeErrors::default();
        errors.invalid(name, format, accepted, field);
        errors.into_error()
    }

    /// 400 `AttributeCheckingError` for a field of the wrong type, rendered as Play's `FAny`
    /// when `is_text` (a query-string or form value).
    pub fn invalid_format_field(name: &str, format: &str, field: &Value, is_text: bool) -> Self {
        let mut errors = AttributeErrors::default();
        errors.invalid_as(name, format, &[format], field, is_text);
        errors.into_error()
    }

    /// Adds the Basic challenge header to this answer.
    pub fn with_www_authenticate(mut self) -> Self {
        self.www_authenticate = true;
        self
    }

    /// Turns this answer into the bodiless `X-Logout: 1` form of `GET /api/user/current`.
    pub fn into_logout(mut self) -> Self {
        self.logout = true;
        self.body = None;
        self
    }
}

/// Attribute errors accumulated over several fields, as ScalliGraph's field parsers collect
/// them before answering one `AttributeCheckingError`.
///
/// The message concatenates every error in brackets with no separator (SG `Errors.scala`
/// `AttributeCheckingError`, docs/upstream-notes.md Q1). Callers record fields in reverse extraction
/// order, which is the order TheHive reports them in.
#[derive(Debug, Default)]
pub(crate) struct AttributeErrors {
    texts: Vec<String>,
    items: Vec<Value>,
}

impl AttributeErrors {
    /// Records a missing attribute.
    pub fn missing(&mut self, name: &str) {
        self.texts.push(format!("Attribute {name} is missing"));
        self.items
            .push(json!({"name": name, "type": "MissingAttributeError"}));
    }

    /// Records an attribute of the wrong format.
    pub fn invalid(&mut self, name: &str, format: &str, accepted: &[&str], field: &Value) {
        self.invalid_as(name, format, accepted, field, false);
    }

    /// Records an attribute of the wrong format; `is_text` renders it as the `FAny` of a
    /// query-string or form value.
    pub fn invalid_as(
        &mut self,
        name: &str,
        format: &str,
        accepted: &[&str],
        field: &Value,
        is_text: bool,
    ) {
        let field_text = if is_text {
            text_field(field)
        } else {
            scala_field(field)
        };
        self.texts.push(format!(
            "Invalid format for {name}: {field_text}, expected {format} ({})",
            accepted.join(",")
        ));
        self.items.push(json!({
            "name": name,
            "format": format,
            "acceptedInput": accepted,
            "field": field_text,
            "type": "InvalidFormatAttributeError",
        }));
    }

    /// A required string attribute: its value, or a recorded error.
    pub fn string(
        &mut self,
        fields: &serde_json::Map<String, Value>,
        name: &str,
    ) -> Option<String> {
        match fields.get(name) {
            None => {
                self.missing(name);
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                self.invalid(name, "string", &["string"], other);
                None
            }
        }
    }

    /// A required string attribute of a JSON object nested in the body (a non-object
    /// counts as having no attribute).
    pub fn string_in(&mut self, object: &Value, name: &str) -> Option<String> {
        match object.as_object() {
            Some(fields) => self.string(fields, name),
            None => {
                self.missing(name);
                None
            }
        }
    }

    /// `Ok` if nothing was recorded, else the 400 answer.
    pub fn check(self) -> Result<(), ApiError> {
        if self.items.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    fn into_error(self) -> ApiError {
        let message: String = self.texts.iter().map(|t| format!("[{t}]")).collect();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: Some(json!({
                "type": "AttributeCheckingError",
                "message": message,
                "errors": self.items,
            })),
            www_authenticate: false,
            logout: false,
        }
    }
}

/// Renders a JSON value as ScalliGraph's `Field` `toString` (docs/upstream-notes.md Q1).
fn scala_field(value: &Value) -> String {
    match value {
        Value::Null => "FNull".to_owned(),
        Value::Bool(b) => format!("FBoolean({b})"),
        Value::Number(n) => format!("FNumber({:?})", n.as_f64().unwrap_or(0.0)),
        Value::String(s) => format!("FString({s})"),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(scala_field).collect();
            format!("FSeq(List({}))", inner.join(", "))
        }
        Value::Object(obj) => {
            let inner: Vec<String> = obj
                .iter()
                .map(|(k, v)| format!("{k} -> {}", scala_field(v)))
                .collect();
            format!("FObject(Map({}))", inner.join(", "))
        }
    }
}

/// Renders query-string or form text as ScalliGraph's `FAny` (its `Seq` printed as a `List`,
/// which Play's parsers may build otherwise \[I\]).
fn text_field(value: &Value) -> String {
    let values: Vec<&str> = match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        Value::String(s) => vec![s.as_str()],
        _ => return scala_field(value),
    };
    format!("FAny(List({}))", values.join(", "))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => (self.status, Json(body)).into_response(),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"thehive\""),
            );
        }
        if self.logout {
            headers.insert("X-Logout", HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_attributes_are_bracketed_without_separator() {
        let error = ApiError::missing_attributes(&["artifactId", "cortexId"]);

        let body = error.body.expect("body");

        assert_eq!(
            body["message"],
            "[Attribute artifactId is missing][Attribute cortexId is missing]"
        );
        assert_eq!(body["errors"][1]["name"], "cortexId");
    }

    #[test]
    fn numbers_render_as_scala_doubles() {
        assert_eq!(scala_field(&json!(123)), "FNumber(123.0)");
    }
}
