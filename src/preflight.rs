//! Preflight: is the target ready for these scenarios? One report before any trial runs.
//!
//! The checks, in order: TheHive answers `GET /api/status` (and over valid TLS), which gives
//! its version and, unless `--api` says otherwise, its API; the user session opens in the
//! organisation; Cortex servers as TheHive sees them (TheHive 4 says so in the public status,
//! TheHive 5 only in the authenticated `GET /api/v1/status`); the admin session (when autorun
//! scenarios need it) opens in the same organisation as the user's; each scenario's analyzer
//! exists on its server and takes its data type; on TheHive 5, the licence (an expired one
//! leaves TheHive read-only, and RunAnalyzer notifications need Platinum or the trial). Each
//! failure has its own exit code, so a nightly job can tell "staging is down" from "the key
//! was rotated".

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::Value;

use crate::client::{Analyzer, ApiVersion, Auth, ClientError, Endpoint, Status, TheHive};
use crate::exit;
use crate::runner::{RunContext, RunError};
use crate::scenario::Scenario;

/// Why preflight failed; each maps to an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// TheHive did not answer.
    Unreachable,
    /// TLS failed.
    Tls,
    /// Something answered, but not as TheHive's API: a missing route (wrong `--api` or context
    /// path), a server error, or a body hivecheck cannot read.
    Api,
    /// Credentials refused, or the admin's missing.
    Credentials,
    /// Unknown organisation, the user is not a member, or the two sessions work in
    /// different organisations.
    Organisation,
    /// A Cortex server is down or refuses TheHive's key.
    Cortex,
    /// An analyzer is missing or does not take the data type.
    Analyzer,
    /// The licence has expired, or does not allow a scenario's needs.
    Licence,
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Unreachable => exit::PREFLIGHT_UNREACHABLE,
            Failure::Tls => exit::PREFLIGHT_TLS,
            Failure::Api => exit::PREFLIGHT_API,
            Failure::Credentials => exit::PREFLIGHT_CREDENTIALS,
            Failure::Organisation => exit::PREFLIGHT_ORGANISATION,
            Failure::Cortex => exit::PREFLIGHT_CORTEX,
            Failure::Analyzer => exit::PREFLIGHT_ANALYZER,
            Failure::Licence => exit::PREFLIGHT_LICENCE,
        }
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ready.
    Pass,
    /// Worth knowing, not blocking.
    Warn,
    /// Not applicable here.
    Skip,
    /// Blocking.
    Fail(Failure),
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked, e.g. `user session`.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What was found, or what is wrong.
    pub detail: String,
    /// What to do, for failures.
    pub hint: Option<String>,
}

/// Every check made.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The checks, in the order made.
    pub checks: Vec<Check>,
}

impl Report {
    /// The first blocking failure, if any.
    pub fn failure(&self) -> Option<Failure> {
        self.checks.iter().find_map(|c| match c.verdict {
            Verdict::Fail(f) => Some(f),
            _ => None,
        })
    }

    /// The report as text: one line per check, hints under failures.
    pub fn render(&self, target: &str) -> String {
        let mut text = format!("preflight: {target}\n");
        for check in &self.checks {
            let mark = match check.verdict {
                Verdict::Pass => "ok",
                Verdict::Warn => "warn",
                Verdict::Skip => "skip",
                Verdict::Fail(_) => "FAIL",
            };
            text.push_str(&format!(
                "  {mark:<5} {:<14} {}\n",
                check.name, check.detail
            ));
            if let (Verdict::Fail(_), Some(hint)) = (&check.verdict, &check.hint) {
                text.push_str(&format!("        ({hint})\n"));
            }
        }
        text
    }

    fn push(
        &mut self,
        name: &str,
        verdict: Verdict,
        detail: impl Into<String>,
        hint: Option<String>,
    ) {
        self.checks.push(Check {
            name: name.to_owned(),
            verdict,
            detail: detail.into(),
            hint,
        });
    }
}

