//! What every handler reads from a request: the merged field set and the caller's credentials.
//!
//! [`Call`] is an axum extractor. It rejects a malformed JSON body with a Play-style 400 before
//! any authentication, as Play's body parser does; [`Call::auth`] then applies ScalliGraph's
//! provider chain (SG `auth/MultiAuthSrv.scala`: session, basic, key).

use std::collections::HashSet;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::store::{AuthContext, Store};

/// Name of TheHive's session cookie.
pub(crate) const SESSION_COOKIE: &str = "THEHIVE-SESSION";

/// A parsed request: headers and merged fields.
#[derive(Debug)]
pub(crate) struct Call {
    /// Request headers.
    pub headers: HeaderMap,
    /// Body fields, then query-string parameters over them (SG `controllers/Fields.scala`).
    pub fields: Map<String, Value>,
    /// Names of the fields whose value is text from the query string or a form body (Play's
    /// `FAny`), which TheHive's parsers read differently from JSON values.
    pub text: HashSet<String>,
}

impl<S: Send + Sync> FromRequest<S> for Call {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let query = req.uri().query().unwrap_or("").to_owned();
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Invalid body: {e}")))?;
        let RequestFields { fields, text } =
            request_fields(&headers, &query, &body).map_err(ApiError::bad_request)?;
        Ok(Self {
            headers,
            fields,
            text,
        })
    }
}

/// How Play's `anyContent` parser reads a body, after its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `application/json` or `text/json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else (text, XML, multipart, raw, or no `Content-Type`): the emulator reads no
    /// field from it.
    Ignored,
}

/// The body kind of a request, from its `Content-Type` media type (parameters such as
/// `charset` do not count, case does not matter).
pub(crate) fn body_kind(headers: &HeaderMap) -> BodyKind {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media_type.as_str() {
        "application/json" | "text/json" => BodyKind::Json,
        "application/x-www-form-urlencoded" => BodyKind::Form,
        _ => BodyKind::Ignored,
    }
}

/// The fields of a request and which of them are text.
#[derive(Debug, Default)]
pub(crate) struct RequestFields {
    /// Body fields with the query-string parameters over them.
    pub fields: Map<String, Value>,
    /// Names of the fields that hold text from the query string or a form.
    pub text: HashSet<String>,
}

/// Merges a request's body and query string as ScalliGraph and elastic4play do: the body is
/// read after its `Content-Type` (JSON object fields, or form fields), anything else gives no
/// field, and query-string parameters replace body fields of the same name (SG
/// `controllers/Fields.scala` `Field.apply(request)`; elastic4play `FieldsBodyParser`).
///
/// Text values are JSON strings, or arrays of strings when a name repeats. The error is the
/// message of Play's 400 for a malformed JSON body.
pub(crate) fn request_fields(
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Result<RequestFields, String> {
    let mut out = RequestFields::default();
    match body_kind(headers) {
        BodyKind::Json if !body.is_empty() => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => out.fields = obj,
            // A JSON body that is not an object contributes no field.
            Ok(_) => {}
            Err(e) => return Err(format!("Invalid Json: {e}")),
        },
        BodyKind::Form => out.add_text(&url_pairs(&String::from_utf8_lossy(body))),
        // Play logs and ignores such a body; the handler then reports the attributes it
        // misses (SG `Fields.scala` `AnyContentAsText`/`AnyContentAsRaw`).
        BodyKind::Json | BodyKind::Ignored => {}
    }
    out.add_text(&url_pairs(query));
    Ok(out)
}

impl RequestFields {
    /// Adds text pairs, replacing earlier fields of the same name; a repeated name becomes an
    /// array of its values, as Play's `Map[String, Seq[String]]` keeps them.
    fn add_text(&mut self, pairs: &[(String, String)]) {
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (k, v) in pairs.iter().filter(|(k, _)| !k.is_empty()) {
            match grouped.iter_mut().find(|(name, _)| name == k) {
                Some((_, values)) => values.push(v),
                None => grouped.push((k, vec![v])),
            }
        }
        for (name, values) in grouped {
            let value = match values.as_slice() {
                [one] => Value::String((*one).to_owned()),
                many => Value::Array(many.iter().map(|v| json!(v)).collect()),
            };
            self.fields.insert(name.to_owned(), value);
            self.text.insert(name.to_owned());
        }
    }
}

/// Decodes `a=b&c=d` pairs.
pub(crate) fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded_pairs(query)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serde_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

impl Call {
    /// A header value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie value.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// A string field.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// Organisation requested by header: only the British spelling counts (SG reference.conf
    /// `organisationHeader = "X-Organisation"`).
    pub fn requested_org(&self) -> Option<&str> {
        self.header("X-Organisation").filter(|s| !s.is_empty())
    }

