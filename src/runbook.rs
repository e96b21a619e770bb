//! `hivecheck runbook`: the operator runbook's assumptions, checked one by one against the
//! target with requests that create nothing.
//!
//! Each [`Claim`] is something `shared/runbook.md` relies on, what the target really did, and
//! what to do instead. The notification body (Step 6) is checked by behaviour in the
//! `runbook-notification` scenario, since it needs observables.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{ORG_HEADER, ORG_HEADER_RUNBOOK, TheHive};
use crate::runner::Target;

/// Whether the runbook's claim held on this target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The target behaves as the runbook says.
    Holds,
    /// It does not.
    Wrong,
    /// It could not be checked here (the detail says why).
    Unchecked,
}

/// One claim of the runbook and what the target did.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The runbook step, e.g. `Step 1`.
    pub step: &'static str,
    /// What the runbook relies on.
    pub claim: &'static str,
    /// What the target answered.
    pub observed: String,
    /// The verdict.
    pub verdict: Verdict,
    /// What hivecheck does instead.
    pub instead: &'static str,
}

/// Checks every claim that a request can check without creating anything.
pub async fn check(target: &Target) -> Vec<Claim> {
    let org = target.org.clone().unwrap_or_default();
    let user = TheHive::connect(
        &target.endpoint,
        &target.user,
        target.org.as_deref(),
        "user",
    )
    .await;
    let mut claims = vec![org_header(target, &org).await];
    match &user {
        Ok(user) => {
            claims.push(server_parameter(user).await);
            claims.push(job_listing_path(user).await);
            claims.push(cortex_id_mandatory(user).await);
        }
        Err(error) => {
            for (step, claim) in [
                (
                    "Step 2",
                    "`server=cortex0` limits the analyzer list to that server",
                ),
                (
                    "Step 7",
                    "`GET /api/case/artifact/{id}/job` lists an observable's jobs",
                ),
                ("Step 4", "`cortexId` is required to start a job"),
            ] {
                claims.push(Claim {
                    step,
                    claim,
                    observed: format!("the user session did not open: {error}"),
                    verdict: Verdict::Unchecked,
                    instead: "",
                });
            }
        }
    }
    claims
}

/// Renders the claims as a table for stdout.
pub fn render(claims: &[Claim]) -> String {
    let mut text = String::new();
    for claim in claims {
        let mark = match claim.verdict {
            Verdict::Holds => "holds",
            Verdict::Wrong => "WRONG",
            Verdict::Unchecked => "unchecked",
        };
        text.push_str(&format!("{mark:<9} {}: {}\n", claim.step, claim.claim));
        text.push_str(&format!("          observed: {}\n", claim.observed));
        if claim.verdict == Verdict::Wrong && !claim.instead.is_empty() {
            text.push_str(&format!("          instead:  {}\n", claim.instead));
        }
    }
    text.push_str(
        "unchecked Step 6: the notification body makes new IP observables run AbuseIPDB\n          \
         observed: checked by behaviour in scenarios/runbook-notification.toml (`hivecheck run runbook-notification`)\n",
    );
    text
}