/// Runs every check against the context's target for these scenarios. Later checks that
/// depend on an earlier failure are not made (no session, no analyzer list).
pub async fn run(ctx: &RunContext, scenarios: &[Arc<Scenario>]) -> Report {
    let mut report = Report::default();
    let target = &ctx.target;
    let autorun: Vec<&str> = scenarios
        .iter()
        .filter(|s| s.autorun.is_some())
        .map(|s| s.name.as_str())
        .collect();
    let used: BTreeSet<String> = scenarios.iter().map(|s| server_of(ctx, s)).collect();

    // 1. Reachable, over valid TLS; the version, and the API unless `--api` fixes it.
    let Some(status) = reachable(&mut report, &target.endpoint).await else {
        return report;
    };
    let version = status.thehive_version().map(str::to_owned);
    let (api, chosen) = match target.endpoint.api() {
        Some(api) => (
            api,
            "as configured: --api, THEHIVE_API or the profile's `api`",
        ),
        None => (ApiVersion::of(&status), "from its version"),
    };
    let thehive5 = match &version {
        Some(version) => version.starts_with('5'),
        None => api == ApiVersion::V1,
    };
    report.push(
        "reachable",
        Verdict::Pass,
        format!(
            "TheHive {} ({} API, {chosen})",
            version.as_deref().unwrap_or("of unknown version"),
            api_name(api)
        ),
        None,
    );

    // 2. The user session, in the organisation.
    let user_auth = &target.user;
    let Some((user, user_org)) = session(
        &mut report,
        ctx,
        "user session",
        ctx.user().await,
        user_auth,
        api,
    )
    .await
    else {
        return report;
    };

    // 3. Cortex, as TheHive sees it. TheHive 4 describes its servers in the public status;
    // TheHive 5's legacy `/api/status` has no `connectors`, so its authenticated
    // `/api/v1/status` is read with the user session.
    let mut v1_status = None;
    let failed = match status.connectors.get("cortex") {
        Some(cortex) if !thehive5 => cortex_servers(&mut report, Some(cortex), &used),
        _ if api == ApiVersion::V1 => {
            match user
                .call::<Value>(Method::GET, "/api/v1/status", None)
                .await
            {
                Ok(body) => {
                    // The OpenAPI types `connectors` as a map of objects and does not describe
                    // its `cortex` entry; reading `servers[{name, version, status}]` there is
                    // inferred from TheHive 4's connector, so an absent entry stays a warning.
                    let failed =
                        cortex_servers(&mut report, body.pointer("/connectors/cortex"), &used);
                    v1_status = Some(body);
                    failed
                }
                Err(error) => {
                    report.push(
                        "cortex",
                        Verdict::Warn,
                        format!(
                            "the Cortex servers' state is not readable: {}",
                            crate::runner::render(&error, None)
                        ),
                        None,
                    );
                    BTreeSet::new()
                }
            }
        }
        cortex => cortex_servers(&mut report, cortex, &used),
    };

    // 4. The admin session, for autorun scenarios, in the user's organisation.
    if !autorun.is_empty() {
        admin_session(&mut report, ctx, &autorun, user_org.as_deref(), api).await;
    }

    // 5. Each scenario's analyzer on its server, for its data type.
    match user.list_analyzers().await {
        Ok(analyzers) => {
            for scenario in scenarios {
                analyzer_checks(&mut report, ctx, scenario, &analyzers, &failed);
            }
        }
        Err(error) => {
            let failure = match failure_of(&error) {
                Failure::Credentials => Failure::Cortex,
                other => other,
            };
            let hint = match failure {
                Failure::Api => Some(api_hint(api, &error)),
                _ => error.hint(),
            };
            report.push(
                "analyzers",
                Verdict::Fail(failure),
                crate::runner::render(&error, None),
                hint,
            );
        }
    }

    // 6. TheHive 5's licence.
    if thehive5 {
        licence(&mut report, &user, v1_status.as_ref(), &autorun).await;
    }
    report
}

/// The Cortex server a scenario's jobs go to: `--cortex-id`, else the scenario's own.
fn server_of(ctx: &RunContext, scenario: &Scenario) -> String {
    ctx.target
        .cortex
        .clone()
        .unwrap_or_else(|| scenario.cortex.clone())
}

fn api_name(api: ApiVersion) -> &'static str {
    match api {
        ApiVersion::V0 => "v0",
        ApiVersion::V1 => "v1",
    }
}

