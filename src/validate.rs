//! Checks every request against the rules the spec states, before anything is sent.
//!
//! The rules come from the vendored spec itself (embedded at build time), so a spec bump brings
//! its new constraints along: query parameter types, ranges, enums and formats, and the JSON
//! body's schema. Rules the spec states only in prose are listed in [`PROSE_RULES`].

use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::Error;

/// The normalized (OpenAPI 3.0 form) spec, written by `build.rs`.
static SPEC_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/spec.json"));

static SPEC: LazyLock<Option<Value>> = LazyLock::new(|| serde_json::from_str(SPEC_JSON).ok());

/// A rule the spec gives in a description rather than as a schema keyword.
struct ProseRule {
    operation: &'static str,
    field: &'static str,
    max_properties: usize,
}

/// "User-defined key-value labels (maximum 5)" on apps.
const PROSE_RULES: [ProseRule; 2] = [
    ProseRule {
        operation: "create_app",
        field: "labels",
        max_properties: 5,
    },
    ProseRule {
        operation: "update_app",
        field: "labels",
        max_properties: 5,
    },
];

/// Checks `request`, about to be sent as `operation` (snake case), against the spec.
///
/// # Errors
/// [`Error::InvalidInput`] naming the first field that breaks a rule, and the rule.
pub(crate) fn check_request(operation: &str, request: &reqwest::Request) -> Result<(), Error> {
    let Some(spec) = SPEC.as_ref() else {
        return Ok(());
    };
    let Some(op) = OPERATIONS.get(operation) else {
        return Ok(());
    };
    let checker = Checker { spec };
    check_path(op.template, request.url().path())?;

    // Only an operation with query parameters (getAppLogs among them) reads the query.
    if !op.query.is_empty() {
        let query: Vec<(String, String)> = request.url().query_pairs().into_owned().collect();
        for param in &op.query {
            let values: Vec<&str> = query
                .iter()
                .filter(|(k, _)| k == param.name)
                .map(|(_, v)| v.as_str())
                .collect();
            if values.is_empty() && param.required {
                return Err(invalid(param.name, "is required"));
            }
            for value in values {
                checker.check(&query_value(value, param.schema), param.schema, param.name)?;
            }
        }
        check_time_range(operation, &query)?;
    }

    let body_schema = op.body;
    let body = request.body().and_then(reqwest::Body::as_bytes);
    if let (Some(schema), Some(bytes)) = (body_schema, body) {
        let Ok(body) = serde_json::from_slice::<Value>(bytes) else {
            return Err(invalid("body", "must be JSON"));
        };
        checker.check(&body, schema, "")?;
        for rule in PROSE_RULES.iter().filter(|r| r.operation == operation) {
            let count = body
                .get(rule.field)
                .and_then(Value::as_object)
                .map_or(0, Map::len);
            if count > rule.max_properties {
                return Err(invalid(
                    rule.field,
                    &format!("at most {} entries (found {count})", rule.max_properties),
                ));
            }
        }
    }
    Ok(())
}

fn invalid(field: &str, rule: &str) -> Error {
    Error::InvalidInput {
        field: if field.is_empty() {
            "body".into()
        } else {
            field.into()
        },
        rule: rule.into(),
    }
}

/// Every path parameter must be filled: an empty one would address another resource (`/apps/`
/// is the list of apps) or none. `path` ends with `template`'s segments, after the base URL's.
fn check_path(template: &str, path: &str) -> Result<(), Error> {
    let names = template.trim_start_matches('/').split('/').rev();
    for (name, segment) in names.zip(path.split('/').rev()) {
        if let Some(param) = name.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
            if segment.is_empty() {
                return Err(invalid(param, "must not be empty"));
            }
        }
    }
    Ok(())
}

/// A path parameter that a hand-written call puts in its URL itself, checked before any other
/// work: it must not be empty.
pub(crate) fn path_param(name: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(invalid(name, "must not be empty"));
    }
    Ok(())
}

/// `end` must not come before `start` (getAppLogs); both are RFC 3339 date-times.
fn check_time_range(operation: &str, query: &[(String, String)]) -> Result<(), Error> {
    if operation != "get_app_logs" {
        return Ok(());
    }
    let time = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| chrono::DateTime::parse_from_rfc3339(v).ok())
    };
    if let (Some(start), Some(end)) = (time("start"), time("end")) {
        if end < start {
            return Err(invalid("end", "must not be before start"));
        }
    }
    Ok(())
}

/// A query string value typed as its schema expects, so the schema check applies unchanged.
fn query_value(raw: &str, schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.into())),
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(raw.into())),
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.into()),
        },
        _ => Value::String(raw.into()),
    }
}

