//! JSON shapes of the TheHive 5 profile: users, organisations, cases, observables, jobs,
//! licence and status, as the TheHive 5.7.3 OpenAPI describes them.
//!
//! Sources: StrangeBeeCorp/docs `docs/thehive/api-docs/docs.yaml` (OAS 5.7.3: `OutputUser`,
//! `OutputOrganisation`, `OutputCase`, `OutputObservable`, `OutputJob`, `OutputLicense`,
//! `OutputStatus`, `OutputPublicStatus`), the payload examples of the same repository
//! (`user-guides/organization/about-audit-logs.md`, `.../write-filtered-event-trigger.md`) and
//! the 5.2 release notes for the TLP 2.0 numbering. Handlers live in `th5_api`, `case` and
//! `th5_cortex`; this module only renders.

use serde_json::{Value, json};

use super::config::LicenceState;
use super::store::{AuthContext, Case, Job, Millis, Observable, Org, Store, User, now_ms};

/// TheHive version the profile reports (the StrangeBeeCorp/docker `testing/` profile runs 5.7.5).
pub(crate) const THEHIVE5_VERSION: &str = "5.7.5-1";

/// Version of the Cortex servers behind the TheHive 5 profile (the same testing profile runs
/// Cortex 4.1.0).
pub(crate) const CORTEX4_VERSION: &str = "4.1.0-1";

/// Length of the trial licence of a fresh installation (SBD
/// `installation/licenses/about-licenses.md`: 14 days).
const TRIAL_MS: Millis = 14 * 24 * 3600 * 1000;

/// TLP label after TheHive 5.2's move to TLP 2.0 (SBD `release-notes-5.2.md`).
pub(crate) fn tlp_label(tlp: u64) -> &'static str {
    match tlp {
        0 => "CLEAR",
        1 => "GREEN",
        2 => "AMBER",
        3 => "AMBER+STRICT",
        _ => "RED",
    }
}

/// PAP label; PAP kept its four levels (the SBD payload examples show `CLEAR` for 0).
pub(crate) fn pap_label(pap: u64) -> &'static str {
    match pap {
        0 => "CLEAR",
        1 => "GREEN",
        2 => "AMBER",
        _ => "RED",
    }
}

/// Severity label of a case (SBD payload examples: 3 is `HIGH`).
fn severity_label(severity: u64) -> &'static str {
    match severity {
        1 => "LOW",
        2 => "MEDIUM",
        3 => "HIGH",
        _ => "CRITICAL",
    }
}

/// `OutputUser` in the context `ctx` (OAS 5.7.3: TheHive 5 adds `type`, `email` and
/// `defaultOrganisation` to the TheHive 4 v1 user, and `organisations` items carry
/// `organisationId`).
pub(crate) fn user(store: &Store, user: &User, ctx: Option<&AuthContext>) -> Value {
    let default_org = user.orgs.first().map(|(o, _)| o.as_str()).unwrap_or("");
    let org = ctx.map_or(default_org, |c| c.org.as_str());
    let profile = user
        .orgs
        .iter()
        .find(|(o, _)| o == org)
        .map(|(_, p)| *p)
        .unwrap_or("org-admin");
    let organisations: Vec<Value> = user
        .orgs
        .iter()
        .map(|(o, p)| {
            json!({
                "organisationId": store.find_org(o).map(|x| x.id.clone()).unwrap_or_default(),
                "organisation": o,
                "profile": p,
            })
        })
        .collect();
    let mut out = json!({
        "_id": user.id,
        "_createdBy": user.created_by,
        "_createdAt": user.created_at,
        "login": user.login,
        "name": user.name,
        "hasKey": user.key.is_some(),
        "hasPassword": !user.password.is_empty(),
        "hasMFA": false,
        "locked": false,
        "profile": profile,
        "organisation": org,
        "organisations": organisations,
        "type": user.kind,
        "defaultOrganisation": default_org,
        "extraData": {},
    });
    if let Some(ctx) = ctx {
        out["permissions"] = json!(ctx.permissions);
    }
    if let Some(email) = &user.email {
        out["email"] = json!(email);
    }
    out
}

/// `OutputOrganisation`; the task and observable sharing rules are TheHive's defaults
/// (`manual`, \[I\]).
pub(crate) fn organisation(org: &Org) -> Value {
    json!({
        "_id": org.id,
        "_type": "Organisation",
        "_createdBy": org.created_by,
        "_createdAt": org.created_at,
        "name": org.name,
        "description": org.description,
        "taskRule": "manual",
        "observableRule": "manual",
        "links": [],
        "locked": false,
        "extraData": {},
    })
}

