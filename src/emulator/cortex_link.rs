//! The TheHive role's HTTP client to Cortex ([`CortexLink`]): the calls TheHive 4's connector
//! makes (TH4 `cortex/client/.../CortexClient.scala`, `client-common/.../BaseClient.scala`).
//!
//! Every request carries the server's `auth`: `Authorization: Bearer <key>` (`auth { type =
//! "bearer" }`, what the command line's `--cortex-key` gives every server) or Basic (`type =
//! "basic"`). The server list is fixed per link; `PUT /api/v1/admin/config/cortex` swaps the
//! whole link (`th5_api`). The connector handlers in `cortex` and `session` decide what TheHive
//! does with the answers; this module only speaks HTTP and reports failures as [`LinkError`].

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// Why a call to Cortex did not give the expected answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    /// No HTTP answer (connection refused, timeout, bad URL).
    #[error("failed to reach Cortex `{server}`")]
    Unreachable {
        /// Server name.
        server: String,
        /// Cause reported by the HTTP client.
        #[source]
        source: reqwest::Error,
    },
    /// Cortex answered with an unexpected status.
    #[error("Cortex `{server}` answered {status}")]
    Status {
        /// Server name.
        server: String,
        /// HTTP status.
        status: StatusCode,
        /// Body, as JSON when it parses, else wrapped as `{"body": text}` (TH4 `BaseClient`).
        body: Value,
    },
}

/// One Cortex server as TheHive's configuration names it.
#[derive(Clone)]
pub(crate) struct Server {
    pub name: String,
    pub url: String,
    /// How TheHive authenticates to it; `None` sends no credentials.
    pub auth: Option<ServerAuth>,
}

/// A server's `auth` block (TH4 `CortexClientConfig`: `bearer` with `key`, `basic` with
/// `username` and `password`).
#[derive(Clone)]
pub(crate) enum ServerAuth {
    Bearer(String),
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Server {
    /// The credentials are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match &self.auth {
            None => "none",
            Some(ServerAuth::Bearer(_)) => "bearer <redacted>",
            Some(ServerAuth::Basic { .. }) => "basic <redacted>",
        };
        f.debug_struct("Server")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("auth", &auth)
            .finish()
    }
}

/// Health of one server as TheHive's status check sees it (TH4 `cortex/.../Connector.scala`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerStatus {
    pub name: String,
    /// `versions.Cortex`, empty when unreachable.
    pub version: String,
    /// `OK`, `AUTH_ERROR` or `ERROR`.
    pub status: &'static str,
}

/// HTTP access to the configured Cortex servers.
#[derive(Debug, Clone)]
pub(crate) struct CortexLink {
    client: reqwest::Client,
    pub servers: Vec<Server>,
}

impl CortexLink {
    /// The servers of the command line, all with the same bearer key (or none).
    pub fn new(servers: &[(String, String)], key: Option<String>) -> Self {
        // The poll itself asks Cortex to wait one second, so a few seconds bound every call.
        let builder = || reqwest::Client::builder().timeout(Duration::from_secs(10));
        let client = builder().build().unwrap_or_else(|error| {
            // A `FROM scratch` image has no CA store; plain-HTTP Cortex URLs still work, and an
            // https one then fails per request with a certificate error.
            tracing::warn!(target: "emulator", %error, "no system CA certificates: https Cortex URLs will not verify");
            builder()
                .tls_certs_only(Vec::new())
                .build()
                .expect("a client without root certificates builds")
        });
        Self {
            client,
            servers: servers
                .iter()
                .map(|(name, url)| Server {
                    name: name.clone(),
                    url: url.clone(),
                    auth: key.clone().map(ServerAuth::Bearer),
                })
                .collect(),
        }
    }

    /// The same HTTP client with another server list (a configuration update).
    pub fn with_servers(&self, servers: Vec<Server>) -> Self {
        Self {
            client: self.client.clone(),
            servers,
        }
    }

    /// The server called `name`.
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    fn request(
        &self,
        method: reqwest::Method,
        server: &Server,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", server.url));
        match &server.auth {
            Some(ServerAuth::Bearer(key)) => builder.bearer_auth(key),
            Some(ServerAuth::Basic { username, password }) => {
                builder.basic_auth(username, Some(password))
            }
            None => builder,
        }
    }