/// The operation whose `operationId`, in snake case, is `operation`.
#[cfg(test)]
fn find_operation(_spec: &Value, operation: &str) -> Option<&'static OperationRules> {
    OPERATIONS.get(operation)
}

/// One query parameter of an operation, its `$ref` already followed.
struct QueryParam {
    name: &'static str,
    schema: &'static Value,
    required: bool,
}

/// What [`check_request`] needs of one operation, read from the spec once.
struct OperationRules {
    /// The path template, such as `/apps/{app}`.
    template: &'static str,
    /// Its query parameters, in the spec's order.
    query: Vec<QueryParam>,
    /// The schema of its JSON request body, if it takes one.
    body: Option<&'static Value>,
}

impl OperationRules {
    fn new(spec: &'static Value, template: &'static str, op: &'static Value) -> Self {
        let checker = Checker { spec };
        let query = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|param| checker.resolve(param))
            .filter(|param| param.get("in").and_then(Value::as_str) == Some("query"))
            .map(|param| QueryParam {
                name: param
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                schema: param.get("schema").unwrap_or(&Value::Null),
                required: param.get("required") == Some(&Value::Bool(true)),
            })
            .collect();
        let body = op
            .pointer("/requestBody/content/application~1json/schema")
            .or_else(|| {
                let body = checker.resolve(op.get("requestBody")?);
                body.pointer("/content/application~1json/schema")
            });
        Self {
            template,
            query,
            body,
        }
    }
}

/// The spec's operations by snake-case id, with what their checks need, indexed once: every
/// request looks one up.
static OPERATIONS: LazyLock<std::collections::HashMap<String, OperationRules>> =
    LazyLock::new(|| {
        let Some(spec) = SPEC.as_ref() else {
            return Default::default();
        };
        let paths = spec.get("paths").and_then(Value::as_object);
        paths
            .into_iter()
            .flat_map(|paths| paths.iter())
            .filter_map(|(path, item)| Some((path.as_str(), item.as_object()?)))
            .flat_map(|(path, item)| item.values().map(move |op| (path, op)))
            .filter_map(|(path, op)| {
                let id = op.get("operationId").and_then(Value::as_str)?;
                Some((snake_case(id), OperationRules::new(spec, path, op)))
            })
            .collect()
    });

fn snake_case(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 4);
    for (i, c) in id.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c == ' ' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks JSON values against the subset of JSON Schema that OpenAPI 3.0 uses.
struct Checker<'a> {
    spec: &'a Value,
}

