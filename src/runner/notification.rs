//! Notification rules: templates from `fixtures/notifications/`, merging our rule with the
//! organisation's, and comparing what TheHive stored with what was sent.
//!
//! A template is the whole body of `PUT /api/config/organisation/notification` (normally
//! `{"value": ...}`), with `{{analyzerName}}`, `{{analyzerId}}`, `{{cortexId}}` and
//! `{{dataType}}` filled in. TheHive 4 reads the value as an array of
//! `{delegate, trigger, notifier}` (reference §7.1); anything else is stored but never read.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::RunError;

/// The values a template may use.
#[derive(Debug, Clone)]
pub struct TemplateValues {
    /// The analyzer name, e.g. `AbuseIPDB_1_0`.
    pub analyzer_name: String,
    /// The Cortex worker id.
    pub analyzer_id: String,
    /// The Cortex server name.
    pub cortex_id: String,
    /// The observables' data type.
    pub data_type: String,
}

/// Loads a template by name from `fixtures_dir` (`thehive4` → `thehive4.json`) or by path.
pub fn load_template(
    fixtures_dir: &Path,
    template: &str,
    values: &TemplateValues,
) -> Result<Value, RunError> {
    let path = template_path(fixtures_dir, template);
    let fail = |reason: String| RunError::Template {
        template: template.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let filled = text
        .replace("{{analyzerName}}", &json_escape(&values.analyzer_name))
        .replace("{{analyzerId}}", &json_escape(&values.analyzer_id))
        .replace("{{cortexId}}", &json_escape(&values.cortex_id))
        .replace("{{dataType}}", &json_escape(&values.data_type));
    if let Some(start) = filled.find("{{") {
        let end = filled[start..]
            .find("}}")
            .map_or(filled.len(), |e| start + e + 2);
        return Err(fail(format!(
            "unknown placeholder `{}` (known: analyzerName, analyzerId, cortexId, dataType)",
            &filled[start..end]
        )));
    }
    serde_json::from_str(&filled).map_err(|e| fail(format!("{} is not JSON: {e}", path.display())))
}

/// Where a template named in a scenario is read from: `<fixtures>/notifications/<name>.json`
/// for a bare name, else the path as written.
pub fn template_path(fixtures_dir: &Path, template: &str) -> PathBuf {
    let named = fixtures_dir
        .join("notifications")
        .join(format!("{template}.json"));
    if !template.contains('/') && !template.ends_with(".json") {
        named
    } else {
        PathBuf::from(template)
    }
}

fn json_escape(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The body to PUT: in append mode, the existing rules followed by ours, when both are lists;
/// otherwise the template as it is (and a note saying why it replaces).
pub fn merge(existing: &Value, template: &Value, append: bool) -> (Value, Option<String>) {
    let ours = template.get("value");
    match (append, existing, ours) {
        (false, _, _) => (template.clone(), None),
        (true, Value::Array(theirs), Some(Value::Array(ours))) => {
            let mut rules = theirs.clone();
            rules.extend(ours.iter().cloned());
            let mut body = template.clone();
            body["value"] = Value::Array(rules);
            (body, None)
        }
        (true, Value::Null, _) => (template.clone(), None),
        (true, _, Some(Value::Array(_))) => (
            template.clone(),
            Some("the organisation's current value is not a list of rules, so ours replaces it until the restore".to_owned()),
        ),
        (true, _, _) => (
            template.clone(),
            Some("the template's value is not a list of rules, so it replaces the organisation's until the restore".to_owned()),
        ),
    }
}

/// How TheHive kept what was sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// Read back equal to what was sent.
    AsSent,
    /// Read back different; the lines say where.
    Normalised(Vec<String>),
    /// Read back as null or empty, or with what we sent missing.
    Dropped(Vec<String>),
}

impl Stored {
    /// `stored as sent`, `normalised` or `dropped`.
    pub fn label(&self) -> &'static str {
        match self {
            Stored::AsSent => "stored as sent",
            Stored::Normalised(_) => "normalised",
            Stored::Dropped(_) => "dropped",
        }
    }

    /// The differences found.
    pub fn diff(&self) -> Vec<String> {
        match self {
            Stored::AsSent => Vec::new(),
            Stored::Normalised(lines) | Stored::Dropped(lines) => lines.clone(),
        }
    }
}

