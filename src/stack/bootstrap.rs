//! First-run set-up of a fresh Cortex and TheHive 5, over their HTTP APIs, in the order of
//! StrangeBee's testing stack (StrangeBeeCorp/docker 0293639 `testing/scripts/test_init_cortex.sh`
//! and `test_init_thehive.sh`; routes in Cortex `conf/routes`; reference §8.3 and §10).
//!
//! [`cortex`] leaves an organisation user whose key TheHive uses, with the requested analyzers
//! enabled where Cortex's catalog has them; [`thehive`] creates the organisation, the analyst
//! and keys, then registers that Cortex as server `cortex0` with `PUT
//! /api/v1/admin/config/cortex` and checks that TheHive lists its analyzers under that name.

use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::containers::StackConfig;
use super::error::StackError;
use crate::client::Secret;

/// The organisation both bootstraps create.
pub const ORG: &str = "hivecheck";

/// The name TheHive is given for the stack's Cortex server, which the scenarios expect.
pub const CORTEX_NAME: &str = "cortex0";

/// TheHive 5's default administrator, which the bootstrap acts as. Its password is TheHive's
/// published default, so it is sent but never registered as a secret (that would blank out the
/// word wherever it appears).
const TH_ADMIN: (&str, &str) = ("admin@thehive.local", "secret");

/// How long TheHive may take to list the new Cortex server's analyzers.
const CONFIRM_PATIENCE: Duration = Duration::from_secs(60);

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
    /// The admin's API key, renewed by the bootstrap (the admin's password stays TheHive's
    /// default and is not handed on).
    pub admin_api_key: Option<Secret>,
    /// The name TheHive gives the Cortex server, as confirmed after registering it.
    pub cortex: String,
}

/// What the Cortex bootstrap left behind.
#[derive(Debug, Clone)]
pub struct CortexSetup {
    /// The API key of Cortex user `thehive` (read, analyze, orgadmin in organisation
    /// `hivecheck`), for TheHive.
    pub key: Secret,
    /// The analyzers enabled.
    pub enabled: Vec<String>,
    /// The analyzers asked for that Cortex's catalog does not have.
    pub missing: Vec<String>,
}

/// How TheHive reaches the stack's Cortex.
#[derive(Debug, Clone)]
pub struct CortexRegistration {
    /// Cortex's URL as TheHive sees it (on the stack's network).
    pub url: String,
    /// The key of the Cortex user TheHive acts as.
    pub key: Secret,
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

    fn fail(&self, step: &str, detail: String) -> StackError {
        StackError::Bootstrap {
            service: self.service.to_owned(),
            step: step.to_owned(),
            detail,
        }
    }

