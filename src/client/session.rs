//! [`TheHive`]: one authenticated session, and every call hivecheck makes with it.
//!
//! A session is bound to a login and an organisation. Every request carries
//! [`ORG_HEADER`] (`X-Organisation`, the spelling TheHive reads), is logged at debug level with
//! its method, path, status and duration, and has its error body turned into a
//! [`ClientError`]. Paths are TheHive 4's v0 API unless [`ApiVersion::V1`] is chosen.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::{ApiErrorBody, ClientError};
use super::secret::{Secret, register};
use super::wire::{
    Analyzer, Case, CreateFailure, CreatedObservables, Job, NewCase, NewJob, NewObservable,
    Observable, Status,
};

/// The organisation header TheHive 4 and 5 read (British spelling).
pub const ORG_HEADER: &str = "X-Organisation";

/// The spelling the runbook uses; TheHive ignores it and falls back to the user's default org.
pub const ORG_HEADER_RUNBOOK: &str = "X-Organization";

/// Which of TheHive's APIs to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// TheHive 4's v0 API (`/api/case/...`, `/api/connector/cortex/...`), as the runbook uses.
    #[default]
    V0,
    /// The v1 API of TheHive 4.1+ and 5 (`/api/v1/...`).
    V1,
}

impl ApiVersion {
    /// The family to use with a server: v1 for TheHive 5 (whose OpenAPI documents only v1),
    /// v0 for TheHive 4 and anything that does not say.
    pub fn of(status: &Status) -> Self {
        match status.thehive_version() {
            Some(version) if version.starts_with('5') => ApiVersion::V1,
            _ => ApiVersion::V0,
        }
    }
}

/// Where TheHive is and how to reach it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    base: String,
    timeout: Duration,
    ca_certs: Vec<reqwest::Certificate>,
    ca_file: Option<std::path::PathBuf>,
    insecure: bool,
    api: Option<ApiVersion>,
}

impl Endpoint {
    /// Parses a base URL, which may carry a context path (`https://host/thehive`).
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let shown = without_userinfo(url);
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: shown.clone(),
            reason: reason.to_owned(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        // Credentials in the URL would be printed with it (labels, logs, report.json), and
        // reqwest would send them as Basic on every request besides the configured session.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ClientError::CredentialsInUrl { url: shown });
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("a base URL has no query or fragment"));
        }
        Ok(Endpoint {
            base: parsed.as_str().trim_end_matches('/').to_owned(),
            timeout: Duration::from_secs(30),
            ca_certs: Vec::new(),
            ca_file: None,
            insecure: false,
            api: None,
        })
    }

    /// Fixes the API family; `None` (the default) chooses it from `GET /api/status`: v1 for
    /// TheHive 5, v0 otherwise.
    pub fn with_api(mut self, api: Option<ApiVersion>) -> Self {
        self.api = api;
        self
    }

    /// The API family fixed by `--api`, if any.
    pub fn api(&self) -> Option<ApiVersion> {
        self.api
    }

    /// The base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sets the time allowed for one request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts extra CA certificates besides the system roots; [`read_ca_certs`] reads them
    /// from a PEM file.
    pub fn with_ca_certs(mut self, certs: Vec<reqwest::Certificate>) -> Self {
        self.ca_certs = certs;
        self
    }

    /// Trusts the CA certificates of a PEM file, read now, and remembers the file for commands
    /// that must reach the same server (a restore script).
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, String> {
        self.ca_certs = read_ca_certs(path)?;
        self.ca_file = Some(path.to_owned());
        Ok(self)
    }

    /// Accepts any certificate. Only ever on explicit request.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// The extra CA certificate trusted, if any (for commands that must reach the same
    /// server, such as a restore script).
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Whether any certificate is accepted.
    pub fn insecure(&self) -> bool {
        self.insecure
    }

    fn http_client(&self) -> Result<reqwest::Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(self.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("hivecheck/", env!("CARGO_PKG_VERSION")))
            .tls_danger_accept_invalid_certs(self.insecure);
        for cert in &self.ca_certs {
            builder = builder.add_root_certificate(cert.clone());
        }
        builder.build().map_err(|e| ClientError::InvalidUrl {
            url: self.base.clone(),
            reason: format!("cannot build an HTTP client: {e}"),
        })
    }
}