    /// Sends a request and returns the JSON body of a 2xx answer.
    async fn send(
        &self,
        server: &Server,
        builder: reqwest::RequestBuilder,
    ) -> Result<Value, LinkError> {
        let unreachable = |source| LinkError::Unreachable {
            server: server.name.clone(),
            source,
        };
        let response = builder.send().await.map_err(unreachable)?;
        let status = response.status();
        let text = response.text().await.map_err(unreachable)?;
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({"body": text}));
        if status.is_success() {
            Ok(body)
        } else {
            Err(LinkError::Status {
                server: server.name.clone(),
                status,
                body,
            })
        }
    }

    /// Version via `GET /api/status`, then the key via `GET /api/user/current`.
    pub async fn check(&self, server: &Server) -> ServerStatus {
        let status = |version: String, status| ServerStatus {
            name: server.name.clone(),
            version,
            status,
        };
        let version = match self
            .send(
                server,
                self.client.get(format!("{}/api/status", server.url)),
            )
            .await
        {
            Ok(body) => body["versions"]["Cortex"].as_str().unwrap_or("").to_owned(),
            Err(_) => return status(String::new(), "ERROR"),
        };
        let current = self
            .send(
                server,
                self.request(reqwest::Method::GET, server, "/api/user/current"),
            )
            .await;
        match current {
            Ok(_) => status(version, "OK"),
            Err(_) => status(version, "AUTH_ERROR"),
        }
    }

    /// `GET /api/analyzer?range=<range>`.
    pub async fn analyzers(&self, server: &Server, range: &str) -> Result<Vec<Value>, LinkError> {
        let builder = self
            .request(reqwest::Method::GET, server, "/api/analyzer")
            .query(&[("range", range)]);
        Ok(as_list(self.send(server, builder).await?))
    }

    /// `GET /api/analyzer/type/{dataType}`.
    pub async fn analyzers_for_type(
        &self,
        server: &Server,
        data_type: &str,
    ) -> Result<Vec<Value>, LinkError> {
        let path = format!("/api/analyzer/type/{}", segment(data_type));
        let builder = self.request(reqwest::Method::GET, server, &path);
        Ok(as_list(self.send(server, builder).await?))
    }

    /// `GET /api/analyzer/{id}`.
    pub async fn analyzer(&self, server: &Server, id: &str) -> Result<Value, LinkError> {
        let path = format!("/api/analyzer/{}", segment(id));
        self.send(server, self.request(reqwest::Method::GET, server, &path))
            .await
    }

    /// `POST /api/analyzer/_search` for the analyzer called `name` (first hit).
    pub async fn analyzer_by_name(
        &self,
        server: &Server,
        name: &str,
    ) -> Result<Option<Value>, LinkError> {
        let builder = self
            .request(reqwest::Method::POST, server, "/api/analyzer/_search")
            .json(&json!({"query": {"_field": "name", "_value": name}, "range": "0-1"}));
        Ok(as_list(self.send(server, builder).await?)
            .into_iter()
            .next())
    }

    /// `POST /api/analyzer/{workerId}/run`.
    pub async fn run(
        &self,
        server: &Server,
        worker_id: &str,
        body: &Value,
    ) -> Result<Value, LinkError> {
        let path = format!("/api/analyzer/{}/run", segment(worker_id));
        let builder = self
            .request(reqwest::Method::POST, server, &path)
            .json(body);
        self.send(server, builder).await
    }

    /// `GET /api/job/{id}/waitreport?atMost=1 second`, the poller's call.
    pub async fn wait_report(&self, server: &Server, job_id: &str) -> Result<Value, LinkError> {
        let path = format!("/api/job/{}/waitreport", segment(job_id));
        let builder = self
            .request(reqwest::Method::GET, server, &path)
            .query(&[("atMost", "1 second")]);
        self.send(server, builder).await
    }
}

/// A JSON array answer as a list; anything else counts as empty.
fn as_list(body: Value) -> Vec<Value> {
    match body {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

/// Percent-encodes one path segment.
fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