impl<'a> Checker<'a> {
    fn resolve(&self, value: &'a Value) -> &'a Value {
        let mut value = value;
        // Bounded, so a reference cycle in a broken spec cannot hang a request.
        for _ in 0..16 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => match reference.strip_prefix('#') {
                    Some(pointer) => match self.spec.pointer(pointer) {
                        Some(target) => value = target,
                        None => return value,
                    },
                    None => return value,
                },
                None => return value,
            }
        }
        value
    }

    fn check(&self, value: &Value, schema: &Value, path: &str) -> Result<(), Error> {
        let schema = self.resolve(schema);
        let Some(rules) = schema.as_object() else {
            return Ok(());
        };
        if value.is_null() {
            return match rules.get("nullable") == Some(&Value::Bool(true))
                || !rules.contains_key("type")
            {
                true => Ok(()),
                false => Err(invalid(path, "must not be null")),
            };
        }
        for all in rules
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.check(value, all, path)?;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = rules.get(key).and_then(Value::as_array) {
                let matched = branches.iter().any(|b| self.check(value, b, path).is_ok());
                if !matched {
                    return Err(invalid(path, &describe_alternatives(self, branches)));
                }
            }
        }
        if let Some(kind) = rules.get("type").and_then(Value::as_str) {
            if !has_type(value, kind) {
                return Err(invalid(path, &format!("must be {}", article(kind))));
            }
        }
        if let Some(allowed) = rules.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                return Err(invalid(
                    path,
                    &format!("must be one of {}", list.join(", ")),
                ));
            }
        }
        match value {
            Value::String(text) => self.check_string(text, rules, path),
            Value::Number(number) => check_number(number, rules, path),
            Value::Array(items) => self.check_array(items, rules, path),
            Value::Object(members) => self.check_object(members, rules, path),
            _ => Ok(()),
        }
    }

    fn check_string(
        &self,
        text: &str,
        rules: &Map<String, Value>,
        path: &str,
    ) -> Result<(), Error> {
        let length = text.chars().count();
        if let Some(max) = rules.get("maxLength").and_then(Value::as_u64) {
            if length as u64 > max {
                return Err(invalid(
                    path,
                    &format!("at most {max} characters (found {length})"),
                ));
            }
        }
        if let Some(min) = rules.get("minLength").and_then(Value::as_u64) {
            if (length as u64) < min {
                return Err(invalid(
                    path,
                    &format!("at least {min} characters (found {length})"),
                ));
            }
        }
        if let Some(pattern) = rules.get("pattern").and_then(Value::as_str) {
            let matches = regress::Regex::new(pattern).map(|re| re.find(text).is_some());
            if matches == Ok(false) {
                return Err(invalid(path, &format!("must match {pattern}")));
            }
        }
        match rules.get("format").and_then(Value::as_str) {
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                Err(invalid(
                    path,
                    "must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z",
                ))
            }
            Some("uuid") if uuid::Uuid::parse_str(text).is_err() => {
                Err(invalid(path, "must be a UUID"))
            }
            _ => Ok(()),
        }
    }

    fn check_array(
        &self,
        items: &[Value],
        rules: &Map<String, Value>,
        path: &str,
    ) -> Result<(), Error> {
        if let Some(max) = rules.get("maxItems").and_then(Value::as_u64) {
            if items.len() as u64 > max {
                return Err(invalid(path, &format!("at most {max} items")));
            }
        }
        if let Some(min) = rules.get("minItems").and_then(Value::as_u64) {
            if (items.len() as u64) < min {
                return Err(invalid(path, &format!("at least {min} items")));
            }
        }
        if let Some(item_schema) = rules.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item, item_schema, &format!("{path}[{i}]"))?;
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        members: &Map<String, Value>,
        rules: &Map<String, Value>,
        path: &str,
    ) -> Result<(), Error> {
        let join = |name: &str| {
            let plain = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            match (path, plain) {
                ("", true) => name.to_owned(),
                (_, true) => format!("{path}.{name}"),
                (_, false) => format!("{path}[{name:?}]"),
            }
        };
        for required in rules
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = required.as_str() {
                if !members.contains_key(name) {
                    return Err(invalid(&join(name), "is required"));
                }
            }
        }
        if let Some(max) = rules.get("maxProperties").and_then(Value::as_u64) {
            if members.len() as u64 > max {
                return Err(invalid(path, &format!("at most {max} entries")));
            }
        }
        let properties = rules.get("properties").and_then(Value::as_object);
        for (name, member) in members {
            match properties.and_then(|p| p.get(name)) {
                Some(schema) => self.check(member, schema, &join(name))?,
                None => match rules.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(invalid(&join(name), "is not a known field"))
                    }
                    Some(schema @ Value::Object(_)) => self.check(member, schema, &join(name))?,
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

fn check_number(
    number: &serde_json::Number,
    rules: &Map<String, Value>,
    path: &str,
) -> Result<(), Error> {
    let Some(n) = number.as_f64() else {
        return Ok(());
    };
    let exclusive = |key: &str| rules.get(key) == Some(&Value::Bool(true));
    if let Some(max) = rules.get("maximum").and_then(Value::as_f64) {
        if n > max || (exclusive("exclusiveMaximum") && n == max) {
            let rule = match exclusive("exclusiveMaximum") {
                true => format!("must be below {max}"),
                false => format!("must be at most {max}"),
            };
            return Err(invalid(path, &format!("{rule} (found {number})")));
        }
    }
    if let Some(min) = rules.get("minimum").and_then(Value::as_f64) {
        if n < min || (exclusive("exclusiveMinimum") && n == min) {
            let rule = match exclusive("exclusiveMinimum") {
                true => format!("must be above {min}"),
                false => format!("must be at least {min}"),
            };
            return Err(invalid(path, &format!("{rule} (found {number})")));
        }
    }
    Ok(())
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "array" | "object" => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

fn describe_alternatives(checker: &Checker<'_>, branches: &[Value]) -> String {
    let kinds: Vec<String> = branches
        .iter()
        .map(|b| {
            let b = checker.resolve(b);
            match (
                b.get("enum").and_then(Value::as_array),
                b.get("type").and_then(Value::as_str),
            ) {
                (Some(values), _) => values
                    .iter()
                    .map(Value::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                (None, Some(kind)) => article(kind),
                (None, None) => "another shape".into(),
            }
        })
        .collect();
    format!("must be {}", kinds.join(" or "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, body: Option<Value>) -> reqwest::Request {
        let mut request = reqwest::Request::new(method.parse().unwrap(), url.parse().unwrap());
        if let Some(body) = body {
            *request.body_mut() = Some(serde_json::to_vec(&body).unwrap().into());
        }
        request
    }

    fn field_and_rule(result: Result<(), Error>) -> (String, String) {
        match result {
            Err(Error::InvalidInput { field, rule }) => (field, rule),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn the_embedded_spec_parses_and_operations_are_found_by_snake_case_id() {
        let spec = SPEC.as_ref().expect("spec.json parses");
        assert!(find_operation(spec, "list_apps").is_some());
        assert!(find_operation(spec, "stream_revision_progress").is_some());
        assert_eq!(snake_case("getAppLogs"), "get_app_logs");
    }

    #[test]
    fn an_empty_path_parameter_is_named_and_refused() {
        let cases = [
            ("get_app", "https://h/v2/apps/", "app"),
            ("deploy_app", "https://h/v2/apps//deploy", "app"),
            ("get_revision", "https://h/v2/revisions/", "revision"),
            (
                "get_app_logs",
                "https://h/v2/apps//logs?start=2026-01-01T00:00:00Z",
                "app",
            ),
        ];
        for (operation, url, param) in cases {
            let r = request("GET", url, None);
            assert_eq!(
                field_and_rule(check_request(operation, &r)),
                (param.into(), "must not be empty".into()),
                "{operation}"
            );
        }
        let filled = request("GET", "https://h/v2/apps/my-app", None);
        assert!(check_request("get_app", &filled).is_ok());
    }

    #[test]
    fn a_limit_out_of_range_names_the_parameter_and_the_range() {
        let r = request("GET", "https://h/v2/apps?limit=101", None);
        let (field, rule) = field_and_rule(check_request("list_apps", &r));
        assert_eq!(field, "limit");
        assert_eq!(rule, "must be at most 100 (found 101)");
        let ok = request("GET", "https://h/v2/apps?limit=100", None);
        assert!(check_request("list_apps", &ok).is_ok());
    }

    #[test]
    fn log_queries_need_a_start_and_an_end_after_it() {
        let missing = request("GET", "https://h/v2/apps/a/logs", None);
        assert_eq!(
            field_and_rule(check_request("get_app_logs", &missing)),
            ("start".into(), "is required".into())
        );
        let reversed = request(
            "GET",
            "https://h/v2/apps/a/logs?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z",
            None,
        );
        assert_eq!(
            field_and_rule(check_request("get_app_logs", &reversed)).0,
            "end"
        );
        let bad_time = request("GET", "https://h/v2/apps/a/logs?start=yesterday", None);
        assert_eq!(
            field_and_rule(check_request("get_app_logs", &bad_time)).0,
            "start"
        );
        let bad_level = request(
            "GET",
            "https://h/v2/apps/a/logs?start=2026-01-01T00:00:00Z&level=fatal",
            None,
        );
        let (field, rule) = field_and_rule(check_request("get_app_logs", &bad_level));
        assert_eq!(field, "level");
        assert!(rule.contains("\"debug\""), "{rule}");
    }

    #[test]
    fn body_rules_name_the_nested_field() {
        let body = serde_json::json!({"env_vars": [{"key": "OK", "value": "v"}, {"key": "1BAD", "value": "v"}]});
        let r = request("POST", "https://h/v2/apps", Some(body));
        let (field, rule) = field_and_rule(check_request("create_app", &r));
        assert_eq!(field, "env_vars[1].key");
        assert_eq!(rule, "must match ^[A-Za-z_][A-Za-z0-9_]*$");

        let long = serde_json::json!({"env_vars": [{"id": "e", "value": "x".repeat(4097)}]});
        let r = request("PATCH", "https://h/v2/apps/a", Some(long));
        let (field, rule) = field_and_rule(check_request("update_app", &r));
        assert_eq!(field, "env_vars[0].value");
        assert_eq!(rule, "at most 4096 characters (found 4097)");

        let null_value = serde_json::json!({"env_vars": [{"id": "e", "value": null}]});
        let r = request("PATCH", "https://h/v2/apps/a", Some(null_value));
        assert!(check_request("update_app", &r).is_ok());
    }

    #[test]
    fn more_than_five_labels_is_refused() {
        let labels: Map<String, Value> = (0..6).map(|i| (format!("k{i}"), "v".into())).collect();
        let r = request(
            "POST",
            "https://h/v2/apps",
            Some(serde_json::json!({"labels": labels})),
        );
        let (field, rule) = field_and_rule(check_request("create_app", &r));
        assert_eq!(field, "labels");
        assert_eq!(rule, "at most 5 entries (found 6)");
    }

    #[test]
    fn a_deploy_needs_its_assets_and_known_asset_kinds() {
        let r = request(
            "POST",
            "https://h/v2/apps/a/deploy",
            Some(serde_json::json!({})),
        );
        assert_eq!(field_and_rule(check_request("deploy_app", &r)).0, "assets");
        let bad = serde_json::json!({"assets": {"main.ts": {"kind": "folder"}}});
        let r = request("POST", "https://h/v2/apps/a/deploy", Some(bad));
        assert_eq!(
            field_and_rule(check_request("deploy_app", &r)).0,
            r#"assets["main.ts"].kind"#
        );
    }
}