    /// Authenticates with the session cookie, then Basic, then an API key.
    ///
    /// Each provider that cannot produce a context (bad credentials, or an organisation the
    /// user may not enter) hands over to the next one; when all fail the answer is 401, with a
    /// Basic challenge unless the request has a `Referer` (SG `BasicAuthSrv`).
    pub fn auth(&self, store: &Store) -> Result<AuthContext, ApiError> {
        if let Some(ctx) = self.session_auth(store) {
            return Ok(ctx);
        }
        let requested = self.requested_org();
        let authorization = self.header("Authorization").unwrap_or("");

        if let Some(encoded) = authorization.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some(text) = decoded {
                let parts: Vec<&str> = text.split(':').collect();
                // A third segment is a TOTP code; the emulated users have no MFA, so it is
                // accepted and ignored.
                if let [login, password] | [login, password, _] = parts.as_slice()
                    && let Some(user) = store.user(login)
                    && user.password == *password
                    && let Some(ctx) = store.context(user, requested)
                {
                    return Ok(ctx);
                }
            }
        }

        if let Some(key) = authorization.strip_prefix("Bearer ") {
            let key = key.trim();
            if let Some(user) = store
                .users
                .iter()
                .find(|u| u.key.as_deref() == Some(key) && !key.is_empty())
                && let Some(ctx) = store.context(user, requested)
            {
                return Ok(ctx);
            }
        }

        Err(self.challenge(ApiError::authentication()))
    }

    fn session_auth(&self, store: &Store) -> Option<AuthContext> {
        let token = self.cookie(SESSION_COOKIE)?;
        let (login, session_org) = store.sessions.get(&token)?;
        let user = store.user(login)?;
        let org = self.requested_org().unwrap_or(session_org);
        store.context(user, Some(org))
    }

    /// Adds the Basic challenge to a 401 when the Basic provider took part (no valid session)
    /// and the request has no `Referer`.
    pub fn challenge(&self, error: ApiError) -> ApiError {
        if self.header("Referer").is_none() {
            error.with_www_authenticate()
        } else {
            error
        }
    }
}

/// Parses `range` as TheHive and elastic4play do, leniently: `all`, else the text before
/// the first `-` is the offset (0 when not a number) and the text after it the end (the
/// offset plus 10 when not a number, or when not past the offset); no range is `0-10`. So
/// `abc` is 0-10, `2` is 2-12 and `3-1` is 3-13 (TH4 `controllers/v0/QueryCtrl.scala`
/// `outputParamParser`; elastic4play `DBFind.getOffsetAndLimitFromRange`).
pub(crate) fn parse_range(range: Option<&str>) -> (usize, Option<usize>) {
    let Some(range) = range else {
        return (0, Some(10));
    };
    if range == "all" {
        return (0, None);
    }
    let padded = format!("{range}-0");
    let mut parts = padded.splitn(3, '-');
    let offset = parts
        .next()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(0)
        .max(0);
    let end = parts
        .next()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(offset.saturating_add(10));
    let end = if end <= offset {
        offset.saturating_add(10)
    } else {
        end
    };
    let size = |n: i64| usize::try_from(n).unwrap_or(usize::MAX);
    (size(offset), Some(size(end)))
}

/// The `range` field of a TheHive request: text (JSON or query string), or absent/`null`
/// for the default; another JSON type is an attribute error, as `FieldsParser.string` gives.
pub(crate) fn range_field(call: &Call) -> Result<(usize, Option<usize>), ApiError> {
    match call.fields.get("range") {
        None | Some(Value::Null) => Ok(parse_range(None)),
        Some(Value::String(s)) => Ok(parse_range(Some(s))),
        Some(other) => Err(ApiError::invalid_format_field(
            "range",
            "string",
            other,
            call.text.contains("range"),
        )),
    }
}

/// Splits on `,` as Java's `String.split` does: trailing empty parts are dropped, and a text
/// without a comma is kept whole (so `""` stays one empty part).
fn java_split(text: &str) -> Vec<String> {
    if !text.contains(',') {
        return vec![text.to_owned()];
    }
    let mut parts: Vec<String> = text.split(',').map(str::to_owned).collect();
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts
}

