//! Organisation notifications of TheHive 4: parsing the stored `notification` value and deciding
//! which `RunAnalyzer` entries fire for an audit event.
//!
//! The value is read as TH4 `services/notification/NotificationConfig.scala` reads it: an array
//! of `{delegate, trigger:{name,…}, notifier:{name,…}, hostRestriction?}`. Anything else means no
//! notification at all, as in TheHive, which only logs the parse error.

use serde_json::Value;

use super::query;

/// One `RunAnalyzer` notifier that fires for an event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunAnalyzer {
    /// Analyzer name to look up on the Cortex servers.
    pub analyzer_name: String,
    /// Extra job parameters.
    pub parameters: serde_json::Map<String, Value>,
}

/// The `RunAnalyzer` notifiers of `config` whose trigger matches `audit`.
///
/// Entries with `delegate: true` never run an analyzer: TH4 `RunAnalyzer.scala` refuses to
/// execute per user. An unknown trigger or notifier, or a bad filter, disables only its entry.
pub(crate) fn analyzers_to_run(config: &Value, audit: &Value) -> Vec<RunAnalyzer> {
    let Some(entries) = config.as_array() else {
        return Vec::new();
    };
    // TheHive reads the whole array with one JSON reader, so one malformed entry makes the
    // whole value unreadable and no notification fires at all.
    if !entries.iter().all(is_well_formed) {
        tracing::debug!(target: "emulator", "notification value does not parse as TheHive 4 notifications");
        return Vec::new();
    }

    entries
        .iter()
        .filter(|e| !e.get("delegate").and_then(Value::as_bool).unwrap_or(false))
        .filter(|e| trigger_fires(&e["trigger"], audit))
        .filter_map(|e| {
            let notifier = &e["notifier"];
            if notifier["name"] != "RunAnalyzer" {
                return None;
            }
            Some(RunAnalyzer {
                analyzer_name: notifier["analyzerName"].as_str()?.to_owned(),
                parameters: notifier
                    .get("parameters")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// `delegate` optional boolean, `trigger` and `notifier` objects with a string `name`,
/// `hostRestriction` optional array of strings.
fn is_well_formed(entry: &Value) -> bool {
    let Some(obj) = entry.as_object() else {
        return false;
    };
    let delegate_ok = obj.get("delegate").is_none_or(Value::is_boolean);
    let named = |key: &str| {
        obj.get(key)
            .and_then(|v| v.get("name"))
            .is_some_and(Value::is_string)
    };
    let hosts_ok = obj.get("hostRestriction").is_none_or(|h| {
        h.as_array()
            .is_some_and(|items| items.iter().all(Value::is_string))
    });
    delegate_ok && named("trigger") && named("notifier") && hosts_ok
}

fn trigger_fires(trigger: &Value, audit: &Value) -> bool {
    match trigger["name"].as_str() {
        Some("AnyEvent") => true,
        Some("FilteredEvent") => {
            let filter = trigger.get("filter").unwrap_or(&Value::Null);
            query::matches(filter, &query::Plain(audit)).unwrap_or_else(|e| {
                tracing::debug!(target: "emulator", error = %e, "FilteredEvent filter rejected");
                false
            })
        }
        // The other TH4 triggers (CaseCreated, AlertCreated, JobFinished, …) never match an
        // observable creation, and unknown names are only logged by TheHive.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn audit() -> Value {
        json!({"action": "create", "objectType": "Observable", "objectId": "~5", "mainAction": true})
    }

    #[test]
    fn reference_rule_fires() {
        let config = json!([{"delegate": false,
            "trigger": {"name": "FilteredEvent",
                "filter": {"_and": [{"_is": {"action": "create"}}, {"_is": {"objectType": "Observable"}}]}},
            "notifier": {"name": "RunAnalyzer", "analyzerName": "AbuseIPDB_1_0"}}]);

        let runs = analyzers_to_run(&config, &audit());

        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].analyzer_name, "AbuseIPDB_1_0");
    }

    #[test]
    fn runbook_shape_never_fires() {
        let config = json!({"endpoints": [], "items": [{"name": "x", "enabled": true,
            "trigger": {"type": "ArtifactCreated"},
            "action": {"type": "RunAnalyzer", "config": {"analyzers": ["*"]}}}]});

        assert!(analyzers_to_run(&config, &audit()).is_empty());
    }

    #[test]
    fn delegate_and_other_notifiers_do_not_run_analyzers() {
        let config = json!([
            {"delegate": true, "trigger": {"name": "AnyEvent"},
             "notifier": {"name": "RunAnalyzer", "analyzerName": "A"}},
            {"trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "local"}},
            {"trigger": {"name": "ArtifactCreated"}, "notifier": {"name": "RunAnalyzer", "analyzerName": "B"}}
        ]);

        assert!(analyzers_to_run(&config, &audit()).is_empty());
    }
}