/// Compares the value sent with the value read back.
pub fn compare(sent: &Value, stored: &Value) -> Stored {
    if sent == stored {
        return Stored::AsSent;
    }
    let mut lines = Vec::new();
    diff("", sent, stored, &mut lines);
    let emptied = matches!(stored, Value::Null)
        || stored.as_array().is_some_and(Vec::is_empty)
        || stored.as_object().is_some_and(serde_json::Map::is_empty);
    if emptied || lines.iter().all(|l| l.starts_with("- ")) {
        Stored::Dropped(lines)
    } else {
        Stored::Normalised(lines)
    }
}

fn diff(path: &str, sent: &Value, stored: &Value, out: &mut Vec<String>) {
    const MAX: usize = 20;
    if out.len() >= MAX || sent == stored {
        return;
    }
    match (sent, stored) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = format!("{path}/{key}");
                match b.get(key) {
                    Some(other) => diff(&child, value, other, out),
                    None => out.push(format!("- {child}: sent {}, not stored", short(value))),
                }
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    out.push(format!("+ {path}/{key}: stored {}, not sent", short(value)));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (index, value) in a.iter().enumerate() {
                let child = format!("{path}/{index}");
                match b.get(index) {
                    Some(other) => diff(&child, value, other, out),
                    None => out.push(format!("- {child}: sent {}, not stored", short(value))),
                }
            }
            for (index, value) in b.iter().enumerate().skip(a.len()) {
                out.push(format!(
                    "+ {path}/{index}: stored {}, not sent",
                    short(value)
                ));
            }
        }
        (_, Value::Null) => out.push(format!(
            "- {}: sent {}, stored null",
            or_root(path),
            short(sent)
        )),
        _ => out.push(format!(
            "~ {}: sent {}, stored {}",
            or_root(path),
            short(sent),
            short(stored)
        )),
    }
}

fn or_root(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Whether `value` has the shape TheHive 4 reads: an array of objects with a `trigger` and a
/// `notifier` that both have a `name`.
pub fn is_thehive4_rule_list(value: &Value) -> bool {
    value.as_array().is_some_and(|rules| {
        rules.iter().all(|rule| {
            ["trigger", "notifier"].iter().all(|key| {
                rule.get(key)
                    .and_then(|v| v.get("name"))
                    .is_some_and(Value::is_string)
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn append_keeps_existing_rules_first() {
        let existing = json!([{"trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook", "endpoint": "x"}}]);
        let ours = json!({"value": [{"trigger": {"name": "FilteredEvent"}, "notifier": {"name": "RunAnalyzer"}}]});
        let (body, note) = merge(&existing, &ours, true);
        assert_eq!(note, None);
        assert_eq!(body["value"].as_array().unwrap().len(), 2);
        assert_eq!(body["value"][0]["notifier"]["name"], "webhook");
    }

    #[test]
    fn an_object_template_replaces_with_a_note() {
        let (body, note) = merge(&json!([]), &json!({"value": {"items": []}}), true);
        assert_eq!(body, json!({"value": {"items": []}}));
        assert!(note.unwrap().contains("replaces"));
    }

    #[test]
    fn null_read_back_is_dropped() {
        let stored = compare(&json!({"items": [1]}), &Value::Null);
        assert_eq!(stored.label(), "dropped");
    }

    #[test]
    fn a_changed_field_is_normalised_with_its_path() {
        let stored = compare(&json!([{"a": 1, "b": 2}]), &json!([{"a": 1, "b": 3}]));
        assert_eq!(
            stored,
            Stored::Normalised(vec!["~ /0/b: sent 2, stored 3".to_owned()])
        );
    }

    #[test]
    fn rule_list_shape_is_recognised() {
        assert!(is_thehive4_rule_list(
            &json!([{"trigger": {"name": "AnyEvent"}, "notifier": {"name": "x"}}])
        ));
        assert!(!is_thehive4_rule_list(
            &json!({"endpoints": [], "items": []})
        ));
    }
}