    /// Sends and expects one of `ok`; returns the body text.
    async fn send(
        &self,
        step: &str,
        request: RequestBuilder,
        ok: &[u16],
    ) -> Result<String, StackError> {
        let response = request
            .send()
            .await
            .map_err(|e| self.fail(step, e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if ok.contains(&status) {
            Ok(body)
        } else {
            Err(self.fail(
                step,
                format!("{status} {}", crate::client::redact_text(body.trim())),
            ))
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

/// Bootstraps Cortex: migration, superadmin, organisation `hivecheck` and its user `thehive`
/// with a renewed key, then the analyzers of `config` that Cortex's catalog has.
///
/// Cortex 4.1.0 reads StrangeBee's current catalog, which may lack an older analyzer version
/// (AbuseIPDB has a single `AbuseIPDB.json` upstream, now 2.0; reference §9, §12.8). So the
/// analyzers asked for are looked up in `GET /api/analyzerdefinition` first. Missing ones are
/// reported and skipped, as StrangeBee's `activate_analyzer` logs and carries on; the bootstrap
/// fails only when none of them exists, or when `config.analyzers_required` (the user named
/// them with `--analyzer`) and any one is missing or refused.
pub async fn cortex(url: &str, config: &StackConfig) -> Result<CortexSetup, StackError> {
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
    let (enabled, missing) = enable_analyzers(&api, &key, config).await?;
    Ok(CortexSetup {
        key,
        enabled,
        missing,
    })
}

/// Enables the analyzers of `config` that the catalog has; returns those enabled and those
/// missing from the catalog.
async fn enable_analyzers(
    api: &Api,
    key: &Secret,
    config: &StackConfig,
) -> Result<(Vec<String>, Vec<String>), StackError> {
    const STEP: &str = "enable the analyzers";
    let definitions = api
        .send(
            "list the analyzer definitions",
            api.request(Method::GET, "/api/analyzerdefinition")
                .query(&[("range", "all")])
                .bearer_auth(key.expose()),
            &[200],
        )
        .await?;
    let available = definition_ids(&definitions);
    let (wanted, missing): (Vec<&String>, Vec<&String>) = config
        .analyzers
        .iter()
        .partition(|name| available.iter().any(|id| id == *name));
    let missing: Vec<String> = missing.into_iter().cloned().collect();
    if !missing.is_empty() {
        let listed = if available.is_empty() {
            "none".to_owned()
        } else {
            available.join(", ")
        };
        if config.analyzers_required {
            return Err(api.fail(
                STEP,
                format!(
                    "not in Cortex's analyzer catalog: {}; the catalog has: {listed}",
                    missing.join(", ")
                ),
            ));
        }
        tracing::warn!(
            missing = %missing.join(", "),
            catalog = %listed,
            "analyzers not in Cortex's catalog were skipped"
        );
    }
    if config.analyzer_key.is_none() && config.analyzers.iter().any(|a| a.starts_with("AbuseIPDB"))
    {
        tracing::warn!(
            "ABUSEIPDB_KEY is not set: the AbuseIPDB analyzers get a placeholder key, so their \
             jobs fail on a real Cortex (the emulator does not call AbuseIPDB)"
        );
    }

    let analyzer_key = config
        .analyzer_key
        .as_ref()
        .map_or("hivecheck-no-key", Secret::expose);
    let mut enabled = Vec::new();
    let mut refused = Vec::new();
    for analyzer in wanted {
        let worker = json!({
            "name": analyzer,
            "configuration": {"key": analyzer_key, "days": 30, "auto_extract_artifacts": false,
                              "check_tlp": true, "max_tlp": 2, "check_pap": true, "max_pap": 2},
            "jobCache": 10,
            "jobTimeout": 30
        });
        let step = format!("enable analyzer {analyzer}");
        let request = api
            .request(
                Method::POST,
                &format!("/api/organization/analyzer/{analyzer}"),
            )
            .bearer_auth(key.expose())
            .json(&worker);
        match api.send(&step, request, &[200, 201]).await {
            Ok(_) => enabled.push(analyzer.clone()),
            Err(StackError::Bootstrap { detail, .. }) => {
                tracing::warn!(analyzer = %analyzer, %detail, "Cortex refused to enable an analyzer");
                refused.push(format!("{analyzer} ({detail})"));
            }
            Err(other) => return Err(other),
        }
    }
    if enabled.is_empty() || (config.analyzers_required && !refused.is_empty()) {
        let mut reasons = Vec::new();
        if !missing.is_empty() {
            reasons.push(format!("not in the catalog: {}", missing.join(", ")));
        }
        if !refused.is_empty() {
            reasons.push(format!("refused: {}", refused.join("; ")));
        }
        if reasons.is_empty() {
            reasons.push("none was asked for".to_owned());
        }
        return Err(api.fail(STEP, reasons.join("; ")));
    }
    Ok((enabled, missing))
}

/// The `id`s of a `GET /api/analyzerdefinition` answer (`AbuseIPDB_2_0`, …).
fn definition_ids(body: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|d| d.get("id").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Bootstraps TheHive 5: the Cortex server registered as `cortex0`, organisation `hivecheck`,
/// an analyst with a password and an API key, and the default admin made org-admin there (so it
/// can configure notifications) with a renewed API key. Ends by checking that TheHive lists the
/// Cortex server's analyzers under `cortex0`.
pub async fn thehive(url: &str, cortex: &CortexRegistration) -> Result<Credentials, StackError> {
    let api = Api::new(url, "thehive");
    let (admin, admin_password) = TH_ADMIN;
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

    api.send(
        "register Cortex as `cortex0`",
        as_admin(Method::PUT, "/api/v1/admin/config/cortex").json(&cortex_config(cortex)),
        &[200, 204],
    )
    .await?;

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
    let key = renew_key(&api, &as_admin, &user_id, "renew the analyst's key").await?;

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
    let admin_key = renew_key(&api, &as_admin, &admin_id, "renew the admin's key").await?;

    confirm_cortex(&api, &key).await?;
    Ok(Credentials {
        org: ORG.to_owned(),
        user: analyst,
        password: Some(Secret::new(password)),
        api_key: Some(key),
        admin: admin.to_owned(),
        admin_api_key: Some(admin_key),
        cortex: CORTEX_NAME.to_owned(),
    })
}

/// The body of `PUT /api/v1/admin/config/cortex`: StrangeBee's init script's settings, with
/// one server named `cortex0` reached by bearer key (reference §10). `wsConfig` is left out,
/// so TheHive keeps its HTTP client defaults; StrangeBee's script spells every default out.
fn cortex_config(cortex: &CortexRegistration) -> Value {
    json!({
        "statusCheckInterval": "1 minute",
        "refreshDelay": "5 seconds",
        "maxRetryOnError": 3,
        "jobTimeout": "3 hours",
        "servers": [{
            "name": CORTEX_NAME,
            "url": cortex.url,
            "includedTheHiveOrganisations": ["*"],
            "excludedTheHiveOrganisations": [],
            "auth": {"type": "bearer", "key": cortex.key.expose()}
        }]
    })
}

async fn renew_key(
    api: &Api,
    as_admin: &impl Fn(Method, &str) -> RequestBuilder,
    user_id: &str,
    step: &str,
) -> Result<Secret, StackError> {
    let key = api
        .send(
            step,
            as_admin(Method::POST, &format!("/api/v1/user/{user_id}/key/renew")),
            &[200],
        )
        .await?;
    Ok(Secret::new(key.trim().trim_matches('"')))
}

/// Waits until the analyst's analyzer list names `cortex0` among some analyzer's `cortexIds`:
/// the server is registered under that name and TheHive reaches it with the key.
async fn confirm_cortex(api: &Api, analyst_key: &Secret) -> Result<(), StackError> {
    let step = format!("confirm Cortex server `{CORTEX_NAME}`");
    let started = Instant::now();
    loop {
        let answer = api
            .send(
                &step,
                api.request(Method::GET, "/api/v1/connector/cortex/analyzer")
                    .query(&[("range", "all")])
                    .bearer_auth(analyst_key.expose())
                    .header("X-Organisation", ORG),
                &[200],
            )
            .await;
        let last = match answer {
            Ok(body) if lists_server(&body, CORTEX_NAME) => return Ok(()),
            Ok(body) => format!("its analyzer list names no `{CORTEX_NAME}`: {body}"),
            Err(StackError::Bootstrap { detail, .. }) => detail,
            Err(other) => return Err(other),
        };
        if started.elapsed() >= CONFIRM_PATIENCE {
            return Err(api.fail(
                &step,
                format!("still not after {}s; {last}", CONFIRM_PATIENCE.as_secs()),
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether an analyzer list (`[{name, cortexIds: [...]}, ...]`) has one on server `name`.
fn lists_server(body: &str, name: &str) -> bool {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    value.as_array().is_some_and(|items| {
        items.iter().any(|a| {
            a["cortexIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|id| id == name))
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_ids_are_read_from_the_catalog_answer() {
        let body = r#"[{"id":"AbuseIPDB_2_0","name":"AbuseIPDB"},{"name":"no id"}]"#;

        assert_eq!(definition_ids(body), ["AbuseIPDB_2_0"]);
        assert!(definition_ids("not json").is_empty());
    }

    #[test]
    fn an_analyzer_list_confirms_a_server_only_by_its_cortex_ids() {
        let listed = r#"[{"name":"AbuseIPDB_2_0","cortexIds":["other","cortex0"]}]"#;
        let elsewhere = r#"[{"name":"cortex0","cortexIds":["Cortex"]}]"#;

        assert!(lists_server(listed, "cortex0"));
        assert!(!lists_server(elsewhere, "cortex0"));
        assert!(!lists_server("[]", "cortex0"));
    }

    #[test]
    fn the_registration_names_cortex0_with_a_bearer_key() {
        let registration = CortexRegistration {
            url: "http://hivecheck-x-cortex:9001".to_owned(),
            key: Secret::new("registration-key-sentinel"),
        };

        let body = cortex_config(&registration);

        let server = &body["servers"][0];
        assert_eq!(server["name"], "cortex0");
        assert_eq!(server["url"], "http://hivecheck-x-cortex:9001");
        assert_eq!(
            server["auth"],
            json!({"type": "bearer", "key": "registration-key-sentinel"})
        );
        assert_eq!(server["includedTheHiveOrganisations"], json!(["*"]));
    }
}