/// `OutputCase`: a new case is `New` in the `New` stage, owned by the creator's organisation.
pub(crate) fn case(case: &Case, ctx: &AuthContext) -> Value {
    let f = &case.fields;
    let get = |k: &str, default: Value| f.get(k).cloned().unwrap_or(default);
    let num = |k: &str, default: u64| f.get(k).and_then(Value::as_u64).unwrap_or(default);
    let start = num("startDate", case.created_at);
    let mut out = json!({
        "_id": case.id,
        "_type": "Case",
        "_createdBy": case.created_by,
        "_createdAt": case.created_at,
        "number": case.number,
        "title": get("title", json!("")),
        "description": get("description", json!("")),
        "severity": num("severity", 2),
        "severityLabel": severity_label(num("severity", 2)),
        "startDate": start,
        "tags": get("tags", json!([])),
        "flag": get("flag", json!(false)),
        "tlp": num("tlp", 2),
        "tlpLabel": tlp_label(num("tlp", 2)),
        "pap": num("pap", 2),
        "papLabel": pap_label(num("pap", 2)),
        "status": "New",
        "stage": "New",
        "assignee": get("user", json!(case.created_by)),
        "access": {"_kind": "OrganisationAccessKind"},
        "customFields": [],
        "customFieldValues": {},
        "userPermissions": ctx.permissions,
        "extraData": {},
        "newDate": case.created_at,
        "timeToDetect": case.created_at.saturating_sub(start),
    });
    for key in ["endDate", "summary"] {
        if let Some(v) = f.get(key).filter(|v| !v.is_null()) {
            out[key] = v.clone();
        }
    }
    out
}

/// `OutputObservable` (TheHive 5 adds `tlpLabel`, `pap`, `papLabel` and `external`, and
/// always renders `ignoreSimilarity`).
pub(crate) fn observable(store: &Store, obs: &Observable, now: Millis) -> Value {
    let f = &obs.fields;
    let pap = f.get("pap").and_then(Value::as_u64).unwrap_or(2);
    let mut out = json!({
        "_id": obs.id,
        "_type": "Observable",
        "_createdBy": obs.created_by,
        "_createdAt": obs.created_at,
        "dataType": obs.data_type,
        "data": obs.data,
        // TheHive 4 renders the creation date whatever was sent; assumed kept in 5 [I].
        "startDate": obs.created_at,
        "tlp": obs.tlp,
        "tlpLabel": tlp_label(obs.tlp),
        "pap": pap,
        "papLabel": pap_label(pap),
        "tags": f.get("tags").cloned().unwrap_or(json!([])),
        "ioc": f.get("ioc").cloned().unwrap_or(json!(false)),
        "sighted": f.get("sighted").cloned().unwrap_or(json!(false)),
        "reports": store.observable_reports(obs, now),
        "extraData": {},
        "ignoreSimilarity": f.get("ignoreSimilarity").cloned().unwrap_or(json!(false)),
        "external": false,
    });
    for key in ["message", "sightedAt"] {
        if let Some(v) = f.get(key) {
            out[key] = v.clone();
        }
    }
    out
}

/// `OutputJob`: the TheHive 4 job plus `_id`, `_createdBy` and `_createdAt`, `id` kept;
/// `endDate` only once finished (SBD `release-notes-5.1.md`). List results leave the report
/// out (SBD `release-notes-5.0.md`), so `with_report` is false there.
pub(crate) fn job(store: &Store, job: &Job, now: Millis, with_report: bool) -> Value {
    let mut out = json!({
        "_id": job.id,
        "_type": "case_artifact_job",
        "_createdBy": job.created_by,
        "_createdAt": job.created_at,
        "id": job.id,
        "analyzerId": job.worker_id,
        "analyzerName": job.analyzer_name,
        "analyzerDefinition": job.definition,
        "status": store.job_status(job, now),
        "startDate": job.initial_dates.0,
        "cortexId": job.cortex_id,
        "cortexJobId": job.cortex_job_id,
        "operations": "[]",
    });
    if let Some((end, report)) = store.job_result(job, now) {
        out["endDate"] = json!(end);
        if with_report {
            out["report"] = report;
        }
    }
    out
}

