//! `hivecheck cleanup`: removes what interrupted runs left behind, by tag.
//!
//! Everything a run creates carries the tags `hivecheck` and `hivecheck:run=<run id>`, and the
//! run id starts with the run's UTC start time (`20261203T193000-4f2a`). Cleanup lists the
//! organisation's cases tagged `hivecheck` and deletes those whose run tag is older than the
//! threshold, then does the same with the observables tagged `hivecheck` that are left: those a
//! run added to a case its scenario names (such a case is never deleted). A case or observable
//! without a readable run tag is never touched, whatever else it carries.

use std::time::{Duration, SystemTime};

use crate::client::{ClientError, TheHive};

/// What cleanup did with one case or observable.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Deleted (or would be, in a dry run).
    Deleted,
    /// Its run is more recent than the threshold.
    Recent,
    /// It has no run tag hivecheck can read: not ours to delete.
    NotOurs,
    /// Deleting failed; the message says why.
    Failed(String),
}

/// What was considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A case a run created.
    Case,
    /// An observable a run added to a case it did not create.
    Observable,
}

impl Kind {
    /// `case` or `observable`.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Case => "case",
            Kind::Observable => "observable",
        }
    }
}

/// One case or observable considered.
#[derive(Debug, Clone)]
pub struct Considered {
    /// A case or an observable.
    pub kind: Kind,
    /// Its `~id`.
    pub id: String,
    /// The case title, or the observable's data type and value.
    pub title: String,
    /// The run id found in its tags.
    pub run: Option<String>,
    /// What happened to it.
    pub fate: Fate,
}

/// Deletes the organisation's hivecheck cases, then the hivecheck observables left in other
/// cases, whose run started more than `older_than` ago.
pub async fn cleanup(
    session: &TheHive,
    older_than: Duration,
    dry_run: bool,
) -> Result<Vec<Considered>, ClientError> {
    let now = SystemTime::now();
    let judge = |tags: &[String]| {
        let run = tags
            .iter()
            .find_map(|t| t.strip_prefix("hivecheck:run="))
            .map(str::to_owned);
        let fate = match run.as_deref().and_then(run_start) {
            None => Some(Fate::NotOurs),
            Some(at) if now.duration_since(at).unwrap_or_default() < older_than => {
                Some(Fate::Recent)
            }
            Some(_) if dry_run => Some(Fate::Deleted),
            // Old and ours: the caller deletes it.
            Some(_) => None,
        };
        (run, fate)
    };

    let mut considered = Vec::new();
    // In a dry run the cases stay, so their observables would be listed below as if left in
    // other cases; they go with their case and are not counted.
    let mut with_their_case = std::collections::HashSet::new();
    for case in session.cases_tagged("hivecheck").await? {
        let (run, fate) = judge(&case.tags);
        let fate = match fate {
            Some(Fate::Deleted) => {
                for observable in session
                    .observables_tagged("hivecheck", Some(case.id()))
                    .await?
                {
                    with_their_case.insert(observable.id().to_owned());
                }
                Fate::Deleted
            }
            Some(fate) => fate,
            None => deleted(session.delete_case(case.id()).await),
        };
        considered.push(Considered {
            kind: Kind::Case,
            id: case.id().to_owned(),
            title: case.title.clone(),
            run,
            fate,
        });
    }
    // Listed after the cases are gone, so the observables of deleted cases are not counted.
    for observable in session.observables_tagged("hivecheck", None).await? {
        if with_their_case.contains(observable.id()) {
            continue;
        }
        let (run, fate) = judge(&observable.tags);
        let fate = match fate {
            Some(fate) => fate,
            None => deleted(session.delete_observable(observable.id()).await),
        };
        considered.push(Considered {
            kind: Kind::Observable,
            id: observable.id().to_owned(),
            title: format!(
                "{} {}",
                observable.data_type,
                observable.data.as_deref().unwrap_or("(no data)")
            ),
            run,
            fate,
        });
    }
    Ok(considered)
}

fn deleted(result: Result<(), ClientError>) -> Fate {
    match result {
        Ok(()) => Fate::Deleted,
        Err(e) => Fate::Failed(e.to_string()),
    }
}

/// The start time encoded in a run id (`YYYYMMDDTHHMMSS-xxxx`, UTC).
pub fn run_start(run_id: &str) -> Option<SystemTime> {
    let stamp = run_id.split('-').next()?;
    if stamp.len() != 15 || stamp.as_bytes()[8] != b'T' {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    );
    humantime::parse_rfc3339(&rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_carry_their_start_time() {
        let at = run_start("20200102T030405-abcd").unwrap();
        assert_eq!(
            humantime::format_rfc3339_seconds(at).to_string(),
            "2020-01-02T03:04:05Z"
        );
        assert_eq!(run_start("not-a-run"), None);
        assert_eq!(run_start("2020010T030405-abcd"), None);
    }
}