/// Reads the certificates of a PEM file (a CA or a bundle) to trust besides the system roots;
/// a file without any `CERTIFICATE` block is an error, as is one that cannot be read.
pub fn read_ca_certs(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    if certs.is_empty() {
        return Err(
            "no PEM certificate in it (expected a `-----BEGIN CERTIFICATE-----` block)".to_owned(),
        );
    }
    Ok(certs)
}

/// How a session authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// `POST /api/login`, then the `THEHIVE-SESSION` cookie (what the runbook does).
    Session {
        /// The login, e.g. `analyst@thehive.local`.
        login: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: Basic` on every request.
    Basic {
        /// The login.
        login: String,
        /// The password.
        password: Secret,
    },
    /// `Authorization: Bearer <key>` on every request.
    ApiKey {
        /// The API key.
        key: Secret,
    },
}

/// An answer, whatever its status; for probes that must see what TheHive really said.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// How long the exchange took.
    pub elapsed: Duration,
}

impl RawResponse {
    /// The body as JSON, or `None` when it is not JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One authenticated session against TheHive, in one organisation.
#[derive(Debug, Clone)]
pub struct TheHive {
    http: reqwest::Client,
    base: String,
    org: Option<String>,
    who: String,
    authorization: Option<HeaderValue>,
    api: ApiVersion,
}

impl TheHive {
    /// Opens a session: logs in (for [`Auth::Session`]) and checks the credentials with
    /// `GET /api/user/current`, so a wrong password fails here, naming `role`.
    pub async fn connect(
        endpoint: &Endpoint,
        auth: &Auth,
        org: Option<&str>,
        role: &str,
    ) -> Result<Self, ClientError> {
        let (who, authorization) = match auth {
            Auth::Session { login, .. } => (format!("{role} session `{login}`"), None),
            Auth::Basic { login, password } => {
                let token = base64_encode(&format!("{login}:{}", password.expose()));
                register(&token);
                (
                    format!("{role} session `{login}` (basic)"),
                    Some(sensitive(&format!("Basic {token}"))),
                )
            }
            Auth::ApiKey { key } => (
                format!("{role} session (API key)"),
                Some(sensitive(&format!("Bearer {}", key.expose()))),
            ),
        };
        let mut session = TheHive {
            http: endpoint.http_client()?,
            base: endpoint.base.clone(),
            org: org.map(str::to_owned),
            who,
            authorization,
            api: ApiVersion::V0,
        };
        session.api = match endpoint.api {
            Some(api) => api,
            None => ApiVersion::of(&session.status().await?),
        };

        if let Auth::Session { login, password } = auth {
            let body = json!({ "user": login, "password": password.expose() });
            let path = match session.api {
                ApiVersion::V0 => "/api/login",
                ApiVersion::V1 => "/api/v1/login",
            };
            let response = session
                .exchange(Method::POST, path, Some(&body), ORG_HEADER)
                .await?;
            session.check(&Method::POST, path, &response)?;
            for cookie in response.headers.get_all(header::SET_COOKIE) {
                let pair = cookie.to_str().ok().and_then(|t| t.split(';').next());
                if let Some((_, value)) = pair.and_then(|kv| kv.split_once('=')) {
                    register(value);
                }
            }
        }
        session.current_user().await?;
        Ok(session)
    }

    /// The API family this session calls.
    pub fn api(&self) -> ApiVersion {
        self.api
    }

    /// A client without credentials, for the public `GET /api/status`.
    pub fn anonymous(endpoint: &Endpoint) -> Result<Self, ClientError> {
        Ok(TheHive {
            http: endpoint.http_client()?,
            base: endpoint.base.clone(),
            org: None,
            who: "anonymous client".to_owned(),
            authorization: None,
            api: endpoint.api.unwrap_or_default(),
        })
    }

    /// The same session, sending `org` as its organisation from now on.
    pub fn with_org(mut self, org: Option<&str>) -> Self {
        self.org = org.map(str::to_owned);
        self
    }

    /// Which session this is, for messages: ``user session `analyst@thehive.local` ``.
    pub fn who(&self) -> &str {
        &self.who
    }

    /// The organisation sent in `X-Organisation`, if any.
    pub fn org(&self) -> Option<&str> {
        self.org.as_deref()
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /api/status` (public on TheHive 4 and 5).
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.call(Method::GET, "/api/status", None).await
    }

    /// The current user as TheHive sees this session.
    pub async fn current_user(&self) -> Result<Value, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => "/api/user/current",
            ApiVersion::V1 => "/api/v1/user/current",
        };
        self.call(Method::GET, path, None).await
    }

    /// Every analyzer of every Cortex server enabled for this organisation, merged by name.
    /// TheHive ignores a `server=` parameter, so filtering by server is the caller's job.
    pub async fn list_analyzers(&self) -> Result<Vec<Analyzer>, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => "/api/connector/cortex/analyzer?range=all",
            ApiVersion::V1 => "/api/v1/connector/cortex/analyzer?range=all",
        };
        self.call(Method::GET, path, None).await
    }

    /// Creates a case.
    pub async fn create_case(&self, case: &NewCase) -> Result<Case, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => "/api/case",
            ApiVersion::V1 => "/api/v1/case",
        };
        self.call(Method::POST, path, Some(&to_json(case))).await
    }

    /// Reads a case by `~id` or number.
    pub async fn get_case(&self, id_or_number: &str) -> Result<Case, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => format!("/api/case/{}", segment(id_or_number)),
            ApiVersion::V1 => format!("/api/v1/case/{}", segment(id_or_number)),
        };
        self.call(Method::GET, &path, None).await
    }

    /// Every case of the organisation carrying `tag`: v0 `POST /api/case/_search`, v1
    /// `listCase` with a filter.
    pub async fn cases_tagged(&self, tag: &str) -> Result<Vec<Case>, ClientError> {
        let (path, body) = match self.api {
            ApiVersion::V0 => (
                "/api/case/_search?range=all",
                json!({"query": {"_field": "tags", "_value": tag}}),
            ),
            ApiVersion::V1 => (
                "/api/v1/query?name=hivecheck-cases",
                json!({"query": [
                    {"_name": "listCase"},
                    {"_name": "filter", "_eq": {"_field": "tags", "_value": tag}}
                ]}),
            ),
        };
        self.call(Method::POST, path, Some(&body)).await
    }

    /// Deletes a case for good.
    pub async fn delete_case(&self, id: &str) -> Result<(), ClientError> {
        let path = match self.api {
            ApiVersion::V0 => format!("/api/case/{}", segment(id)),
            ApiVersion::V1 => format!("/api/v1/case/{}", segment(id)),
        };
        let response = self
            .exchange(Method::DELETE, &path, None, ORG_HEADER)
            .await?;
        self.check(&Method::DELETE, &path, &response)
    }

    /// Adds an observable to a case. TheHive 4 answers 201 with an array, or 207 with
    /// `{success, failure}` when some element was refused (a duplicate, typically).
    pub async fn create_observables(
        &self,
        case_id: &str,
        observable: &NewObservable,
    ) -> Result<CreatedObservables, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => format!("/api/case/{}/artifact", segment(case_id)),
            ApiVersion::V1 => format!("/api/v1/case/{}/observable", segment(case_id)),
        };
        let method = Method::POST;
        let response = self
            .exchange(
                method.clone(),
                &path,
                Some(&to_json(observable)),
                ORG_HEADER,
            )
            .await?;
        self.check(&method, &path, &response)?;

        let unexpected = |detail: String| ClientError::UnexpectedBody {
            method: method.to_string(),
            path: path.clone(),
            status: response.status,
            detail,
        };
        let body: Value = serde_json::from_slice(&response.body)
            .map_err(|e| unexpected(format!("not JSON: {e}")))?;
        match body {
            Value::Array(_) => Ok(CreatedObservables {
                created: serde_json::from_value(body).map_err(|e| unexpected(e.to_string()))?,
                failed: Vec::new(),
            }),
            Value::Object(mut map) if response.status == 207 => {
                let created = map.remove("success").unwrap_or(Value::Array(Vec::new()));
                let failed = map.remove("failure").unwrap_or(Value::Array(Vec::new()));
                Ok(CreatedObservables {
                    created: serde_json::from_value(created)
                        .map_err(|e| unexpected(e.to_string()))?,
                    failed: serde_json::from_value::<Vec<CreateFailure>>(failed)
                        .map_err(|e| unexpected(e.to_string()))?,
                })
            }
            other => Err(unexpected(format!(
                "expected an array, got {}",
                kind_of(&other)
            ))),
        }
    }

    /// The observables carrying `tag`, in the case `case_id` when given, else in the whole
    /// organisation: v0 `POST /api/case/artifact/_search` (a `_parent` filter for the case),
    /// v1 `POST /api/v1/query` (`getCase` → `observables`, or `listObservable`, then
    /// `filter`).
    pub async fn observables_tagged(
        &self,
        tag: &str,
        case_id: Option<&str>,
    ) -> Result<Vec<Observable>, ClientError> {
        let tagged = json!({"_field": "tags", "_value": tag});
        let (path, body) = match (self.api, case_id) {
            (ApiVersion::V0, None) => (
                "/api/case/artifact/_search?range=all",
                json!({"query": tagged}),
            ),
            (ApiVersion::V0, Some(case)) => (
                "/api/case/artifact/_search?range=all",
                json!({"query": {"_and": [
                    {"_parent": {"_type": "case", "_query": {"_id": case}}},
                    tagged
                ]}}),
            ),
            (ApiVersion::V1, None) => (
                "/api/v1/query?name=hivecheck-observables",
                json!({"query": [
                    {"_name": "listObservable"},
                    {"_name": "filter", "_eq": tagged}
                ]}),
            ),
            (ApiVersion::V1, Some(case)) => (
                "/api/v1/query?name=hivecheck-case-observables",
                json!({"query": [
                    {"_name": "getCase", "idOrName": case},
                    {"_name": "observables"},
                    {"_name": "filter", "_eq": tagged}
                ]}),
            ),
        };
        self.call(Method::POST, path, Some(&body)).await
    }

    /// Deletes an observable (and its jobs) for good: v0 `DELETE /api/case/artifact/{id}`,
    /// v1 `DELETE /api/v1/observable/{id}`; both answer 204.
    pub async fn delete_observable(&self, id: &str) -> Result<(), ClientError> {
        let path = match self.api {
            ApiVersion::V0 => format!("/api/case/artifact/{}", segment(id)),
            ApiVersion::V1 => format!("/api/v1/observable/{}", segment(id)),
        };
        let response = self
            .exchange(Method::DELETE, &path, None, ORG_HEADER)
            .await?;
        self.check(&Method::DELETE, &path, &response)
    }

    /// Reads an observable with its `reports`.
    pub async fn get_observable(&self, id: &str) -> Result<Observable, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => format!("/api/case/artifact/{}", segment(id)),
            ApiVersion::V1 => format!("/api/v1/observable/{}", segment(id)),
        };
        self.call(Method::GET, &path, None).await
    }

    /// Starts an analyzer on an observable (`cortexId` is mandatory).
    pub async fn create_job(&self, job: &NewJob) -> Result<Job, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => "/api/connector/cortex/job",
            ApiVersion::V1 => "/api/v1/connector/cortex/job",
        };
        self.call(Method::POST, path, Some(&to_json(job))).await
    }

    /// Reads a job; its `report` appears once TheHive's poller stored the result.
    pub async fn get_job(&self, id: &str) -> Result<Job, ClientError> {
        let path = match self.api {
            ApiVersion::V0 => format!("/api/connector/cortex/job/{}", segment(id)),
            ApiVersion::V1 => format!("/api/v1/connector/cortex/job/{}", segment(id)),
        };
        self.call(Method::GET, &path, None).await
    }

    /// Every job of an observable, newest first: v0 `POST /api/connector/cortex/job/_search`
    /// with a `_parent` filter, or v1 `POST /api/v1/query` (`getObservable` then `jobs`).
    /// A 200 whose body is not a list is an [`ClientError::UnexpectedBody`] naming what it was.
    pub async fn jobs_of_observable(&self, observable_id: &str) -> Result<Vec<Job>, ClientError> {
        let (path, body) = match self.api {
            ApiVersion::V0 => (
                "/api/connector/cortex/job/_search?range=0-200&sort=-startDate".to_owned(),
                json!({"query": {"_and": [{"_parent": {
                    "_type": "case_artifact",
                    "_query": {"_id": observable_id}
                }}]}}),
            ),
            ApiVersion::V1 => (
                "/api/v1/query?name=observable-jobs".to_owned(),
                json!({"query": [
                    {"_name": "getObservable", "idOrName": observable_id},
                    {"_name": "jobs"},
                    {"_name": "sort", "_fields": [{"startDate": "desc"}]},
                    {"_name": "page", "from": 0, "to": 200}
                ]}),
            ),
        };
        let value: Value = self.call(Method::POST, &path, Some(&body)).await?;
        let unexpected = |detail: String| ClientError::UnexpectedBody {
            method: "POST".to_owned(),
            path: path.clone(),
            status: 200,
            detail,
        };
        match value {
            Value::Array(_) => serde_json::from_value(value).map_err(|e| unexpected(e.to_string())),
            Value::Object(map) if map.contains_key("type") && map.contains_key("message") => {
                Err(unexpected(format!(
                    "an error object instead of a list of jobs: {}",
                    Value::Object(map)
                )))
            }
            other => Err(unexpected(format!(
                "{} instead of a list of jobs",
                kind_of(&other)
            ))),
        }
    }

    /// Reads an organisation configuration item (`GET /api/config/organisation/{item}`):
    /// `{path, defaultValue, value}`.
    pub async fn get_org_config(&self, item: &str) -> Result<Value, ClientError> {
        let path = format!("/api/config/organisation/{}", segment(item));
        self.call(Method::GET, &path, None).await
    }

    /// Writes an organisation configuration item with body `body` (normally `{"value": ..}`),
    /// returning TheHive's echo.
    pub async fn put_org_config(&self, item: &str, body: &Value) -> Result<Value, ClientError> {
        let path = format!("/api/config/organisation/{}", segment(item));
        self.call(Method::PUT, &path, Some(body)).await
    }

    /// Sends any request and returns the answer whatever its status, with `org_header` as the
    /// name of the organisation header. Used to show what TheHive does with the runbook's calls.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        org_header: &str,
    ) -> Result<RawResponse, ClientError> {
        self.exchange(method, path, body, org_header).await
    }

    /// Sends a request and reads a JSON answer of type `T`, or the error TheHive gave.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ClientError> {
        let response = self
            .exchange(method.clone(), path, body, ORG_HEADER)
            .await?;
        self.check(&method, path, &response)?;
        serde_json::from_slice(&response.body).map_err(|e| ClientError::UnexpectedBody {
            method: method.to_string(),
            path: path.to_owned(),
            status: response.status,
            detail: e.to_string(),
        })
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        org_header: &str,
    ) -> Result<RawResponse, ClientError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(org) = &self.org {
            request = request.header(org_header, org);
        }
        if let Some(value) = &self.authorization {
            request = request.header(header::AUTHORIZATION, value.clone());
        }
        if let Some(body) = body {
            request = request.json(body);
        }

        let started = Instant::now();
        let result = request.send().await;
        let transport = |source| ClientError::Transport {
            base: self.base.clone(),
            method: method.to_string(),
            path: path.to_owned(),
            source,
        };
        let response = result.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        let elapsed = started.elapsed();

        tracing::debug!(
            target: "hivecheck::http",
            session = %self.who,
            %method,
            path,
            status = status.as_u16(),
            elapsed_ms = elapsed.as_millis() as u64,
            "exchange"
        );
        Ok(RawResponse {
            status: status.as_u16(),
            headers,
            body,
            elapsed,
        })
    }

    fn check(
        &self,
        method: &Method,
        path: &str,
        response: &RawResponse,
    ) -> Result<(), ClientError> {
        if StatusCode::from_u16(response.status).is_ok_and(|s| s.is_success()) {
            return Ok(());
        }
        let parsed: Option<ApiErrorBody> = serde_json::from_slice(&response.body).ok();
        let (kind, message) = match &parsed {
            Some(body) => (body.kind.clone(), body.message.clone()),
            None if response.body.is_empty() => ("-".to_owned(), "empty body".to_owned()),
            None => ("-".to_owned(), excerpt(&response.text())),
        };
        let method = method.to_string();
        let path = path.to_owned();
        Err(match response.status {
            401 => ClientError::Authentication {
                who: self.who.clone(),
                method,
                path,
                kind,
                message,
            },
            403 => ClientError::Forbidden {
                who: self.who.clone(),
                method,
                path,
                kind,
                message,
            },
            400 if kind == "AttributeCheckingError" => {
                let mut attributes: Vec<String> = parsed
                    .map(|b| b.errors.into_iter().map(|e| e.name).collect())
                    .unwrap_or_default();
                if attributes.is_empty() {
                    attributes = attributes_in_message(&message);
                }
                ClientError::Attributes {
                    method,
                    path,
                    attributes,
                    message,
                }
            }
            404 => ClientError::NotFound {
                method,
                path,
                kind,
                message,
            },
            status => ClientError::Api {
                method,
                path,
                status,
                kind,
                message,
            },
        })
    }
}

