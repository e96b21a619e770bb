//! Notification rules: templates from `fixtures/notifications/`, merging our rule with the
//! organisation's, and comparing what TheHive stored with what was sent.
//!
//! A template is the whole body of `PUT /api/config/organisation/notification` (normally
//! `{"value": ...}`), with `{{analyzerName}}`, `{{analyzerId}}`, `{{cortexId}}`,
//! `{{dataType}}` and `{{userLogin}}` filled in. TheHive 4 reads the value as an array of
//! `{delegate, trigger, notifier}` (reference §7.1); anything else is stored but never read.
//! [`merge`] joins our rule with the organisation's, or says why it cannot without replacing
//! them; the caller decides what to write.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::RunError;
use crate::scenario::RuleMode;

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
    /// The login of hivecheck's user session, which creates the observables; a rule filtered
    /// on it (`_createdBy`) leaves other analysts' observables alone. `None` when TheHive's
    /// current user has no `login`.
    pub user_login: Option<String>,
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
    let text = match (std::fs::read_to_string(&path), built_in(template)) {
        (Ok(text), _) => text,
        (Err(_), Some(text)) => text.to_owned(),
        (Err(e), None) => return Err(fail(format!("cannot read {}: {e}", path.display()))),
    };
    let login = match (&values.user_login, text.contains("{{userLogin}}")) {
        (Some(login), _) => login.clone(),
        (None, false) => String::new(),
        (None, true) => {
            return Err(fail(
                "`{{userLogin}}` is used but TheHive's current user has no `login`".to_owned(),
            ));
        }
    };
    let filled = text
        .replace("{{analyzerName}}", &json_escape(&values.analyzer_name))
        .replace("{{analyzerId}}", &json_escape(&values.analyzer_id))
        .replace("{{cortexId}}", &json_escape(&values.cortex_id))
        .replace("{{dataType}}", &json_escape(&values.data_type))
        .replace("{{userLogin}}", &json_escape(&login));
    if let Some(start) = filled.find("{{") {
        let end = filled[start..]
            .find("}}")
            .map_or(filled.len(), |e| start + e + 2);
        return Err(fail(format!(
            "unknown placeholder `{}` (known: analyzerName, analyzerId, cortexId, dataType, userLogin)",
            &filled[start..end]
        )));
    }
    serde_json::from_str(&filled).map_err(|e| fail(format!("{} is not JSON: {e}", path.display())))
}

/// The templates shipped in `fixtures/notifications/`, built into the binary so that a name
/// works from any directory; a file of the same name in the fixtures directory wins.
pub fn built_in(template: &str) -> Option<&'static str> {
    match template {
        "thehive4" => Some(include_str!("../../fixtures/notifications/thehive4.json")),
        "runbook" => Some(include_str!("../../fixtures/notifications/runbook.json")),
        _ => None,
    }
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

/// The body to PUT, and a remark when it sets the organisation's value aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The whole body of the PUT.
    pub body: Value,
    /// Why the body replaces the organisation's value instead of adding to it, if it does.
    pub note: Option<String>,
}

/// The body to PUT. Appending puts the organisation's rules first and ours after, when both
/// values are lists. When they are not, appending is impossible: the template stands in for
/// the organisation's value only when that value is empty (`null`, `[]` or its default), so
/// nothing is lost; otherwise the answer is why, and nothing may be written. Replacing always
/// uses the template as it is.
pub fn merge(
    existing: &Value,
    default: &Value,
    template: &Value,
    mode: RuleMode,
) -> Result<Merged, String> {
    let ours = template.get("value");
    let empty = is_empty(existing, default);
    if mode == RuleMode::Replace {
        let note = (!empty).then(|| {
            "replace mode: the organisation's rules are set aside for ours until the restore"
                .to_owned()
        });
        return Ok(Merged {
            body: template.clone(),
            note,
        });
    }
    match (existing, ours) {
        (Value::Array(theirs), Some(Value::Array(ours))) => {
            let mut rules = theirs.clone();
            rules.extend(ours.iter().cloned());
            let mut body = template.clone();
            body["value"] = Value::Array(rules);
            Ok(Merged { body, note: None })
        }
        (_, Some(Value::Array(_))) if empty => Ok(Merged {
            body: template.clone(),
            note: None,
        }),
        _ if empty => Ok(Merged {
            body: template.clone(),
            note: Some(
                "the template's value is not a list of rules; the organisation had none, so it \
                 stands in for the empty value until the restore"
                    .to_owned(),
            ),
        }),
        (_, Some(Value::Array(_))) => Err(format!(
            "the organisation's value is not a list of rules ({}), so ours cannot be added to it",
            short(existing)
        )),
        _ => Err(format!(
            "the template's value is not a list of rules, so it cannot be added to the \
             organisation's {}",
            match existing.as_array() {
                Some(rules) if rules.len() == 1 => "rule".to_owned(),
                Some(rules) => format!("{} rules", rules.len()),
                None => format!("value {}", short(existing)),
            }
        )),
    }
}