/// Step 1: `X-Organization` selects the organisation. Logged in as the runbook does (no
/// organisation at login), the admin asks who it is with each spelling.
async fn org_header(target: &Target, org: &str) -> Claim {
    let mut claim = Claim {
        step: "Step 1",
        claim: "`X-Organization: ORG` makes calls run in ORG",
        observed: String::new(),
        verdict: Verdict::Unchecked,
        instead: "send `X-Organisation` (British spelling); hivecheck always does",
    };
    let Some(admin) = &target.admin else {
        claim.observed =
            "needs admin credentials (an admin-org user can enter any organisation)".to_owned();
        return claim;
    };
    let session = match TheHive::connect(&target.endpoint, admin, None, "admin").await {
        Ok(session) => session.with_org(Some(org)),
        Err(error) => {
            claim.observed = format!("the admin session did not open: {error}");
            return claim;
        }
    };
    let path = match session.api() {
        crate::client::ApiVersion::V0 => "/api/user/current",
        crate::client::ApiVersion::V1 => "/api/v1/user/current",
    };
    let org_of = |body: Option<Value>| {
        body.and_then(|b| {
            b.get("organisation")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".to_owned())
    };
    let american = session
        .raw(Method::GET, path, None, ORG_HEADER_RUNBOOK)
        .await
        .map(|r| org_of(r.json()));
    let british = session
        .raw(Method::GET, path, None, ORG_HEADER)
        .await
        .map(|r| org_of(r.json()));
    match (american, british) {
        (Ok(american), Ok(british)) => {
            claim.observed = format!(
                "with X-Organization the call ran in `{american}`; with X-Organisation in `{british}`"
            );
            claim.verdict = if american == org {
                Verdict::Holds
            } else {
                Verdict::Wrong
            };
        }
        (Err(error), _) | (_, Err(error)) => claim.observed = error.to_string(),
    }
    claim
}

/// Step 2: `server=cortex0` filters the analyzer list. A server name that cannot exist
/// should then give an empty list.
async fn server_parameter(user: &TheHive) -> Claim {
    let mut claim = Claim {
        step: "Step 2",
        claim: "`server=cortex0` limits the analyzer list to that server",
        observed: String::new(),
        verdict: Verdict::Unchecked,
        instead: "filter on each analyzer's `cortexIds`, as hivecheck does",
    };
    let path = match user.api() {
        crate::client::ApiVersion::V0 => {
            "/api/connector/cortex/analyzer?range=all&server=hivecheck-no-such-server"
        }
        crate::client::ApiVersion::V1 => {
            "/api/v1/connector/cortex/analyzer?range=all&server=hivecheck-no-such-server"
        }
    };
    match user.raw(Method::GET, path, None, ORG_HEADER).await {
        Ok(response) => {
            let count = response.json().and_then(|v| v.as_array().map(Vec::len));
            match count {
                Some(0) => {
                    claim.observed =
                        "no analyzer listed for a server that does not exist".to_owned();
                    claim.verdict = Verdict::Holds;
                }
                Some(n) => {
                    claim.observed = format!(
                        "{n} analyzers listed for a server that does not exist: the parameter is ignored"
                    );
                    claim.verdict = Verdict::Wrong;
                }
                None => {
                    claim.observed = format!("{} {}", response.status, excerpt(&response.text()))
                }
            }
        }
        Err(error) => claim.observed = error.to_string(),
    }
    claim
}

/// Step 7: `GET /api/case/artifact/{id}/job` exists. An unknown id tells a missing route
/// (404 whose message is the path) from a missing observable.
async fn job_listing_path(user: &TheHive) -> Claim {
    let mut claim = Claim {
        step: "Step 7",
        claim: "`GET /api/case/artifact/{id}/job` lists an observable's jobs",
        observed: String::new(),
        verdict: Verdict::Unchecked,
        instead: "POST /api/connector/cortex/job/_search with a `_parent` filter, or POST /api/v1/query (getObservable, jobs)",
    };
    let path = "/api/case/artifact/~1/job?range=all";
    match user.raw(Method::GET, path, None, ORG_HEADER).await {
        Ok(response) => {
            let message = response
                .json()
                .and_then(|b| b.get("message").and_then(Value::as_str).map(str::to_owned));
            let route_missing = response.status == 404
                && message
                    .as_deref()
                    .is_some_and(|m| m.starts_with("/api/case/artifact/"));
            claim.observed = format!("{} {}", response.status, excerpt(&response.text()));
            claim.verdict = if route_missing {
                Verdict::Wrong
            } else {
                Verdict::Holds
            };
        }
        Err(error) => claim.observed = error.to_string(),
    }
    claim
}

/// Step 4: `cortexId` is required. A body without it (and with an id that matches nothing)
/// is refused before anything is created.
async fn cortex_id_mandatory(user: &TheHive) -> Claim {
    let mut claim = Claim {
        step: "Step 4",
        claim: "`cortexId` is required to start a job",
        observed: String::new(),
        verdict: Verdict::Unchecked,
        instead: "always send `cortexId` (the Cortex server name)",
    };
    let path = match user.api() {
        crate::client::ApiVersion::V0 => "/api/connector/cortex/job",
        crate::client::ApiVersion::V1 => "/api/v1/connector/cortex/job",
    };
    let body = json!({"analyzerId": "hivecheck-probe", "artifactId": "~1"});
    match user.raw(Method::POST, path, Some(&body), ORG_HEADER).await {
        Ok(response) => {
            let text = response.text();
            claim.observed = format!("{} {}", response.status, excerpt(&text));
            claim.verdict = if response.status == 400 && text.contains("cortexId") {
                Verdict::Holds
            } else {
                Verdict::Wrong
            };
        }
        Err(error) => claim.observed = error.to_string(),
    }
    claim
}

fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.chars().count() > 160 {
        format!("{}…", trimmed.chars().take(160).collect::<String>())
    } else {
        trimmed.to_owned()
    }
}