/// `GET /api/status`, or TheHive 5's `GET /api/v1/status/public` when that route is missing.
async fn reachable(report: &mut Report, endpoint: &Endpoint) -> Option<Status> {
    let anonymous = match TheHive::anonymous(endpoint) {
        Ok(anonymous) => anonymous,
        Err(error) => {
            report.push(
                "reachable",
                Verdict::Fail(Failure::Unreachable),
                crate::runner::render(&error, None),
                error.hint(),
            );
            return None;
        }
    };
    let error = match anonymous.status().await {
        Ok(status) => return Some(status),
        Err(error) => error,
    };
    if error.is_route_missing() {
        // The public status of TheHive 5 (`OutputPublicStatus`: `version`, no connectors).
        if let Ok(status) = anonymous
            .call::<Status>(Method::GET, "/api/v1/status/public", None)
            .await
        {
            return Some(status);
        }
    }
    let failure = failure_of(&error);
    let hint = match failure {
        Failure::Tls => Some(
            "TheHive's certificate is not trusted, or TLS is not spoken there: give the CA that \
             signed it with --ca-cert FILE (PEM), check the scheme (http or https), or accept \
             any certificate with --insecure (never against production)"
                .to_owned(),
        ),
        Failure::Api | Failure::Credentials => Some(
            "something answers at this URL, but not TheHive's status: the URL or its context \
             path is probably wrong (give the base URL TheHive is served under, e.g. \
             https://host/thehive)"
                .to_owned(),
        ),
        _ => error.hint(),
    };
    let failure = match failure {
        Failure::Credentials => Failure::Api,
        other => other,
    };
    report.push(
        "reachable",
        Verdict::Fail(failure),
        crate::runner::render(&error, None),
        hint,
    );
    None
}

/// What kind of failure a client error is, before any context.
fn failure_of(error: &ClientError) -> Failure {
    match error {
        ClientError::Transport { .. } if error.is_tls() => Failure::Tls,
        ClientError::Transport { .. } | ClientError::InvalidUrl { .. } => Failure::Unreachable,
        ClientError::Authentication { .. } | ClientError::Forbidden { .. } => Failure::Credentials,
        _ => Failure::Api,
    }
}

/// The hint for an answer that is not TheHive's API: which API was used and how to change it.
fn api_hint(api: ApiVersion, error: &ClientError) -> String {
    let other = match api {
        ApiVersion::V0 => "TheHive 5 speaks only the v1 API: --api v1",
        ApiVersion::V1 => "TheHive 4's Cortex connector speaks only the v0 API: --api v0",
    };
    let what = match error.status() {
        Some(404) => "TheHive has no such route",
        Some(status) if status >= 500 => "TheHive answered with a server error (its log says more)",
        _ => "the answer is not TheHive's API",
    };
    format!(
        "{what}: the {} API may be the wrong one ({other}), or the URL or its context path \
         is wrong",
        api_name(api)
    )
}

/// Reports Cortex's servers as TheHive's connector shows them, and returns the names of the
/// failed servers some selected scenario uses. A failure on a server no scenario uses is a
/// warning.
fn cortex_servers(
    report: &mut Report,
    cortex: Option<&Value>,
    used: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut failed = BTreeSet::new();
    let servers = cortex
        .and_then(|c| c.get("servers"))
        .and_then(Value::as_array);
    let Some(servers) = servers else {
        let detail = match cortex {
            None => "TheHive does not report a Cortex connector in its status",
            Some(_) => {
                "TheHive has not checked Cortex yet (connectors.cortex is {} until its first \
                 check)"
            }
        };
        report.push("cortex", Verdict::Warn, detail, None);
        return failed;
    };
    if servers.is_empty() {
        let verdict = if used.is_empty() {
            Verdict::Warn
        } else {
            Verdict::Fail(Failure::Cortex)
        };
        report.push(
            "cortex",
            verdict,
            "TheHive has no Cortex server",
            Some("register one in TheHive's Cortex settings".to_owned()),
        );
    }
    for server in servers {
        let name = server.get("name").and_then(Value::as_str).unwrap_or("?");
        let version = server.get("version").and_then(Value::as_str).unwrap_or("");
        let state = server.get("status").and_then(Value::as_str).unwrap_or("?");
        let (detail, hint) = match state {
            "OK" => {
                report.push(
                    "cortex",
                    Verdict::Pass,
                    format!("{name} {version} OK"),
                    None,
                );
                continue;
            }
            "AUTH_ERROR" => (
                format!("{name} refuses TheHive's API key (AUTH_ERROR)"),
                "renew the Cortex user's key and update TheHive's Cortex configuration",
            ),
            other => (
                format!("{name} is not reachable from TheHive ({other})"),
                "check that Cortex runs and that TheHive reaches its URL",
            ),
        };
        if used.contains(name) {
            failed.insert(name.to_owned());
            report.push(
                "cortex",
                Verdict::Fail(Failure::Cortex),
                detail,
                Some(hint.to_owned()),
            );
        } else {
            report.push(
                "cortex",
                Verdict::Warn,
                format!("{detail}; no selected scenario uses it"),
                None,
            );
        }
    }
    failed
}