/// Whether replacing `value` loses nothing: `null`, `[]`, or the item's default.
pub fn is_empty(value: &Value, default: &Value) -> bool {
    value.is_null() || value.as_array().is_some_and(Vec::is_empty) || value == default
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

/// `value` as JSON, cut after 60 characters.
pub fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// Whether one of the rules in `value` runs analyzer `name` (a `RunAnalyzer` notifier).
pub fn runs_analyzer(value: &Value, name: &str) -> bool {
    value.as_array().is_some_and(|rules| {
        rules.iter().any(|rule| {
            rule["notifier"]["name"] == "RunAnalyzer" && rule["notifier"]["analyzerName"] == name
        })
    })
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

        let merged = merge(&existing, &json!([]), &ours, RuleMode::Append).unwrap();

        assert_eq!(merged.note, None);
        assert_eq!(merged.body["value"].as_array().unwrap().len(), 2);
        assert_eq!(merged.body["value"][0]["notifier"]["name"], "webhook");
    }

    #[test]
    fn an_object_template_takes_the_place_of_an_empty_value_with_a_note() {
        let merged = merge(
            &json!([]),
            &json!([]),
            &json!({"value": {"items": []}}),
            RuleMode::Append,
        )
        .unwrap();

        assert_eq!(merged.body, json!({"value": {"items": []}}));
        assert!(merged.note.unwrap().contains("the organisation had none"));
    }

    #[test]
    fn an_object_template_is_not_appended_to_existing_rules() {
        let existing = json!([{"trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook"}}]);

        let refused = merge(
            &existing,
            &json!([]),
            &json!({"value": {"items": []}}),
            RuleMode::Append,
        )
        .unwrap_err();

        assert_eq!(
            refused,
            "the template's value is not a list of rules, so it cannot be added to the \
             organisation's rule"
        );
    }

    #[test]
    fn a_rule_list_is_not_appended_to_a_value_that_is_not_a_list() {
        let refused = merge(
            &json!({"endpoints": ["soc"]}),
            &json!([]),
            &json!({"value": [{"trigger": {"name": "AnyEvent"}}]}),
            RuleMode::Append,
        )
        .unwrap_err();

        assert!(
            refused.starts_with("the organisation's value is not a list of rules ({\"endpoints\""),
            "{refused}"
        );
    }

    #[test]
    fn a_value_equal_to_the_default_counts_as_empty() {
        let merged = merge(
            &json!({}),
            &json!({}),
            &json!({"value": [{"trigger": {"name": "AnyEvent"}}]}),
            RuleMode::Append,
        );

        assert!(merged.is_ok(), "{merged:?}");
    }

    #[test]
    fn replace_mode_sets_existing_rules_aside_and_says_so() {
        let existing = json!([{"trigger": {"name": "AnyEvent"}, "notifier": {"name": "webhook"}}]);
        let template = json!({"value": {"items": []}});

        let merged = merge(&existing, &json!([]), &template, RuleMode::Replace).unwrap();

        assert_eq!(merged.body, template);
        assert!(merged.note.unwrap().contains("set aside"));
        let quiet = merge(&json!([]), &json!([]), &template, RuleMode::Replace).unwrap();
        assert_eq!(
            quiet.note, None,
            "nothing is set aside when there was nothing"
        );
    }

    #[test]
    fn user_login_is_filled_in_json_escaped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("notifications")).unwrap();
        std::fs::write(
            dir.path().join("notifications/t.json"),
            r#"{"value": [{"by": "{{userLogin}}"}]}"#,
        )
        .unwrap();
        let values = TemplateValues {
            analyzer_name: "A".into(),
            analyzer_id: "a".into(),
            cortex_id: "c".into(),
            data_type: "ip".into(),
            user_login: Some("o\"brien@example.org".into()),
        };

        let template = load_template(dir.path(), "t", &values).unwrap();

        assert_eq!(template["value"][0]["by"], "o\"brien@example.org");
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