/// Reads the v0 `sort` field as `(field, descending)` keys (TH4 `controllers/v0/QueryCtrl.scala`
/// `sortParser`): text (JSON string or query string) is split on commas, a JSON array is
/// taken element by element; `-` sorts down, `+` or no sign up.
///
/// An empty element makes TheHive's `s(0)` throw, which its error handler answers with a 500
/// named after the exception (message from Java 8's `charAt`, the JDK of the 4.1.24 image
/// \[I\]); any other JSON type is an attribute error.
pub(crate) fn sort_field(call: &Call) -> Result<Vec<(String, bool)>, ApiError> {
    let is_text = call.text.contains("sort");
    let names: Vec<String> = match call.fields.get("sort") {
        None => Vec::new(),
        Some(Value::String(s)) => java_split(s),
        Some(Value::Array(items)) if is_text => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(java_split)
            .collect(),
        Some(Value::Array(items)) => {
            let mut names = Vec::new();
            let mut errors = super::error::AttributeErrors::default();
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) => names.push(s.to_owned()),
                    None => errors.invalid(&format!("sort[{i}]"), "string", &["string"], item),
                }
            }
            errors.check()?;
            names
        }
        Some(other) => {
            return Err(ApiError::invalid_format_field("sort", "sort", other, false));
        }
    };
    names
        .into_iter()
        .map(|name| match name.chars().next() {
            None => Err(ApiError::internal(
                "java.lang.StringIndexOutOfBoundsException",
                "String index out of range: 0",
            )),
            Some('-') => Ok((name[1..].to_owned(), true)),
            Some('+') => Ok((name[1..].to_owned(), false)),
            Some(_) => Ok((name, false)),
        })
        .collect()
}

/// The v0 `nparent` field: how many parent levels to embed (`FieldsParser.int`: a JSON
/// number, or text that parses as an integer; anything else is an attribute error).
pub(crate) fn nparent_field(call: &Call) -> Result<i64, ApiError> {
    let is_text = call.text.contains("nparent");
    match call.fields.get("nparent") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(0.0) as i64),
        Some(Value::String(s)) if is_text => s
            .parse::<i32>()
            .map(i64::from)
            .map_err(|_| ApiError::invalid_format_field("nparent", "int", &json!(s), true)),
        Some(other) => Err(ApiError::invalid_format_field(
            "nparent", "int", other, is_text,
        )),
    }
}

/// A JSON array with its `X-Total` header, the count before any range was applied (Cortex:
/// elastic4play `Renderer.toOutput` with a total).
pub(crate) fn listing(items: Vec<Value>, total: usize) -> Response {
    let mut response = axum::Json(Value::Array(items)).into_response();
    response
        .headers_mut()
        .insert("X-Total", HeaderValue::from(total as u64));
    response
}

/// Applies a parsed range to a list.
pub(crate) fn apply_range<T>(items: Vec<T>, (from, to): (usize, Option<usize>)) -> Vec<T> {
    let to = to.unwrap_or(usize::MAX);
    items
        .into_iter()
        .skip(from)
        .take(to.saturating_sub(from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_percent_decoded() {
        assert_eq!(
            url_pairs("range=all&sort=-startDate&x=%7E1+2"),
            vec![
                ("range".to_owned(), "all".to_owned()),
                ("sort".to_owned(), "-startDate".to_owned()),
                ("x".to_owned(), "~1 2".to_owned()),
            ]
        );
    }

    #[test]
    fn ranges_follow_thehive() {
        assert_eq!(parse_range(None), (0, Some(10)));
        assert_eq!(parse_range(Some("all")), (0, None));
        assert_eq!(parse_range(Some("5-20")), (5, Some(20)));
        assert_eq!(apply_range(vec![1, 2, 3, 4], (1, Some(3))), vec![2, 3]);
    }

    #[test]
    fn unreadable_ranges_fall_back_like_thehive() {
        assert_eq!(parse_range(Some("abc")), (0, Some(10)));
        assert_eq!(parse_range(Some("2")), (2, Some(12)));
        assert_eq!(parse_range(Some("3-1")), (3, Some(13)));
        assert_eq!(parse_range(Some("-5")), (0, Some(5)));
        assert_eq!(parse_range(Some("10-x")), (10, Some(20)));
    }

    #[test]
    fn commas_split_like_java() {
        assert_eq!(java_split("a,b,"), vec!["a", "b"]);
        assert_eq!(java_split(""), vec![""]);
        assert_eq!(java_split(",a"), vec!["", "a"]);
        assert!(java_split(",").is_empty());
    }

    #[test]
    fn query_string_wins_over_a_json_body() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );

        let parsed = request_fields(&headers, "range=all&t=1&t=2", br#"{"range":"0-5","x":1}"#)
            .expect("parses");

        assert_eq!(parsed.fields["range"], "all");
        assert_eq!(parsed.fields["x"], 1);
        assert_eq!(parsed.fields["t"], json!(["1", "2"]));
        assert!(parsed.text.contains("range") && !parsed.text.contains("x"));
    }

    #[test]
    fn a_json_text_without_json_content_type_gives_no_field() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));

        let parsed = request_fields(&headers, "", br#"{"user":"a"}"#).expect("ignored");

        assert!(parsed.fields.is_empty());
    }
}
