//! TheHive's JSON filter language over JSON documents, shared by job `_search`, `/api/v1/query`
//! and `FilteredEvent` notification triggers.
//!
//! Filters are evaluated against the JSON an entity renders to, so the field names are the
//! public ones. Operator forms follow TH4 `controllers/v0/QueryCtrl.scala` and SG
//! `query/InputQuery.scala`; the operators the emulator lacks answer a `SearchError`.

use serde_json::{Map, Value};

/// A filter that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter: {0}")]
pub(crate) struct FilterError(pub String);

/// How an entity exposes its parent to `_parent` filters.
pub(crate) trait Document {
    /// The entity as filters see it.
    fn json(&self) -> &Value;
    /// The parent entity type (`case_artifact`) and its JSON, if any.
    fn parent(&self) -> Option<(&str, &Value)>;
}

/// A plain JSON value with no parent.
pub(crate) struct Plain<'a>(pub &'a Value);

impl Document for Plain<'_> {
    fn json(&self) -> &Value {
        self.0
    }
    fn parent(&self) -> Option<(&str, &Value)> {
        None
    }
}

/// Checks that `filter` only uses known operators, so bad filters fail before any match.
pub(crate) fn validate(filter: &Value) -> Result<(), FilterError> {
    matches(filter, &Plain(&Value::Null)).map(|_| ())
}

/// Whether `doc` satisfies `filter`.
pub(crate) fn matches(filter: &Value, doc: &dyn Document) -> Result<bool, FilterError> {
    let Some(obj) = filter.as_object() else {
        return Err(FilterError(format!(
            "a filter must be an object, got {filter}"
        )));
    };
    if obj.is_empty() {
        return Ok(true);
    }
    // The `_field`/`_value` pair is the long form of `_is`.
    if let (Some(field), Some(value)) = (obj.get("_field"), obj.get("_value")) {
        let field = field
            .as_str()
            .ok_or_else(|| FilterError("_field must be a string".to_owned()))?;
        return Ok(equals(lookup(doc.json(), field), value));
    }
    if obj.len() != 1 {
        // Several keys at one level read as an implicit conjunction of single-key filters.
        for (k, v) in obj {
            let mut single = Map::new();
            single.insert(k.clone(), v.clone());
            if !matches(&Value::Object(single), doc)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let (op, arg) = obj.iter().next().expect("one key");
    match op.as_str() {
        "_and" => {
            let mut all = true;
            for f in list(arg, op)? {
                all &= matches(f, doc)?;
            }
            Ok(all)
        }
        "_or" => {
            let mut any = false;
            for f in list(arg, op)? {
                any |= matches(f, doc)?;
            }
            Ok(any)
        }
        "_not" => Ok(!matches(arg, doc)?),
        "_any" => Ok(true),
        "_id" => {
            Ok(equals(lookup(doc.json(), "_id"), arg) || equals(lookup(doc.json(), "id"), arg))
        }
        "_is" | "_eq" => field_test(arg, op, doc, equals),
        "_ne" => field_test(arg, op, doc, |v, x| !equals(v, x)),
        "_startsWith" => field_test(arg, op, doc, |v, x| {
            text_pair(v, x).is_some_and(|(a, b)| a.starts_with(&b))
        }),
        "_endsWith" => field_test(arg, op, doc, |v, x| {
            text_pair(v, x).is_some_and(|(a, b)| a.ends_with(&b))
        }),
        "_like" => field_test(arg, op, doc, |v, x| {
            text_pair(v, x).is_some_and(|(a, b)| like(&a, &b))
        }),
        "_lt" => field_test(arg, op, doc, |v, x| {
            compare(v, x).is_some_and(|o| o.is_lt())
        }),
        "_lte" => field_test(arg, op, doc, |v, x| {
            compare(v, x).is_some_and(|o| o.is_le())
        }),
        "_gt" => field_test(arg, op, doc, |v, x| {
            compare(v, x).is_some_and(|o| o.is_gt())
        }),
        "_gte" => field_test(arg, op, doc, |v, x| {
            compare(v, x).is_some_and(|o| o.is_ge())
        }),
        "_contains" => contains(arg, doc),
        // `_has` is the TheHive 5 name of the presence test (T4P `filters.py` `Has`).
        "_has" => contains(arg, doc),
        "_in" => {
            let field = arg
                .get("_field")
                .and_then(Value::as_str)
                .ok_or_else(|| FilterError("_in needs _field".to_owned()))?;
            let values = arg
                .get("_values")
                .and_then(Value::as_array)
                .ok_or_else(|| FilterError("_in needs _values".to_owned()))?;
            let v = lookup(doc.json(), field);
            Ok(values.iter().any(|x| equals(v, x)))
        }
        "_between" => {
            let field = arg
                .get("_field")
                .and_then(Value::as_str)
                .ok_or_else(|| FilterError("_between needs _field".to_owned()))?;
            let v = lookup(doc.json(), field);
            let from = arg.get("_from").unwrap_or(&Value::Null);
            let to = arg.get("_to").unwrap_or(&Value::Null);
            Ok(compare(v, from).is_some_and(|o| o.is_ge())
                && compare(v, to).is_some_and(|o| o.is_lt()))
        }
        "_parent" => parent(arg, doc),
        other
            if other.starts_with('_')
                && other != "_type"
                && other != "_createdBy"
                && other != "_createdAt"
                && other != "_updatedBy"
                && other != "_updatedAt" =>
        {
            Err(FilterError(format!("unknown operator {other}")))
        }
        // A bare `{field: value}` is an equality test (SG `InputQuery` fallback).
        field => Ok(equals(lookup(doc.json(), field), arg)),
    }
}

fn list<'a>(arg: &'a Value, op: &str) -> Result<&'a Vec<Value>, FilterError> {
    arg.as_array()
        .ok_or_else(|| FilterError(format!("{op} needs an array")))
}

