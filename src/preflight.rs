//! Preflight: is the target ready for these scenarios? One report before any trial runs.
//!
//! The checks, in order: TheHive answers `GET /api/status` (and over valid TLS); Cortex
//! servers as TheHive sees them; the user session opens in the organisation; the admin session
//! too (when autorun scenarios need it); each scenario's analyzer exists on its server and takes
//! its data type; on TheHive 5, the licence (RunAnalyzer notifications need Platinum or the
//! trial). Each failure has its own exit code, so a nightly job can tell "staging is down" from
//! "the key was rotated".

use std::sync::Arc;

use serde_json::Value;

use crate::client::{Analyzer, ApiVersion, Auth, ClientError, TheHive};
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
    /// Credentials refused.
    Credentials,
    /// Unknown organisation, or the user is not a member.
    Organisation,
    /// A Cortex server is down or refuses TheHive's key.
    Cortex,
    /// An analyzer is missing or does not take the data type.
    Analyzer,
    /// The licence does not allow a scenario's needs.
    Licence,
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Unreachable => exit::PREFLIGHT_UNREACHABLE,
            Failure::Tls => exit::PREFLIGHT_TLS,
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

    // 1. Reachable, over valid TLS.
    let status = match TheHive::anonymous(&target.endpoint) {
        Ok(anonymous) => anonymous.status().await,
        Err(e) => Err(e),
    };
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            let failure = if error.is_tls() {
                Failure::Tls
            } else {
                Failure::Unreachable
            };
            let hint = error.hint();
            report.push(
                "reachable",
                Verdict::Fail(failure),
                crate::runner::render(&error, None),
                hint,
            );
            return report;
        }
    };
    let api = ApiVersion::of(&status);
    report.push(
        "reachable",
        Verdict::Pass,
        format!(
            "TheHive {} ({api:?} API)",
            status.thehive_version().unwrap_or("of unknown version")
        ),
        None,
    );

    // 2. Cortex, as TheHive sees it.
    cortex_servers(&mut report, status.connectors.get("cortex"), api);

    // 3. Sessions and organisation membership.
    let Some(user) = session(
        &mut report,
        ctx,
        "user session",
        ctx.user().await,
        &target.user,
    )
    .await
    else {
        return report;
    };
    let needs_admin = scenarios.iter().any(|s| s.autorun.is_some());
    if needs_admin {
        match &target.admin {
            Some(auth) => {
                session(
                    &mut report,
                    ctx,
                    "admin session",
                    ctx.admin().await.map(|a| a.expect("admin is configured")),
                    auth,
                )
                .await;
            }
            None => report.push(
                "admin session",
                Verdict::Fail(Failure::Credentials),
                "autorun scenarios configure the organisation, and no admin credentials are set",
                Some(
                    "set THEHIVE_ADMIN_USER and THEHIVE_ADMIN_PASSWORD, or THEHIVE_ADMIN_API_KEY"
                        .to_owned(),
                ),
            ),
        }
    }

    // 4. Each scenario's analyzer on its server, for its data type.
    match user.list_analyzers().await {
        Ok(analyzers) => {
            for scenario in scenarios {
                analyzer_checks(&mut report, ctx, scenario, &analyzers);
            }
        }
        Err(error) => {
            let hint = error.hint();
            report.push(
                "analyzers",
                Verdict::Fail(Failure::Cortex),
                crate::runner::render(&error, None),
                hint,
            );
        }
    }

    // 5. TheHive 5's licence, for autorun.
    if api == ApiVersion::V1 {
        licence(&mut report, &user, needs_admin).await;
    }
    report
}

fn cortex_servers(report: &mut Report, cortex: Option<&Value>, api: ApiVersion) {
    let servers = cortex
        .and_then(|c| c.get("servers"))
        .and_then(Value::as_array);
    let Some(servers) = servers else {
        let (verdict, detail) = match (cortex, api) {
            (None, ApiVersion::V1) => (Verdict::Skip, "TheHive 5 does not report connectors in /api/status".to_owned()),
            (None, _) => (Verdict::Warn, "no Cortex connector in /api/status".to_owned()),
            (Some(_), _) => (
                Verdict::Warn,
                "TheHive has not checked Cortex yet (connectors.cortex is {} until its first check)".to_owned(),
            ),
        };
        report.push("cortex", verdict, detail, None);
        return;
    };
    if servers.is_empty() {
        report.push(
            "cortex",
            Verdict::Fail(Failure::Cortex),
            "TheHive has no Cortex server",
            Some("register one in TheHive's Cortex settings".to_owned()),
        );
    }
    for server in servers {
        let name = server.get("name").and_then(Value::as_str).unwrap_or("?");
        let version = server.get("version").and_then(Value::as_str).unwrap_or("");
        let state = server.get("status").and_then(Value::as_str).unwrap_or("?");
        let (verdict, detail, hint) = match state {
            "OK" => (Verdict::Pass, format!("{name} {version} OK"), None),
            "AUTH_ERROR" => (
                Verdict::Fail(Failure::Cortex),
                format!("{name} refuses TheHive's API key (AUTH_ERROR)"),
                Some(
                    "renew the Cortex user's key and update TheHive's Cortex configuration"
                        .to_owned(),
                ),
            ),
            other => (
                Verdict::Fail(Failure::Cortex),
                format!("{name} is not reachable from TheHive ({other})"),
                Some("check that Cortex runs and that TheHive reaches its URL".to_owned()),
            ),
        };
        report.push("cortex", verdict, detail, hint);
    }
}