/// Opens a session and checks its organisation; returns it with the organisation TheHive
/// says it works in.
async fn session(
    report: &mut Report,
    ctx: &RunContext,
    name: &str,
    opened: Result<TheHive, RunError>,
    auth: &Auth,
    api: ApiVersion,
) -> Option<(TheHive, Option<String>)> {
    let org = ctx.target.org.as_deref();
    let session = match opened {
        Ok(session) => session,
        Err(error) => {
            let (failure, detail, hint) = classify(ctx, auth, &error, api).await;
            report.push(name, Verdict::Fail(failure), detail, hint);
            return None;
        }
    };
    let current = session.current_user().await.unwrap_or(Value::Null);
    let login = current.get("login").and_then(Value::as_str).unwrap_or("?");
    let in_org = current
        .get("organisation")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match (org, in_org.as_deref()) {
        (Some(wanted), Some(actual)) if wanted != actual => {
            report.push(
                name,
                Verdict::Fail(Failure::Organisation),
                format!("`{login}` works in `{actual}`, not in `{wanted}`"),
                Some(org_hint()),
            );
            None
        }
        (_, shown) => {
            let shown = shown.or(org).unwrap_or("its default organisation");
            report.push(name, Verdict::Pass, format!("`{login}` in {shown}"), None);
            Some((session, in_org.or(org.map(str::to_owned))))
        }
    }
}

fn org_hint() -> String {
    "check THEHIVE_ORG (--org): the organisation must exist and the user must be a member; \
     TheHive reads only the X-Organisation header"
        .to_owned()
}

/// The admin session autorun scenarios need: it must open, and work in the organisation the
/// user's observables go to, or the rule it writes would watch another organisation.
async fn admin_session(
    report: &mut Report,
    ctx: &RunContext,
    autorun: &[&str],
    user_org: Option<&str>,
    api: ApiVersion,
) {
    let skip = autorun
        .iter()
        .map(|name| format!("--skip {name}"))
        .collect::<Vec<_>>()
        .join(" ");
    let Some(auth) = &ctx.target.admin else {
        report.push(
            "admin session",
            Verdict::Fail(Failure::Credentials),
            format!(
                "no admin credentials were given, and the autorun scenarios ({}) configure the \
                 organisation's notifications",
                autorun.join(", ")
            ),
            Some(format!(
                "set THEHIVE_ADMIN_USER and THEHIVE_ADMIN_PASSWORD, or THEHIVE_ADMIN_API_KEY; or \
                 leave those scenarios out with `{skip}`"
            )),
        );
        return;
    };
    let opened = ctx
        .admin()
        .await
        .map(|admin| admin.expect("admin credentials are configured"));
    let Some((_, admin_org)) = session(report, ctx, "admin session", opened, auth, api).await
    else {
        return;
    };
    if let (Some(admin_org), Some(user_org)) = (admin_org.as_deref(), user_org)
        && admin_org != user_org
    {
        report.push(
            "organisation",
            Verdict::Fail(Failure::Organisation),
            format!(
                "the admin session works in `{admin_org}` and the user session in `{user_org}`: \
                 the autorun rule would watch `{admin_org}` while the observables go to \
                 `{user_org}`, and would never fire"
            ),
            Some(format!(
                "set THEHIVE_ORG (--org) to `{user_org}`, so both sessions send it as \
                 X-Organisation"
            )),
        );
    }
}

/// A refused session is either wrong credentials or an organisation the user is not in;
/// TheHive answers 401 for both, so try again without the organisation to tell them apart.
/// Anything else (a missing route, a server error) is not about credentials at all.
async fn classify(
    ctx: &RunContext,
    auth: &Auth,
    error: &RunError,
    api: ApiVersion,
) -> (Failure, String, Option<String>) {
    let rendered = crate::runner::render(error, None);
    let RunError::Session { source, .. } = error else {
        return (Failure::Api, rendered, error.hint());
    };
    match failure_of(source) {
        Failure::Credentials if ctx.target.org.is_some() => {
            match TheHive::connect(&ctx.target.endpoint, auth, None, "probe").await {
                Ok(_) => (
                    Failure::Organisation,
                    format!(
                        "the credentials are valid, but not in organisation `{}` (it does not \
                         exist, or the user is not a member)",
                        ctx.target.org.as_deref().unwrap_or_default()
                    ),
                    Some(org_hint()),
                ),
                Err(_) => (Failure::Credentials, rendered, source.hint()),
            }
        }
        Failure::Api => (Failure::Api, rendered, Some(api_hint(api, source))),
        failure => (failure, rendered, source.hint()),
    }
}