/// Reads `Attribute X is missing` fragments, for servers that send no `errors` array.
fn attributes_in_message(message: &str) -> Vec<String> {
    message
        .split("Attribute ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|name| {
            name.trim_matches(|c: char| !c.is_alphanumeric() && c != '_')
                .to_owned()
        })
        .collect()
}

/// The URL with anything between the scheme and an `@` of its authority cut out, so a URL
/// that carries a login or password can be shown in an error.
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}@{}", super::secret::REDACTED, &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn sensitive(value: &str) -> HeaderValue {
    let mut header = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    header.set_sensitive(true);
    header
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("request bodies serialise to JSON")
}

/// Percent-encodes one path segment, so an id can never change the route.
fn segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, SEGMENT).to_string()
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    let trimmed = text.trim();
    match trimmed.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_keeps_context_path_without_trailing_slash() {
        let endpoint = Endpoint::parse("https://host.example/thehive/").unwrap();
        assert_eq!(endpoint.base(), "https://host.example/thehive");
    }

    #[test]
    fn base_url_with_credentials_is_refused_without_showing_them() {
        for url in [
            "https://analyst:hunter2-sentinel@thehive.example/thehive",
            "https://hunter2-sentinel@thehive.example",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            let text = format!("{err} {}", err.hint().unwrap_or_default());

            assert!(matches!(err, ClientError::CredentialsInUrl { .. }), "{err}");
            assert!(!text.contains("hunter2-sentinel"), "{text}");
            assert!(text.contains("thehive.example"), "{text}");
            assert!(text.contains("THEHIVE_USER/THEHIVE_PASSWORD"), "{text}");
        }
    }

    #[test]
    fn unparsable_url_with_credentials_is_shown_without_them() {
        let err = Endpoint::parse("https://u:hunter2-sentinel@[::1").unwrap_err();
        assert!(!err.to_string().contains("hunter2-sentinel"), "{err}");
    }

    #[test]
    fn base_url_rejects_other_schemes() {
        let err = Endpoint::parse("ftp://host").unwrap_err();
        assert!(err.to_string().contains("http or https"), "{err}");
    }

    #[test]
    fn attributes_are_read_from_the_message_when_no_list_is_given() {
        let found = attributes_in_message(
            "[Attribute artifactId is missing][Attribute cortexId is missing]",
        );
        assert_eq!(found, vec!["artifactId", "cortexId"]);
    }

    #[test]
    fn ids_cannot_escape_their_segment() {
        assert_eq!(segment("~12"), "~12");
        assert_eq!(segment("../x?y"), "..%2Fx%3Fy");
    }
}