fn field_test(
    arg: &Value,
    op: &str,
    doc: &dyn Document,
    test: impl Fn(Option<&Value>, &Value) -> bool,
) -> Result<bool, FilterError> {
    // The long form `{"_field": name, "_value": v}` is what TheHive4py 2.x sends
    // (T4P `thehive4py/query/filters.py`).
    if let (Some(field), Some(expected)) = (arg.get("_field"), arg.get("_value")) {
        let field = field
            .as_str()
            .ok_or_else(|| FilterError(format!("{op} needs a string _field")))?;
        return Ok(test(lookup(doc.json(), field), expected));
    }
    let obj = arg
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| FilterError(format!("{op} needs an object with one field")))?;
    let (field, expected) = obj.iter().next().expect("one key");
    Ok(test(lookup(doc.json(), field), expected))
}

/// `_contains: "field"` tests presence; `_contains: {field: value}` tests membership in an
/// array field or a substring of a text field.
fn contains(arg: &Value, doc: &dyn Document) -> Result<bool, FilterError> {
    match arg {
        Value::String(field) => Ok(lookup(doc.json(), field).is_some_and(|v| !v.is_null())),
        Value::Object(_) => field_test(arg, "_contains", doc, |v, x| match v {
            Some(Value::Array(items)) => items.iter().any(|i| equals(Some(i), x)),
            Some(Value::String(s)) => x.as_str().is_some_and(|x| s.contains(x)),
            _ => false,
        }),
        _ => Err(FilterError("_contains needs a field name".to_owned())),
    }
}

fn parent(arg: &Value, doc: &dyn Document) -> Result<bool, FilterError> {
    let wanted_type = arg
        .get("_type")
        .and_then(Value::as_str)
        .ok_or_else(|| FilterError("_parent needs _type".to_owned()))?;
    let inner = match (arg.get("_query"), arg.get("_id")) {
        (Some(q), _) => q.clone(),
        (None, Some(id)) => serde_json::json!({"_id": id}),
        (None, None) => return Err(FilterError("_parent needs _query or _id".to_owned())),
    };
    // Validate the inner query even when there is no parent to apply it to.
    validate(&inner)?;
    match doc.parent() {
        Some((kind, json)) if kind == wanted_type => matches(&inner, &Plain(json)),
        _ => Ok(false),
    }
}

/// Reads a dotted path in a JSON object.
fn lookup<'a>(doc: &'a Value, field: &str) -> Option<&'a Value> {
    field.split('.').try_fold(doc, |v, k| v.get(k))
}

fn equals(actual: Option<&Value>, expected: &Value) -> bool {
    match (actual, expected) {
        (None, _) => false,
        (Some(Value::Number(a)), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(Value::Array(items)), x) if !x.is_array() => items.contains(x),
        (Some(a), b) => a == b,
    }
}

fn text_pair(actual: Option<&Value>, expected: &Value) -> Option<(String, String)> {
    Some((actual?.as_str()?.to_owned(), expected.as_str()?.to_owned()))
}

fn compare(actual: Option<&Value>, expected: &Value) -> Option<std::cmp::Ordering> {
    match (actual?, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `*` matches any run of characters; the rest is literal.
fn like(text: &str, pattern: &str) -> bool {
    let escaped: Vec<String> = pattern.split('*').map(regex::escape).collect();
    regex::Regex::new(&format!("^{}$", escaped.join(".*"))).is_ok_and(|re| re.is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_filter_of_the_reference_matches_observable_creation() {
        let audit = json!({"action": "create", "objectType": "Observable", "objectId": "~1"});
        let filter =
            json!({"_and":[{"_is":{"action":"create"}},{"_is":{"objectType":"Observable"}}]});

        assert_eq!(matches(&filter, &Plain(&audit)), Ok(true));
    }

    #[test]
    fn operators_combine() {
        let doc = json!({"status": "Success", "analyzerName": "AbuseIPDB_1_0", "details": "{\"data\":\"1.2.3.4\"}"});

        let yes = json!({"_or": [
            {"_not": {"_is": {"status": "Failure"}}},
            {"_in": {"_field": "status", "_values": ["Waiting"]}}
        ]});
        let prefix = json!({"_startsWith": {"analyzerName": "AbuseIPDB"}});
        let suffix = json!({"_endsWith": {"analyzerName": "_2_0"}});
        let within = json!({"_contains": {"details": "1.2.3.4"}});

        assert_eq!(matches(&yes, &Plain(&doc)), Ok(true));
        assert_eq!(matches(&prefix, &Plain(&doc)), Ok(true));
        assert_eq!(matches(&suffix, &Plain(&doc)), Ok(false));
        assert_eq!(matches(&within, &Plain(&doc)), Ok(true));
    }

    #[test]
    fn long_field_value_form_and_has_work() {
        let doc = json!({"name": "demo", "description": "x"});

        let eq = json!({"_eq": {"_field": "name", "_value": "demo"}});
        let ne = json!({"_ne": {"_field": "name", "_value": "demo"}});
        let has = json!({"_has": "description"});

        assert_eq!(matches(&eq, &Plain(&doc)), Ok(true));
        assert_eq!(matches(&ne, &Plain(&doc)), Ok(false));
        assert_eq!(matches(&has, &Plain(&doc)), Ok(true));
    }

    #[test]
    fn unknown_operator_is_an_error() {
        assert!(validate(&json!({"_regexp": {"a": "b"}})).is_err());
    }
}
