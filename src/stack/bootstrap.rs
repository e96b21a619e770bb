//! First-run set-up of a fresh Cortex and TheHive 5, over their HTTP APIs, in the order of
//! StrangeBee's testing stack (StrangeBeeCorp/docker `testing/scripts/test_init_cortex.sh` and
//! `test_init_thehive.sh`; routes in Cortex `conf/routes`; reference §8.3 and §10).

use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::containers::StackConfig;
use super::error::StackError;
use crate::client::Secret;

/// The organisation both bootstraps create.
pub const ORG: &str = "hivecheck";

/// What the TheHive bootstrap created, for the scenarios to use.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// The TheHive organisation.
    pub org: String,
    /// The analyst's login.
    pub user: String,
    /// The analyst's password.
    pub password: Option<Secret>,
    /// The analyst's API key.
    pub api_key: Option<Secret>,
    /// The admin's login (member of the organisation as org-admin).
    pub admin: String,
    /// The admin's password.
    pub admin_password: Option<Secret>,
    /// The name TheHive gives the Cortex server.
    pub cortex: String,
}

/// A random secret of `len` alphanumeric characters (registered for redaction).
pub fn random_secret(len: usize) -> String {
    let value = Alphanumeric.sample_string(&mut rand::rng(), len);
    crate::client::register_secret(&value);
    value
}

struct Api {
    http: reqwest::Client,
    base: String,
    service: &'static str,
}

