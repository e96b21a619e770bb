//! What every handler reads from a request: the merged field set and the caller's credentials.
//!
//! [`Call`] is an axum extractor. It rejects a malformed JSON body with a Play-style 400 before
//! any authentication, as Play's body parser does; [`Call::auth`] then applies ScalliGraph's
//! provider chain (SG `auth/MultiAuthSrv.scala`: session, basic, key).

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::store::{AuthContext, Store};

/// Name of TheHive's session cookie.
pub(crate) const SESSION_COOKIE: &str = "THEHIVE-SESSION";

/// A parsed request: headers and merged fields.
#[derive(Debug)]
pub(crate) struct Call {
    /// Request headers.
    pub headers: HeaderMap,
    /// Query-string parameters and JSON body fields, merged (SG `controllers/Fields.scala`).
    pub fields: Map<String, Value>,
}

impl<S: Send + Sync> FromRequest<S> for Call {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let query = req.uri().query().unwrap_or("").to_owned();
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("Invalid body: {e}")))?;

        let mut fields = Map::new();
        for (k, v) in url_pairs(&query) {
            fields.insert(k, Value::String(v));
        }
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        if !body.is_empty() {
            match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(obj)) => fields.extend(obj),
                // A JSON body that is not an object contributes no field.
                Ok(_) => {}
                Err(e) if is_json => {
                    return Err(ApiError::bad_request(format!("Invalid Json: {e}")));
                }
                // Play ignores a body it cannot read when it was not declared as JSON; the
                // handler then reports the attributes it misses.
                Err(_) => {}
            }
        }

        Ok(Self { headers, fields })
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

/// Parses `range` (`all`, `from-to`; default `0-10`, TH4 `QueryCtrl.outputParamParser`).
pub(crate) fn parse_range(range: Option<&str>) -> Result<(usize, Option<usize>), ApiError> {
    match range.map(str::trim) {
        None | Some("") => Ok((0, Some(10))),
        Some("all") => Ok((0, None)),
        Some(r) => {
            let (from, to) = r
                .split_once('-')
                .ok_or_else(|| ApiError::bad_request(format!("Invalid range: {r}")))?;
            let from: usize = from
                .trim()
                .parse()
                .map_err(|_| ApiError::bad_request(format!("Invalid range: {r}")))?;
            let to: usize = to
                .trim()
                .parse()
                .map_err(|_| ApiError::bad_request(format!("Invalid range: {r}")))?;
            Ok((from, Some(to.max(from))))
        }
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
        assert_eq!(parse_range(None).ok(), Some((0, Some(10))));
        assert_eq!(parse_range(Some("all")).ok(), Some((0, None)));
        assert_eq!(apply_range(vec![1, 2, 3, 4], (1, Some(3))), vec![2, 3]);
    }
}