async fn session(
    report: &mut Report,
    ctx: &RunContext,
    name: &str,
    opened: Result<TheHive, RunError>,
    auth: &Auth,
) -> Option<TheHive> {
    let org = ctx.target.org.as_deref();
    match opened {
        Ok(session) => {
            let current = session.current_user().await.unwrap_or(Value::Null);
            let login = current.get("login").and_then(Value::as_str).unwrap_or("?");
            let in_org = current.get("organisation").and_then(Value::as_str);
            match (org, in_org) {
                (Some(wanted), Some(actual)) if wanted != actual => {
                    report.push(
                        name,
                        Verdict::Fail(Failure::Organisation),
                        format!("`{login}` works in `{actual}`, not in `{wanted}`"),
                        Some(
                            "check THEHIVE_ORG; TheHive reads only the X-Organisation header"
                                .to_owned(),
                        ),
                    );
                    None
                }
                _ => {
                    let org = in_org.or(org).unwrap_or("its default organisation");
                    report.push(name, Verdict::Pass, format!("`{login}` in {org}"), None);
                    Some(session)
                }
            }
        }
        Err(error) => {
            let (failure, detail) = classify(ctx, auth, &error).await;
            report.push(name, Verdict::Fail(failure), detail, error.hint());
            None
        }
    }
}

/// A refused login is either wrong credentials or an organisation the user is not in; TheHive
/// answers 401 for both, so try again without the organisation to tell them apart.
async fn classify(ctx: &RunContext, auth: &Auth, error: &RunError) -> (Failure, String) {
    let rendered = crate::runner::render(error, None);
    let RunError::Session { source, .. } = error else {
        return (Failure::Credentials, rendered);
    };
    match source.as_ref() {
        ClientError::Transport { .. } if source.is_tls() => (Failure::Tls, rendered),
        ClientError::Transport { .. } => (Failure::Unreachable, rendered),
        ClientError::Authentication { .. } if ctx.target.org.is_some() => {
            match TheHive::connect(&ctx.target.endpoint, auth, None, "probe").await {
                Ok(_) => (
                    Failure::Organisation,
                    format!(
                        "the credentials are valid, but not in organisation `{}` (it does not exist, or the user is not a member)",
                        ctx.target.org.as_deref().unwrap_or_default()
                    ),
                ),
                Err(_) => (Failure::Credentials, rendered),
            }
        }
        _ => (Failure::Credentials, rendered),
    }
}

fn analyzer_checks(
    report: &mut Report,
    ctx: &RunContext,
    scenario: &Scenario,
    analyzers: &[Analyzer],
) {
    let cortex = ctx
        .target
        .cortex
        .clone()
        .unwrap_or_else(|| scenario.cortex.clone());
    for pattern in &scenario.analyzers {
        let on_server: Vec<&Analyzer> = analyzers
            .iter()
            .filter(|a| pattern.regex.is_match(&a.name) && a.cortex_ids.contains(&cortex))
            .collect();
        let name = format!("{}: `{}`", scenario.name, pattern.pattern);
        let Some(analyzer) = on_server.iter().min_by(|a, b| a.name.cmp(&b.name)) else {
            let available: Vec<String> = analyzers
                .iter()
                .map(|a| format!("{} ({})", a.name, a.cortex_ids.join(", ")))
                .collect();
            report.push(
                "analyzer",
                Verdict::Fail(Failure::Analyzer),
                format!("{name} matches no analyzer on {cortex} (available: {})", if available.is_empty() { "none".to_owned() } else { available.join(", ") }),
                Some("enable the analyzer in Cortex for this organisation, or fix the scenario's pattern or `cortex`".to_owned()),
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

async fn licence(report: &mut Report, user: &TheHive, needs_runanalyzer: bool) {
    let licence: Result<Value, _> = user
        .call(reqwest::Method::GET, "/api/v1/license/current", None)
        .await;
    let licence = match licence {
        Ok(licence) => licence,
        Err(error) => {
            report.push(
                "licence",
                Verdict::Warn,
                format!("not readable: {error}"),
                None,
            );
            return;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let expires = licence
        .pointer("/fallback/expiresAt")
        .and_then(Value::as_i64);
    let plan = licence
        .get("plan")
        .or_else(|| licence.pointer("/current/plan"))
        .and_then(Value::as_str);
    match (expires, plan) {
        (Some(at), None) if at < now && needs_runanalyzer => report.push(
            "licence",
            Verdict::Fail(Failure::Licence),
            "the trial licence has expired, and RunAnalyzer notifications need Platinum",
            Some(
                "install a Platinum licence, or run the autorun scenarios on TheHive 4".to_owned(),
            ),
        ),
        (Some(at), None) if at < now => report.push(
            "licence",
            Verdict::Warn,
            "the trial licence has expired",
            None,
        ),
        (Some(_), None) => report.push(
            "licence",
            Verdict::Pass,
            "trial licence (Platinum features) valid",
            None,
        ),
        (_, Some(plan)) => report.push("licence", Verdict::Pass, format!("plan {plan}"), None),
        (None, None) => report.push(
            "licence",
            Verdict::Warn,
            "licence state not recognised",
            None,
        ),
    }
}