impl Api {
    fn new(base: &str, service: &'static str) -> Self {
        Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a default HTTP client builds"),
            base: base.trim_end_matches('/').to_owned(),
            service,
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// Sends and expects one of `ok`; returns the body text.
    async fn send(
        &self,
        step: &str,
        request: RequestBuilder,
        ok: &[u16],
    ) -> Result<String, StackError> {
        let fail = |detail: String| StackError::Bootstrap {
            service: self.service.to_owned(),
            step: step.to_owned(),
            detail,
        };
        let response = request.send().await.map_err(|e| fail(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if ok.contains(&status) {
            Ok(body)
        } else {
            Err(fail(format!(
                "{status} {}",
                crate::client::redact_text(body.trim())
            )))
        }
    }

    /// Retries `step` while the answer is a 5xx or no answer, up to `patience`.
    async fn send_patiently(
        &self,
        step: &str,
        make: impl Fn() -> RequestBuilder,
        ok: &[u16],
        patience: Duration,
    ) -> Result<String, StackError> {
        let started = Instant::now();
        loop {
            match self.send(step, make(), ok).await {
                Ok(body) => return Ok(body),
                Err(StackError::Bootstrap { detail, .. })
                    if started.elapsed() < patience
                        && (detail.starts_with('5')
                            || !detail.chars().next().is_some_and(|c| c.is_ascii_digit())) =>
                {
                    tracing::debug!(service = self.service, step, %detail, "not ready yet");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Bootstraps Cortex and returns the API key of its `thehive` user (read, analyze, orgadmin in
/// organisation `hivecheck`), with the analyzer enabled.
pub async fn cortex(url: &str, config: &StackConfig) -> Result<Secret, StackError> {
    let api = Api::new(url, "cortex");

    // 1. The index does not exist before migration; DB-backed calls answer 520 until then.
    api.send_patiently(
        "migrate the database",
        || api.request(Method::POST, "/api/maintenance/migrate"),
        &[200, 204],
        Duration::from_secs(120),
    )
    .await?;

    // 2. While no user exists, an unauthenticated request acts as a superadmin ("init").
    let admin_password = random_secret(24);
    let superadmin = json!({"login": "admin", "name": "admin", "roles": ["superadmin"], "password": admin_password, "organization": "cortex"});
    api.send(
        "create the superadmin",
        api.request(Method::POST, "/api/user").json(&superadmin),
        &[201],
    )
    .await?;

    // 3. The superadmin creates the organisation and its user, and renews that user's key.
    //    Basic authentication must be enabled on Cortex (the stack starts it so).
    let as_admin = |method: Method, path: &str| {
        api.request(method, path)
            .basic_auth("admin", Some(&admin_password))
    };
    let org = json!({"name": ORG, "description": "created by hivecheck", "status": "Active"});
    api.send(
        "create the organisation",
        as_admin(Method::POST, "/api/organization").json(&org),
        &[201],
    )
    .await?;
    let user = json!({"login": "thehive", "name": "thehive", "roles": ["read", "analyze", "orgadmin"], "password": random_secret(24), "organization": ORG});
    api.send(
        "create the TheHive user",
        as_admin(Method::POST, "/api/user").json(&user),
        &[201],
    )
    .await?;
    let key = api
        .send(
            "renew the TheHive user's key",
            as_admin(Method::POST, "/api/user/thehive/key/renew"),
            &[200],
        )
        .await?;
    let key = Secret::new(key.trim().trim_matches('"'));

    // 4. Superadmins cannot enable analyzers; the org admin does.
    let analyzer_key = config
        .analyzer_key
        .as_ref()
        .map_or("hivecheck-no-key", Secret::expose);
    for analyzer in &config.analyzers {
        let worker = json!({
            "name": analyzer,
            "configuration": {"key": analyzer_key, "days": 30, "auto_extract_artifacts": false,
                              "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2},
            "jobCache": 10,
            "jobTimeout": 30
        });
        api.send(
            &format!("enable analyzer {analyzer}"),
            api.request(
                Method::POST,
                &format!("/api/organization/analyzer/{analyzer}"),
            )
            .bearer_auth(key.expose())
            .json(&worker),
            &[200, 201],
        )
        .await?;
    }
    Ok(key)
}

/// Bootstraps TheHive 5: organisation `hivecheck`, an analyst with a password and an API key,
/// and the default admin made org-admin there (so it can configure notifications).
pub async fn thehive(url: &str) -> Result<Credentials, StackError> {
    let api = Api::new(url, "thehive");
    let (admin, admin_password) = ("admin@thehive.local", "secret");
    let as_admin = |method: Method, path: &str| {
        api.request(method, path)
            .basic_auth(admin, Some(admin_password))
            .header("X-Organisation", "admin")
    };

    let current = api
        .send_patiently(
            "read the admin user",
            || as_admin(Method::GET, "/api/v1/user/current"),
            &[200],
            Duration::from_secs(120),
        )
        .await?;
    let admin_id = id_of(&current);

    let org = json!({"name": ORG, "description": "created by hivecheck"});
    api.send(
        "create the organisation",
        as_admin(Method::POST, "/api/v1/organisation").json(&org),
        &[200, 201],
    )
    .await?;

    let password = random_secret(24);
    let analyst = format!("analyst@{ORG}.local");
    let user = json!({"login": analyst, "name": "hivecheck analyst", "organisation": ORG, "profile": "analyst", "password": password});
    let created = api
        .send(
            "create the analyst",
            as_admin(Method::POST, "/api/v1/user").json(&user),
            &[200, 201],
        )
        .await?;
    let user_id = id_of(&created);
    let key = api
        .send(
            "renew the analyst's key",
            as_admin(Method::POST, &format!("/api/v1/user/{user_id}/key/renew")),
            &[200],
        )
        .await?;

    let memberships = json!({"organisations": [
        {"organisation": "admin", "profile": "admin", "default": true},
        {"organisation": ORG, "profile": "org-admin"}
    ]});
    api.send(
        "make the admin org-admin of the organisation",
        as_admin(
            Method::PUT,
            &format!("/api/v1/user/{admin_id}/organisations"),
        )
        .json(&memberships),
        &[200, 204],
    )
    .await?;

    Ok(Credentials {
        org: ORG.to_owned(),
        user: analyst,
        password: Some(Secret::new(password)),
        api_key: Some(Secret::new(key.trim().trim_matches('"'))),
        admin: admin.to_owned(),
        admin_password: Some(Secret::new(admin_password)),
        cortex: "cortex0".to_owned(),
    })
}

fn id_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    value
        .get("_id")
        .or_else(|| value.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
