//! The parts of `POST /api/v1/query` that the TheHive 4 job listing (`cortex.rs`) and the
//! TheHive 5 query API (`th5_query.rs`) share: reading the step list, the generic `filter`,
//! `sort` and `page` steps, and the output with its `X-Total` (SG `query/QueryExecutor.scala`).

use std::cmp::Ordering;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::request::{Call, apply_range, listing};

/// The `query` field: a list of steps.
pub(crate) fn steps(call: &Call) -> Result<Vec<Value>, ApiError> {
    match call.fields.get("query") {
        None => Err(ApiError::missing_attributes(&["query"])),
        Some(Value::Array(steps)) => Ok(steps.clone()),
        Some(other) => Err(ApiError::invalid_format("query", "query", other)),
    }
}

/// A step's `_name`.
pub(crate) fn step_name(step: &Value) -> Option<String> {
    step.get("_name").and_then(Value::as_str).map(str::to_owned)
}

/// An unknown or misplaced step: 400 on `_name` listing the steps valid at that point
/// (docs/upstream-notes.md Q6).
pub(crate) fn bad_step(step: &Value, accepted: &[&str]) -> ApiError {
    ApiError::invalid_format_among("_name", "query", accepted, step)
}

/// The filter of a `filter` step: the step without its `_name`.
pub(crate) fn filter(step: &Value) -> Value {
    let mut filter = step.clone();
    if let Some(obj) = filter.as_object_mut() {
        obj.remove("_name");
    }
    filter
}

/// The keys of a `sort` step (`_fields: [{field: "asc" | "desc"}, …]`) as `(field,
/// descending)`.
pub(crate) fn sort_keys(step: &Value) -> Vec<(String, bool)> {
    step.get("_fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.iter())
        .map(|(k, v)| (k.clone(), v == "desc"))
        .collect()
}

/// Orders two rendered entities by `keys`, the first key that differs deciding.
pub(crate) fn compare_by(keys: &[(String, bool)], a: &Value, b: &Value) -> Ordering {
    for (field, desc) in keys {
        let ord = compare_json(&a[field.as_str()], &b[field.as_str()]);
        let ord = if *desc { ord.reverse() } else { ord };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Orders two JSON values as TheHive's sort does for numbers and strings; `null` first.
fn compare_json(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The `from` and `to` of a `page` step; both are required.
pub(crate) fn page(step: &Value) -> Result<(usize, usize), ApiError> {
    let from = step.get("from").and_then(Value::as_u64);
    let to = step.get("to").and_then(Value::as_u64);
    let (Some(from), Some(to)) = (from, to) else {
        let missing: Vec<&str> = [("to", to), ("from", from)]
            .into_iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| n)
            .collect();
        return Err(ApiError::missing_attributes(&missing));
    };
    Ok((from as usize, to as usize))
}

/// The output of a query: the items in `page`, rendered. A `page` step computes the total
/// (`richPage(withTotal = true)`) and so sets `X-Total`; a bare output does not.
pub(crate) fn output<T>(
    items: Vec<T>,
    page: Option<(usize, usize)>,
    render: impl FnMut(T) -> Value,
) -> Response {
    let total = items.len();
    match page {
        Some((from, to)) => listing(
            apply_range(items, (from, Some(to)))
                .into_iter()
                .map(render)
                .collect(),
            total,
        ),
        None => Json(Value::Array(items.into_iter().map(render).collect())).into_response(),
    }
}