fn analyzer_checks(
    report: &mut Report,
    ctx: &RunContext,
    scenario: &Scenario,
    analyzers: &[Analyzer],
    failed_servers: &BTreeSet<String>,
) {
    let cortex = server_of(ctx, scenario);
    for pattern in &scenario.analyzers {
        let name = format!("{}: `{}`", scenario.name, pattern.pattern);
        if failed_servers.contains(&cortex) {
            report.push(
                "analyzer",
                Verdict::Skip,
                format!("{name} not checked: {cortex} failed above"),
                None,
            );
            continue;
        }
        let on_server: Vec<&Analyzer> = analyzers
            .iter()
            .filter(|a| pattern.regex.is_match(&a.name) && a.cortex_ids.contains(&cortex))
            .collect();
        let Some(analyzer) = on_server.iter().min_by(|a, b| a.name.cmp(&b.name)) else {
            let available: Vec<String> = analyzers
                .iter()
                .map(|a| format!("{} ({})", a.name, a.cortex_ids.join(", ")))
                .collect();
            report.push(
                "analyzer",
                Verdict::Fail(Failure::Analyzer),
                format!(
                    "{name} matches no analyzer on {cortex} (available: {})",
                    if available.is_empty() {
                        "none".to_owned()
                    } else {
                        available.join(", ")
                    }
                ),
                Some(
                    "enable the analyzer in Cortex for this organisation, or fix the scenario's \
                     pattern or `cortex`"
                        .to_owned(),
                ),
            );
            continue;
        };
        if !analyzer.data_type_list.is_empty()
            && !analyzer.data_type_list.contains(&scenario.data_type)
        {
            report.push(
                "analyzer",
                Verdict::Fail(Failure::Analyzer),
                format!(
                    "{name}: {} does not take `{}` (it takes {})",
                    analyzer.name,
                    scenario.data_type,
                    analyzer.data_type_list.join(", ")
                ),
                Some(
                    "choose an analyzer for this data type, or change the scenario's `data_type`"
                        .to_owned(),
                ),
            );
        } else {
            report.push(
                "analyzer",
                Verdict::Pass,
                format!(
                    "{name} → {} on {cortex} takes {}",
                    analyzer.name, scenario.data_type
                ),
                None,
            );
        }
    }
}

/// TheHive 5's licence, as `GET /api/v1/license/current` answers it.
#[derive(Debug, Clone, PartialEq)]
struct Licence {
    /// Where it comes from, for the report: `licence`, `no licence installed, fallback`, ….
    source: &'static str,
    /// `plan` of the `OutputLicense`; the values are spelt `Community`, `Gold` and
    /// `Platinum` in StrangeBee's licence documentation, the JSON spelling is inferred, so
    /// comparisons ignore case.
    plan: String,
    /// `kind`, e.g. `Trial` \[I\].
    kind: String,
    /// `expiresAt`, epoch milliseconds.
    expires_at: Option<i64>,
    /// `error` of the `OutputLicenseCurrentError` variant.
    error: Option<String>,
}

impl Licence {
    /// Reads the `OutputLicenseCurrent` oneOf (StrangeBeeCorp/docs@fc4027e7
    /// `docs/thehive/api-docs/docs.yaml`): `{license}` when a licence is installed,
    /// `{fallback, notFound}` when none is, `{error, fallback}` when the installed one is
    /// unusable. Each carries an `OutputLicense` (`plan`, `kind`, `expiresAt`, …).
    fn of_current(body: &Value) -> Option<Licence> {
        let (source, licence, error) = if let Some(licence) = body.get("license") {
            ("installed licence", licence, None)
        } else if body.get("notFound").is_some() {
            (
                "no licence installed; fallback",
                body.get("fallback")?,
                None,
            )
        } else if let Some(error) = body.get("error") {
            (
                "licence error; fallback",
                body.get("fallback")?,
                error.as_str().map(str::to_owned),
            )
        } else {
            return None;
        };
        Licence::read(source, licence, error)
    }

    /// Reads `license` of `GET /api/v1/status` (`OutputLicenseStatus`), for when the licence
    /// endpoint cannot be read.
    fn of_status(status: &Value) -> Option<Licence> {
        let licence = status.get("license")?;
        let error = licence
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Licence::read("licence in /api/v1/status", licence, error)
    }

