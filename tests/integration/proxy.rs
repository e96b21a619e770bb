//! A small HTTP proxy in front of an emulator, on 127.0.0.1 port 0, whose hook may answer a
//! request itself (a 500, an odd shape) or change what the emulator answered. It stands in
//! for a TheHive that misbehaves in ways the emulator, faithful to the real one, does not.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request as the hook sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// How many requests with this method and path came before this one.
    pub nth: usize,
}

/// What to do with a request.
pub enum Action {
    /// Send it on and return the emulator's answer.
    Forward,
    /// Answer this, without sending it on.
    Answer(StatusCode, Value),
    /// Send it on, then answer this instead of what the emulator said.
    ForwardThenAnswer(StatusCode, Value),
    /// Send it on, and return the emulator's JSON answer changed by the function.
    ForwardAndMap(fn(Value) -> Value),
}

type Hook = Arc<dyn Fn(&Seen) -> Action + Send + Sync>;

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    hook: Hook,
    log: Arc<Mutex<Vec<Seen>>>,
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    /// Its base URL.
    pub url: String,
    log: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` (a base URL) with `hook`.
    pub async fn start(
        upstream: &str,
        hook: impl Fn(&Seen) -> Action + Send + Sync + 'static,
    ) -> Proxy {
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            hook: Arc::new(hook),
            log: log.clone(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(handle).with_state(shared);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Proxy { url, log, task }
    }

    /// The requests seen with `method` on `path`.
    pub fn count(&self, method: &Method, path: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == *method && s.path == path)
            .count()
    }
}

async fn handle(State(shared): State<Shared>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let seen = {
        let mut log = shared.log.lock().unwrap();
        let nth = log
            .iter()
            .filter(|s| s.method == parts.method && s.path == parts.uri.path())
            .count();
        let seen = Seen {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            nth,
        };
        log.push(seen.clone());
        seen
    };
    match (shared.hook)(&seen) {
        Action::Answer(status, body) => (status, axum::Json(body)).into_response(),
        Action::Forward => forward(&shared, &parts.method, &parts.uri, &parts.headers, bytes)
            .await
            .map_or_else(
                |e| e,
                |(status, headers, body)| (status, headers, body).into_response(),
            ),
        Action::ForwardThenAnswer(status, body) => {
            let _ = forward(&shared, &parts.method, &parts.uri, &parts.headers, bytes).await;
            (status, axum::Json(body)).into_response()
        }
        Action::ForwardAndMap(map) => {
            match forward(&shared, &parts.method, &parts.uri, &parts.headers, bytes).await {
                Ok((status, headers, body)) => match serde_json::from_slice::<Value>(&body) {
                    Ok(json) => {
                        let mut headers = headers;
                        headers.remove(axum::http::header::CONTENT_LENGTH);
                        (status, headers, axum::Json(map(json))).into_response()
                    }
                    Err(_) => (status, headers, body).into_response(),
                },
                Err(response) => response,
            }
        }
    }
}

async fn forward(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, HeaderMap, Bytes), Response> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = shared
        .client
        .request(method.clone(), format!("{}{path}", shared.upstream))
        .body(body);
    for (name, value) in headers {
        if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = request
        .send()
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())?;
    let status = answer.status();
    let mut headers = answer.headers().clone();
    headers.remove(axum::http::header::TRANSFER_ENCODING);
    headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = answer
        .bytes()
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())?;
    Ok((status, headers, body))
}