/// `OutputLicense` of the configured [`LicenceState`]: the trial a fresh installation runs
/// on (from its first user's creation), that trial ended a day ago, or an installed licence.
fn licence(store: &Store) -> Value {
    let installed = store.users.first().map_or(0, |u| u.created_at);
    const DAY_MS: Millis = 24 * 3600 * 1000;
    let (id, plan, kind, valid_from, expires_at) = match &store.config.licence {
        LicenceState::Trial => (
            "trial",
            "Platinum",
            "Trial",
            installed,
            installed + TRIAL_MS,
        ),
        LicenceState::ExpiredTrial => {
            let from = installed.saturating_sub(TRIAL_MS + DAY_MS);
            ("trial", "Platinum", "Trial", from, from + TRIAL_MS)
        }
        LicenceState::Installed(plan) => (
            "installed",
            plan.as_str(),
            "Standard",
            installed,
            installed + 365 * DAY_MS,
        ),
    };
    json!({
        "_id": format!("~{id}"),
        "_createdAt": valid_from,
        "_createdBy": "system@thehive.local",
        "_type": "License",
        "id": id,
        "customer": id,
        "plan": plan,
        "kind": kind,
        "validFrom": valid_from,
        "expiresAt": expires_at,
        "current": true,
        "capabilities": ["cortex", "misp", "notification", "runAnalyzer"],
        "quotas": {"organisation": -1, "user": -1, "cortex": -1, "misp": -1},
    })
}

/// `GET /api/v1/license/current`: without an installed licence the
/// `OutputLicenseCurrentNotFound` variant (the one TheHive4py's test helper reads), with one
/// the `OutputLicenseCurrentOk` variant.
pub(crate) fn licence_current(store: &Store) -> Value {
    match &store.config.licence {
        LicenceState::Installed(_) => json!({"license": licence(store)}),
        LicenceState::Trial | LicenceState::ExpiredTrial => {
            json!({"fallback": licence(store), "notFound": true})
        }
    }
}

/// `OutputStatus` of `GET /api/v1/status`; `connectors` reuses TheHive 4's Cortex entry \[I\].
pub(crate) fn status_v1(store: &Store) -> Value {
    let servers: Vec<Value> = store
        .config
        .cortex_servers
        .iter()
        .map(|s| json!({"name": s.name, "version": CORTEX4_VERSION, "status": "OK"}))
        .collect();
    let licence = licence(store);
    let expired = licence["expiresAt"].as_u64().unwrap_or(0) <= now_ms();
    let mut body = json!({
        "version": THEHIVE5_VERSION,
        "gitDescription": THEHIVE5_VERSION,
        "connectors": {"cortex": {"enabled": true, "status": "OK", "servers": servers}},
        "config": legacy_config(),
        "license": {
            "id": licence["id"],
            "customer": licence["customer"],
            "instance": "emulator",
            "plan": licence["plan"],
            "kind": licence["kind"],
            "validFrom": licence["validFrom"],
            "expiresAt": licence["expiresAt"],
            "capabilities": licence["capabilities"],
            "isValid": !expired,
            "quotas": {},
        },
        "features": [],
    });
    if expired {
        body["license"]["error"] = json!("The license is expired");
    }
    body
}

/// `OutputPublicStatus` of `GET /api/v1/status/public`; the `mitreCatalog` import state
/// text is unknown [?].
pub(crate) fn status_public() -> Value {
    json!({"sso": false, "version": THEHIVE5_VERSION, "imports": {"mitreCatalog": "Done"}})
}

/// `config` of the legacy status, as captured on TheHive 5.1.4 (StrangeBeeCorp/docs
/// `docs/resources/iaas/azure/.../upgrade.md`, docs/upstream-notes.md Q8).
fn legacy_config() -> Value {
    json!({
        "protectDownloadsWith": "malware",
        "authType": ["session", "local", "key"],
        "capabilities": ["changePassword", "setPassword", "authByKey", "mfa"],
        "ssoAutoLogin": false,
        "pollingDuration": 1000,
        "freeTagDefaultColour": "#000000",
    })
}

/// Legacy `GET /api/status`: versions and config, without `connectors` or `schemaStatus`.
pub(crate) fn status_legacy() -> Value {
    json!({
        "versions": {"Scalligraph": THEHIVE5_VERSION, "TheHive": THEHIVE5_VERSION, "Play": "2.8.x"},
        "config": legacy_config(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_labels_follow_tlp_2_0() {
        assert_eq!(tlp_label(0), "CLEAR");
        assert_eq!(tlp_label(3), "AMBER+STRICT");
        assert_eq!(tlp_label(4), "RED");
        assert_eq!(pap_label(3), "RED");
    }
}