    /// The fields both shapes share; a licence without a `plan` is not one we can judge.
    fn read(source: &'static str, licence: &Value, error: Option<String>) -> Option<Licence> {
        Some(Licence {
            source,
            plan: licence.get("plan")?.as_str()?.to_owned(),
            kind: licence
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            expires_at: licence.get("expiresAt").and_then(Value::as_i64),
            error,
        })
    }

    fn describe(&self) -> String {
        let kind = if self.kind.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.kind)
        };
        let until = match self.expires_at {
            Some(at) => format!(", valid until {}", date(at)),
            None => String::new(),
        };
        let error = match &self.error {
            Some(error) => format!("; TheHive says: {error}"),
            None => String::new(),
        };
        format!("{}: plan {}{kind}{until}{error}", self.source, self.plan)
    }
}

fn date(epoch_ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(epoch_ms.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// An expired licence fails every run (TheHive 5 is read-only without a valid licence, SBD
/// `installation/licenses/about-licenses.md`); autorun scenarios also need Platinum, the plan
/// of the 14-day trial (RunAnalyzer notifier: `md:license Platinum`).
async fn licence(report: &mut Report, user: &TheHive, status: Option<&Value>, autorun: &[&str]) {
    let answer: Result<Value, _> = user
        .call(Method::GET, "/api/v1/license/current", None)
        .await;
    let licence = match &answer {
        Ok(body) => Licence::of_current(body),
        Err(_) => None,
    }
    .or_else(|| status.and_then(Licence::of_status));
    let Some(licence) = licence else {
        let detail = match answer {
            Ok(body) => format!("licence state not recognised: {body}"),
            Err(error) => format!("not readable: {error}"),
        };
        report.push("licence", Verdict::Warn, detail, None);
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let expired = licence.expires_at.is_some_and(|at| at <= now);
    let platinum = licence.plan.eq_ignore_ascii_case("platinum");
    if expired {
        report.push(
            "licence",
            Verdict::Fail(Failure::Licence),
            format!(
                "{}: expired, so TheHive is read-only and no scenario can create its case",
                licence.describe()
            ),
            Some(
                "install a valid licence (StrangeBee's licence documentation says how)".to_owned(),
            ),
        );
    } else if !autorun.is_empty() && !platinum {
        report.push(
            "licence",
            Verdict::Fail(Failure::Licence),
            format!(
                "{}: the autorun scenarios ({}) need RunAnalyzer notifications, which only \
                 Platinum (or the trial) includes",
                licence.describe(),
                autorun.join(", ")
            ),
            Some(format!(
                "install a Platinum licence, or leave those scenarios out with `{}`",
                autorun
                    .iter()
                    .map(|name| format!("--skip {name}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        );
    } else if licence.error.is_some() {
        report.push("licence", Verdict::Warn, licence.describe(), None);
    } else {
        report.push("licence", Verdict::Pass, licence.describe(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn licence(plan: &str, expires_at: i64) -> Value {
        json!({"_id": "~1", "_createdAt": 0, "_createdBy": "system", "_type": "License",
               "id": "l", "customer": "c", "plan": plan, "kind": "Trial", "validFrom": 0,
               "expiresAt": expires_at, "current": true, "quotas": {}})
    }

    #[test]
    fn every_documented_licence_shape_is_read() {
        let ok = Licence::of_current(&json!({"license": licence("Gold", 5)})).unwrap();
        let not_found =
            Licence::of_current(&json!({"fallback": licence("Platinum", 6), "notFound": true}))
                .unwrap();
        let error = Licence::of_current(
            &json!({"error": "signature invalid", "fallback": licence("Community", 7)}),
        )
        .unwrap();

        assert_eq!((ok.plan.as_str(), ok.expires_at), ("Gold", Some(5)));
        assert_eq!(
            (not_found.plan.as_str(), not_found.expires_at),
            ("Platinum", Some(6))
        );
        assert_eq!(error.plan, "Community");
        assert_eq!(error.error.as_deref(), Some("signature invalid"));
        assert!(error.describe().contains("signature invalid"));
        assert_eq!(Licence::of_current(&json!({"plan": "Platinum"})), None);
    }

    #[test]
    fn the_status_licence_is_read_as_a_fallback() {
        let status = json!({"license": {"id": "no-license", "plan": "No", "expiresAt": 3,
                            "isValid": false, "error": "The license is expired"}});

        let licence = Licence::of_status(&status).unwrap();

        assert_eq!(licence.plan, "No");
        assert_eq!(licence.error.as_deref(), Some("The license is expired"));
    }
}
